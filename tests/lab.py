"""JupyterLab in a real browser, as a learner uses it: the machinery the browser tests share.

``tests/test_browser_widgets.py`` (do the widgets work?) and
``benchmarks/bench_slider_browser.py`` (how live do the sliders feel?) both start a
JupyterLab server on a free port of 127.0.0.1, open a lesson in headless Chromium
through Playwright, and run all its cells from the menu. That is here, once.

The browser is the one ``scripts/browser.py`` finds (Playwright's own browser download
is never used). JupyterLab is started with ``expose_app_in_browser`` so that the page's
``window.jupyterapp`` can be asked about the notebook's *model* -- every cell's
execution count and outputs -- rather than its DOM, which JupyterLab paints only for
the cells in view.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, NamedTuple, Optional

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
import browser  # noqa: E402  (scripts/browser.py: the one place a browser is found)

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]

SERVER_START_TIMEOUT_S = 60  # JupyterLab starts in a few seconds, slower on a busy 2-core machine
RUN_ALL_TIMEOUT_MS = 150_000  # one lesson's run-all (each lesson is under 60 s on a quiet machine)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class JupyterServer(NamedTuple):
    url: str
    token: str
    process: subprocess.Popen
    log: Path

    def api(self, path: str, method: str = "GET", body: object = None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.url}{path}",
            method=method,
            data=data,
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (local server)
            body = response.read()
        return json.loads(body) if body else None

    def lesson_url(self, notebook: str) -> str:
        return f"{self.url}/lab/tree/{notebook}?reset&token={self.token}"

    def log_tail(self, characters: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-characters:]


class LabFailed(RuntimeError):
    """JupyterLab did not start, or a lesson did not run in it."""


@contextmanager
def jupyterlab(
    home: Path, root_dir: Path = REPO, render_every_cell: bool = True
) -> Iterator[JupyterServer]:
    """JupyterLab on a free port with a random token, serving ``root_dir``; stopped afterwards.

    Its settings live under ``home`` (the user's own are ignored): autosave off, so running
    a lesson in the browser never writes outputs into ``lessons/``; no news; and, with
    ``render_every_cell``, no windowing, so every widget is on the page (a learner's
    JupyterLab paints only the cells near the view: pass False to measure what they see).
    """
    plugins: dict[str, dict] = {
        "docmanager-extension/plugin": {"autosave": False},
        "apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
    }
    if render_every_cell:
        plugins["notebook-extension/tracker"] = {"windowingMode": "none"}
    for plugin, values in plugins.items():
        settings = home / "settings" / "@jupyterlab" / f"{plugin}.jupyterlab-settings"
        settings.parent.mkdir(parents=True, exist_ok=True)
        settings.write_text(json.dumps(values))
    env = dict(os.environ)
    env.update(
        JUPYTER_CONFIG_DIR=str(home / "config"),
        JUPYTER_RUNTIME_DIR=str(home / "runtime"),
        JUPYTERLAB_SETTINGS_DIR=str(home / "settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"),
        PYTHONUNBUFFERED="1",
    )
    env.pop("JUPYTER_TOKEN", None)
    port, token = free_port(), secrets.token_hex(16)
    command = [
        sys.executable,
        "-m",
        "jupyter",
        "lab",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        "--port-retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root_dir}",
        "--LabApp.news_url=",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.expose_app_in_browser=True",
    ]
    if os.name == "posix" and os.geteuid() == 0:
        command.append("--allow-root")
    log = home / "jupyter.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env
        )
    server = JupyterServer(f"http://127.0.0.1:{port}", token, process, log)
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while True:
            if process.poll() is not None:
                raise LabFailed(
                    f"jupyter lab exited with {process.returncode}:\n{server.log_tail()}"
                )
            try:
                server.api("/api/status")
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise LabFailed(
                        f"jupyter lab did not answer within {SERVER_START_TIMEOUT_S} s:\n"
                        f"{server.log_tail()}"
                    ) from None
                time.sleep(0.25)
        yield server
    finally:
        try:  # shut kernels down properly, so their private Redis servers stop too
            for kernel in server.api("/api/kernels") or []:
                server.api(f"/api/kernels/{kernel['id']}", method="DELETE")
        except OSError:
            pass
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def chromium_page(executable: str, profile: Path, viewport=(1280, 900)):
    """A fresh headless Chromium with its own empty profile, and its one page.

    Playwright drives the system's browser (``executable``, from ``find_chromium``), never one
    it downloaded; ``tests/conftest.py``'s ``page`` fixture is this, per test.
    """
    from playwright import sync_api

    with sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            user_data_dir=str(profile),
            executable_path=executable,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": viewport[0], "height": viewport[1]},
        )
        try:
            yield context.pages[0] if context.pages else context.new_page()
        finally:
            context.close()


RESULTS = REPO / "test-results"  # what a failed browser test leaves behind


class Console:
    """What the page said on its console: every message, and the errors among them."""

    def __init__(self, page) -> None:
        self.messages: list[str] = []
        self.errors: list[str] = []
        page.on("console", self._on_message)
        page.on("pageerror", lambda error: self._add("pageerror", str(error), True))

    def _on_message(self, message) -> None:
        self._add(message.type, message.text, message.type == "error")

    def _add(self, kind: str, text: str, error: bool) -> None:
        line = f"{kind}: {text}"
        self.messages.append(line)
        if error:
            self.errors.append(line)


def keep_evidence(page, console: Console, name: str) -> None:
    """After a browser test failed: the page as ``test-results/<name>.png``, and the last 30 lines
    of its console printed (pytest shows them with the failure).
    """
    RESULTS.mkdir(exist_ok=True)
    shot = RESULTS / f"{name}.png"
    try:
        page.screenshot(path=str(shot), full_page=True)
        print(f"screenshot: {shot}")
    except Exception as error:  # the browser may be gone; the first failure matters more
        print(f"no screenshot: {error}")
    print("browser console (last 30 lines):", *console.messages[-30:], sep="\n  ")


# The notebook's model, read through window.jupyterapp: [{type, count, state, errors: [...]}]
_CELLS_JS = """() => {
  const panel = window.jupyterapp.shell.currentWidget;
  const cells = panel.content.model.cells;
  const out = [];
  for (let i = 0; i < cells.length; i++) {
    const cell = cells.get(i);
    if (cell.type !== 'code') continue;
    const errors = cell.outputs.toJSON().filter(o => o.output_type === 'error')
      .map(o => `${o.ename}: ${o.evalue}`);
    out.push({index: i, count: cell.executionCount, state: cell.executionState, errors});
  }
  return out;
}"""

_KERNEL_IDLE_JS = """() => {
  const panel = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const session = panel && panel.sessionContext && panel.sessionContext.session;
  return !!(session && session.kernel && session.kernel.status === 'idle');
}"""

_RUN_FINISHED_JS = (
    "() => { const cells = ("
    + _CELLS_JS
    + ")(); return cells.length > 0 && cells.every(c => c.state !== 'running') && ("
    + _KERNEL_IDLE_JS
    + ")(); }"
)


class CellState(NamedTuple):
    index: int  # position among all the notebook's cells
    count: Optional[int]  # execution count; None: the cell never ran
    errors: list[str]  # "ename: evalue" of each error output


def cell_states(page) -> list[CellState]:
    """The code cells of the open notebook, as its model says: ran or not, and their errors."""
    return [CellState(c["index"], c["count"], c["errors"]) for c in page.evaluate(_CELLS_JS)]


def open_lesson(page, server: JupyterServer, notebook: str) -> None:
    """Open ``notebook`` (relative to the server's root) and wait for its kernel to be idle."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page.goto(server.lesson_url(notebook))
    page.wait_for_function("() => !!window.jupyterapp", timeout=60_000)
    page.wait_for_function(_KERNEL_IDLE_JS, timeout=60_000, polling=200)
    # "Select Kernel", should JupyterLab ask.
    dialog = page.locator(".jp-Dialog .jp-mod-accept")
    try:
        dialog.wait_for(state="visible", timeout=500)
        dialog.click()
    except PlaywrightTimeout:
        pass


def run_all_cells(page, timeout_ms: int = RUN_ALL_TIMEOUT_MS) -> list[CellState]:
    """Run -> Run All Cells from the menu bar, as a learner would; wait until nothing runs."""
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
    # Every cell is queued ("running") at once; wait for one to start so the check below
    # cannot see the state before the click took effect.
    page.wait_for_function(
        "() => (" + _CELLS_JS + ")().some(c => c.state === 'running' || c.count !== null)",
        timeout=30_000,
        polling=100,
    )
    page.wait_for_function(_RUN_FINISHED_JS, timeout=timeout_ms, polling=250)
    # The kernel is idle between two cells for a moment: make sure it stays so.
    time.sleep(0.5)
    page.wait_for_function(_RUN_FINISHED_JS, timeout=timeout_ms, polling=250)
    return cell_states(page)


def find_chromium() -> browser.Found:
    """The browser ``scripts/browser.py`` finds (it never installs one here); if there is none,
    ``browser.BrowserNotFound`` with the line that says how to get one.
    """
    found = browser.find_browser()
    if found is None:
        raise browser.BrowserNotFound(browser.HOW_TO_GET_ONE)
    return found
