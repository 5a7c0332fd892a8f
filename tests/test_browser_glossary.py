"""A glossary link clicked in JupyterLab opens GLOSSARY.md at its term, not at its top.

A lesson links ``../GLOSSARY.md#hit-ratio``: the lowercase slug GitHub and the course site give
the heading ``## Hit ratio``. JupyterLab 4's Markdown viewer names that heading ``Hit-ratio`` (the
heading's own case), so without more the link opened the glossary at its top. Each term therefore
has an explicit ``<a id="hit-ratio"></a>`` on the line before its heading
(``scripts/link_glossary.py``); JupyterLab's sanitizer keeps it as ``data-jupyter-id``, which is
what the viewer looks a fragment up by.

This asks a real JupyterLab in the system's Chromium: a lesson and the glossary are served as
``make lab`` serves them (``lessons/`` beside ``GLOSSARY.md``), the lesson's link is clicked, and
the glossary must open scrolled to the term. Every anchor a lesson links must be in the rendered
glossary too.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from support import load_module, load_notebook

from test_served_tree import JUPYTER, jupyter_lab

REPO = Path(__file__).resolve().parents[1]
LESSON = "03_memory_cache.ipynb"
TERM, HEADING = "hit-ratio", "Hit ratio"  # far enough down that the top of the file is not it
TIMEOUT_MS = 60_000  # JupyterLab's first load on a busy 2-core machine

LANDED = """([viewer, term]) => {
    const box = document.querySelector(viewer);
    const anchor = box && box.querySelector(`[data-jupyter-id="${term}"]`);
    if (!anchor || box.scrollTop === 0) return null;
    let heading = anchor.parentElement;
    while (heading && heading.tagName !== 'H2') heading = heading.nextElementSibling;
    const offset = anchor.getBoundingClientRect().top - box.getBoundingClientRect().top;
    return {offset, scrolled: box.scrollTop,
            heading: heading && heading.textContent.replace('¶', '').trim()};
}"""
"""Where the glossary's viewer stands: the term's anchor, how far it is from the top of the view,
and the heading that follows it; null while the viewer has not scrolled to it."""

glossary = load_module("link_glossary", REPO / "scripts" / "link_glossary.py")


def linked_anchors() -> set[str]:
    """Every glossary anchor a lesson, the README or the instructors' notes link to."""
    texts = [
        glossary.cell_text(cell)
        for path in (REPO / "lessons").glob("[0-9][0-9]_*.ipynb")
        for cell in load_notebook(path)["cells"]
    ]
    texts += [(REPO / name).read_text(encoding="utf-8") for name in ("README.md", "INSTRUCTORS.md")]
    return {anchor for text in texts for anchor in glossary.glossary_targets(text)}


@pytest.mark.browser
def test_a_glossary_link_in_jupyterlab_opens_the_glossary_at_its_term(page, tmp_path: Path):
    tree = tmp_path / "tree"
    (tree / "lessons").mkdir(parents=True)
    (tmp_path / "jupyter").mkdir()
    shutil.copy2(REPO / "GLOSSARY.md", tree / "GLOSSARY.md")
    shutil.copy2(REPO / "lessons" / LESSON, tree / "lessons" / LESSON)
    command = [JUPYTER, "lab", f"--ServerApp.root_dir={tree}"]
    with jupyter_lab(command, tree, tmp_path / "jupyter") as server:
        page.goto(f"{server.url}/lab/tree/lessons/{LESSON}?token={server.token}")
        link = page.locator(
            f'.jp-RenderedMarkdown a[href*="/GLOSSARY.md"][href$="#{TERM}"]'
        ).first  # JupyterLab resolves the href to /files/GLOSSARY.md?_xsrf=...#hit-ratio
        link.wait_for(timeout=TIMEOUT_MS)
        link.click()
        viewer = ".jp-MarkdownViewer .jp-RenderedMarkdown"
        page.wait_for_selector(f"{viewer} h2", timeout=TIMEOUT_MS)
        try:  # the viewer scrolls once it has rendered
            page.wait_for_function(LANDED, arg=[viewer, TERM], timeout=10_000)
        except PlaywrightTimeout:
            pass  # the assertions below say where it opened
        landed = page.evaluate(LANDED, [viewer, TERM])
        assert landed, f"the glossary did not open at {TERM!r}: no anchor there to scroll to"
        assert landed["heading"] == HEADING, landed
        assert -5 <= landed["offset"] <= 60, f"the term is not at the top of the view: {landed}"
        rendered = set(
            page.eval_on_selector_all(
                f"{viewer} [data-jupyter-id]", "nodes => nodes.map(n => n.dataset.jupyterId)"
            )
        )
    missing = sorted(linked_anchors() - rendered)
    assert not missing, f"lessons link anchors JupyterLab's glossary lacks: {missing}"
