"""The lessons' sliders, driven in a real browser: JupyterLab + Chromium (via Playwright).

nbval runs the notebooks' code, but it cannot tell whether a widget *renders* and
whether moving it does anything. This test does what a learner does: open the
lesson in JupyterLab, run all cells, press an arrow key on the slider, and check
that the linked output now shows the new value.

The contract with the lesson authors: the lesson tags its widgets with CSS classes
(``widget.add_class(...)``), listed in ``LESSON_WIDGETS`` below -- a slider, and a
Label/HTML widget whose text follows it.

Chromium is the system's (``apt-get install chromium``; ``.ci/run`` installs it);
Playwright's own browser download is never used. No Chromium -> the test FAILS
with a message saying how to get one: CI must not pass by skipping it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Iterator, NamedTuple

import pytest

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "test-results"


class LessonWidget(NamedTuple):
    notebook: str  # path relative to the repository
    slider_class: str  # CSS class of an ipywidgets slider (IntSlider/FloatSlider/SelectionSlider)
    output_class: str  # CSS class of the widget whose text must change with the slider


LESSON_WIDGETS = [
    LessonWidget("lessons/00_setup_check.ipynb", "cachelab-setup-slider", "cachelab-setup-label"),
    LessonWidget("lessons/07_ttl_tuning.ipynb", "cachelab-ttl-slider", "cachelab-summary"),
    LessonWidget("lessons/08_stampedes.ipynb", "cachelab-beta-slider", "cachelab-beta-summary"),
]

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

SERVER_START_TIMEOUT = 60  # s; JupyterLab starts in a few seconds, slower on a busy 2-core machine
RUN_TIMEOUT_MS = 90_000  # run-all of one lesson, then the widget's round trip to the kernel


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get_json(url: str, timeout: float = 2.0):
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (local server)
        return json.loads(response.read() or b"null")


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


@pytest.fixture(scope="module")
def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.fail(
            "no Chromium on PATH: this test drives the lessons' widgets in a real browser.\n"
            "Install it: apt-get install -y chromium (Debian/Ubuntu; .ci/run does this itself), "
            "brew install --cask chromium (macOS). Playwright's own browser download is not used.",
            pytrace=False,
        )
    return path


@pytest.fixture(scope="module")
def jupyter_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterServer]:
    """JupyterLab on a free port with a random token, serving the repository; stopped afterwards."""
    home = tmp_path_factory.mktemp("jupyter")
    # Autosave off: running the lesson in the browser must never write outputs into lessons/.
    # No news pop-up.
    for plugin, values in {
        "docmanager-extension/plugin": {"autosave": False},
        "apputils-extension/notification": {"fetchNews": "false"},
    }.items():
        settings = home / "settings" / "@jupyterlab" / f"{plugin}.jupyterlab-settings"
        settings.parent.mkdir(parents=True, exist_ok=True)
        settings.write_text(json.dumps(values))
    env = dict(os.environ)
    env.update(
        JUPYTER_CONFIG_DIR=str(home / "config"),  # ignore the user's own server config
        JUPYTER_RUNTIME_DIR=str(home / "runtime"),
        JUPYTERLAB_SETTINGS_DIR=str(home / "settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"),
        PYTHONUNBUFFERED="1",
    )
    env.pop("JUPYTER_TOKEN", None)
    port, token = _free_port(), secrets.token_hex(16)
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
        f"--ServerApp.root_dir={REPO}",
        "--LabApp.news_url=",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    if os.name == "posix" and os.geteuid() == 0:
        command.append("--allow-root")
    log = home / "jupyter.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=REPO,
        )
    url = f"http://127.0.0.1:{port}"
    server = JupyterServer(url, token, process, log)
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while True:
            if process.poll() is not None:
                pytest.fail(
                    "jupyter lab exited with "
                    f"{process.returncode}:\n{log.read_text(errors='replace')[-3000:]}",
                    pytrace=False,
                )
            try:
                server.api("/api/status")
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(
                        f"jupyter lab did not answer within {SERVER_START_TIMEOUT} s:\n"
                        f"{log.read_text(errors='replace')[-3000:]}",
                        pytrace=False,
                    )
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


@pytest.fixture
def page(chromium: str, tmp_path: Path):
    """A fresh headless Chromium (its own empty profile) with one page."""
    try:
        from playwright import sync_api
    except ImportError:
        pytest.fail("the playwright package is missing: pip install -e '.[test]'", pytrace=False)
    with sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            user_data_dir=str(tmp_path / "chromium-profile"),
            executable_path=chromium,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 900},
        )
        try:
            yield context.pages[0] if context.pages else context.new_page()
        finally:
            context.close()


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _slider_value(slider) -> str:
    """The value a slider shows: its readout, else the handle's aria-valuenow/aria-valuetext."""
    readout = slider.locator(".widget-readout")
    if readout.count():
        text = readout.first.inner_text().strip()
        if text:
            return text
    handle = slider.locator(".noUi-handle").first
    return handle.get_attribute("aria-valuetext") or handle.get_attribute("aria-valuenow") or ""


