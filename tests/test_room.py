"""A room of learners on one Redis: every lesson that writes to Redis, run by learners at once.

An instructor gives a room one shared Redis (``REDIS_URL``). This test is that room, locked
down as the hub locks it (``hub/room_redis.py``): ``default`` off, each learner an ACL user of
their own, confined to their prefix, and an ``instructor`` user for ``cachelab:``. Four learners
(distinct ``CACHELAB_LEARNER`` and ACL user, two of whose names start alike) run
the lessons *concurrently*, each lesson by two of them (``LESSONS_OF``; the two whose
names start alike run the same ones), each on a fresh kernel, against one Redis
that also holds other people's data -- strings, hashes, lists, sets, sorted sets,
keys with a TTL, and look-alikes such as ``cachelab``, ``cachelabX:…``,
``Cachelab:…``. Then:

- every lesson passed for every learner who ran it, as that learner's ACL user (a lesson that
  used a command the user may not run, or another learner's key, would have met ``NOPERM``);
- every key any of them wrote (Redis's own keyspace notifications, which name each
  key a command changed) was under one of the learners' prefixes, and each learner
  wrote under their own;
- each learner's keys from before the lessons, and every foreign key (type, value,
  TTL), are intact;
- ``python -m cachelab.environment.reset`` as one learner deletes that learner's keys only, and
  ``--all-learners``, as the ``instructor`` user, deletes every learner's, says how many each
  had, and leaves the foreign keys as they were.

Which lessons: ``ROOM_LESSONS``, every lesson that talks to Redis (00 only PINGs it,
and is in for the setup check a room starts with; 03 reads its memory settings; 04, 05,
08, 09 and 11 write to it; 12 starts a cluster of its own).
A guard test keeps the list
complete as lessons are added. The Redis is a private one of this test's own: it holds
foreign keys on purpose, which must never be written to a server that may be shared.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
from support import KeyWrites, foreign_keys, load_module, plant_foreign_keys, snapshot

from cachelab import keys
from cachelab.environment import reset
from cachelab.environment.redis_server import PrivateRedisServer, connect

REPO = Path(__file__).resolve().parents[1]
room_redis = load_module("room_redis", REPO / "hub" / "room_redis.py")

ROOM_LESSONS = [
    "lessons/00_setup_check.ipynb",
    "lessons/03_memory_cache.ipynb",
    "lessons/04_redis_cache.ipynb",
    "lessons/05_stale_reads.ipynb",
    "lessons/08_stampedes.ipynb",
    "lessons/09_capstone.ipynb",
    "lessons/11_near_cache.ipynb",
]
LEARNERS = ("ada", "ada2", "grace", "linus")  # "ada" is the start of "ada2": prefixes must not be
# Each lesson is run by two learners, all four at the same time: every lesson writes beside other
# learners, and "ada" and "ada2" run the same ones. (All four running all six took 424 s of make
# test's 12 minutes on a busy machine; keys are built in one place, keys.learner_prefix, for all.)
LESSONS_OF = {
    "ada": ROOM_LESSONS[0::2],
    "ada2": ROOM_LESSONS[0::2],
    "grace": ROOM_LESSONS[1::2],
    "linus": ROOM_LESSONS[1::2],
}
# What a lesson may print when the learner's ACL user is refused a command: an explanation.
EXPLAINED_REFUSALS = {"lessons/03_memory_cache.ipynb": "this Redis does not show its configuration"}
ROOM_TIMEOUT_S = 600  # all learners' lessons, concurrently, on a busy 2-core machine

# A lesson that uses these writes to (or reads from) the course's Redis; a RedisCache on a
# LocalCluster's client (lesson 12) or on the private server a lesson started for itself (lesson
# 13's, which changes maxmemory) uses the lesson's own servers instead.
REDIS_MARKERS = re.compile(
    r"\bconnect\(|\bRedisCache\((?!cluster\.|private\.)|\bredis_row\(|\burl_of\("
)


def _plant_learners_keys(client: redis.Redis) -> dict[str, dict[str, str]]:
    """Keys each learner kept from earlier work (as an exercise or a lesson might leave them)."""
    planted = {}
    for learner in LEARNERS:
        prefix = keys.learner_prefix(learner)
        planted[learner] = {
            prefix + keys.product(1): json.dumps({"id": 1, "owner": learner}),
            prefix + "exercise:03.1": json.dumps(f"{learner}'s answer"),
        }
        for name, value in planted[learner].items():
            client.set(name, value)
    return planted


# One learner: their lessons, one after the other, each on a fresh kernel, as they would run them.
_LEARNER_SCRIPT = """
import json, sys, time, traceback
from pathlib import Path
import nbformat
from nbclient import NotebookClient
results = []
for lesson in sys.argv[1:]:
    started = time.monotonic()
    notebook = nbformat.read(lesson, as_version=4)
    try:
        NotebookClient(notebook, timeout=300, kernel_name="python3",
                       resources={"metadata": {"path": str(Path(lesson).parent)}}).execute()
        error = None
    except Exception as failure:
        error = "".join(traceback.format_exception_only(type(failure), failure))[-3000:]
    said = [output.get("text", "") + str(output.get("data", {}).get("text/plain", ""))
            for cell in notebook.cells for output in cell.get("outputs", [])]
    refusals = [text[:300] for text in said if "noperm" in text.lower() or "no permissions" in text]
    results.append({"lesson": lesson, "error": error, "seconds": time.monotonic() - started,
                    "refusals": refusals})
