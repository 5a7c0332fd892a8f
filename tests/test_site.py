"""The course site (``make site``): built as a learner or an instructor would open it, offline.

The site is built once for this module (``python book/build.py``, in a subprocess): every lesson
executed on a fresh kernel into the build folder, then rendered by Sphinx. Executing the lessons
is most of the cost, so a lesson already run by this very library is not run again: in
``make test`` the lessons' one-CPU runs (``tests/test_lessons.py``, in the run before this one)
leave each executed lesson in ``test-results/executed/``, this module hands them to the site's
cache, and the build only renders (seconds). Run alone, it executes every lesson itself
(minutes).

Then it reads the HTML as a browser would need it, and checks what a learner would trip over:
every lesson, the glossary and the notes are pages; the landing page lists every lesson with its
time and objectives; no page shows a traceback or an error output, or math left as raw ``$k$``,
or a hint; every local link and resource resolves, anchors included; links between lessons lead
to pages, not notebooks; nothing a page needs comes from another server; and the pages that
show widgets carry their saved state and say that moving them needs a kernel.
"""

from __future__ import annotations

import functools
import hashlib
import html
import importlib
import re
import shutil
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path
from typing import NamedTuple
from urllib.parse import unquote, urlsplit

import pytest
from support import load_module

from lab import browser

REPO = Path(__file__).resolve().parents[1]
LESSONS = sorted((REPO / "lessons").glob("[0-9][0-9]_*.ipynb"))
EXECUTED = REPO / "test-results" / "executed"  # tests/test_lessons.py's one-CPU runs

pytestmark = [pytest.mark.site, pytest.mark.xdist_group("site")]  # one build, one worker
BUILD_TIMEOUT_S = 3600  # executing every lesson on a slow, busy 2-core machine


build = load_module("site_build", REPO / "book" / "build.py")


class Page(NamedTuple):
    path: Path
    html: str


