"""The files for a room bigger than one machine parse and agree with each other and the course.

What can be checked without a Kubernetes cluster: the Zero to JupyterHub values
(``hub/k8s/config.yaml``), the room's Redis (``hub/k8s/redis.yaml``) and the
environment repo2docker builds the learners' image from (``environment.yml``) are
valid YAML; the learners' ``REDIS_URL`` names the Redis Service and port that exist;
the learners' pods may reach it and it admits them; no password is committed; the
hub admits exactly the learner names the course accepts (on one machine too).
``environment.yml`` against ``pyproject.toml`` is ``tests/test_environment.py``'s.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from cachelab.keys import _LEARNER_NAME_PATTERN

REPO = Path(__file__).resolve().parents[1]


def _yaml(path: str):
    """The YAML file at ``path`` in the repository (one document)."""
    return yaml.safe_load((REPO / path).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def values() -> dict:
    return _yaml("hub/k8s/config.yaml")


@pytest.fixture(scope="module")
def redis_objects() -> dict[str, dict]:
    documents = yaml.safe_load_all((REPO / "hub/k8s/redis.yaml").read_text(encoding="utf-8"))
    return {doc["kind"]: doc for doc in documents if doc}


def test_the_learners_redis_url_names_the_rooms_redis_service(values, redis_objects) -> None:
    url = urlsplit(values["singleuser"]["extraEnv"]["REDIS_URL"])
    service = redis_objects["Service"]
    assert url.scheme == "redis"
    assert url.hostname == service["metadata"]["name"]
    assert url.port in [port["port"] for port in service["spec"]["ports"]]


def test_the_learners_pods_may_reach_redis_and_redis_admits_them(values, redis_objects) -> None:
    pod_labels = redis_objects["Deployment"]["spec"]["template"]["metadata"]["labels"]
    assert redis_objects["Service"]["spec"]["selector"].items() <= pod_labels.items()
    egress = values["singleuser"]["networkPolicy"]["egress"]
    to_redis = [
        rule
        for rule in egress
        for target in rule["to"]
        if target.get("podSelector", {}).get("matchLabels", {}).items() <= pod_labels.items()
    ]
    assert to_redis and to_redis[0]["ports"][0]["port"] == 6379
    policy = redis_objects["NetworkPolicy"]
    assert policy["spec"]["podSelector"]["matchLabels"].items() <= pod_labels.items()
    sources = policy["spec"]["ingress"][0]["from"]
    assert {"component": "singleuser-server"} in [s["podSelector"]["matchLabels"] for s in sources]


def test_the_rooms_redis_keeps_nothing_on_disk(redis_objects) -> None:
    args = redis_objects["Deployment"]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[args.index("--save") + 1] == "" and args[args.index("--appendonly") + 1] == "no"


def test_no_password_is_committed(values) -> None:
    assert values["hub"]["config"]["SharedPasswordAuthenticator"]["user_password"] is None


@pytest.fixture(scope="module")
def one_machine_config(tmp_path_factory):
    """hub/jupyterhub_config.py as JupyterHub loads it, with hub/run.py's variables set."""
    from traitlets.config.loader import PyFileConfigLoader

    env = {
        "CACHELAB_HUB_ROOM": str(tmp_path_factory.mktemp("room")),
        "CACHELAB_HUB_PORT": "8000",
        "CACHELAB_HUB_INTERNAL_PORT": "8081",
        "CACHELAB_HUB_PROXY_API_PORT": "8001",
        "CACHELAB_HUB_PROXY": "/bin/true",
        "CACHELAB_HUB_PASSWORD": "a room's password",
        "CACHELAB_HUB_ADMIN_TOKEN": "token",
        "CACHELAB_HUB_REDIS_URL": "unix:///tmp/room/redis.sock",
    }
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        config = PyFileConfigLoader("jupyterhub_config.py", str(REPO / "hub")).load_config()
    return config


def test_the_one_machine_hub_gives_every_learner_the_rooms_redis_and_their_name(
    one_machine_config,
) -> None:
    environment = one_machine_config.Spawner.environment
    assert environment["REDIS_URL"] == "unix:///tmp/room/redis.sock"

    class Learner:  # what the spawner passes: spawner.user.name, spawner.home_dir
        user = type("User", (), {"name": "ada"})()
        home_dir = "/rooms/homes/ada"

    assert environment["CACHELAB_LEARNER"](Learner) == "ada"
    assert environment["CACHELAB_DATA_DIR"](Learner) == "/rooms/homes/ada/data"
    assert one_machine_config.JupyterHub.ip == "127.0.0.1"


@pytest.mark.parametrize(
    "name", ["ada", "ada.lovelace", "ada@example.org", "a1", "*", "a:b", "é", "", "x" * 65]
)
def test_both_hubs_admit_exactly_the_course_learner_names(
    values, one_machine_config, name: str
) -> None:
    course = bool(_LEARNER_NAME_PATTERN.fullmatch(name))
    # JupyterHub checks a name with re.match against username_pattern.
    for pattern in (
        values["hub"]["config"]["Authenticator"]["username_pattern"],
        one_machine_config.Authenticator.username_pattern,
    ):
        assert bool(re.match(pattern, name)) is course, pattern


def test_the_lessons_are_copied_from_where_the_documented_image_build_puts_the_course(
    values,
) -> None:
    hook = " ".join(values["singleuser"]["lifecycleHooks"]["postStart"]["exec"]["command"])
    build = re.search(r"--target-repo-dir (\S+)", (REPO / "docs" / "room.md").read_text())
    assert build, "docs/room.md builds the image with repo2docker --target-repo-dir"
    # the script that lays out a learner's home (tests/test_served_tree.py runs this hook)
    assert f"{build.group(1)}/scripts/learner_home.py" in hook
    assert values["singleuser"]["extraEnv"]["CACHELAB_DATA_DIR"].startswith("/home/jovyan/")
