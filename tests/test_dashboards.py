"""The dashboards an instructor projects (``make dashboard``), as stored: no browser needed.

``tests/test_browser_dashboard.py`` serves them with Voila and moves their sliders in Chromium;
these tests check what that one cannot: the notebooks are stored clean, each shows its lesson's
dashboard from ``cachelab.show`` (the same call the lesson makes, not a copy of its code), and
Voila is asked to hide the code, listen on 127.0.0.1 only and use the template that fetches
nothing from the network.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from support import cell_source, load_module, load_notebook, notebook_code

REPO = Path(__file__).resolve().parents[1]
DASHBOARDS = sorted((REPO / "dashboards").glob("[0-9][0-9]_*.ipynb"))
TEMPLATE = REPO / "dashboards" / "jupyter" / "voila" / "templates" / "course"


serve = load_module("serve", REPO / "dashboards" / "serve.py")


def test_there_is_a_dashboard_for_lessons_07_and_08():
    assert [path.name for path in DASHBOARDS] == ["07_ttl_explorer.ipynb", "08_early_refresh.ipynb"]
    assert serve.PAGES == [path.name for path in DASHBOARDS]


@pytest.mark.parametrize("path", DASHBOARDS, ids=[p.stem for p in DASHBOARDS])
def test_a_dashboard_is_stored_without_outputs_with_a_kernel_and_a_title(path: Path):
    notebook = load_notebook(path)
    assert notebook["metadata"]["kernelspec"]["name"] == "python3"
    cells = notebook["cells"]
    assert cells[0]["cell_type"] == "markdown" and cell_source(cells[0]).startswith("# ")
    dirty = [
        i
        for i, cell in enumerate(cells)
        if cell["cell_type"] == "code" and (cell["outputs"] or cell["execution_count"] is not None)
    ]
    assert not dirty, f"{path.name}: cells {dirty} were stored with outputs"


@pytest.mark.parametrize(
    "dashboard, lesson, module, function",
    [
        ("07_ttl_explorer.ipynb", "07_ttl_tuning.ipynb", "ttl_dashboard", "ttl_dashboard"),
        ("08_early_refresh.ipynb", "08_stampedes.ipynb", "xfetch_dashboard", "xfetch_dashboard"),
    ],
)
def test_a_dashboard_and_its_lesson_call_the_same_function(dashboard, lesson, module, function):
    """One function draws the lesson's sliders and the projected page: nothing is copied."""
    for path in (REPO / "dashboards" / dashboard, REPO / "lessons" / lesson):
        code = notebook_code(path)
        assert f"from cachelab.show.{module} import" in code, path.name
        assert re.search(rf"\b{function}\(", code), f"{path.name} does not call {function}()"
    page = notebook_code(REPO / "dashboards" / dashboard)
    assert not re.search(r"^\s*def ", page, re.M), f"{dashboard} defines functions: use {module}'s"


def test_voila_hides_the_code_listens_on_loopback_and_uses_the_course_template():
    argv, env = serve.command(8866)
    assert "--Voila.ip=127.0.0.1" in argv and "--port=8866" in argv
    assert "--strip_sources=True" in argv and "--template=course" in argv
    assert "--no-browser" in argv and "--Voila.port_retries=0" in argv
    assert str(REPO / "dashboards" / "jupyter") in env["JUPYTER_PATH"].split(":")
    assert serve.page_url("http://127.0.0.1:8866/", "07_ttl_explorer.ipynb") == (
        "http://127.0.0.1:8866/voila/render/07_ttl_explorer.ipynb"
    )


def test_the_course_template_extends_voilas_and_links_nothing_outside_the_server():
    assert json.loads((TEMPLATE / "conf.json").read_text())["base_template"] == "lab"
    template = (TEMPLATE / "index.html.j2").read_text(encoding="utf-8")
    assert "extends 'lab/index.html.j2'" in template
    assert not re.search(r"""(?:href|src)\s*=\s*["']https?://""", template)
