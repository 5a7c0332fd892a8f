"""The lessons' widgets, driven in a real browser: JupyterLab + Chromium (via Playwright).

nbval runs the notebooks' code, but it cannot tell whether a widget *renders* and
whether moving it does anything. This test does what a learner does, for every
lesson that shows a widget: open the lesson in JupyterLab, run all cells from the
menu, check that every cell ran with no error and that the browser's console
stayed free of errors, then press an arrow key on the lesson's slider and check
that the output follows.

The contract with the lesson authors: the lesson tags its slider with a CSS class
(``widget.add_class(...)``) and adds one line to ``LESSON_WIDGETS`` below. Name an
``output_class`` too (a Label/HTML widget whose text shows the slider's value) and
the test also checks that the new value appears there; without one, it checks that
the slider's cell output (text or picture) changed.
``test_every_lesson_that_shows_a_widget_is_listed`` fails when a lesson with widgets
is missing from the table.

The browser is ``tests/conftest.py``'s ``chromium`` fixture, the one ``scripts/browser.py``
finds (``$CHROMIUM``, chromium, google-chrome, Edge, the macOS applications); ``make test`` and
``.ci/run`` install Debian's chromium first when they run as root. No browser: the tests are
*skipped* with the one line that says how to get one -- except under ``CI=true``, where they
fail, so CI can never pass by skipping them.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Iterator, NamedTuple, Optional

import pytest
from support import notebook_code

from lab import (
    REPO,
    Console,
    JupyterServer,
    LabFailed,
    jupyterlab,
    keep_evidence,
    open_lesson,
    run_all_cells,
)


class LessonWidget(NamedTuple):
    notebook: str  # path relative to the repository
    slider_class: str  # CSS class of an ipywidgets slider (IntSlider/FloatSlider/SelectionSlider)
    output_class: Optional[str] = None  # a widget whose text shows the slider's value, if any


# One line per lesson that shows a widget.
LESSON_WIDGETS = [
    LessonWidget("lessons/00_setup_check.ipynb", "cachelab-setup-slider", "cachelab-setup-label"),
    LessonWidget("lessons/07_ttl_tuning.ipynb", "cachelab-ttl-slider", "cachelab-summary"),
    LessonWidget("lessons/08_stampedes.ipynb", "cachelab-beta-slider", "cachelab-beta-summary"),
    LessonWidget("lessons/09_capstone.ipynb", "cachelab-ttl-slider", "cachelab-summary"),
]

# What marks a lesson as showing a widget (an ipywidgets import, the course's dashboards).
WIDGET_MARKERS = re.compile(r"\bipywidgets\b|\bttl_dashboard\(|\bxfetch_dashboard\(|\binteract\(")

# Console lines JupyterLab itself prints as errors on a machine with no internet, and that say
# nothing about the lessons. Each entry must say why it is harmless.
HARMLESS_CONSOLE_ERRORS: list[tuple[str, str]] = []

MOVE_TIMEOUT_MS = 20_000  # the slider's round trip to the kernel and back


def test_every_lesson_that_shows_a_widget_is_listed() -> None:
    with_widgets = {
        path.relative_to(REPO).as_posix()
        for path in sorted((REPO / "lessons").glob("[0-9][0-9]_*.ipynb"))
        if WIDGET_MARKERS.search(notebook_code(path))
    }
    listed = {w.notebook for w in LESSON_WIDGETS}
    assert with_widgets <= listed, (
        f"these lessons show widgets but have no line in LESSON_WIDGETS: "
        f"{sorted(with_widgets - listed)}"
    )


@pytest.mark.parametrize("lesson", LESSON_WIDGETS, ids=lambda w: Path(w.notebook).stem)
def test_each_listed_lesson_exists_and_its_slider_class_is_used(lesson: LessonWidget) -> None:
    notebook = REPO / lesson.notebook
    assert notebook.exists(), f"{lesson.notebook} is listed in LESSON_WIDGETS but missing"
    sources = notebook_code(notebook) + "".join(
        path.read_text(encoding="utf-8") for path in (REPO / "lib" / "cachelab").rglob("*.py")
    )
    for css_class in filter(None, (lesson.slider_class, lesson.output_class)):
        assert f'"{css_class}"' in sources or f"'{css_class}'" in sources, (
            f"no lesson or library code adds the CSS class {css_class!r}"
        )


# --------------------------------------------------------------------------- in the browser


@pytest.fixture(scope="module")
def jupyter_server(
    chromium: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[JupyterServer]:
    """JupyterLab serving the repository (started only once a browser is known to exist)."""
    try:
        with jupyterlab(tmp_path_factory.mktemp("jupyter")) as server:
            yield server
    except LabFailed as error:
        pytest.fail(str(error), pytrace=False)


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


# What the slider's cell shows, apart from the slider itself: its text and its pictures.
_CELL_OUTPUT_JS = """(cls) => {
  const slider = document.querySelector('.' + cls);
  const area = slider && slider.closest('.jp-OutputArea');
  if (!area) return null;
  const copy = area.cloneNode(true);
  copy.querySelectorAll('.' + cls).forEach(e => e.remove());
  const pictures = [...area.querySelectorAll('img')]
    .map(i => i.src.length + ':' + i.src.slice(-64));
  return copy.innerText + '|' + pictures.join(',');
}"""


def _shown(page, lesson: LessonWidget) -> str:
    if lesson.output_class:
        return page.locator(f".{lesson.output_class}").first.inner_text()
    return page.evaluate(_CELL_OUTPUT_JS, lesson.slider_class) or ""


@pytest.mark.browser
@pytest.mark.parametrize("lesson", LESSON_WIDGETS, ids=lambda w: Path(w.notebook).stem)
def test_the_lesson_runs_in_the_browser_and_its_slider_updates_the_output(
    lesson: LessonWidget, chromium: str, jupyter_server: JupyterServer, page
) -> None:
    notebook = REPO / lesson.notebook
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    before = _digest(notebook)
    console = Console(page)
    try:
        open_lesson(page, jupyter_server, lesson.notebook)
        cells = run_all_cells(page)

        not_run = [c.index for c in cells if c.count is None]
        failed = [f"cell {c.index}: {error}" for c in cells for error in c.errors]
        assert not failed, f"cells show errors in the browser: {failed}"
        assert not not_run, f"cells that never ran (of {len(cells)} code cells): {not_run}"

        slider = page.locator(f".{lesson.slider_class}").first
        slider.wait_for(state="visible", timeout=10_000)
        slider.scroll_into_view_if_needed()
        # Read the "before" only once the view has painted it: an empty output would make any
        # later text look like a change, and the test could pass with nothing reacting.
        page.wait_for_function(
            "(cls) => { const r = document.querySelector('.' + cls + ' .widget-readout');"
            " return r && r.innerText.trim() !== ''; }",
            arg=lesson.slider_class,
            timeout=10_000,
        )
        if lesson.output_class:
            page.locator(f".{lesson.output_class}").first.wait_for(state="visible")
        old_value, old_shown = _slider_value(slider), _shown(page, lesson)
        assert old_value, f"the slider .{lesson.slider_class} shows no value"
        assert old_shown.strip(), f"nothing is shown beside the slider .{lesson.slider_class}"
        if lesson.output_class:
            assert old_value in old_shown, (
                f"before the move, {old_shown!r} does not show the slider's value {old_value!r}"
            )

        handle = slider.locator(".noUi-handle").first
        handle.focus()
        at_max = handle.get_attribute("aria-valuenow") == handle.get_attribute("aria-valuemax")
        handle.press("ArrowLeft" if at_max else "ArrowRight")
        page.wait_for_function(
            "([cls, old]) => { const r = document.querySelector('.' + cls + ' .widget-readout');"
            " return r && r.innerText.trim() !== old; }",
            arg=[lesson.slider_class, old_value],
            timeout=10_000,
        )
        new_value = _slider_value(slider)
        assert new_value != old_value
        # The kernel sees the new value and updates what is shown.
        try:
            page.wait_for_function(
                f"([cls, out, old]) => (out ? (document.querySelector('.' + out) || {{}}).innerText"
                f" : ({_CELL_OUTPUT_JS})(cls)) !== old",
                arg=[lesson.slider_class, lesson.output_class, old_shown],
                timeout=MOVE_TIMEOUT_MS,
            )
        except PlaywrightTimeout:
            pytest.fail(
                f"the slider .{lesson.slider_class} moved from {old_value} to {new_value}, but "
                f"what is shown beside it is still {old_shown!r} after {MOVE_TIMEOUT_MS} ms",
                pytrace=False,
            )
        if lesson.output_class:
            new_shown = _shown(page, lesson)
            assert new_value in new_shown, (
                f"the output {new_shown!r} does not show the slider's new value {new_value!r}"
            )
        errors = [
            line
            for line in console.errors
            if not any(re.search(pattern, line) for pattern, _ in HARMLESS_CONSOLE_ERRORS)
        ]
        assert not errors, "the browser console shows errors:\n  " + "\n  ".join(errors)
    except BaseException:
        keep_evidence(page, console, f"browser-{Path(lesson.notebook).stem}")
        raise
    finally:
        assert _digest(notebook) == before, (
            f"the browser test changed {lesson.notebook} (autosave?)"
        )
