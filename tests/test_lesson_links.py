"""Every link in a lesson (and in the README and the instructors' notes) leads to a file that
exists: a learner who clicks "What's next" must land on a lesson, not on a 404."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import unquote

import pytest

REPO = Path(__file__).resolve().parents[1]
LESSONS = sorted((REPO / "lessons").glob("*.ipynb"))
DOCUMENTS = [REPO / "README.md", REPO / "INSTRUCTORS.md"]

MARKDOWN_LINK = re.compile(r"(?<!\!)\[[^\]\n]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
IMAGE_LINK = re.compile(r"!\[[^\]\n]*\]\(\s*<?([^)\s>]+)>?\s*\)")
HTML_LINK = re.compile(r"""(?:href|src)\s*=\s*["']([^"']+)["']""", re.IGNORECASE)
EXTERNAL = re.compile(r"^(?:[a-z][a-z0-9+.-]*:|//|#)", re.IGNORECASE)  # http:, mailto:, anchors


def links_in(text: str) -> list[str]:
    """The link targets in a piece of markdown: inline links, images, and HTML href/src."""
    text = re.sub(r"```.*?```", "", text, flags=re.DOTALL)  # code blocks hold no links
    text = re.sub(r"`[^`\n]*`", "", text)  # nor does inline code
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
