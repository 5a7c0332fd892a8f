"""The Kubernetes values set only keys the Zero to JupyterHub chart they name accepts.

Helm checks a chart's values against the chart's JSON schema when it installs, and refuses a
key the schema does not have (most of its objects say ``additionalProperties: false``) or a
value of another type. This test walks ``hub/k8s/config.yaml`` through the schema of the chart
version it installs, vendored from the chart's repository (``tests/data/``), so a misspelt key
or a wrong type is caught here, without Helm or a cluster. ``required`` is not checked: Helm
merges these values over the chart's defaults, which supply the required keys.

It also holds the few values the course relies on (the login, the admin, HTTPS, learners not
root, no Kubernetes token in a learner's pod, the Redis wiring), each set to what
``docs/room.md`` says.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
CHART_VERSION = "4.4.0"
SCHEMA_PATH = REPO / "tests" / "data" / f"z2jh-{CHART_VERSION}-values.schema.yaml"

_WALKED = {"type", "properties", "patternProperties", "additionalProperties", "items", "enum"}
_IGNORED = {"description", "required", "$schema", "minimum"}
"""Schema keywords the walk checks, and those it may pass over (``minimum`` applies to counts
the course does not set). Any other keyword on the way fails the test, so a schema the walk
does not understand is never passed by mistake."""

_PYTHON_TYPES = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None)}

RELIED_ON = {
    "hub.config.JupyterHub.authenticator_class": "firstuseauthenticator",
    "hub.config.Authenticator.admin_users": ["instructor"],
    "hub.config.Authenticator.blocked_users": ["default"],
    "hub.config.KubeSpawner.automount_service_account_token": False,
    "hub.extraEnv.CACHELAB_ROOM_REDIS": "redis://cachelab-redis:6379/0",
    "hub.extraEnv.CACHELAB_ROOM_REDIS_HUB_PASSWORD.valueFrom.secretKeyRef": {
        "name": "cachelab-redis",
        "key": "hub-password",
    },
    "proxy.https.enabled": True,
    "proxy.https.type": "letsencrypt",
    "singleuser.uid": 1000,
    "singleuser.allowPrivilegeEscalation": False,
    "singleuser.serviceAccountName": None,
    "singleuser.networkPolicy.egressAllowRules.privateIPs": False,
    "singleuser.cpu.limit": 1,
    "singleuser.memory.limit": "2G",
}
"""Key paths in ``hub/k8s/config.yaml`` and the values docs/room.md section 3 describes."""


@pytest.fixture(scope="module")
def schema() -> dict:
    return yaml.safe_load(SCHEMA_PATH.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def values() -> dict:
    return yaml.safe_load((REPO / "hub" / "k8s" / "config.yaml").read_text(encoding="utf-8"))


def _is_json_type(value: object, name: str) -> bool:
    """Whether ``value`` (as YAML loaded it) is of the JSON schema type ``name``."""
    if name in ("integer", "number") and isinstance(value, bool):
        return False
    if name == "integer":
        return isinstance(value, int)
    if name == "number":
        return isinstance(value, (int, float))
    return isinstance(value, _PYTHON_TYPES[name])


def _schema_of_key(schema: dict, key: str) -> dict | None:
    """The schema of ``key`` inside an object: its property's, else a matching pattern's, else
    ``additionalProperties`` (``True`` or absent: any key, free-form; ``False``: no such key)."""
    if key in schema.get("properties", {}):
        return schema["properties"][key]
    for pattern, key_schema in schema.get("patternProperties", {}).items():
        if re.search(pattern, key):  # JSON schema patterns are not anchored
            return key_schema
    extra = schema.get("additionalProperties", True)
    if extra is False:
        return None
    return extra if isinstance(extra, dict) else {}


def schema_errors(value: object, schema: dict, path: str = "") -> list[str]:
    """Every place where ``value`` breaks ``schema``: a key the schema does not have, a value of
    another type, a value outside an ``enum``; each named by its dotted key path."""
    unknown = set(schema) - _WALKED - _IGNORED
    assert not unknown, f"{path}: the walk does not understand {sorted(unknown)}"
    types = schema.get("type")
    if types is not None:
        names = [types] if isinstance(types, str) else types
        if not any(_is_json_type(value, name) for name in names):
            return [f"{path}: {value!r} is not {' or '.join(names)}"]
    if "enum" in schema and value not in schema["enum"]:
        return [f"{path}: {value!r} is not one of {schema['enum']}"]
    errors = []
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            key_schema = _schema_of_key(schema, str(key))
            if key_schema is None:
                errors.append(f"{where}: the chart's schema has no such key")
            else:
                errors += schema_errors(item, key_schema, where)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(value):
            errors += schema_errors(item, schema["items"], f"{path}[{index}]")
    return errors


def _at(values: dict, path: str) -> object:
    """The value at a dotted key path (``proxy.https.enabled``)."""
    for key in path.split("."):
        values = values[key]
    return values


def test_every_key_the_values_set_is_in_the_charts_schema_with_its_type(values, schema) -> None:
    assert schema_errors(values, schema) == []


@pytest.mark.parametrize(
    "path, value, error",
    [
        ("proxy.https.enabeld", True, "proxy.https.enabeld: the chart's schema has no such key"),
        ("singleuser.uid", "1000", "singleuser.uid: '1000' is not integer or null"),
        ("singleuser.cpu.limit", True, "singleuser.cpu.limit: True is not number or null"),
        ("proxy.https.type", "acme", "proxy.https.type: 'acme' is not one of"),
        ("singleuser.networkPolicy.egress", {}, "singleuser.networkPolicy.egress: {} is not array"),
    ],
)
def test_the_walk_finds_a_misspelt_key_a_wrong_type_and_a_value_outside_an_enum(
    values, schema, path: str, value: object, error: str
) -> None:
    broken = copy.deepcopy(values)
    *parents, last = path.split(".")
    _at(broken, ".".join(parents))[last] = value
    errors = schema_errors(broken, schema)
    assert len(errors) == 1 and errors[0].startswith(error), errors


def test_free_form_traitlets_config_is_accepted_as_the_schema_allows(values, schema) -> None:
    loose = copy.deepcopy(values)
    loose["hub"]["config"]["AnyConfigurable"] = {"any_trait": [1, "two"]}  # ^[A-Z] patternProperty
    loose["hub"]["extraConfig"]["another-snippet"] = "c.JupyterHub.log_level = 'DEBUG'"
    assert schema_errors(loose, schema) == []
    loose["hub"]["config"]["lowercase"] = {}  # no pattern matches, and no other key is allowed
    assert schema_errors(loose, schema) == [
        "hub.config.lowercase: the chart's schema has no such key"
    ]


@pytest.mark.parametrize("path", sorted(RELIED_ON))
def test_the_values_the_course_relies_on_are_set_as_the_docs_say(values, path: str) -> None:
    assert _at(values, path) == RELIED_ON[path]


def test_https_names_a_host_and_a_contact_for_lets_encrypt(values) -> None:
    https = values["proxy"]["https"]
    assert https["hosts"] and all(
        re.fullmatch(r"[a-z0-9.-]+\.[a-z]+", host) for host in https["hosts"]
    )
    assert re.fullmatch(r"[^@\s]+@[^@\s]+\.[a-z]+", https["letsencrypt"]["contactEmail"])


def test_no_learner_is_handed_the_rooms_redis_or_the_hubs_password(values) -> None:
    learner_env = values["singleuser"]["extraEnv"]
    assert "REDIS_URL" not in learner_env  # the hub's hook sets each learner's own
    assert "secretKeyRef" not in yaml.safe_dump(learner_env)
    hook = values["hub"]["extraConfig"]["cachelab-redis"]
    assert "c.KubeSpawner.pre_spawn_hook = " in hook and 'spawner.environment["REDIS_URL"]' in hook


def test_the_values_the_hub_image_the_schema_and_the_docs_name_one_chart_version() -> None:
    install = (REPO / "hub" / "k8s" / "config.yaml").read_text(encoding="utf-8")
    assert re.findall(r"--version (\S+)", install) == [CHART_VERSION]
    hub_image = (REPO / "hub" / "k8s" / "hub.Dockerfile").read_text(encoding="utf-8")
    assert re.findall(r"^FROM (\S+)", hub_image, re.M) == [
        f"quay.io/jupyterhub/k8s-hub:{CHART_VERSION}"
    ]
    header = SCHEMA_PATH.read_text(encoding="utf-8")[:1000]
    assert f"tag {CHART_VERSION} " in header and "BSD 3-Clause" in header
    docs = (REPO / "docs" / "room.md").read_text(encoding="utf-8")
    assert set(re.findall(r"--version (\S+)", docs)) == {CHART_VERSION}
