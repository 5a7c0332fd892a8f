"""Build the course site: ``python book/build.py`` (what ``make site`` runs).

The site is Sphinx with myst-nb and the sphinx-book-theme -- the engine of Jupyter Book 1,
driven directly. Everything comes from a package registry, and the build reads nothing from
the network. Four steps:

1. **Assets** (``ensure_assets``): the JavaScript a page needs that no Python package ships --
   MathJax 3 (math), RequireJS and the Jupyter widgets' HTML manager (widgets drawn from the
   state saved with the outputs) -- is fetched once from the npm registry with ``npm pack``
   (pinned versions; npm checks them against the registry's digests) into
   ``book/_build/assets/``, and served from the site's own ``_static/``.
2. **Execution** (``execute``): every lesson runs top to bottom on a fresh kernel, in memory:
   nothing is ever written into ``lessons/``. The executed notebook, outputs and widget state
   included, goes into a jupyter-cache under ``book/_build/jupyter-cache/<library digest>/``.
   A lesson whose code cells have not changed, run by this same library (``lib/cachelab``)
   and data generator (``data/``), is not run again. ``tests/test_site.py`` stores the runs
   ``tests/test_lessons.py`` kept there too (``store_executed``), so it only renders.
3. **Sources** (``stage``): the pages are copied into ``book/_build/src/`` in the layout of
   the repository -- ``index.md`` (``book/index.md`` with the table of lessons made from each
   lesson's first cell), ``lessons/NN_*.ipynb``, the diagrams they show (``lessons/figures/``),
   ``GLOSSARY.md``, ``INSTRUCTORS.md``, ``README.md`` -- so the links between them
   (``03_memory_cache.ipynb``, ``../GLOSSARY.md#ttl-time-to-live``) and the images
   (``figures/stampede.svg``) are the repository's, and Sphinx makes them links between pages
   and images on them.
4. **Sphinx** (``render``): reads the outputs from the cache (it executes nothing itself) and
   writes ``book/_build/html/``. Every warning is an error: a link that does not resolve, an
   anchor that does not exist, fails the build.

Open ``book/_build/html/index.html``; no server is needed.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Iterable, Optional

BOOK = Path(__file__).resolve().parent
REPO = BOOK.parent
BUILD = BOOK / "_build"
ASSETS = BUILD / "assets"
SOURCES = BUILD / "src"
HTML = BUILD / "html"
DOCTREES = BUILD / "doctrees"
CACHES = BUILD / "jupyter-cache"

CELL_TIMEOUT_S = 600  # one cell, on a slow 2-core machine busy with other work

NPM_PACKAGES = {
    # npm name@version: {file or folder in the package: where it goes under _static/}
    "mathjax@3.2.2": {
        "es5/tex-chtml.js": "mathjax/tex-chtml.js",
        "es5/output/chtml/fonts/woff-v2": "mathjax/output/chtml/fonts/woff-v2",
        "es5/input/tex/extensions": "mathjax/input/tex/extensions",
    },
    "requirejs@2.3.7": {"require.js": "require.js"},
    "@jupyter-widgets/html-manager@1.0.15": {"dist": "html-manager"},
}
"""The JavaScript the pages load, pinned. MathJax 3's CHTML output needs only its fonts beside
it; the widget manager's ``embed-amd.js`` bundles the base and control widgets (all the lessons
use) and finds its icon fonts beside itself."""

STAGED_FILES = {
    "README.md": REPO / "README.md",
    "GLOSSARY.md": REPO / "GLOSSARY.md",
    "INSTRUCTORS.md": REPO / "INSTRUCTORS.md",
}
FIGURES = REPO / "lessons" / "figures"
"""The diagrams the lessons show (SVG), staged beside them so the lessons' image links hold."""
LESSON_TABLE_MARK = "<!-- lesson table -->"
"""Where ``book/index.md`` gets the table of lessons, made from each lesson's first cell."""