class _Reader(HTMLParser):
    """The parts of an HTML page the tests look at: links, resources, ids, and visible text."""

    HIDDEN = {"script", "style", "pre", "code", "textarea"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[tuple[str, str, str]] = []  # (tag, attribute, value)
        self.ids: set[str] = set()
        self.repeated_ids: list[str] = []  # an id given to a second element of the page
        self.text: list[str] = []  # text outside code, scripts and math
        self.scripts: list[tuple[dict, str]] = []
        self._hidden = 0
        self._math = 0
        self._stack: list[str] = []
        self._script: dict | None = None
        self._script_body: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        for key in ("id", "name"):
            if attributes.get(key) and (key == "id" or tag == "a"):
                if key == "id" and attributes[key] in self.ids:
                    self.repeated_ids.append(attributes[key])
                self.ids.add(attributes[key])
        for key in ("href", "src"):
            if attributes.get(key) is not None:
                self.links.append((tag, key, attributes[key]))
        if tag in ("img", "link", "br", "meta", "input", "hr", "source"):
            return  # void elements
        classes = (attributes.get("class") or "").split()
        math = "math" in classes
        self._stack.append((tag, math))
        self._hidden += tag in self.HIDDEN
        self._math += math
        if tag == "script":
            self._script, self._script_body = attributes, []

    def handle_endtag(self, tag):
        if tag in ("img", "link", "br", "meta", "input", "hr", "source"):
            return
        while self._stack:
            open_tag, math = self._stack.pop()
            self._hidden -= open_tag in self.HIDDEN
            self._math -= math
            if open_tag == "script" and self._script is not None:
                self.scripts.append((self._script, "".join(self._script_body)))
                self._script = None
            if open_tag == tag:
                break

    def handle_data(self, data):
        if self._script is not None:
            self._script_body.append(data)
        if not self._hidden and not self._math:
            self.text.append(data)


@functools.lru_cache(maxsize=None)
def _read(page: Page) -> _Reader:
    """A page, parsed once (the tests below only look at what it found)."""
    reader = _Reader()
    reader.feed(page.html)
    reader.close()
    return reader


def _lesson_digests() -> dict[str, str]:
    return {
        path.relative_to(REPO).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted((REPO / "lessons").rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }


def _reuse_executed_lessons() -> int:
    """Give the site's cache every lesson ``tests/test_lessons.py`` executed and kept (those
    whose code is the lesson's as stored now); return how many."""
    import nbformat

    reused = 0
    for lesson in LESSONS:
        executed = EXECUTED / lesson.name
        if not executed.exists():
            continue
        notebook = nbformat.read(executed, as_version=4)
        seconds = notebook.metadata.get("cachelab", {}).get("execution_seconds")
        try:
            build.store_executed(notebook, lesson, seconds=seconds)
        except ValueError:  # a run of an older version of the lesson: the build runs it again
            continue
        reused += 1
    return reused


@pytest.fixture(scope="module")
def site() -> dict:
    """Build the site once: {"html": folder, "pages": {relative path: Page}, "seconds": ...}."""
    if not build.have_assets() and shutil.which("npm") is None:
        missing = (
            "the site needs npm once, to fetch MathJax, RequireJS and the widget manager "
            "(Debian/Ubuntu: apt-get install npm; macOS: brew install node)"
        )
        if browser.ci_requires_browser():
            pytest.fail(f"{missing} (CI=true: the site test may not be skipped)", pytrace=False)
        pytest.skip(missing)
    lessons_before = _lesson_digests()
    reused = _reuse_executed_lessons()
    started = time.perf_counter()
    try:
        result = subprocess.run(
            [sys.executable, str(REPO / "book" / "build.py"), "--quiet"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=BUILD_TIMEOUT_S,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as error:
        pytest.fail(f"make site did not finish in {BUILD_TIMEOUT_S} s: {error}", pytrace=False)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        pytest.fail(
            f"make site failed ({result.returncode}):\n{result.stdout[-4000:]}\n"
            f"{result.stderr[-4000:]}",
            pytrace=False,
        )
    print(
        f"\nthe site built in {seconds:.0f} s ({reused} lessons ran before, in test_lessons.py); "
        f"{result.stdout.strip().splitlines()[-1]}"
    )
    html = build.HTML
    pages = {
        path.relative_to(html).as_posix(): Page(path, path.read_text(encoding="utf-8"))
        for path in sorted(html.rglob("*.html"))
        if "_static" not in path.parts
    }
    return {
        "html": html,
        "pages": pages,
        "seconds": seconds,
        "lessons_before": lessons_before,
        "lessons_after": _lesson_digests(),
        "output": result.stdout,
    }


def _content_pages(site: dict) -> dict[str, Page]:
    """The pages written from the course's sources (not Sphinx's search and index pages)."""
    return {name: page for name, page in site["pages"].items() if name not in GENERATED}


GENERATED = {"search.html", "genindex.html"}


def test_the_build_leaves_the_lessons_folder_exactly_as_it_was(site):
    assert site["lessons_after"] == site["lessons_before"], "the build wrote into lessons/"


def test_every_lesson_the_glossary_the_notes_and_the_readme_have_a_page(site):
    expected = {f"lessons/{path.stem}.html" for path in LESSONS}
    expected |= {"index.html", "GLOSSARY.html", "INSTRUCTORS.html", "README.html"}
    missing = sorted(expected - set(site["pages"]))
    assert not missing, f"the site has no page for {missing}"


def _typeset(text: str) -> str:
    """Text as compared: Sphinx's typographic quotes and dashes back to plain ones."""
    for fancy, plain in (("’", "'"), ("‘", "'"), ("“", '"'), ("”", '"'), ("—", "-"), ("–", "-")):
        text = text.replace(fancy, plain)
    return " ".join(text.replace("--", "-").split())


def test_the_landing_page_lists_every_lesson_with_its_time_and_objectives(site):
    index = site["pages"]["index.html"]
    text = _typeset(html.unescape(re.sub(r"<[^>]+>", "", index.html)))
    hrefs = {value for _, key, value in _read(index).links if key == "href"}
    for path in LESSONS:
        frame = build.lesson_frame(path)
        assert f"lessons/{path.stem}.html" in hrefs, f"the landing page does not link {path.name}"
        for words in (frame["title"], frame["time"], frame["objectives"][0]):
            plain = _typeset(re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", words).replace("`", ""))
            plain = re.sub(r"\*+([^*]+)\*+", r"\1", plain)
            plain = re.sub(r"\$([^$]+)\$", r"\\(\1\\)", plain)  # math, as the page holds it
            assert plain in text, f"the landing page lacks {plain!r} ({path.name})"


def test_every_page_has_the_navigation_to_every_lesson_and_the_glossary(site):
    for name, page in _content_pages(site).items():
        hrefs = [value for _, key, value in _read(page).links if key == "href"]
        resolved = [_resolve(page.path, href) for href in hrefs]
        targets = {
            path.relative_to(site["html"]).as_posix()
            for path in resolved
            if path is not None and path.is_relative_to(site["html"])
        }
        wanted = {f"lessons/{path.stem}.html" for path in LESSONS} | {"GLOSSARY.html"}
        assert wanted <= targets | {name}, f"{name}'s navigation lacks {sorted(wanted - targets)}"


def test_no_page_shows_a_traceback_or_an_error_output(site):
    for name, page in _content_pages(site).items():
        assert "Traceback (most recent call last)" not in page.html, f"{name} shows a traceback"
        assert not re.search(r'class="[^"]*\b(?:traceback|output error)\b', page.html), (
            f"{name} shows an error output"
        )
        stderr = re.findall(r'<div class="output stderr">(.*?)</div>', page.html, flags=re.DOTALL)
        loud = [chunk for chunk in stderr if re.search(r"Error|Exception|Warning", chunk)]
        assert not loud, f"{name} shows errors or warnings on stderr: {loud[0][:300]}"


def test_no_page_has_math_left_as_raw_dollars(site):
    for name, page in _content_pages(site).items():
        text = "\n".join(_read(page).text)
        raw = re.findall(r"\$[^$\s][^$\n]{0,80}\$", text)
        assert not raw, f"{name} shows math as raw text: {raw[:3]}"


def test_pages_with_math_load_mathjax_from_the_site_itself(site):
    with_math = [
        (name, page) for name, page in _content_pages(site).items() if 'class="math' in page.html
    ]
    assert with_math, "no page has math: the lessons' formulas went missing"
    for name, page in with_math:
        sources = [value for tag, key, value in _read(page).links if tag == "script"]
        mathjax = [s for s in sources if "mathjax" in s]
        assert mathjax and all(not urlsplit(s).scheme for s in mathjax), (name, mathjax)
        assert _resolve(page.path, mathjax[0]).exists(), f"{name}: MathJax is not in the site"


def _resolve(page: Path, reference: str) -> Path | None:
    """The file a relative href/src of a page points at (no scheme, no query)."""
    parts = urlsplit(reference)
    if parts.scheme or parts.netloc or not parts.path:
        return None
    return (page.parent / unquote(parts.path)).resolve()


def test_every_local_link_and_resource_resolves_and_every_anchor_exists(site):
    ids: dict[Path, set[str]] = {}
    broken = []
    for name, page in site["pages"].items():
        for tag, key, value in _read(page).links:
            parts = urlsplit(value)
            if parts.scheme or parts.netloc or value.startswith(("#", "javascript:")):
                if value.startswith("#") and len(value) > 1:
                    anchor = unquote(value[1:])
                    if anchor not in _read(page).ids:
                        broken.append(f"{name}: {tag} {key}={value} (no such id here)")
                continue
            target = _resolve(page.path, value)
            if target is None or not target.exists():
                broken.append(f"{name}: {tag} {key}={value} (no such file)")
                continue
            if parts.fragment and target.suffix == ".html":
                if target not in ids:
                    ids[target] = _read(Page(target, target.read_text(encoding="utf-8"))).ids
                if unquote(parts.fragment) not in ids[target]:
                    broken.append(f"{name}: {value} (no id {parts.fragment!r} there)")
    assert not broken, f"{len(broken)} links lead nowhere, e.g.:\n" + "\n".join(broken[:15])


def test_no_page_gives_one_id_to_two_elements(site):
    # The glossary's <a id> lines (for JupyterLab) would repeat the ids Sphinx gives its headings.
    repeated = {name: _read(page).repeated_ids for name, page in site["pages"].items()}
    repeated = {name: ids for name, ids in repeated.items() if ids}
    assert not repeated, f"ids given twice: {repeated}"


def test_links_between_lessons_lead_to_pages_not_to_notebooks_or_markdown(site):
    for name, page in _content_pages(site).items():
        for tag, _key, value in _read(page).links:
            path = urlsplit(value).path
            if tag != "a" or urlsplit(value).scheme or "_sources/" in path:
                continue  # external, or the theme's "download the source" button
            assert not path.endswith((".ipynb", ".md")), f"{name} links {value}, not a page"


def test_glossary_links_from_the_lessons_land_on_the_glossarys_terms(site):
    anchors = set()
    for path in LESSONS:
        page = site["pages"][f"lessons/{path.stem}.html"]
        for _, key, value in _read(page).links:
            parts = urlsplit(value)
            if key == "href" and parts.path.endswith("GLOSSARY.html") and parts.fragment:
                anchors.add(parts.fragment)
    glossary_ids = _read(site["pages"]["GLOSSARY.html"]).ids
    assert anchors, "no lesson page links the glossary"
    assert anchors <= glossary_ids, f"glossary anchors missing: {sorted(anchors - glossary_ids)}"


def test_nothing_a_page_needs_comes_from_another_server(site):
    for name, page in site["pages"].items():
        for tag, key, value in _read(page).links:
            needed = tag in ("script", "img", "iframe", "source", "video", "audio") or (
                tag == "link" and key == "href"
            )
            if needed and (urlsplit(value).scheme in ("http", "https") or value.startswith("//")):
                pytest.fail(f"{name} loads {value} ({tag}) from another server", pytrace=False)


def test_no_hint_is_shown_on_any_page(site):
    from cachelab import checks

    hints = []
    for module_name in checks._LESSON_MODULES.values():
        module = importlib.import_module(f"cachelab.checks.{module_name}")
        for topics in module._HINTS.values():
            for texts in topics.values():
                hints += [" ".join(text.split()) for text in texts]
    assert hints, "found no hint texts to look for"
    for name, page in _content_pages(site).items():
        text = " ".join(" ".join(_read(page).text).split())
        shown = [hint for hint in hints if hint in text]
        assert not shown, f"{name} shows a hint: {shown[0][:120]!r}"


def test_pages_with_widgets_carry_their_state_and_say_they_need_a_kernel(site):
    with_widgets = []
    for path in LESSONS:
        page = site["pages"][f"lessons/{path.stem}.html"]
        if "application/vnd.jupyter.widget-view+json" not in page.html:
            continue
        with_widgets.append(path.stem)
        reader = _read(page)
        states = [
            body for attrs, body in reader.scripts if attrs.get("type", "").endswith("state+json")
        ]
        assert states and '"state"' in states[0], f"{path.stem}: no widget state on the page"
        assert "course-widget-notice" in page.html, f"{path.stem} does not say it needs a kernel"
        assert "mybinder.org/v2/gh/" in page.html, f"{path.stem} does not link to running it"
        sources = [value for tag, key, value in reader.links if tag == "script"]
        assert any(s.split("?")[0].endswith("html-manager/embed-amd.js") for s in sources)
    assert {"00_setup_check", "07_ttl_tuning"} <= set(with_widgets), with_widgets


def test_the_executions_are_kept_so_the_next_build_runs_no_lesson_again(site):
    missing = [path.name for path in LESSONS if not build.is_cached(path)]
    assert not missing, f"the build's cache holds no run of {missing}"
