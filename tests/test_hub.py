"""JupyterHub for a room, started and used for real: ``hub/run.py`` (what ``make hub`` runs).

The test starts the room's hub as root on free ports of 127.0.0.1 (with its proxy from
``hub/node_modules`` and its one private Redis, locked down with ACL users), then, through
the Hub's REST API only, as a room would:

- two learners log in: each first login claims a name with the learner's own password; a
  second login with another password is refused, so is grace's password for ada, and nobody
  can claim ``instructor`` (``hub/run.py`` set its password before the hub opened);
- each learner's token spawns their server (as ``cl-<learner>``, a Unix user the hub made),
  in a home laid out as that learner (every file theirs) in which every link a lesson uses
  opens (asked of ada's server through the hub, as ``tests/test_served_tree.py`` asks);
  a kernel is started in each server and runs lesson 05 (which writes to Redis) cell by cell
  over the kernel's websocket, both at once; each kernel reports its uid, its learner prefix,
  and that its ``REDIS_URL`` is its own ACL user's;
- from ada's kernel, ada tries to reach grace and the hub, and must fail every time: grace's
  home and notebook, the hub's ``secrets/`` (``room.json``, the cookie secret, the passwords),
  ``/proc/<pid>/environ`` of the hub, its launcher and grace's server (her API token), and
  grace's keys in Redis (read, write, delete: ``NOPERM``); with her own token ada can neither
  open grace's server nor stop it; subscribed to every TCP port of grace's while grace's
  kernel prints, ada's kernel receives nothing (kernels talk over files in their learner's
  0700 runtime folder, ``transport=ipc``);
- the hub is stopped by ``hub/run.py``'s process id, every process of the room -- the
  launcher, the hub, its proxy, the learners' servers and kernels, the Redis -- is gone, and
  ``hub/run.py --remove-users`` removes exactly the Unix users the room made.

It needs root (the hub makes Unix users) and the proxy from npm (``make hub`` and ``make test``
install it into ``hub/node_modules``). Without either the test is skipped saying so, and fails
under ``CI=true``, like the browser tests.
"""

from __future__ import annotations

import asyncio
import dbm
import http.cookiejar
import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path
from typing import Optional

import psutil
import pytest
import redis

from lab import browser
from test_served_tree import Server, assert_every_link_opens

REPO = Path(__file__).resolve().parents[1]
PROXY = REPO / "hub" / "node_modules" / ".bin" / "configurable-http-proxy"
PASSWORDS = {"ada": "ada's own password", "grace": "grace's own password"}
LEARNERS = tuple(PASSWORDS)
LESSON = "lessons/05_stale_reads.ipynb"
DEFAULT_URL = "/lab/tree/lessons/00_setup_check.ipynb"  # hub/jupyterhub_config.py's
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

    def log_in(self, name: str, password: str) -> tuple[int, Optional[str]]:
        """Log in on the hub's login page, as a browser does; returns the page's status (302:
        logged in) and, when logged in, an API token for the same name and password."""
        jar = http.cookiejar.CookieJar()
        browser_ = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), _Stay)
        browser_.open(f"{self.url}/hub/login", timeout=30)
        xsrf = next(cookie.value for cookie in jar if cookie.name == "_xsrf")
        form = {"username": name, "password": password, "_xsrf": xsrf}
        try:
            browser_.open(f"{self.url}/hub/login", urllib.parse.urlencode(form).encode(), 30)
            return 200, None
        except urllib.error.HTTPError as answer:
            if answer.code != 302:
                return answer.code, None
        auth = {"auth": {"username": name, "password": password}, "note": "test_hub login"}
        status, body = self.api(f"/users/{name}/tokens", "POST", auth)  # the user exists now
        assert status == 201, f"{name} logged in but got no API token ({status})"
        return 302, body["token"]


class _Stay(urllib.request.HTTPRedirectHandler):
    """Redirects are answers to look at, not to follow."""

    def redirect_request(self, *args, **kwargs):
        return None


