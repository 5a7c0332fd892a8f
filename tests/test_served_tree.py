"""Every link a lesson uses opens where learners work: issue 21 item 3, asked of JupyterLab itself.

A lesson links to ``../GLOSSARY.md#term``, to the next lesson and to its figures; the
instructors' notes, the setup guide and the type-along copies must open too. A link opens only if
the file lies inside the tree the Jupyter server serves, so this test starts a real JupyterLab on
127.0.0.1 (a token, no browser) for each of two trees learners work in, and asks its contents
API (``GET /api/contents/<path>``) for every such file:

- ``make lab``: the command ``make -n lab`` prints, run as it is (the repository's root served,
  ``lessons/00_setup_check.ipynb`` the default URL), plus a port, a token and ``--no-browser``;
- the Kubernetes hub: a home furnished by ``hub/k8s/config.yaml``'s ``postStart`` command, run
  with this repository standing in for the image's copy of it.

The one-machine hub's tree is checked live, on a learner's real server behind the hub, by
``tests/test_hub.py`` with this file's ``assert_every_link_opens``.

A link is resolved as the browser does, relative to the folder of the file that holds it.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shlex
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator
from urllib.parse import quote

import pytest
from support import load_module

from test_lesson_links import links_in, local_target, markdown_of

pytestmark = pytest.mark.room  # three JupyterLab servers: with the room's tests, not make test-fast

REPO = Path(__file__).resolve().parents[1]
JUPYTER = str(Path(sys.executable).parent / "jupyter")
START_TIMEOUT_S = 60  # JupyterLab starts in a few seconds; slower on a busy 2-core machine
ISSUE_NAMES = ["GLOSSARY.md", "INSTRUCTORS.md", "docs/setup.md", "README.md", "type-along"]
"""What the issue names as links that must open, whether or not a lesson links it yet."""

type_along = load_module("type_along", REPO / "scripts" / "type_along.py")


def make_lab_command() -> list[str]:
    """The ``jupyter lab`` command ``make lab`` runs, as ``make -n lab`` prints it."""
    printed = subprocess.run(
        ["make", "-n", "--no-print-directory", "lab"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    [line] = [line for line in printed.splitlines() if re.search(r"jupyter lab\b", line)]
    return shlex.split(line)


def option(command: list[str], name: str) -> str:
    [value] = [arg.split("=", 1)[1] for arg in command if arg.startswith(f"--{name}=")]
    return value


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    def __init__(self, url: str, token: str) -> None:
        self.url, self.token = url, token

    def get(self, path: str) -> tuple[int, dict | None, str]:
        """GET ``path``; (status, decoded JSON or None, the Location of a redirect)."""
        request = urllib.request.Request(
            f"{self.url}{path}", headers={"Authorization": f"token {self.token}"}
        )
        opener = urllib.request.build_opener(_NoRedirect)
        try:
            with opener.open(request, timeout=10) as response:
                body = response.read()
                return response.status, json.loads(body) if body else None, ""
        except urllib.error.HTTPError as error:
            return error.code, None, error.headers.get("Location", "")

    def contents(self, path: str) -> tuple[int, str]:
        """The contents API's answer for a file or folder: (status, its type)."""
        status, model, _ = self.get(f"/api/contents/{quote(path)}?content=0")
        return status, (model or {}).get("type", "")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # a redirect is an answer to look at
        return None


