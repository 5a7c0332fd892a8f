"""The files for a room bigger than one machine parse and agree with each other and the course.

What can be checked without a Kubernetes cluster: the Zero to JupyterHub values
(``hub/k8s/config.yaml``), the room's Redis (``hub/k8s/redis.yaml``) and the
environment repo2docker builds the learners' image from (``environment.yml``) are
valid YAML; the room's Redis address names the Service and port that exist; the
learners' pods and the hub may reach it and it admits them; its ACL users are those
the docs describe, and the hub's hook, run against a real server set up as
``redis.yaml`` sets it up, gives each learner a user who reaches only their own keys;
no password is committed; the hub admits exactly the learner names the course accepts
(on one machine too). The keys of the values against the chart's schema are
``tests/test_k8s_values_schema.py``'s.
``environment.yml`` against ``pyproject.toml`` is ``tests/test_environment.py``'s.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest
import redis
import yaml
from support import load_module
from traitlets.config import Config

from cachelab.environment import reset
from cachelab.environment.redis_server import PrivateRedisServer
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


def test_the_rooms_redis_address_names_the_rooms_redis_service(values, redis_objects) -> None:
    url = urlsplit(values["hub"]["extraEnv"]["CACHELAB_ROOM_REDIS"])
    service = redis_objects["Service"]
    assert url.scheme == "redis" and url.username is None and url.password is None
    assert url.hostname == service["metadata"]["name"]
    assert url.port in [port["port"] for port in service["spec"]["ports"]]


def test_the_learners_pods_may_reach_redis_and_redis_admits_them(values, redis_objects) -> None:
    pod_labels = redis_objects["Deployment"]["spec"]["template"]["metadata"]["labels"]
    assert redis_objects["Service"]["spec"]["selector"].items() <= pod_labels.items()
    for pods in ("singleuser", "hub"):
        egress = values[pods]["networkPolicy"]["egress"]
        to_redis = [
            rule
            for rule in egress
            for target in rule["to"]
            if target.get("podSelector", {}).get("matchLabels", {}).items() <= pod_labels.items()
        ]
        assert to_redis and to_redis[0]["ports"] == [{"port": 6379, "protocol": "TCP"}], pods
    policy = redis_objects["NetworkPolicy"]
    assert policy["spec"]["podSelector"]["matchLabels"].items() <= pod_labels.items()
    (rule,) = policy["spec"]["ingress"]
    assert rule["ports"] == [{"port": 6379, "protocol": "TCP"}]
    sources = [source["podSelector"]["matchLabels"] for source in rule["from"]]
    assert sources == [{"component": "singleuser-server"}, {"component": "hub"}]


def test_the_rooms_redis_keeps_nothing_on_disk(redis_objects) -> None:
    args = redis_objects["Deployment"]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[args.index("--save") + 1] == "" and args[args.index("--appendonly") + 1] == "no"


def _acl_users(redis_objects: dict, hub_password: str) -> dict[str, list[str]]:
    """The ACL users the room's Redis starts with: each ``--user <name> <rules...>`` of its
    container's arguments, with the hub's password where Kubernetes puts the Secret's."""
    container = redis_objects["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    args = container["args"]
    users: dict[str, list[str]] = {}
    for start, arg in enumerate(args):
        if arg == "--user":
            after = [i for i in range(start + 1, len(args)) if args[i].startswith("--")]
            name, *rules = args[start + 1 : after[0] if after else len(args)]
            users[name] = [rule.replace("$(HUB_PASSWORD)", hub_password) for rule in rules]
    return users


def test_the_rooms_redis_starts_with_default_off_and_only_the_hubs_user(redis_objects) -> None:
    users = _acl_users(redis_objects, "the-hubs-password")
    assert set(users) == {"default", "room:hub"}
    assert "off" in users["default"] and not {"on", "nopass"} & set(users["default"])
    # the hub's user may create and reset users, and nothing else: no key, no channel, no command
    assert users["room:hub"] == [
        "on", ">the-hubs-password", "resetkeys", "resetchannels", "-@all", "+acl|setuser"
    ]  # fmt: skip


def test_the_hubs_redis_password_is_the_secret_and_nothing_else_is_committed(
    values, redis_objects
) -> None:
    container = redis_objects["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    (password,) = [rule for rule in container["args"] if rule.startswith(">")]
    assert password == ">$(HUB_PASSWORD)"
    (env,) = [env for env in container["env"] if env["name"] == "HUB_PASSWORD"]
    hub_env = values["hub"]["extraEnv"]["CACHELAB_ROOM_REDIS_HUB_PASSWORD"]
    assert (
        env["valueFrom"]
        == hub_env["valueFrom"]
        == {"secretKeyRef": {"name": "cachelab-redis", "key": "hub-password"}}
    )
    assert _committed_secrets(values) == []


def _committed_secrets(values: object, path: str = "") -> list[str]:
    """Key paths named like a password or a secret that hold a string (not a Secret's name)."""
    found = []
    if isinstance(values, dict):
        for key, value in values.items():
            where = f"{path}.{key}"
            if re.search("password|secret", str(key), re.I) and isinstance(value, str):
                found.append(where)
            found += _committed_secrets(value, where)
    return found


@pytest.fixture
def room(values, redis_objects, monkeypatch):
    """A real Redis set up as ``redis.yaml`` sets up the room's, holding a key outside the
    course, and a function that starts a learner's server as the hub does: it runs the hub's
    hook (``hub.extraConfig``, executed as the chart executes it) and returns the REDIS_URL
    the learner's pod would get."""
    server = PrivateRedisServer().start()
    setup = server.client()
    setup.set("outside:the:course", "kept")
    setup.execute_command("ACL", "SETUSER", "test:admin", "on", ">test", "~*", "&*", "+@all")
    users = _acl_users(redis_objects, "the-hubs-password")
    for name in sorted(users, key=lambda name: name == "default"):  # default, this client, last
        setup.execute_command("ACL", "SETUSER", name, *users[name])
    monkeypatch.setenv("CACHELAB_ROOM_REDIS", server.url)
    monkeypatch.setenv("CACHELAB_ROOM_REDIS_HUB_PASSWORD", "the-hubs-password")
    config = Config()
    exec(values["hub"]["extraConfig"]["cachelab-redis"], {"c": config})

    def start_server(name: str) -> str:
        spawner = SimpleNamespace(user=SimpleNamespace(name=name), environment={})
        asyncio.run(config.KubeSpawner.pre_spawn_hook(spawner))
        return spawner.environment["REDIS_URL"]

    admin = redis.Redis.from_url(server.url, username="test:admin", password="test")
    yield SimpleNamespace(server=server, start_server=start_server, admin=admin)
    server.stop()


def test_each_learner_reaches_only_their_own_keys(room) -> None:
    ada_url = room.start_server("ada")
    assert urlsplit(ada_url).username == "ada"
    ada = redis.Redis.from_url(ada_url)
    bob = redis.Redis.from_url(room.start_server("bob"))
    assert ada.set("cachelab:ada:k", "a") and bob.set("cachelab:bob:k", "b")
    for attempt in (
        lambda: ada.get("cachelab:bob:k"),
        lambda: ada.set("cachelab:bob:k", "planted"),
        lambda: ada.unlink("cachelab:bob:k"),
        lambda: ada.get("outside:the:course"),
        lambda: ada.publish("cachelab:bob:news", "planted"),
        ada.flushall,
        lambda: ada.config_set("dir", "/tmp"),
        lambda: ada.acl_setuser("bob", enabled=True, passwords=["+mine"]),
    ):
        with pytest.raises(redis.exceptions.NoPermissionError):
            attempt()
    assert bob.get("cachelab:bob:k") == b"b" and ada.get("cachelab:ada:k") == b"a"
    # what a learner can see of another: the names of their keys (SCAN), not the values
    assert b"cachelab:bob:k" in set(ada.scan_iter(match="cachelab:*"))


def test_the_kubernetes_hook_gives_the_rights_the_one_machine_hub_gives(room) -> None:
    room_redis = load_module("room_redis", REPO / "hub" / "room_redis.py")
    for name in ("ada", "instructor"):
        room.start_server(name)
        prefix = "cachelab:" if name == "instructor" else f"cachelab:{name}:"
        one_machine = f"test:{name}"
        room.admin.execute_command("ACL", "SETUSER", one_machine, *room_redis._rights(prefix))

        def rights(user: str) -> dict:
            answer = room.admin.execute_command("ACL", "GETUSER", user)
            fields = dict(zip(answer[::2], answer[1::2])) if isinstance(answer, list) else answer
            return {field: value for field, value in fields.items() if field != b"passwords"}

        assert rights(name) == rights(one_machine)


def test_without_a_user_of_its_own_nobody_gets_in(room) -> None:
    with pytest.raises(redis.exceptions.AuthenticationError):
        room.server.client().ping()  # the default user, off
    hub = redis.Redis.from_url(room.server.url, username="room:hub", password="the-hubs-password")
    with pytest.raises(redis.exceptions.NoPermissionError):
        hub.get("cachelab:ada:k")
    with pytest.raises(ValueError, match="Redis server's own user"):
        room.start_server("default")


def test_a_new_start_gives_a_new_password_and_the_old_one_stops_working(room) -> None:
    first, second = room.start_server("ada"), room.start_server("ada")
    assert first != second
    with pytest.raises(redis.exceptions.AuthenticationError):
        redis.Redis.from_url(first).ping()
    assert redis.Redis.from_url(second).ping()


def test_the_instructor_resets_every_learner_and_a_learner_cannot(room, monkeypatch) -> None:
    for learner in ("ada", "bob"):
        redis.Redis.from_url(room.start_server(learner)).set(f"cachelab:{learner}:k", "v")
    instructor_url = room.start_server("instructor")
    monkeypatch.setenv("REDIS_URL", room.start_server("ada"))
    assert reset.main(["--all-learners", "--redis-only"]) == 1  # NOPERM on bob's key
    monkeypatch.setenv("REDIS_URL", instructor_url)
    assert reset.main(["--all-learners", "--redis-only"]) == 0
    instructor = redis.Redis.from_url(instructor_url)
    assert list(instructor.scan_iter(match="*")) == [b"outside:the:course"]


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


@pytest.mark.room  # loads hub/jupyterhub_config.py: needs the hub extra (JupyterHub)
def test_the_one_machine_hub_gives_every_learner_the_rooms_redis_and_their_name(
    one_machine_config,
) -> None:
    environment = one_machine_config.Spawner.environment
    assert callable(environment["REDIS_URL"])  # each learner's own ACL user (hub/room_redis.py)

    class Learner:  # what the spawner passes: spawner.user.name, spawner.home_dir
        user = type("User", (), {"name": "ada"})()
        home_dir = "/rooms/homes/ada"

    assert environment["CACHELAB_LEARNER"](Learner) == "ada"
    assert environment["CACHELAB_DATA_DIR"](Learner) == "/rooms/homes/ada/data"
    assert one_machine_config.JupyterHub.ip == "127.0.0.1"


@pytest.mark.room  # loads hub/jupyterhub_config.py: needs the hub extra (JupyterHub)
@pytest.mark.parametrize(
    "name", ["ada", "ada.lovelace", "ada@example.org", "a1", "*", "a:b", "é", "", "x" * 65]
)
def test_the_hubs_admit_only_course_learner_names_and_kubernetes_admits_them_all(
    values, one_machine_config, name: str
) -> None:
    course = bool(_LEARNER_NAME_PATTERN.fullmatch(name))
    # JupyterHub checks a name with re.match against username_pattern.
    kubernetes = values["hub"]["config"]["Authenticator"]["username_pattern"]
    assert bool(re.match(kubernetes, name)) is course
    # one machine: only names that also make a Unix user name (hub/learners.py)
    assert not re.match(one_machine_config.Authenticator.username_pattern, name) or course


def test_the_lessons_are_copied_from_where_the_documented_image_build_puts_the_course(
    values,
) -> None:
    hook = " ".join(values["singleuser"]["lifecycleHooks"]["postStart"]["exec"]["command"])
    build = re.search(r"--target-repo-dir (\S+)", (REPO / "docs" / "room.md").read_text())
    assert build, "docs/room.md builds the image with repo2docker --target-repo-dir"
    # the script that lays out a learner's home (tests/test_served_tree.py runs this hook)
    assert f"{build.group(1)}/scripts/learner_home.py" in hook
    assert values["singleuser"]["extraEnv"]["CACHELAB_DATA_DIR"].startswith("/home/jovyan/")


@pytest.mark.room  # FirstUseAuthenticator: needs the hub extra (JupyterHub)
def test_the_kubernetes_hub_sets_the_instructors_password_before_anyone_logs_in(
    values, tmp_path, monkeypatch
) -> None:
    from firstuseauthenticator import FirstUseAuthenticator

    config = Config()
    config.FirstUseAuthenticator.update(values["hub"]["config"]["FirstUseAuthenticator"])
    config.FirstUseAuthenticator.dbm_path = str(tmp_path / "passwords.dbm")  # not the hub's
    (secret,) = [  # the variable the hook reads names the Secret the docs tell you to make
        name
        for name, env in values["hub"]["extraEnv"].items()
        if isinstance(env, dict)
        and env["valueFrom"]["secretKeyRef"] == {"name": "cachelab-instructor", "key": "password"}
    ]
    assert "kubectl create secret generic cachelab-instructor" in (
        REPO / "docs" / "room.md"
    ).read_text(encoding="utf-8")
    hook = values["hub"]["extraConfig"]["cachelab-instructor"]

    monkeypatch.setenv(secret, "short")
    with pytest.raises(ValueError, match="fewer than 12 characters"):
        exec(hook, {"c": config})

    monkeypatch.setenv(secret, "the instructor's own password")
    exec(hook, {"c": config})  # as the chart runs it, when the hub starts
    authenticator = FirstUseAuthenticator(config=config)
    handler = SimpleNamespace(custom_login_error="")

    def log_in(name: str, password: str):
        return asyncio.run(
            authenticator.authenticate(handler, {"username": name, "password": password})
        )

    # A learner who logs in first as `instructor` does not claim it...
    assert log_in("instructor", "a learner's guess, long enough") is None
    # ...the Secret's password logs in, and a learner's first login still claims their name.
    assert log_in("instructor", "the instructor's own password") == "instructor"
    assert log_in("ada", "ada's own password") == "ada"
    assert log_in("ada", "another password") is None