LIBRARY_INPUTS = ("lib/cachelab/**/*.py", "data/*.json", "data/*.csv", "data/*.txt")
"""What a lesson's outputs depend on besides its own code: the library and the data generator's
committed inputs. A change to any of them starts a new cache (the old one is removed)."""


# --- the lessons and the landing page ---------------------------------------------------------


def lessons() -> list[Path]:
    """The lessons, in order: ``lessons/NN_slug.ipynb``."""
    return sorted((REPO / "lessons").glob("[0-9][0-9]_*.ipynb"))


def repository_url() -> str:
    """The course's public repository, as ``pyproject.toml`` names it (``[project.urls]``)."""
    text = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    urls = text.split("[project.urls]", 1)[-1].split("\n[", 1)[0]
    match = re.search(r'^Repository\s*=\s*"([^"]+)"', urls, flags=re.MULTILINE)
    if "[project.urls]" not in text or match is None:
        raise ValueError("pyproject.toml names no Repository under [project.urls]")
    return match.group(1).rstrip("/")


def lesson_frame(path: Path) -> dict:
    """What a lesson's first cell says: number, title, time to learn, prerequisites, objectives.

    The frame is the lesson's contract (``tests/test_lessons_are_clean.py`` checks its shape):
    ``# NN · Title``, ``**Time to learn:** ...``, ``**Prerequisites:** ...``, then
    "By the end you can:" and a numbered list.
    """
    notebook = json.loads(path.read_text(encoding="utf-8"))
    source = notebook["cells"][0]["source"]
    text = "".join(source) if isinstance(source, list) else source
    title = re.match(r"#\s*(\d\d)\s*·\s*(.+)", text.strip())
    if title is None:
        raise ValueError(f"{path.name}: the first cell does not start with '# NN · Title'")

    def field(name: str) -> str:
        found = re.search(rf"\*\*{name}:\*\*\s*(.+)", text)
        if found is None:
            raise ValueError(f"{path.name}: the first cell has no **{name}:**")
        return found.group(1).strip()

    after = text.split("By the end you can:", 1)
    objectives = (
        re.findall(r"^\s*\d+\.\s+(.+)$", after[1], flags=re.MULTILINE) if len(after) > 1 else []
    )
    if not objectives:
        raise ValueError(f"{path.name}: the first cell lists no objectives ('By the end you can:')")
    return {
        "number": title.group(1),
        "title": title.group(2).strip(),
        "time": field("Time to learn"),
        "prerequisites": field("Prerequisites"),
        "objectives": objectives,
        "path": f"lessons/{path.name}",
    }


def _unlinked(markdown: str) -> str:
    """Markdown with its links reduced to their text (the lessons' links are relative to them)."""
    return re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", markdown)


def lesson_table() -> str:
    """The landing page's table of lessons, as MyST markdown, from every lesson's first cell."""
    lines = [
        "```{list-table}",
        ":header-rows: 1",
        ":widths: 4 24 14 58",
        ":class: lesson-table",
        "",
        "* - #",
        "  - Lesson",
        "  - Time to learn",
        "  - By the end you can",
    ]
    for path in lessons():
        frame = lesson_frame(path)
        lines += [
            f"* - {frame['number']}",
            f"  - [{frame['title']}]({frame['path']})",
            f"  - {_unlinked(frame['time'])}",
        ]
        for index, objective in enumerate(frame["objectives"]):
            lines.append(f"  {'- ' if index == 0 else '  '}{index + 1}. {_unlinked(objective)}")
    lines.append("```")
    return "\n".join(lines)


# --- 1. assets --------------------------------------------------------------------------------


def have_assets() -> bool:
    """Whether ``book/_build/assets`` holds the pinned npm packages (then no npm is needed)."""
    stamp = ASSETS / "packages.json"
    return stamp.exists() and json.loads(stamp.read_text()) == NPM_PACKAGES


