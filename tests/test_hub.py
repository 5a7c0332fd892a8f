"""JupyterHub for a room, started and used for real: ``hub/run.py`` (what ``make hub`` runs).

The test starts the room's hub on free ports of 127.0.0.1 (with its proxy from
``hub/node_modules`` and its one private Redis), then, through the Hub's REST API
only, as a room would:

- the instructor's service token adds three learners; each learner *logs in* by
  asking the Hub for a token with the room's password (a wrong one is refused);
- each learner's token spawns their server; a kernel is started in each server and
  runs lesson 05 (which writes to Redis) cell by cell over the kernel's websocket, all
  three at once;
- each kernel reports its ``REDIS_URL`` (the room's) and its learner prefix
  (``cachelab:<learner>:``), and writes one key through the course's own ``connect``;
  every key written in the room (keyspace notifications) was under one of the three
  prefixes, and the foreign keys planted in the room's Redis are intact;
- the hub is stopped by ``hub/run.py``'s process id, and every process of the room --
  the launcher, the hub, its proxy, the learners' servers and kernels, the Redis -- is
  gone.

The proxy comes from npm (``make hub`` and ``make test`` install it into
``hub/node_modules``). Without it the test is skipped with how to get it, and fails
under ``CI=true``, like the browser tests.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import psutil
import pytest
import redis
from support import KeyWrites, foreign_keys, plant_foreign_keys, snapshot

from lab import browser

REPO = Path(__file__).resolve().parents[1]
PROXY = REPO / "hub" / "node_modules" / ".bin" / "configurable-http-proxy"
LEARNERS = ("ada", "grace", "linus")
LESSON = "lessons/05_stale_reads.ipynb"
PASSWORD = "a room's password"
START_TIMEOUT_S = 120
CELL_TIMEOUT_S = 300

pytestmark = pytest.mark.room


class Hub:
    def __init__(self, state: dict) -> None:
        self.state = state
        self.url = state["url"]

    def api(self, path: str, method: str = "GET", body: object = None, token: str = None):
        """A request to the Hub's REST API; returns (status, decoded JSON or None)."""
        headers = {"Authorization": f"token {token}"} if token else {}
        request = urllib.request.Request(
            f"{self.url}/hub/api{path}",
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers=headers,
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 (local)
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, None

    def admin(self, path: str, method: str = "GET", body: object = None):
        return self.api(path, method, body, token=self.state["admin_token"])


@pytest.fixture
def hub(tmp_path: Path):
    """The room's hub (hub/run.py on free ports), stopped afterwards by its launcher's pid."""
    if not PROXY.exists():
        missing = (
            f"{PROXY.relative_to(REPO)} is missing: `npm install --prefix hub` (make hub and "
            "make test do it where npm is installed) installs JupyterHub's proxy"
        )
        if browser.ci_requires_browser():
            pytest.fail(f"{missing} (CI=true: the hub test may not be skipped)", pytrace=False)
        pytest.skip(missing)
    room = tmp_path / "room"
    log = open(tmp_path / "run.log", "wb")
    launcher = subprocess.Popen(
        [sys.executable, str(REPO / "hub" / "run.py"), "--port", "0", "--room", str(room)],
        env={**os.environ, "CACHELAB_HUB_PASSWORD": PASSWORD},
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()
    state_file = room / "room.json"
    deadline = time.monotonic() + START_TIMEOUT_S
    while not state_file.exists():
        if launcher.poll() is not None or time.monotonic() > deadline:
            launcher.kill()
            pytest.fail(
                f"hub/run.py did not start the hub:\n{(tmp_path / 'run.log').read_text()[-3000:]}",
                pytrace=False,
            )
        time.sleep(0.25)
    time.sleep(0.2)  # the file is written in one go, but let the write finish
    hub = Hub(json.loads(state_file.read_text()))
    hub.launcher = launcher
    hub.log = tmp_path / "run.log"
    hub.hub_log = room / "jupyterhub.log"
    try:
        yield hub
    finally:
        if launcher.poll() is None:
            launcher.send_signal(signal.SIGTERM)
            try:
                launcher.wait(timeout=90)
            except subprocess.TimeoutExpired:
                launcher.kill()
                launcher.wait()


async def _run_cells(hub: Hub, learner: str, token: str, cells: list[str]) -> list[dict]:
    """Start a kernel in ``learner``'s server and run ``cells`` one by one over its websocket.

    Returns one dict per cell: its status and the text it printed.
    """
    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    headers = {"Authorization": f"token {token}", "Content-Type": "application/json"}
    base = f"{hub.url}/user/{learner}/api"
    request = urllib.request.Request(
        f"{base}/kernels",
        method="POST",
        data=json.dumps({"name": "python3", "path": "lessons"}).encode(),
        headers=headers,
    )
    loop = asyncio.get_running_loop()
    response = await loop.run_in_executor(None, lambda: urllib.request.urlopen(request, timeout=60))
    kernel = json.loads(response.read())
    ws_url = base.replace("http://", "ws://") + f"/kernels/{kernel['id']}/channels"
    connection = await websocket_connect(HTTPRequest(ws_url, headers=headers))
    session = uuid.uuid4().hex
    results = []
    try:
        for source in cells:
            msg_id = uuid.uuid4().hex
            connection.write_message(
                json.dumps(
                    {
                        "header": {
                            "msg_id": msg_id,
                            "msg_type": "execute_request",
                            "username": learner,
                            "session": session,
                            "version": "5.3",
                            "date": "",
                        },
                        "parent_header": {},
                        "metadata": {},
                        "content": {"code": source, "silent": False, "allow_stdin": False},
                        "channel": "shell",
                        "buffers": [],
                    }
                )
            )
            output, status, idle = [], None, False
            while status is None or not idle:
                raw = await asyncio.wait_for(connection.read_message(), CELL_TIMEOUT_S)
                if raw is None:
                    raise RuntimeError(f"{learner}'s kernel websocket closed")
                if isinstance(raw, bytes):  # a binary frame (widget buffers): not ours to read
                    continue
                message = json.loads(raw)
                if message.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                kind, content = message["msg_type"], message["content"]
                if kind == "stream":
                    output.append(content["text"])
                elif kind == "error":
                    output.append(f"{content['ename']}: {content['evalue']}")
                elif kind == "execute_reply":
                    status = content["status"]
                elif kind == "status" and content["execution_state"] == "idle":
                    idle = True
            results.append({"status": status, "output": "".join(output), "source": source})
            if status != "ok":
                break
    finally:
        connection.close()
    return results


def _lesson_cells() -> list[str]:
    notebook = json.loads((REPO / LESSON).read_text(encoding="utf-8"))
    return ["".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "code"]


REPORT_CELL = """
import json, os
from cachelab import keys
from cachelab.environment.redis_server import connect
connect().set(keys.learner_prefix() + "hub-check", keys._learner_name())
print("REPORT " + json.dumps({"redis_url": os.environ.get("REDIS_URL"),
                              "prefix": keys.learner_prefix()}))
"""


def test_three_learners_log_in_spawn_run_a_lesson_and_keep_their_prefixes_apart(hub) -> None:
    room_redis = redis.Redis.from_url(hub.state["redis_url"], decode_responses=True)
    plant_foreign_keys(room_redis)
    foreign = foreign_keys(room_redis)
    foreign_before = snapshot(room_redis, foreign)
    writes = KeyWrites(redis.Redis.from_url(hub.state["redis_url"], decode_responses=True))

    # The instructor adds the learners; each one logs in with the room's password.
    status, _ = hub.admin("/users", "POST", {"usernames": list(LEARNERS)})
    assert status == 201
    wrong, _ = hub.api(
        f"/users/{LEARNERS[0]}/tokens",
        "POST",
        {"auth": {"username": LEARNERS[0], "password": "no"}},
    )
    assert wrong == 403, "a wrong password must not log a learner in"
    tokens = {}
    for learner in LEARNERS:
        status, body = hub.api(
            f"/users/{learner}/tokens",
            "POST",
            {"auth": {"username": learner, "password": PASSWORD}, "note": "test_hub login"},
        )
        assert status == 201, f"{learner} could not log in ({status})"
        tokens[learner] = body["token"]
    status, _ = hub.admin("/users", "POST", {"usernames": ["not:a:learner"]})
    assert status == 400, "a name that is no learner name is refused"

    # Each learner spawns their own server, with their own token.
    started = time.monotonic()
    for learner in LEARNERS:
        status, _ = hub.api(f"/users/{learner}/server", "POST", {}, token=tokens[learner])
        assert status in (201, 202), f"{learner}'s server did not start ({status})"
    deadline = time.monotonic() + START_TIMEOUT_S
    for learner in LEARNERS:
        while True:
            _, user = hub.api(f"/users/{learner}", token=tokens[learner])
            if user["servers"].get("", {}).get("ready"):
                break
            assert time.monotonic() < deadline, f"{learner}'s server is not ready: {user}"
            time.sleep(0.5)
    spawn_seconds = time.monotonic() - started

    # The lesson, in every learner's server at once; then each kernel's report.
    cells = _lesson_cells() + [REPORT_CELL]
    started = time.monotonic()

    async def everyone():
        return await asyncio.gather(
            *(_run_cells(hub, learner, tokens[learner], cells) for learner in LEARNERS)
        )

    runs = dict(zip(LEARNERS, asyncio.run(everyone())))
    lesson_seconds = time.monotonic() - started
    for learner, results in runs.items():
        failed = [r for r in results if r["status"] != "ok"]
        assert not failed, (
            f"{learner}: a cell failed:\n{failed[0]['source']}\n{failed[0]['output']}"
        )
        assert len(results) == len(cells)
        report = json.loads(results[-1]["output"].split("REPORT ", 1)[1])
        assert report == {"redis_url": hub.state["redis_url"], "prefix": f"cachelab:{learner}:"}
    print(
        f"hub: {len(LEARNERS)} servers ready in {spawn_seconds:.0f} s; {LESSON} in all of them "
        f"at once in {lesson_seconds:.0f} s"
    )

    # Prefixes stayed apart: every key written was a learner's own; nothing foreign changed.
    events = writes.stop()
    prefixes = [f"cachelab:{learner}:" for learner in LEARNERS]
    outside = sorted({key for _, key in events if not any(key.startswith(p) for p in prefixes)})
    assert not outside, f"keys written outside the learners' prefixes: {outside[:20]}"
    for learner in LEARNERS:
        assert room_redis.get(f"cachelab:{learner}:hub-check") == learner
        assert any(key.startswith(f"cachelab:{learner}:lesson05:") for _, key in events), learner
    assert snapshot(room_redis, foreign) == foreign_before

    # Stop everything by process id; every process of the room is gone.
    _, servers = hub.admin("/users?include_stopped_servers=1")
    server_pids = [u["servers"][""]["state"]["pid"] for u in servers if u["servers"].get("")]
    assert len(server_pids) == len(LEARNERS)
    room_pids = [*hub.state["pids"].values(), *server_pids]
    descendants = []
    for pid in server_pids:  # the learners' kernels
        try:
            descendants += [p.pid for p in psutil.Process(pid).children(recursive=True)]
        except psutil.NoSuchProcess:
            pass
    assert descendants, "each learner's server should be running a kernel"
    room_redis.close()
    hub.launcher.send_signal(signal.SIGTERM)
    hub.launcher.wait(timeout=90)
    deadline = time.monotonic() + 30
    while any(psutil.pid_exists(pid) for pid in room_pids + descendants):
        zombies = [
            pid
            for pid in room_pids + descendants
            if psutil.pid_exists(pid) and psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
        ]
        if len(zombies) == sum(psutil.pid_exists(p) for p in room_pids + descendants):
            break  # only zombies left: they have exited, their parent has not reaped them yet
        assert time.monotonic() < deadline, (
            "processes of the room still running: "
            f"{[p for p in room_pids + descendants if psutil.pid_exists(p)]}"
        )
        time.sleep(0.25)
    assert "stopped" in hub.log.read_text()
