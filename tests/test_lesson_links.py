"""Every link in a lesson (and in the README and the instructors' notes) leads to a file that
exists: a learner who clicks "What's next" must land on a lesson, not on a 404.

And every image a lesson shows exists and says in words what it shows (its alt text): a screen
reader, a slow connection or a broken path leaves the learner only those words. The diagrams
live in ``lessons/figures/`` (served with the lessons, copied by the hubs, staged by the site's
build): each is an SVG with a ``<title>`` and a ``<desc>`` and its words as text, and each is
shown by some lesson.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from urllib.parse import unquote

import pytest

REPO = Path(__file__).resolve().parents[1]
LESSONS = sorted((REPO / "lessons").glob("*.ipynb"))
DOCUMENTS = [REPO / "README.md", REPO / "INSTRUCTORS.md"]
FIGURES = sorted((REPO / "lessons" / "figures").glob("*"))
SVG = "{http://www.w3.org/2000/svg}"
MIN_ALT_WORDS = 5  # "diagram" or "figure 1" says nothing; a sentence of what it shows does

MARKDOWN_LINK = re.compile(r"(?<!\!)\[[^\]\n]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
IMAGE_LINK = re.compile(r"!\[[^\]\n]*\]\(\s*<?([^)\s>]+)>?\s*\)")
HTML_LINK = re.compile(r"""(?:href|src)\s*=\s*["']([^"']+)["']""", re.IGNORECASE)
IMAGE = re.compile(r"!\[(?P<alt>[^\]\n]*)\]\(\s*<?(?P<target>[^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HTML_IMAGE = re.compile(r"<img\b[^>]*>", re.IGNORECASE)
EXTERNAL = re.compile(r"^(?:[a-z][a-z0-9+.-]*:|//|#)", re.IGNORECASE)  # http:, mailto:, anchors


def without_code(text: str) -> str:
    """Markdown without its code blocks and inline code, which hold no links and no images."""
    text = re.sub(r"```.*?```", "", text, flags=re.DOTALL)
    return re.sub(r"`[^`\n]*`", "", text)


def links_in(text: str) -> list[str]:
    """The link targets in a piece of markdown: inline links, images, and HTML href/src."""
    text = without_code(text)
    return [
        match.group(1)
        for pattern in (MARKDOWN_LINK, IMAGE_LINK, HTML_LINK)
        for match in pattern.finditer(text)
    ]


def local_target(base: Path, target: str) -> Path | None:
    """The file a relative link points at, or None for an external link or an anchor."""
    if EXTERNAL.match(target):
        return None
    path = unquote(target.split("#", 1)[0].split("?", 1)[0])
    return (base / path).resolve() if path else None


def markdown_of(path: Path) -> str:
    if path.suffix == ".ipynb":
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        return "\n".join(
            "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            for cell in cells
            if cell["cell_type"] == "markdown"
        )
    return path.read_text(encoding="utf-8")


def images_in(text: str) -> list[tuple[str, str]]:
    """(alt text, target) of every image in a piece of markdown, ``![alt](target)`` or
    ``<img src=... alt=...>`` (an ``<img>`` without ``alt`` has an empty one)."""
    text = without_code(text)
    found = [(match["alt"], match["target"]) for match in IMAGE.finditer(text)]
    for tag in HTML_IMAGE.findall(text):
        alt = re.search(r"""\balt\s*=\s*["']([^"']*)["']""", tag, re.IGNORECASE)
        src = re.search(r"""\bsrc\s*=\s*["']([^"']*)["']""", tag, re.IGNORECASE)
        found.append((alt.group(1) if alt else "", src.group(1) if src else ""))
    return found


def image_problems(path: Path) -> list[str]:
    """What is wrong with the images a lesson shows: a file that does not exist, or alt text
    that does not say what the image shows (fewer than ``MIN_ALT_WORDS`` words)."""
    problems = []
    for alt, target in images_in(markdown_of(path)):
        file = local_target(path.parent, target)
        if file is not None and not file.is_file():
            problems.append(f"{target}: no such file")
        if len(alt.split()) < MIN_ALT_WORDS:
            problems.append(f"{target}: alt text {alt!r} does not say what it shows")
    return problems


def broken_links(path: Path) -> list[str]:
    missing = []
    for target in links_in(markdown_of(path)):
        file = local_target(path.parent, target)
        if file is not None and not file.exists():
            missing.append(target)
    return missing


def test_the_link_finder_finds_links_and_skips_code_and_external_ones():
    text = (
        "see [08 · Stampedes](08_stampedes.ipynb), [the RFC](https://www.rfc-editor.org/rfc/rfc5861)"
        ", [top](#key-points), <a href='../README.md'>README</a>, ![plot](img/plot.png)\n"
        "`[not a link](nowhere.ipynb)`\n```\n[nor this](nowhere.ipynb)\n```"
    )
    found = links_in(text)
    assert set(found) == {
        "08_stampedes.ipynb",
        "https://www.rfc-editor.org/rfc/rfc5861",
        "#key-points",
        "../README.md",
        "img/plot.png",
    }
    base = REPO / "lessons"
    assert local_target(base, "https://example.org/x.ipynb") is None
    assert local_target(base, "#key-points") is None
    assert local_target(base, "08_stampedes.ipynb#the-herd") == base / "08_stampedes.ipynb"


def test_a_link_to_a_missing_lesson_is_reported(tmp_path):
    lesson = tmp_path / "99_test.ipynb"
    (tmp_path / "00_there.ipynb").write_text("{}")
    lesson.write_text(
        json.dumps(
            {
                "cells": [
                    {
                        "cell_type": "markdown",
                        "source": ["[there](00_there.ipynb), [gone](98_gone.ipynb)"],
                    },
                    {"cell_type": "code", "source": ["# [in code](97_code.ipynb)"]},
                ]
            }
        )
    )
    assert broken_links(lesson) == ["98_gone.ipynb"]


@pytest.mark.parametrize("path", LESSONS + DOCUMENTS, ids=[p.name for p in LESSONS + DOCUMENTS])
def test_every_local_link_leads_to_a_file_that_exists(path):
    missing = broken_links(path)
    assert not missing, f"{path.relative_to(REPO)} links to files that do not exist: {missing}"


def test_every_lesson_but_the_last_says_whats_next_with_a_link_to_a_lesson():
    for lesson in LESSONS[:-1]:
        text = markdown_of(lesson)
        assert "## What's next" in text, f"{lesson.name} has no What's next"
        after = text.split("## What's next", 1)[1].split("\n## ", 1)[0]
        targets = [t for t in links_in(after) if t.endswith(".ipynb")]
        assert targets, f"{lesson.name}: What's next links to no lesson"


def test_an_image_without_alt_text_or_without_its_file_is_reported(tmp_path):
    (tmp_path / "figures").mkdir()
    (tmp_path / "figures" / "there.svg").write_text("<svg/>")
    lesson = tmp_path / "99_test.ipynb"
    cells = [
        "![the cache answers a hit and the database a miss](figures/there.svg)",
        "![](figures/there.svg) and ![a diagram](figures/there.svg)",
        '<img src="figures/there.svg"> ![five words of alt text](figures/gone.svg)',
        "`![in code](figures/code.svg)`",
    ]
    lesson.write_text(
        json.dumps({"cells": [{"cell_type": "markdown", "source": [c]} for c in cells]})
    )
    assert image_problems(lesson) == [
        "figures/there.svg: alt text '' does not say what it shows",
        "figures/there.svg: alt text 'a diagram' does not say what it shows",
        "figures/gone.svg: no such file",
        "figures/there.svg: alt text '' does not say what it shows",
    ]


@pytest.mark.parametrize("path", LESSONS, ids=[p.name for p in LESSONS])
def test_every_image_a_lesson_shows_exists_and_has_alt_text(path):
    problems = image_problems(path)
    assert not problems, f"{path.relative_to(REPO)}: {problems}"


def test_every_figure_is_an_svg_with_a_title_a_description_and_its_words_as_text():
    assert FIGURES, "lessons/figures/ holds no figures"
    for figure in FIGURES:
        assert figure.suffix == ".svg", f"{figure.name}: the figures are SVG drawings"
        root = ElementTree.parse(figure).getroot()
        title, desc = root.find(f"{SVG}title"), root.find(f"{SVG}desc")
        assert root.tag == f"{SVG}svg", f"{figure.name} is not an SVG drawing"
        assert title is not None and (title.text or "").strip(), f"{figure.name} has no <title>"
        assert desc is not None and len((desc.text or "").split()) >= 2 * MIN_ALT_WORDS, (
            f"{figure.name} has no <desc> that says what it shows"
        )
        assert root.find(f".//{SVG}text") is not None, f"{figure.name} draws its words as paths"


def test_every_figure_is_shown_by_a_lesson():
    shown = {
        local_target(lesson.parent, target)
        for lesson in LESSONS
        for _, target in images_in(markdown_of(lesson))
    }
    unshown = [figure.name for figure in FIGURES if figure.resolve() not in shown]
    assert not unshown, f"figures no lesson shows: {unshown}"