def ensure_assets() -> Path:
    """Fetch the pinned npm packages into ``book/_build/assets`` once; return that folder."""
    if have_assets():
        return ASSETS
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit(
            "error: the site needs npm once, to fetch MathJax, RequireJS and the Jupyter widget "
            "manager from the npm registry (Debian/Ubuntu: apt-get install npm; macOS: brew "
            "install node). After that it builds offline."
        )
    if ASSETS.exists():
        shutil.rmtree(ASSETS)
    ASSETS.mkdir(parents=True)
    with tempfile.TemporaryDirectory() as scratch:
        for spec, files in NPM_PACKAGES.items():
            packed = subprocess.run(
                [npm, "pack", spec, "--silent", "--pack-destination", scratch],
                check=True,
                capture_output=True,
                text=True,
                cwd=scratch,
            ).stdout.split()[-1]
            unpacked = Path(scratch) / re.sub(r"[^A-Za-z0-9.-]", "_", spec)
            with tarfile.open(Path(scratch) / packed) as archive:
                if hasattr(tarfile, "data_filter"):
                    archive.extractall(unpacked, filter="data")
                else:  # Python < 3.10.12: check the names ourselves
                    names = archive.getnames()
                    if any(name.startswith(("/", "..")) or "/../" in name for name in names):
                        raise SystemExit(f"error: {packed} holds paths outside its folder")
                    archive.extractall(unpacked)
            for inside, target in files.items():
                source, destination = unpacked / "package" / inside, ASSETS / target
                destination.parent.mkdir(parents=True, exist_ok=True)
                if source.is_dir():
                    shutil.copytree(source, destination)
                else:
                    shutil.copy2(source, destination)
    (ASSETS / "packages.json").write_text(json.dumps(NPM_PACKAGES, indent=1))
    return ASSETS


# --- 2. execution -----------------------------------------------------------------------------