@contextmanager
def jupyter_lab(command: list[str], cwd: Path, home: Path) -> Iterator[Server]:
    """``command`` (a ``jupyter lab`` command line) on a free port of 127.0.0.1 with a random
    token and no browser, its settings under ``home``; stopped by terminating it afterwards."""
    port, token = free_port(), secrets.token_hex(16)
    command = [arg for arg in command if not arg.startswith("--port=")] + [
        f"--port={port}",
        "--port-retries=0",
        "--ip=127.0.0.1",
        "--no-browser",
        f"--IdentityProvider.token={token}",
        "--LabApp.news_url=",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    if os.geteuid() == 0 and "--allow-root" not in command:
        command.append("--allow-root")
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(home / "config"))
    env.update(JUPYTER_RUNTIME_DIR=str(home / "runtime"), JUPYTER_DATA_DIR=str(home / "data"))
    env.update(JUPYTERLAB_SETTINGS_DIR=str(home / "settings"))
    env.update(JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"))
    env.pop("JUPYTER_TOKEN", None)
    log = home / "jupyter.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    server = Server(f"http://127.0.0.1:{port}", token)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            assert process.poll() is None, f"jupyter lab exited:\n{log.read_text()[-3000:]}"
            try:
                if server.get("/api/status")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, (
                f"no answer in {START_TIMEOUT_S} s:\n{log.read_text()[-3000:]}"
            )
            time.sleep(0.25)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def link_targets(root: Path) -> dict[str, list[str]]:
    """Every file a lesson (or a type-along copy) in ``root`` links to, as a path under ``root``,
    with the files that link to it; a link that leaves ``root`` is kept as ``../...``."""
    targets: dict[str, list[str]] = {}
    for folder in ("lessons", "type-along"):
        for notebook in sorted((root / folder).glob("[0-9][0-9]_*.ipynb")):
            for link in links_in(markdown_of(notebook)):
                target = local_target(notebook.parent, link)
                if target is None:
                    continue
                where = os.path.relpath(target, root.resolve())
                targets.setdefault(where, []).append(f"{folder}/{notebook.name}")
    return targets


def assert_every_link_opens(server: Server, root: Path, default_url: str) -> None:
    targets = link_targets(root)
    assert any(t == "GLOSSARY.md" for t in targets), "no lesson links to the glossary?"
    wanted = {**targets, **{name: ["issue 21"] for name in ISSUE_NAMES}}
    wanted[default_url.removeprefix("/lab/tree/")] = ["the default URL"]
    dead = {}
    for path, linked_from in sorted(wanted.items()):
        status, kind = (404, "") if path.startswith("..") else server.contents(path)
        if status != 200:
            dead[path] = (status, sorted(set(linked_from))[:3])
    assert not dead, f"links that do not open in the served tree {root}: {dead}"
    assert server.contents("type-along/03_memory_cache.ipynb") == (200, "notebook")
    assert server.contents(default_url.removeprefix("/lab/tree/")) == (200, "notebook")


@pytest.fixture(scope="module")
def type_along_at_the_root() -> Iterator[None]:
    """``make lab`` writes ``type-along/`` when there is none; so does this, removing it after."""
    folder = type_along.OUT
    made = not folder.exists()
    if made:
        type_along.generate(folder)
    yield
    if made:
        shutil.rmtree(folder, ignore_errors=True)


def test_make_lab_serves_the_repository_and_opens_the_first_lesson(
    tmp_path: Path, type_along_at_the_root: None
) -> None:
    command = make_lab_command()
    root = (REPO / option(command, "ServerApp.root_dir")).resolve()
    assert root == REPO
    default_url = option(command, "LabApp.default_url")
    assert default_url == "/lab/tree/lessons/00_setup_check.ipynb"
    with jupyter_lab(command, REPO, tmp_path) as server:
        status, _, location = server.get("/")
        assert status in (301, 302) and location.startswith(default_url), (status, location)
        assert_every_link_opens(server, root, default_url)


def test_the_kubernetes_hub_gives_each_learner_the_same_layout(tmp_path: Path) -> None:
    yaml = pytest.importorskip("yaml")
    values = yaml.safe_load((REPO / "hub" / "k8s" / "config.yaml").read_text())
    hook = values["singleuser"]["lifecycleHooks"]["postStart"]["exec"]["command"]
    image_copy = re.search(r"--target-repo-dir (\S+)", (REPO / "docs" / "room.md").read_text())
    hook = [part.replace(image_copy.group(1), str(REPO)) for part in hook]
    home = tmp_path / "jovyan"
    home.mkdir()
    python_first = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"  # the image's
    env = dict(os.environ, HOME=str(home), PATH=python_first)
    subprocess.run(hook, env=env, check=True, timeout=60, capture_output=True)
    (home / "lessons" / "00_setup_check.ipynb").write_text("{}")  # the learner's own edit ...
    subprocess.run(hook, env=env, check=True, timeout=60, capture_output=True)
    assert (home / "lessons" / "00_setup_check.ipynb").read_text() == "{}"  # ... survives a start
    shutil.copy2(REPO / "lessons" / "00_setup_check.ipynb", home / "lessons")
    command = [JUPYTER, "lab", f"--ServerApp.root_dir={home}"]
    with jupyter_lab(command, home, tmp_path) as server:
        assert_every_link_opens(server, home, values["singleuser"]["defaultUrl"])
