"""Start JupyterHub for a room on this machine, as root: ``sudo make hub`` (``hub/run.py``).

Learners are kept apart as The Littlest JupyterHub keeps them: the hub runs as root and starts
each learner's server as a Unix user of that learner's own (``hub/learners.py``), so it refuses
to start as anyone else. What it starts, all on 127.0.0.1, and stops again on Ctrl-C (or
SIGTERM), by process id:

1. one private ``redis-server`` for the room (``PrivateRedisServer``, on a unix socket, nothing
   saved to disk), which the hub locks down with an ACL user per learner
   (``hub/room_redis.py``) before any learner can reach its socket;
2. JupyterHub (``hub/jupyterhub_config.py``), which starts its proxy
   (``configurable-http-proxy`` from ``hub/node_modules``) and, as learners log in, one
   Jupyter server per learner; stopping the hub stops those too.

The room's folder (``--room``; default ``/srv/make-or-break-room``, as TLJH keeps
``/opt/tljh``) holds, with every folder above it open to others to pass through (o+x):

- ``secrets/`` (0700, root): the hub's database and cookie secret, the learners' password
  hashes, the log, the instructor's password and Redis URL, and ``room.json`` (the URLs,
  the process ids, the instructor's API token and password), for scripts and tests;
- ``course/``: the Python the learners' servers run, readable by all (``hub/course_copy.py``);
- ``homes/<learner>/``: each learner's home, theirs alone (0700).

    sudo .venv/bin/python hub/run.py              # http://127.0.0.1:8000
    sudo .venv/bin/python hub/run.py --port 0 --room /srv/another-room
    sudo .venv/bin/python hub/run.py --remove-users   # after the course: its Unix users go

Learners log in at the printed URL: the first login with a name claims it, with a password of
the learner's own (7 characters or more). The instructor logs in as ``instructor`` with the
printed password (the hub's admin) and resets the room's Redis with the printed command.
"""

from __future__ import annotations

import argparse
import dbm
import json
import os
import secrets
import signal
import socket
import stat
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Optional

REPO = Path(__file__).resolve().parents[1]
PROXY = REPO / "hub" / "node_modules" / ".bin" / "configurable-http-proxy"
CONFIG = REPO / "hub" / "jupyterhub_config.py"
DEFAULT_ROOM = Path("/srv/make-or-break-room")
START_TIMEOUT_S = 90

sys.path.insert(0, str(REPO / "hub"))  # hub/learners.py, hub/course_copy.py
import course_copy  # noqa: E402
import learners  # noqa: E402


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


def _open_to_pass_through(room: Path) -> Optional[Path]:
    """The first folder above ``room`` that other users cannot pass through (no o+x), if any."""
    for folder in room.parents:
        if folder.exists() and not folder.stat().st_mode & stat.S_IXOTH:
            return folder
    return None


def _instructor_password(secrets_dir: Path) -> str:
    """The instructor's hub password: made once per room, kept in ``secrets/``, and set in the
    password database before the hub opens, so no learner can claim the name."""
    import bcrypt

    stored = secrets_dir / "instructor-password"
    if not stored.exists():
        stored.write_text(secrets.token_urlsafe(12) + "\n")
        stored.chmod(0o600)
    password = stored.read_text().strip()
    with dbm.open(str(secrets_dir / "passwords.dbm"), "c", 0o600) as passwords:
        passwords["instructor"] = bcrypt.hashpw(password.encode(), bcrypt.gensalt())
    return password


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python hub/run.py", description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=8000, help="the hub's port (0: a free one)")
    parser.add_argument("--room", type=Path, default=DEFAULT_ROOM, help="the room's folder")
    parser.add_argument(
        "--remove-users",
        action="store_true",
        help="remove the Unix users this room made for its learners, and stop",
    )
    args = parser.parse_args(argv)

    if os.geteuid() != 0:
        print(
            "error: the room's hub runs as root (sudo make hub): it makes a Unix user for each "
            "learner and starts each learner's server as that user, so learners are kept apart",
            file=sys.stderr,
        )
        return 1
    room = args.room.resolve()
    if args.remove_users:
        removed = learners.remove_users(room)
        print(f"removed the room's Unix users: {' '.join(removed) or 'none'}")
        return 0
    if not PROXY.exists():
        print(
            f"error: {PROXY.relative_to(REPO)} is missing; install the proxy with "
            "`npm install --prefix hub` (make hub does it; needs Node.js and npm)",
            file=sys.stderr,
        )
        return 1
    closed = _open_to_pass_through(room)
    if closed is not None:
        print(
            f"error: learners could not reach their homes in {room}: {closed} is closed to other "
            f"users (chmod o+x {closed}, or choose another --room)",
            file=sys.stderr,
        )
        return 1
    from cachelab.environment.redis_server import PrivateRedisServer

    secrets_dir, homes = room / "secrets", room / "homes"
    for folder, mode in ((room, 0o711), (secrets_dir, 0o700), (homes, 0o711)):
        folder.mkdir(parents=True, exist_ok=True)
        os.chmod(folder, mode)  # learners pass through to their own home, and list nothing
    course_env = course_copy.stage(room)
    instructor_password = _instructor_password(secrets_dir)
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
    log_path = secrets_dir / "jupyterhub.log"
    try:
        env = dict(os.environ)
        env.update(
            CACHELAB_HUB_ROOM=str(room),
            CACHELAB_HUB_PORT=str(port),
            CACHELAB_HUB_INTERNAL_PORT=str(free_port()),
            CACHELAB_HUB_PROXY_API_PORT=str(free_port()),
            CACHELAB_HUB_PROXY=str(PROXY),
            CACHELAB_HUB_ADMIN_TOKEN=admin_token,
            CACHELAB_HUB_REDIS_URL=redis_server.url,
            CACHELAB_HUB_REDIS_SECRET=secrets.token_hex(32),
            CACHELAB_HUB_COURSE_ENV=json.dumps(course_env),
            PYTHONUNBUFFERED="1",
        )
        log = open(log_path, "ab")
        hub = subprocess.Popen(
            [sys.executable, "-m", "jupyterhub", "-f", str(CONFIG)],
            cwd=secrets_dir,
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
                tail = log_path.read_text(errors="replace")[-3000:]
                print(f"error: JupyterHub did not start:\n{tail}", file=sys.stderr)
                return 1
            time.sleep(0.25)
        instructor_redis_url = (secrets_dir / "redis-instructor-url").read_text().strip()
        reset = (
            f"REDIS_URL='{instructor_redis_url}' {sys.executable} -m "
            "cachelab.environment.reset --all-learners --redis-only"
        )
        state = {
            "url": url,
            "instructor_password": instructor_password,
            "admin_token": admin_token,
            "redis_url": instructor_redis_url,
            "reset": reset,
            "pids": {
                "run": os.getpid(),
                "hub": hub.pid,
                "redis": redis_server.process.pid,
                "proxy": int((secrets_dir / "proxy.pid").read_text().strip()),
            },
            "room": str(room),
        }
        state_file = secrets_dir / "room.json"
        state_file.touch(mode=0o600)
        state_file.write_text(json.dumps(state, indent=2) + "\n")
        print(
            f"JupyterHub for the room: {url}\n"
            "  learners: the first login with a name claims it, with a password of their own\n"
            f"  the instructor (the hub's admin): instructor / {instructor_password}\n"
            f"  reset the room's Redis: {reset}\n"
            f"  the instructor's API token, password and the process ids: {state_file}\n"
            "  Ctrl-C stops everything; then `python hub/run.py --remove-users` removes the "
            "learners' Unix users",
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