def library_digest() -> str:
    """A digest of what the lessons' outputs depend on besides their code (``LIBRARY_INPUTS``)."""
    digest = hashlib.sha256()
    for pattern in LIBRARY_INPUTS:
        for path in sorted(REPO.glob(pattern)):
            if "__pycache__" in path.parts:
                continue
            digest.update(path.relative_to(REPO).as_posix().encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def cache_path() -> Path:
    """The jupyter-cache folder for this library: ``book/_build/jupyter-cache/<digest>``."""
    return CACHES / library_digest()


def _cache(path: Optional[Path] = None):
    from jupyter_cache import get_cache

    path = path or cache_path()
    if not path.exists() and CACHES.exists():
        for old in CACHES.iterdir():  # outputs of another library: never shown again
            shutil.rmtree(old, ignore_errors=True)
    path.mkdir(parents=True, exist_ok=True)
    return get_cache(str(path))


def is_cached(lesson: Path) -> bool:
    """Whether the cache holds a run of this lesson's code cells by this library."""
    import nbformat

    try:
        _cache().match_cache_notebook(nbformat.read(lesson, as_version=4))
    except KeyError:
        return False
    return True


def store_executed(notebook, lesson: Path, seconds: Optional[float] = None) -> None:
    """Keep an executed notebook (an ``nbformat`` node) as the site's run of ``lesson``.

    The cache finds a run by a digest of the code cells *with their metadata*, and executing
    adds timing metadata to every cell: the run is stored with the lesson's own metadata, so
    that the lesson as stored matches it.
    """
    import nbformat
    from jupyter_cache.base import CacheBundleIn

    source = nbformat.read(lesson, as_version=4)
    executed = copy.deepcopy(notebook)
    ran = [cell for cell in executed.cells if cell.cell_type == "code"]
    stored = [cell for cell in source.cells if cell.cell_type == "code"]
    if [cell.source for cell in ran] != [cell.source for cell in stored]:
        raise ValueError(f"that is not a run of {lesson.name} as it is stored now")
    for cell, original in zip(ran, stored):
        cell.metadata = copy.deepcopy(original.metadata)
    executed.metadata["kernelspec"] = copy.deepcopy(source.metadata.get("kernelspec", {}))
    data = {} if seconds is None else {"execution_seconds": seconds}
    _cache().cache_notebook_bundle(
        CacheBundleIn(executed, str(lesson.resolve()), data=data),
        check_validity=False,
        overwrite=True,
    )


def execute(paths: Optional[Iterable[Path]] = None, log=print) -> dict[str, float]:
    """Run every lesson that the cache lacks, each on a fresh kernel; return {name: seconds}."""
    import nbformat
    from nbclient import NotebookClient

    ran = {}
    for lesson in paths or lessons():
        if is_cached(lesson):
            continue
        notebook = nbformat.read(lesson, as_version=4)
        log(f"executing {lesson.name} ...")
        started = time.perf_counter()
        NotebookClient(
            notebook,
            timeout=CELL_TIMEOUT_S,
            kernel_name="python3",
            resources={"metadata": {"path": str(lesson.parent)}},
        ).execute()  # raises CellExecutionError, naming the cell, if a lesson fails
        ran[lesson.name] = time.perf_counter() - started
        store_executed(notebook, lesson, ran[lesson.name])
        log(f"executed {lesson.name} in {ran[lesson.name]:.0f} s")
    return ran


# --- 3. sources -------------------------------------------------------------------------------


def _without_anchor_lines(markdown: str) -> str:
    """The glossary without its ``<a id="slug"></a>`` lines: JupyterLab needs them to land on a
    term, but Sphinx gives each heading the same id from its own slug, and an id twice on a page
    is invalid HTML."""
    return re.sub(r'^<a id="[^"]+"></a>\n', "", markdown, flags=re.MULTILINE)


def stage() -> Path:
    """Copy the pages into ``book/_build/src`` in the repository's layout; return that folder."""
    if SOURCES.exists():
        shutil.rmtree(SOURCES)
    (SOURCES / "lessons").mkdir(parents=True)
    for name, source in STAGED_FILES.items():
        shutil.copy2(source, SOURCES / name)
    glossary = SOURCES / "GLOSSARY.md"
    glossary.write_text(_without_anchor_lines(glossary.read_text("utf-8")), "utf-8")
    index = (BOOK / "index.md").read_text(encoding="utf-8")
    if LESSON_TABLE_MARK not in index:
        raise ValueError(f"book/index.md has no {LESSON_TABLE_MARK} line for the lesson table")
    (SOURCES / "index.md").write_text(index.replace(LESSON_TABLE_MARK, lesson_table()), "utf-8")
    for lesson in lessons():
        shutil.copy2(lesson, SOURCES / "lessons" / lesson.name)
    if FIGURES.is_dir():  # the diagrams the lessons show: ![...](figures/cache_aside.svg)
        shutil.copytree(FIGURES, SOURCES / "lessons" / FIGURES.name)
    return SOURCES


# --- 4. Sphinx --------------------------------------------------------------------------------


def render(quiet: bool = False) -> Path:
    """Run Sphinx on the staged sources (outputs from the cache); return ``book/_build/html``."""
    from sphinx.cmd.build import build_main

    arguments = ["-b", "html", "-E", "-a", "-W", "--keep-going", "-c", str(BOOK)]
    arguments += ["-d", str(DOCTREES)]
    if quiet:
        arguments.append("-q")
    if HTML.exists():
        shutil.rmtree(HTML)  # no page of an earlier build survives a lesson's removal
    status = build_main([*arguments, str(SOURCES), str(HTML)])
    if status:
        raise SystemExit(f"error: the site did not build (Sphinx exited with {status})")
    return HTML


def build(quiet: bool = False, log=print) -> Path:
    """All four steps; return ``book/_build/html``."""
    ensure_assets()
    execute(log=log)
    missing = [lesson.name for lesson in lessons() if not is_cached(lesson)]
    if missing:  # Sphinx would run them itself, inside its own process: never
        raise SystemExit(f"error: no run of {missing} in the cache after executing them")
    stage()
    return render(quiet=quiet)


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quiet", action="store_true", help="Sphinx prints only its warnings")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    html = build(quiet=args.quiet)
    print(
        f"the site is in {html.relative_to(REPO)}/ (open index.html); "
        f"built in {time.perf_counter() - started:.0f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
