"""Sphinx configuration of the course site (run through ``book/build.py``, not by hand).

Sphinx + myst-nb + sphinx-book-theme: the engine of Jupyter Book 1, configured directly.
The sources are the staged copy ``book/_build/src`` (see ``build.py``); this folder holds
only the configuration, the landing page and the site's own extension (``course_site.py``).
"""

from __future__ import annotations

import sys
from pathlib import Path

BOOK = Path(__file__).resolve().parent
sys.path.insert(0, str(BOOK))

from build import ASSETS, CELL_TIMEOUT_S, cache_path, repository_url  # noqa: E402

REPOSITORY_URL = repository_url()

project = "Make or Break"
author = "the course's authors"
copyright = "the course's authors; MIT licence"
html_title = "Make or Break: a hands-on caching course"

extensions = ["myst_nb", "sphinx_book_theme", "course_site"]
root_doc = "index"
exclude_patterns = ["**.ipynb_checkpoints"]
suppress_warnings = []

# --- Markdown (MyST) ------------------------------------------------------------------------
myst_enable_extensions = ["dollarmath", "colon_fence"]
myst_heading_anchors = 3  # GitHub's slugs: GLOSSARY.md#cache-aside works on the site and on GitHub
myst_dmath_double_inline = True

# --- Notebooks (myst-nb) --------------------------------------------------------------------
# build.py has run every lesson into the jupyter-cache already (a fresh kernel each, outside
# Sphinx): Sphinx only reads the outputs from it.
nb_execution_mode = "cache"
nb_execution_cache_path = str(cache_path())
nb_execution_timeout = CELL_TIMEOUT_S
nb_execution_raise_on_error = True  # a lesson that fails does not make a page
nb_execution_show_tb = True
nb_merge_streams = True
nb_ipywidgets_js = {
    # Served from the site itself (book/build.py fetched them from the npm registry); the
    # widget manager bundles the base and control widgets, which is all the lessons use.
    "require.js": {},
    "course-widgets.js": {},  # book/static/: the manager's own path, and MathJax 3 for its labels
    "html-manager/embed-amd.js": {},
}

# --- Math -----------------------------------------------------------------------------------
mathjax_path = "mathjax/tex-chtml.js"  # under _static/: MathJax 3, fonts beside it
mathjax3_config = {"options": {"enableMenu": True}}

# --- HTML -----------------------------------------------------------------------------------
html_theme = "sphinx_book_theme"
html_static_path = [str(ASSETS), "static"]
html_theme_options = {
    "repository_url": REPOSITORY_URL,
    "repository_branch": "HEAD",
    "path_to_docs": "",
    "use_repository_button": True,
    "use_download_button": True,
    "launch_buttons": {"binderhub_url": "https://mybinder.org", "notebook_interface": "jupyterlab"},
    "show_toc_level": 2,
}
html_last_updated_fmt = None
html_show_sourcelink = False
course_repository_url = REPOSITORY_URL