@pytest.mark.parametrize(
    "lesson", LESSON_WIDGETS, ids=[Path(w.notebook).stem for w in LESSON_WIDGETS]
)
def test_moving_the_slider_updates_its_output(
    lesson: LessonWidget, jupyter_server: JupyterServer, page
) -> None:
    notebook = REPO / lesson.notebook
    assert notebook.exists(), f"{lesson.notebook} is missing (it is listed in LESSON_WIDGETS)"
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    before = _digest(notebook)
    console: list[str] = []
    page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
    page.on("pageerror", lambda error: console.append(f"pageerror: {error}"))
    try:
        # Open the lesson; JupyterLab starts its kernel. The status indicator says "idle" for a
        # moment before the kernel even exists, so wait for the kernel's websocket to carry a
        # message (kernel_info) first, then for idle.
        with page.expect_websocket(
            lambda ws: "/api/kernels/" in ws.url, timeout=60_000
        ) as kernel_socket:
            page.goto(
                f"{jupyter_server.url}/lab/tree/{lesson.notebook}?reset&token={jupyter_server.token}"
            )
        kernel_socket.value.wait_for_event("framereceived", timeout=60_000)
        indicator = page.locator(
            ".jp-NotebookPanel .jp-Notebook-ExecutionIndicator[data-status='idle']"
        )
        indicator.wait_for(state="attached", timeout=60_000)
        # Run -> Run All Cells, from the menu bar, as a learner would.
        page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
        page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
        dialog = page.locator(
            ".jp-Dialog .jp-mod-accept"
        )  # "Select Kernel", should the kernel be late
        try:
            dialog.wait_for(state="visible", timeout=1_000)
            dialog.click()
        except PlaywrightTimeout:
            pass

        slider = page.locator(f".{lesson.slider_class}").first
        output = page.locator(f".{lesson.output_class}").first
        slider.wait_for(state="visible", timeout=RUN_TIMEOUT_MS)
        output.wait_for(state="visible", timeout=RUN_TIMEOUT_MS)
        # Wait for run-all to finish (no cell queued "[*]", kernel idle): until then the kernel
        # cannot answer the slider.
        page.wait_for_function(
            "() => ![...document.querySelectorAll('.jp-NotebookPanel .jp-InputPrompt')]"
            ".some(p => p.innerText.includes('*'))",
            timeout=RUN_TIMEOUT_MS,
        )
        indicator.wait_for(state="attached", timeout=RUN_TIMEOUT_MS)
        # JupyterLab paints only the cells in view: bring the widget there, as a learner would.
        slider.scroll_into_view_if_needed()
        # Read the "before" only once the view has painted it: an empty output would make
        # any later text look like a change, and the test could pass with nothing reacting.
        page.wait_for_function(
            "([slider, cls]) => { const r = document.querySelector('.' + slider + ' "
            ".widget-readout');"
            " const e = document.querySelector('.' + cls);"
            " return r && r.innerText.trim() !== '' && e && e.innerText.trim() !== ''; }",
            arg=[lesson.slider_class, lesson.output_class],
            timeout=RUN_TIMEOUT_MS,
        )
        old_value, old_text = _slider_value(slider), output.inner_text()
        assert old_value, f"the slider .{lesson.slider_class} shows no value"
        assert old_value in old_text, (
            f"before the move, {old_text!r} does not show the slider's value {old_value!r}"
        )

        handle = slider.locator(".noUi-handle").first
        handle.focus()
        at_max = handle.get_attribute("aria-valuenow") == handle.get_attribute("aria-valuemax")
        handle.press("ArrowLeft" if at_max else "ArrowRight")

        page.wait_for_function(
            "([slider, old]) => { const r = document.querySelector('.' + slider + ' "
            ".widget-readout');"
            " return r && r.innerText.trim() !== old; }",
            arg=[lesson.slider_class, old_value],
            timeout=10_000,
        )
        new_value = _slider_value(slider)
        assert new_value != old_value
        # The kernel sees the new value and updates the linked output.
        try:
            page.wait_for_function(
                "([cls, old]) => { const e = document.querySelector('.' + cls); return e && "
                "e.innerText !== old; }",
                arg=[lesson.output_class, old_text],
                timeout=20_000,
            )
        except PlaywrightTimeout:
            pytest.fail(
                f"the slider .{lesson.slider_class} moved from {old_value} to {new_value}, but "
                f".{lesson.output_class} still says {old_text!r} after 20 s",
                pytrace=False,
            )
        new_text = output.inner_text()
        # Every lesson's output names the slider's value ("The slider says 6", "β = 1.25: ...").
        assert new_value in new_text, (
            f"the output {new_text!r} does not show the slider's new value {new_value!r}"
        )
    except BaseException:
        RESULTS.mkdir(exist_ok=True)
        shot = RESULTS / f"browser-{Path(lesson.notebook).stem}.png"
        try:
            page.screenshot(path=str(shot), full_page=True)
            print(f"screenshot: {shot}")
        except Exception as error:  # the browser may be gone; the original failure matters more
            print(f"no screenshot: {error}")
        print("browser console (last 30 lines):", *console[-30:], sep="\n  ")
        raise
    finally:
        assert _digest(notebook) == before, (
            f"the browser test changed {lesson.notebook} (autosave?)"
        )
