"""The dashboards an instructor projects, served by Voila and driven in a real browser.

``make dashboard`` serves ``dashboards/`` with Voila (``dashboards/serve.py``). This test starts
that same command on a free port of 127.0.0.1, opens each dashboard's page in headless Chromium,
checks that the page shows no code and asked nothing of any other server, presses an arrow key on
the slider, and checks that the summary line shows the slider's new value and that the picture
was drawn again: the kernel behind the page answered. Afterwards Voila and every kernel it
started are stopped, by process id, and checked gone.

The browser and its page are ``tests/conftest.py``'s ``chromium`` and ``page`` fixtures, shared
with ``tests/test_browser_widgets.py``: no browser, skipped with how to get one (failed under
``CI=true``).
"""

from __future__ import annotations

import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Iterator, NamedTuple

import psutil
import pytest
from support import load_module

from lab import REPO, Console, free_port, keep_evidence

START_TIMEOUT_S = 90  # Voila starts in a few seconds, slower on a busy 2-core machine
RENDER_TIMEOUT_MS = 150_000  # Voila runs the whole notebook first, in make test beside others
MOVE_TIMEOUT_MS = 30_000  # a slider's round trip to the kernel and the redraw


serve = load_module("serve", REPO / "dashboards" / "serve.py")


class Dashboard(NamedTuple):
    notebook: str  # in dashboards/
    slider_class: str  # CSS class of its slider
    summary_class: str  # CSS class of the widget whose text names the slider's value
    code: str  # a line of its code, which the page must not show


DASHBOARDS = [
    Dashboard("07_ttl_explorer.ipynb", "cachelab-ttl-slider", "cachelab-summary", "ttl_dashboard("),
    Dashboard(
        "08_early_refresh.ipynb",
        "cachelab-beta-slider",
        "cachelab-beta-summary",
        "xfetch_dashboard(",
    ),
]


def _stop(process: subprocess.Popen) -> list[str]:
    """Stop Voila and every process it started, by process id; return any that survived."""
    try:
        children = psutil.Process(process.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        children = []
    process.terminate()  # Voila shuts its kernels down on SIGTERM
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    _, alive = psutil.wait_procs(children, timeout=10)
    for child in alive:
        child.kill()
    _, alive = psutil.wait_procs(alive, timeout=5)
    return [f"{child.pid}" for child in alive]


@pytest.fixture(scope="module")
def voila(chromium: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``make dashboard``'s Voila on a free port of 127.0.0.1; its base URL."""
    home = tmp_path_factory.mktemp("voila")
    port = free_port()
    argv, env = serve.command(port)
    env.update(JUPYTER_CONFIG_DIR=str(home / "config"), JUPYTER_RUNTIME_DIR=str(home / "runtime"))
    log = home / "voila.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            argv, env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if process.poll() is not None:
                pytest.fail(f"voila exited with {process.returncode}:\n{log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{url}/", timeout=2) as response:  # noqa: S310
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(
                    f"voila did not answer in {START_TIMEOUT_S} s:\n{log.read_text()[-3000:]}"
                )
            time.sleep(0.25)
        yield url
    finally:
        survivors = _stop(process)
        assert not survivors, f"processes Voila started outlived it: {survivors}"


def _pictures(page) -> list[str]:
    """Every picture on the page, as the tail of its source (a PNG data URL or a blob)."""
    return page.evaluate(
        "() => [...document.querySelectorAll('img')]"
        ".map(i => i.src.length + ':' + i.src.slice(-80))"
    )


def _readout(slider) -> str:
    return slider.locator(".widget-readout").first.inner_text().strip()


@pytest.mark.browser
@pytest.mark.parametrize("dashboard", DASHBOARDS, ids=[Path(d.notebook).stem for d in DASHBOARDS])
def test_moving_a_dashboards_slider_redraws_its_summary_and_its_picture(
    dashboard: Dashboard, voila: str, page
) -> None:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    outside: list[str] = []
    page.on(
        "request",
        lambda request: (
            None
            if request.url.startswith((voila, voila.replace("http:", "ws:"), "data:", "blob:"))
            else outside.append(request.url)
        ),
    )
    console = Console(page)
    try:
        page.goto(serve.page_url(voila, dashboard.notebook), timeout=RENDER_TIMEOUT_MS)
        slider = page.locator(f".{dashboard.slider_class}").first
        summary = page.locator(f".{dashboard.summary_class}").first
        slider.wait_for(state="visible", timeout=RENDER_TIMEOUT_MS)
        page.wait_for_function(
            "([s, c]) => { const r = document.querySelector('.' + s + ' .widget-readout');"
            " const e = document.querySelector('.' + c);"
            " return r && r.innerText.trim() && e && e.innerText.trim()"
            " && document.querySelectorAll('img').length > 0; }",
            arg=[dashboard.slider_class, dashboard.summary_class],
            timeout=RENDER_TIMEOUT_MS,
        )
        shown = page.inner_text("body")
        assert (
            dashboard.code not in shown and page.locator(".jp-CodeCell .jp-InputArea").count() == 0
        ), "the page shows the dashboard's code"
        old_value, old_summary, old_pictures = (
            _readout(slider),
            summary.inner_text(),
            _pictures(page),
        )
        assert old_value and old_value in old_summary, (old_value, old_summary)

        handle = slider.locator(".noUi-handle").first
        handle.focus()
        at_max = handle.get_attribute("aria-valuenow") == handle.get_attribute("aria-valuemax")
        handle.press("ArrowLeft" if at_max else "ArrowRight")
        try:
            page.wait_for_function(
                "([c, old]) => { const e = document.querySelector('.' + c);"
                " return e && e.innerText !== old; }",
                arg=[dashboard.summary_class, old_summary],
                timeout=MOVE_TIMEOUT_MS,
            )
        except PlaywrightTimeout:
            pytest.fail(f"the summary still says {old_summary!r} after the slider moved")
        new_value = _readout(slider)
        assert new_value != old_value
        assert new_value in summary.inner_text(), (new_value, summary.inner_text())
        deadline = time.monotonic() + MOVE_TIMEOUT_MS / 1000
        while _pictures(page) == old_pictures and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _pictures(page) != old_pictures, "the picture was not drawn again"
        assert not outside, f"the page asked other servers for {outside}"
        assert not console.errors, f"the browser's console has errors: {console.errors}"
    except BaseException:
        keep_evidence(page, console, f"dashboard-{Path(dashboard.notebook).stem}")
        raise