print("RESULTS " + json.dumps(results))
"""


def _run_room(room) -> dict[str, list[dict]]:
    """Start every learner at once, each with the URL of their own ACL user; wait for all; return
    each one's lesson results."""
    processes = {}
    for learner in LEARNERS:
        env = {k: v for k, v in os.environ.items() if k not in ("JUPYTERHUB_USER",)}
        env.update(REDIS_URL=room.learner_url(learner), CACHELAB_LEARNER=learner)
        env.update(PYTHONUNBUFFERED="1")
        processes[learner] = subprocess.Popen(
            [sys.executable, "-c", _LEARNER_SCRIPT, *LESSONS_OF[learner]],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
    results = {}
    deadline = time.monotonic() + ROOM_TIMEOUT_S
    try:
        for learner, process in processes.items():
            out, _ = process.communicate(timeout=max(1, deadline - time.monotonic()))
            lines = [line for line in out.splitlines() if line.startswith("RESULTS ")]
            assert lines, f"{learner}'s run printed no results:\n{out[-3000:]}"
            results[learner] = json.loads(lines[-1].removeprefix("RESULTS "))
    finally:
        for process in processes.values():  # only on a failure above: stop by process id
            if process.poll() is None:
                process.kill()
                process.wait()
    return results


def _reset(url: str, learner: str, *options: str) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("JUPYTERHUB_USER",)}
    env.update(REDIS_URL=url, CACHELAB_LEARNER=learner)
    result = subprocess.run(
        [sys.executable, "-m", "cachelab.environment.reset", "--redis-only", *options],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_the_room_covers_every_lesson_that_uses_redis() -> None:
    using_redis = set()
    for path in sorted((REPO / "lessons").glob("[0-9][0-9]_*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
        if REDIS_MARKERS.search(code):
            using_redis.add(path.relative_to(REPO).as_posix())
    assert using_redis <= set(ROOM_LESSONS), (
        f"lessons that use Redis but are not in the room: {sorted(using_redis - set(ROOM_LESSONS))}"
    )


@pytest.mark.room
def test_four_learners_share_one_redis_without_touching_each_other_or_anyone_else() -> None:
    server = PrivateRedisServer().start()
    try:
        plant_foreign_keys(server.client())
        room = room_redis.RoomRedis.lock_down(server.url, b"the room's secret, for this test")
        client = connect(room._admin_url)  # the hub's own user: it sees everyone's keys
        foreign = foreign_keys(client)
        foreign_before = snapshot(client, foreign)
        planted = _plant_learners_keys(client)
        # A client of its own, with no socket timeout: a subscriber waits for minutes in silence.
        writes = KeyWrites(redis.Redis.from_url(room._admin_url, decode_responses=True))

        started = time.monotonic()
        results = _run_room(room)
        room_seconds = time.monotonic() - started
        events = writes.stop()

        # Every lesson passed for every learner.
        failures = {
            f"{learner} / {r['lesson']}": r["error"]
            for learner, runs in results.items()
            for r in runs
            if r["error"]
        }
        assert not failures, "lessons failed in the room:\n" + "\n\n".join(
            f"{where}:\n{error}" for where, error in failures.items()
        )
        unexplained = {
            f"{learner} / {r['lesson']}": text
            for learner, runs in results.items()
            for r in runs
            for text in r["refusals"]
            if EXPLAINED_REFUSALS.get(r["lesson"], "\0") not in text
        }
        assert not unexplained, f"lessons printed an ACL refusal they do not explain: {unexplained}"
        print(
            f"room: {len(LEARNERS)} learners, each lesson run by two of them, in "
            f"{room_seconds:.0f} s; "
            + "; ".join(
                f"{learner}: "
                + ", ".join(f"{Path(r['lesson']).stem[:2]} {r['seconds']:.0f} s" for r in runs)
                for learner, runs in results.items()
            )
        )

        # Every key written was under a learner's prefix; each learner wrote under their own.
        prefixes = {learner: keys.learner_prefix(learner) for learner in LEARNERS}
        outside = sorted(
            {key for _, key in events if not any(key.startswith(p) for p in prefixes.values())}
        )
        assert not outside, f"keys written outside the learners' prefixes: {outside[:20]}"
        for learner, prefix in prefixes.items():
            mine = [key for event, key in events if key.startswith(prefix) and event == "set"]
            assert mine, f"{learner}'s lessons wrote nothing under {prefix} (events: {len(events)})"

        # Each learner's earlier keys, and every foreign key, are intact.
        for learner, names in planted.items():
            assert {name: client.get(name) for name in names} == names, learner
        assert foreign_keys(client) == foreign
        assert snapshot(client, foreign) == foreign_before

        # A learner's reset deletes that learner's keys only ("ada" is the start of "ada2").
        out = _reset(room.learner_url("ada"), "ada")
        assert "under 'cachelab:ada:'" in out, out
        assert client.exists(*planted["ada"]) == 0
        for learner in LEARNERS[1:]:
            assert client.exists(*planted[learner]) == len(planted[learner]), learner
        assert snapshot(client, foreign) == foreign_before

        # The instructor's reset deletes every learner's keys and says how many each had.
        remaining = reset._keys_per_learner(client)
        assert set(remaining) == set(LEARNERS[1:]), remaining
        out = _reset(room.instructor_url, "ada", "--all-learners")
        for learner in LEARNERS[1:]:
            assert f"{learner}: {remaining[learner]} key(s)" in out, out
        assert client.keys("cachelab:*") == []
        assert foreign_keys(client) == foreign
        assert snapshot(client, foreign) == foreign_before
    finally:
        server.stop()
