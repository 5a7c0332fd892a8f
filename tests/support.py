"""Helpers that several test modules import (fixtures live in ``conftest.py``)."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import sys
import threading
import time
from pathlib import Path
from types import ModuleType

import redis

from cachelab import keys
from cachelab.shop.data import _connect_read_only

SOLUTIONS_DIR = Path(__file__).resolve().parents[1] / "lessons" / "solutions"


def shop_digest(path: Path) -> str:
    """A digest of every row of the shop's tables, in id order: equal digests, equal shops."""
    connection = _connect_read_only(path)
    try:
        digest = hashlib.sha256()
        for table in ("products", "orders"):
            for row in connection.execute(f"SELECT * FROM {table} ORDER BY id"):  # our names
                digest.update(repr(row).encode())
        return digest.hexdigest()
    finally:
        connection.close()


def load_module(name: str, path: Path) -> ModuleType:
    """The Python file at ``path``, run as a module called ``name``: for the scripts, the site
    build and the solutions, which are files outside any package or named like a lesson
    (``03_memory_cache.py``), so Python cannot ``import`` them by name.

    The module is put in ``sys.modules`` before it runs, so a dataclass or a ``NamedTuple``
    inside it can find its own module; loading it again runs the file again.
    """
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def load_solutions(lesson: str) -> ModuleType:
    """The instructor's reference solutions of one lesson: ``load_solutions("03_memory_cache")``."""
    return load_module(f"solutions_{lesson}", SOLUTIONS_DIR / f"{lesson}.py")


def load_notebook(path: Path) -> dict:
    """A notebook as stored in git: its JSON (``cells``, ``metadata``), read as UTF-8."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def cell_source(cell: dict) -> str:
    """A cell's source as one string (a stored notebook may hold it as a list of lines)."""
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def notebook_code(path: Path) -> str:
    """Every code cell of the notebook at ``path``, in order, one after the other."""
    cells = load_notebook(path)["cells"]
    return "\n".join(cell_source(cell) for cell in cells if cell["cell_type"] == "code")


def wrong_answers(*rows) -> list:
    """The rows of a ``@pytest.mark.parametrize("answer, topic, match", ...)`` table of planted
    wrong answers: each row ``(answer, topic, match)`` gets its answer's name as its id
    (``_crashes_on_an_empty_log`` -> ``crashes_on_an_empty_log``), so a failing row names the
    mistake. A row that is already a ``pytest.param`` (an answer without a telling name) keeps
    the id it was given.
    """
    import pytest

    return [
        row
        if isinstance(row, type(pytest.param()))
        else pytest.param(*row, id=row[0].__name__.lstrip("_"))
        for row in rows
    ]


def failure_of(check, *answer):
    """Run ``check(*answer)`` and return its ``_CheckFailed``; fail the test if the check passed."""
    import pytest

    from cachelab.checks import _CheckFailed

    with pytest.raises(_CheckFailed) as failed:
        check(*answer)
    return failed.value


def assert_fails(check, answer, *, topic: str, match: str) -> None:
    """``check(answer)`` fails on the property matching ``match``, whose hints are those of
    ``topic``.
    """
    import re

    failure = failure_of(check, answer)
    assert re.search(match, str(failure)), f"failed on another property: {failure}"
    assert failure.topic == topic, (
        f"the hint topic is {failure.topic!r}, not {topic!r}, for: {failure}"
    )


# --- a Redis shared by a room (test_room.py, test_hub.py): other people's data, and who wrote what

FOREIGN_TTL_S = 3_600


def plant_foreign_keys(client: redis.Redis) -> None:
    """Other people's data, of every type, some of it looking like the course's."""
    client.set("session:42", "someone's session")
    client.set("cachelab", "a key named like the course, but not under 'cachelab:'")
    client.set("cachelabX:ada:product:1", "a look-alike prefix")
    client.set("Cachelab:ada:product:1", "another look-alike (Redis keys are case-sensitive)")
    client.set("CACHELAB:ada:x", "upper case")
    client.set("xcachelab:ada:1", "the course's name inside another prefix")
    client.set("user:cachelab:ada:1", "the course's name deeper in a key")
    client.set("cachelab_ada:1", "an underscore, not a colon")
    client.hset("app:user:7", mapping={"name": "Ada", "plan": "pro"})
    client.rpush("app:queue", "job-1", "job-2", "job-3")
    client.sadd("app:tags", "red", "green", "blue")
    client.zadd("app:leaderboard", {"ada": 3.0, "grace": 2.0, "linus": 1.0})
    client.set("app:expiring", "with a TTL", ex=FOREIGN_TTL_S)
    client.hset("cachelabX:hash", mapping={"f": "v"})
    client.expire("cachelabX:hash", FOREIGN_TTL_S)


def snapshot(client: redis.Redis, names: list[str]) -> dict[str, tuple]:
    """Each key's type and value, and whether it has a TTL (a TTL only goes down)."""
    readers = {
        "string": client.get,
        "hash": client.hgetall,
        "list": lambda k: client.lrange(k, 0, -1),
        "set": lambda k: sorted(client.smembers(k)),
        "zset": lambda k: client.zrange(k, 0, -1, withscores=True),
    }
    out = {}
    for name in names:
        kind = client.type(name)
        ttl = client.ttl(name)
        out[name] = (kind, readers[kind](name) if kind in readers else None, ttl > 0)
    return out


def foreign_keys(client: redis.Redis) -> list[str]:
    return sorted(k for k in client.keys("*") if not k.startswith(keys._COURSE_PREFIX))


class KeyWrites:
    """Every key a command changed while listening, from Redis's keyspace notifications."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client  # kept: a client that is garbage-collected closes its connections
        client.config_set("notify-keyspace-events", "EA")  # key-event channels, every command
        self.pubsub = client.pubsub(ignore_subscribe_messages=True)
        self.pubsub.psubscribe("__keyevent@*__:*")
        self.events: list[tuple[str, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._listen, daemon=True)
        self._thread.start()

    def _listen(self) -> None:
        while not self._stop.is_set():
            message = self.pubsub.get_message(timeout=0.2)
            if message and message["type"] == "pmessage":
                self.events.append((message["channel"].rsplit(":", 1)[-1], message["data"]))

    def stop(self) -> list[tuple[str, str]]:
        time.sleep(0.5)  # the last notifications are on their way
        self._stop.set()
        self._thread.join(timeout=5)
        self.pubsub.close()
        return self.events
