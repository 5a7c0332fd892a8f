"""The course site's own Sphinx extension: what the site needs beyond myst-nb's defaults.

- **Links to the repository.** A page may link a file of the repository that is not a page
  of the site (``lessons/solutions/03_memory_cache.py``, ``benchmarks/README.md``, a folder).
  Such a link becomes a link to that file in the course's public repository
  (``course_repository_url``), instead of a link to nothing. A link to a path that exists
  nowhere stays unresolved, and the build fails on its warning.
- **Widgets without a kernel.** A lesson page whose outputs hold widgets (sliders, the
  dashboard) says, at the top, that they show the state saved when the site was built and do
  not react here, and links to running the lesson (JupyterLab, Binder).
- **Nothing from other servers.** An image on another server (the README's Binder badge)
  becomes its alternative text, still inside its link: a page of the site loads nothing from
  the network.
"""

from __future__ import annotations

import posixpath
from pathlib import Path

from docutils import nodes
from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.transforms.post_transforms import SphinxPostTransform
from sphinx.util import logging

LOGGER = logging.getLogger(__name__)
REPO = Path(__file__).resolve().parents[1]
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


class RepositoryLinks(SphinxPostTransform):
    """Turn a link to a repository file that is not a page into a link to the repository."""

    default_priority = 8  # before myst's own resolver (9), which would warn about it

    def run(self, **kwargs) -> None:
        base = self.config.course_repository_url.rstrip("/")
        for node in list(self.document.findall(addnodes.pending_xref)):
            if node.get("reftype") != "myst" or node.get("refdomain"):
                continue
            target = node["reftarget"]
            path, _, anchor = target.partition("#")
            if not path or "://" in path or path.startswith("mailto:"):
                continue
            relative = posixpath.normpath(posixpath.join(posixpath.dirname(self.env.docname), path))
            if relative.startswith("../") or relative == "..":
                continue
            on_disk = REPO / relative
            if not on_disk.exists():
                continue  # a broken link: myst warns, and the build fails
            kind = "tree" if on_disk.is_dir() else "blob"
            uri = f"{base}/{kind}/HEAD/{relative}" + (f"#{anchor}" if anchor else "")
            reference = nodes.reference("", "", refuri=uri, internal=False)
            reference += node.children or [nodes.literal(target, target)]
            node.replace_self(reference)


def _has_widgets(doctree: nodes.document) -> bool:
    return any(WIDGET_VIEW in node.astext() for node in doctree.findall(nodes.raw))


def widget_notice(app: Sphinx, doctree: nodes.document) -> None:
    """Put a note under the title of every lesson page that shows widgets."""
    docname = app.env.docname
    if not docname.startswith("lessons/") or not _has_widgets(doctree):
        return
    section = next(iter(doctree.findall(nodes.section)), None)
    if section is None:
        return
    base = app.config.course_repository_url.rstrip("/")
    parts = base.split("/")
    binder = (
        f"https://mybinder.org/v2/gh/{parts[-2]}/{parts[-1]}/HEAD?urlpath=lab/tree/{docname}.ipynb"
    )
    note = nodes.note()
    paragraph = nodes.paragraph()
    paragraph += nodes.Text(
        "The sliders and widgets on this page show what they showed when the site was built. "
        "No Python kernel runs behind a web page, so moving them changes nothing here. To use "
        "them, run the lesson: "
    )
    paragraph += nodes.literal("make lab", "make lab")
    paragraph += nodes.Text(" on your machine (see ")
    setup = addnodes.pending_xref(
        "", refdomain="std", reftype="doc", reftarget="/README", refexplicit=True
    )
    setup += nodes.inline("", "setting up")
    paragraph += setup
    paragraph += nodes.Text("), or ")
    launch = nodes.reference("", "", refuri=binder, internal=False)
    launch += nodes.Text("open it on Binder")
    paragraph += launch
    paragraph += nodes.Text(".")
    note += paragraph
    note["classes"].append("course-widget-notice")
    title = section.next_node(nodes.title)
    title.parent.insert(title.parent.index(title) + 1, note)


def remote_images_as_text(app: Sphinx, doctree: nodes.document) -> None:
    """Replace every image on another server by its alternative text (the link around stays)."""
    for image in list(doctree.findall(nodes.image)):
        uri = image.get("uri", "")
        if "://" in uri or uri.startswith("//"):
            text = image.get("alt") or uri
            image.replace_self(nodes.inline(text, text, classes=["course-remote-image"]))


def setup(app: Sphinx) -> dict:
    app.add_config_value("course_repository_url", "", "env", types=[str])
    app.add_post_transform(RepositoryLinks)
    app.connect("doctree-read", widget_notice)
    app.connect("doctree-read", remote_images_as_text)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
