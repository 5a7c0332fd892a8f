"""Start JupyterHub for a room on this machine: ``make hub`` (or ``python hub/run.py``).

What it starts, all on 127.0.0.1, and stops again on Ctrl-C (or SIGTERM), by process id:

1. one private ``redis-server`` for the room (``cachelab.environment.redis_server.PrivateRedisServer``,
   on a unix socket, nothing saved to disk): every learner's kernel gets its URL as
   ``REDIS_URL``;
2. JupyterHub (``hub/jupyterhub_config.py``), which starts its proxy
   (``configurable-http-proxy`` from ``hub/node_modules``) and, as learners log in, one
   Jupyter server per learner; stopping the hub stops those too.

The room's folder (``--room``, default ``.hub/`` in the repository) keeps the hub's
database, the learners' homes (a copy of ``lessons/`` each, their own ``data/``) and
``room.json``: the URLs, the process ids and the instructor's API token, for scripts
and tests (the folder is private to this user).

    python hub/run.py                       # http://127.0.0.1:8000, a password is printed
    python hub/run.py --port 0 --room /tmp/room --password 'a-long-one'
    CACHELAB_HUB_PASSWORD=... python hub/run.py

Learners log in at the printed URL with any learner name (letters, digits, ``. _ @ + -``)
and the room's password. The instructor resets the room's Redis with
``REDIS_URL=<the printed URL> python -m cachelab.environment.reset --all-learners --redis-only``.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Optional

REPO = Path(__file__).resolve().parents[1]
PROXY = REPO / "hub" / "node_modules" / ".bin" / "configurable-http-proxy"
CONFIG = REPO / "hub" / "jupyterhub_config.py"
START_TIMEOUT_S = 90


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _hub_is_up(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/hub/api/", timeout=2) as response:  # noqa: S310
            return response.status == 200
    except OSError:
        return False


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python hub/run.py", description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=8000, help="the hub's port (0: a free one)")
    parser.add_argument("--room", type=Path, default=REPO / ".hub", help="the room's folder")
    parser.add_argument(
        "--password",
        default=os.environ.get("CACHELAB_HUB_PASSWORD"),
        help="the room's shared password (default: $CACHELAB_HUB_PASSWORD, else a new one)",
    )
    args = parser.parse_args(argv)

    if not PROXY.exists():
        print(
            f"error: {PROXY.relative_to(REPO)} is missing; install the proxy with "
            "`npm install --prefix hub` (make hub does it; needs Node.js and npm)",
            file=sys.stderr,
        )
        return 1
    from cachelab.environment.redis_server import PrivateRedisServer

    room = args.room.resolve()
    room.mkdir(parents=True, exist_ok=True)
    os.chmod(room, 0o700)  # the instructor's token and the learners' homes live here
    password = args.password or secrets.token_urlsafe(9)
    port = args.port or free_port()
    url = f"http://127.0.0.1:{port}"
    admin_token = secrets.token_hex(32)

    redis_server = PrivateRedisServer().start()
    hub: Optional[subprocess.Popen] = None
    stopping = []

    def stop(signum=None, frame=None) -> None:
        stopping.append(signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        env = dict(os.environ)
        env.update(
            CACHELAB_HUB_ROOM=str(room),
            CACHELAB_HUB_PORT=str(port),
            CACHELAB_HUB_INTERNAL_PORT=str(free_port()),
            CACHELAB_HUB_PROXY_API_PORT=str(free_port()),
            CACHELAB_HUB_PROXY=str(PROXY),
            CACHELAB_HUB_PASSWORD=password,
            CACHELAB_HUB_ADMIN_TOKEN=admin_token,
            CACHELAB_HUB_REDIS_URL=redis_server.url,
            PYTHONUNBUFFERED="1",
        )
        log = open(room / "jupyterhub.log", "ab")
        hub = subprocess.Popen(
            [sys.executable, "-m", "jupyterhub", "-f", str(CONFIG)],
            cwd=room,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches run.py, which stops the hub in order
        )
        log.close()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _hub_is_up(url):
            if hub.poll() is not None or stopping or time.monotonic() > deadline:
                tail = (room / "jupyterhub.log").read_text(errors="replace")[-3000:]
                print(f"error: JupyterHub did not start:\n{tail}", file=sys.stderr)
                return 1
            time.sleep(0.25)
        state = {
            "url": url,
            "password": password,
            "admin_token": admin_token,
            "redis_url": redis_server.url,
            "pids": {
                "run": os.getpid(),
                "hub": hub.pid,
                "redis": redis_server.process.pid,
                "proxy": int((room / "proxy.pid").read_text().strip()),
            },
            "room": str(room),
        }
        state_file = room / "room.json"
        state_file.write_text(json.dumps(state, indent=2) + "\n")
        os.chmod(state_file, 0o600)
        print(
            f"JupyterHub for the room: {url}\n"
            f"  log in with any learner name and the room's password: {password}\n"
            f"  the room's Redis (REDIS_URL of every learner): {redis_server.url}\n"
            f"  reset it: REDIS_URL={redis_server.url} python -m cachelab.environment.reset --all-learners "
            "--redis-only\n"
            f"  the instructor's API token and the process ids: {state_file}\n"
            "  Ctrl-C stops everything",
            flush=True,
        )
        while not stopping and hub.poll() is None:
            time.sleep(0.25)
        return 0 if hub.poll() is None or hub.returncode == 0 else 1
    finally:
        if hub is not None and hub.poll() is None:
            hub.send_signal(signal.SIGTERM)  # the hub stops the learners' servers and its proxy
            try:
                hub.wait(timeout=60)
            except subprocess.TimeoutExpired:
                hub.kill()
                hub.wait()
        redis_server.stop()
        print("the room's hub, servers and Redis are stopped", flush=True)


if __name__ == "__main__":
    sys.exit(main())