def _cannot_run_here(reason: str) -> None:
    if browser.ci_requires_browser():
        pytest.fail(f"{reason} (CI=true: the hub test may not be skipped)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture
def hub():
    """The room's hub (hub/run.py, as root, on free ports), stopped afterwards by its
    launcher's pid; the Unix users it made are removed and its room folder with them."""
    if not PROXY.exists():
        _cannot_run_here(
            f"{PROXY.relative_to(REPO)} is missing: `npm install --prefix hub` (make hub and "
            "make test do it where npm is installed) installs JupyterHub's proxy"
        )
    if os.geteuid() != 0:
        _cannot_run_here("the room's hub runs as root: it makes a Unix user for each learner")
    # Learners pass through every folder above their home: not pytest's tmp_path (0700).
    outer = Path(tempfile.mkdtemp(prefix="cachelab-hub-test-"))
    outer.chmod(0o711)
    room = outer / "room"
    log = open(outer / "run.log", "wb")
    launcher = subprocess.Popen(
        [sys.executable, str(REPO / "hub" / "run.py"), "--port", "0", "--room", str(room)],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()
    state_file = room / "secrets" / "room.json"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not state_file.exists() or not state_file.read_text().endswith("\n"):
            if launcher.poll() is not None or time.monotonic() > deadline:
                pytest.fail(
                    f"hub/run.py did not start the hub:\n{(outer / 'run.log').read_text()[-3000:]}",
                    pytrace=False,
                )
            time.sleep(0.25)
        hub = Hub(json.loads(state_file.read_text()))
        hub.launcher = launcher
        hub.log = outer / "run.log"
        hub.room = room
        yield hub
    finally:
        if launcher.poll() is None:
            launcher.send_signal(signal.SIGTERM)
            try:
                launcher.wait(timeout=90)
            except subprocess.TimeoutExpired:
                launcher.kill()
                launcher.wait()
        removal = subprocess.run(
            [sys.executable, str(REPO / "hub" / "run.py"), "--room", str(room), "--remove-users"],
            capture_output=True,
            text=True,
        )
        try:
            assert removal.returncode == 0, removal.stderr
            # Each name is free for the next group: no user, no password, no home; the home is
            # kept for the instructor where only root reads it.
            kept = room / "secrets" / "removed-homes"
            with dbm.open(str(room / "secrets" / "passwords.dbm")) as passwords:
                left = {name.decode() for name in passwords.keys()}
            for learner in LEARNERS:
                with pytest.raises(KeyError):
                    pwd.getpwnam(f"cl-{learner}")
                assert learner not in left
                assert not (room / "homes" / learner).exists()
                assert len(list(kept.glob(f"{learner}-*/lessons"))) == 1
            assert "instructor" in left and not list((room / "run").iterdir())
        finally:
            shutil.rmtree(outer, ignore_errors=True)


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
import json, os, resource
from cachelab import keys
from cachelab.environment.redis_server import connect
from cachelab.lab.timing import usable_cores
client = connect()
client.set(keys.learner_prefix() + "hub-check", keys._learner_name())
print("REPORT " + json.dumps({"uid": os.getuid(), "redis_user": client.acl_whoami(),
                              "prefix": keys.learner_prefix(), "cores": usable_cores(),
                              "nproc": resource.getrlimit(resource.RLIMIT_NPROC)[0],
                              "data": resource.getrlimit(resource.RLIMIT_DATA)[0]}))
"""

PROBE_CELL = """
import json, os
import redis
from cachelab.environment.redis_server import connect
targets = json.loads(%r)
reached = {}
for label, path in targets["files"].items():
    try:
        os.listdir(path) if os.path.isdir(path) else open(path, "rb").read(1)
        reached[label] = "read"
    except PermissionError:
        pass
    except OSError as error:
        reached[label] = repr(error)
client = connect()
key = targets["key"]
for label, attempt in {
    "GET grace's key": lambda: client.get(key),
    "SET grace's key": lambda: client.set(key, "ada was here"),
    "DEL grace's key": lambda: client.delete(key),
    "FLUSHALL": lambda: client.flushall(),
    "CONFIG SET dir": lambda: client.config_set("dir", "/tmp"),
}.items():
    try:
        attempt()
        reached[label] = "done"
    except redis.exceptions.NoPermissionError:
        pass
print("PROBE " + json.dumps({"reached": reached, "environ": dict(os.environ)}))
"""


# Ada's kernel subscribes, as ZeroMQ SUB, to every TCP port grace's processes listen on (any
# local user reads them, with their owner, in /proc/net/tcp), while grace's kernel prints: with
# kernels on TCP ports, grace's IOPub channel would send ada every line grace's cells print.
LISTEN_S = 12
LISTEN_CELL = """
import json, time, zmq
grace_uid = %d
def grace_ports():
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in open(table).read().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and int(fields[7]) == grace_uid:  # 0A: LISTEN
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports
context = zmq.Context()
subscriber = context.socket(zmq.SUB)
subscriber.setsockopt(zmq.SUBSCRIBE, b"")
connected, received = set(), []
deadline = time.monotonic() + %d
while time.monotonic() < deadline and not received:
    for port in grace_ports() - connected:  # grace's kernel may start after this cell
        subscriber.connect(f"tcp://127.0.0.1:{port}")
        connected.add(port)
    if subscriber.poll(250):
        received.append(repr(subscriber.recv_multipart())[:300])
subscriber.close(linger=0)
context.term()
print("LISTEN " + json.dumps({"ports": sorted(connected), "received": received}))
"""
TALK_CELL = f"""
import time
for i in range({LISTEN_S * 5}):
    print("grace's private output", i, flush=True)
    time.sleep(0.2)
"""


def _printed(results: list[dict], marker: str) -> dict:
    return json.loads(results[-1]["output"].split(marker + " ", 1)[1])


def _server_pids(hub: Hub) -> dict[str, int]:
    _, users = hub.admin("/users?include_stopped_servers=1")
    states = {u["name"]: u["servers"].get("", {}).get("state") or {} for u in users}
    return {name: state["pid"] for name, state in states.items() if state.get("pid")}


def test_two_learners_log_in_run_a_lesson_and_cannot_reach_each_other(hub) -> None:
    # Logins, on the hub's login page: the first claims the name; another password is refused.
    tokens = {}
    for learner, password in PASSWORDS.items():
        status, token = hub.log_in(learner, password)
        assert status == 302, f"{learner}'s first login did not claim the name ({status})"
        tokens[learner] = token
    assert hub.log_in("ada", "another password")[0] == 403, "ada's name is ada's: claimed"
    assert hub.log_in("ada", PASSWORDS["grace"])[0] == 403, "grace's password is not ada's"
    assert hub.log_in("instructor", "a learner's guess")[0] == 403, "the instructor's is set"
    assert hub.log_in("instructor", hub.state["instructor_password"])[0] == 302
    assert hub.log_in("Not.a:name", "a long password")[0] == 403, "not a name the hub admits"

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

    # Each home was laid out as its learner (every file theirs), like the repository: every link
    # a lesson uses opens in ada's own server, through the hub.
    for learner in LEARNERS:
        home = hub.room / "homes" / learner
        owners = {path.stat().st_uid for path in [home, *home.rglob("*")]}
        assert owners == {pwd.getpwnam(f"cl-{learner}").pw_uid}, (learner, owners)
    ada_server = Server(f"{hub.url}/user/ada", tokens["ada"])
    assert_every_link_opens(ada_server, hub.room / "homes" / "ada", DEFAULT_URL)

    # The lesson, in both servers at once; then each kernel's report.
    cells = _lesson_cells() + [REPORT_CELL]
    started = time.monotonic()

    async def everyone():
        return await asyncio.gather(
            *(_run_cells(hub, learner, tokens[learner], cells) for learner in LEARNERS)
        )

    runs = dict(zip(LEARNERS, asyncio.run(everyone())))
    lesson_seconds = time.monotonic() - started
    reports = {}
    for learner, results in runs.items():
        failed = [r for r in results if r["status"] != "ok"]
        assert not failed, (
            f"{learner}: a cell failed:\n{failed[0]['source']}\n{failed[0]['output']}"
        )
        assert len(results) == len(cells)
        reports[learner] = report = _printed(results, "REPORT")
        assert report["uid"] == pwd.getpwnam(f"cl-{learner}").pw_uid != 0, report
        assert report["redis_user"] == learner and report["prefix"] == f"cachelab:{learner}:"
        assert report["cores"] == min(2, len(os.sched_getaffinity(0))), report
        assert 0 < report["nproc"] < 10_000 and 0 < report["data"] < 2**40, report
    assert reports["ada"]["uid"] != reports["grace"]["uid"]
    print(
        f"hub: {len(LEARNERS)} servers ready in {spawn_seconds:.0f} s; {LESSON} in all of them "
        f"at once in {lesson_seconds:.0f} s; each kernel: {reports['ada']}"
    )

    # From ada's kernel: grace's files, the hub's secrets, the tokens in processes' environments
    # and grace's keys are all out of reach.
    room, secrets_dir = hub.room, hub.room / "secrets"
    pids = {**hub.state["pids"], **{f"{k}'s server": v for k, v in _server_pids(hub).items()}}
    files = {
        "grace's home": room / "homes" / "grace",
        "grace's notebook": room / "homes" / "grace" / LESSON,
        "the hub's secrets/": secrets_dir,
        "room.json": secrets_dir / "room.json",
        "the cookie secret": secrets_dir / "jupyterhub_cookie_secret",
        "the hub's database": secrets_dir / "jupyterhub.sqlite",
        "the password hashes": secrets_dir / "passwords.dbm.dat",
        "the instructor's password": secrets_dir / "instructor-password",
        "the instructor's Redis URL": secrets_dir / "redis-instructor-url",
        **{f"/proc/<{name}>/environ": Path(f"/proc/{pid}/environ") for name, pid in pids.items()
           if name in ("run", "hub", "proxy", "grace's server")},
    }  # fmt: skip
    missing = [label for label, path in files.items() if not path.exists()]
    assert not missing, f"the test aims at files that do not exist: {missing}"
    targets = {"files": {k: str(v) for k, v in files.items()}, "key": "cachelab:grace:hub-check"}
    probe = asyncio.run(_run_cells(hub, "ada", tokens["ada"], [PROBE_CELL % json.dumps(targets)]))
    assert probe[-1]["status"] == "ok", probe[-1]["output"]
    reached, environ = _printed(probe, "PROBE").values()
    assert not reached, f"ada's kernel reached what is not hers: {reached}"

    # ...nor what grace's kernel prints: its sockets are files in grace's 0700 runtime folder
    # (transport=ipc), so the TCP ports ada finds of grace's are her Jupyter server's (behind the
    # hub's login) and her kernel's pipe for forked processes' output (inbound only).
    async def ada_listens_while_grace_talks():
        return await asyncio.gather(
            _run_cells(
                hub, "ada", tokens["ada"], [LISTEN_CELL % (reports["grace"]["uid"], LISTEN_S)]
            ),
            _run_cells(hub, "grace", tokens["grace"], [TALK_CELL]),
        )

    listened, talked = asyncio.run(ada_listens_while_grace_talks())
    assert listened[-1]["status"] == talked[-1]["status"] == "ok", listened[-1]["output"]
    ports, received = _printed(listened, "LISTEN").values()
    assert ports, "ada found no listening port of grace's: the probe is not looking"
    assert not received, f"ada's kernel received grace's kernel's messages: {received}"
    # ...nor does her kernel's own environment hold a secret of the hub's.
    secret_values = {hub.state["admin_token"], hub.state["instructor_password"]}
    secret_values.add((secrets_dir / "jupyterhub_cookie_secret").read_text().strip())
    for pid in (hub.state["pids"][name] for name in ("run", "hub", "proxy")):
        for variable in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"):
            name, _, value = variable.decode(errors="replace").partition("=")
            if any(word in name for word in ("TOKEN", "SECRET", "PASSWORD")):
                secret_values.add(value)
    leaked = sorted(
        name
        for name, value in environ.items()
        if name.startswith("CACHELAB_HUB_")
        or any(len(secret) >= 8 and secret in value for secret in secret_values)
    )
    assert not leaked, f"ada's kernel's environment holds the hub's secrets: {leaked}"
    # ...nor, with her own token, grace's server or the hub's control of it.
    status, _ = hub.api("/users/grace/server", "DELETE", token=tokens["ada"])
    assert status in (403, 404), f"ada's token stopped grace's server ({status})"
    request = urllib.request.Request(
        f"{hub.url}/user/grace/api/contents", headers={"Authorization": f"token {tokens['ada']}"}
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)  # noqa: S310 (local)
    assert refused.value.code in (403, 404)

    # The keys: each learner's own under their prefix, grace's untouched by ada.
    instructor = redis.Redis.from_url(hub.state["redis_url"], decode_responses=True)
    for learner in LEARNERS:
        assert instructor.get(f"cachelab:{learner}:hub-check") == learner
    instructor.close()

    # Stop everything by process id; every process of the room is gone.
    server_pids = list(_server_pids(hub).values())
    assert len(server_pids) == len(LEARNERS)
    room_pids = [*hub.state["pids"].values(), *server_pids]
    descendants = []
    for pid in server_pids:  # the learners' kernels
        try:
            descendants += [p.pid for p in psutil.Process(pid).children(recursive=True)]
        except psutil.NoSuchProcess:
            pass
    assert descendants, "each learner's server should be running a kernel"
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
