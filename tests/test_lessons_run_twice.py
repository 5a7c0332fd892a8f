"""Every lesson runs on a fresh kernel on a machine with no shop yet, and changes no shared data.

nbval (the ``lessons/`` part of ``make test``) executes each lesson once and checks
its asserts. This file runs each lesson once more, before that, on a fresh kernel
and with ``CACHELAB_DATA_DIR`` pointing at an empty folder -- as on a learner's
first day, or when a learner opens lesson 05 without having run 00–04. The lesson
must build what it needs, and leave the shop it built with exactly the rows
``build_shop`` makes: lessons that change prices or stock work on ``scratch_shop()``.
With nbval's run, that is the "twice in a row" the course promises.
"""

import hashlib
import importlib.util
import shutil
import tempfile
import time
from functools import lru_cache
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from cachelab.data import SCRATCH_PREFIX, build_shop, connect_read_only

REPO = Path(__file__).resolve().parents[1]
LESSONS = sorted((REPO / "lessons").glob("[0-9][0-9]_*.ipynb"))


def _site_build():
    """``book/build.py``: the course site keeps each run below, so it need not run it again."""
    spec = importlib.util.spec_from_file_location("site_build", REPO / "book" / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def content_digest(path: Path) -> str:
    """A digest of every row of the shop's tables, in id order: equal digests, equal shops."""
    connection = connect_read_only(path)
    try:
        digest = hashlib.sha256()
        for table in ("products", "orders"):
            for row in connection.execute(
                f"SELECT * FROM {table} ORDER BY id"
            ):  # table names are ours
                digest.update(repr(row).encode())
        return digest.hexdigest()
    finally:
        connection.close()


@lru_cache(maxsize=None)
def reference_digest(size: str) -> str:
    """The digest of a shop as ``build_shop`` makes it (the repository's own copy, built if
    missing).
    """
    return content_digest(build_shop(size=size))


@pytest.mark.parametrize("lesson", LESSONS, ids=[p.stem for p in LESSONS])
def test_a_lesson_runs_on_a_fresh_kernel_with_no_shop_yet_and_leaves_its_shop_as_built(
    lesson: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("CACHELAB_DATA_DIR", str(tmp_path))  # the kernel inherits it: no shop yet
    monkeypatch.delenv(
        "REDIS_URL", raising=False
    )  # each kernel starts a private server, as make lab does
    # The kernel's temporary files in a folder of its own (short: Redis's unix socket lives
    # there), so that what it leaves is told apart from what lessons running beside it make.
    kernel_tmp = Path(tempfile.mkdtemp(prefix="cachelab-twice-"))
    monkeypatch.setenv("TMPDIR", str(kernel_tmp))
    started = time.perf_counter()
    for attempt in (1, 2):
        notebook = nbformat.read(lesson, as_version=4)
        try:
            NotebookClient(
                notebook,
                timeout=300,
                kernel_name="python3",
                resources={"metadata": {"path": str(lesson.parent)}},
            ).execute()
            break
        except RuntimeError as error:
            # Two kernels started at the same moment (nbval runs beside this test) can be given
            # the same TCP port by jupyter_client; that kernel never answers. Start it again.
            if attempt == 2 or "didn't respond" not in str(error):
                raise
    built = sorted(tmp_path.glob("shop-*.db"))
    for shop in built:
        size = shop.stem.removeprefix("shop-")
        assert content_digest(shop) == reference_digest(size), (
            f"{lesson.name} changed the rows of {shop.name}: lessons must write to scratch_shop()"
        )
    left = set(kernel_tmp.glob(SCRATCH_PREFIX + "*"))
    deadline = (
        time.monotonic() + 5
    )  # the kernel is gone: its atexit handler, or its watchdog, cleans up
    while any(folder.exists() for folder in left) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(folder.exists() for folder in left), f"{lesson.name} left scratch copies: {left}"
    shutil.rmtree(kernel_tmp, ignore_errors=True)
    if any(
        cell.cell_type == "code" and ("build_shop" in cell.source or "scratch_shop" in cell.source)
        for cell in notebook.cells
    ):
        assert built, f"{lesson.name} uses the shop but none was built in the empty data folder"
    # The course site shows this very run (tests/test_site.py, next in make test, then only
    # renders the pages instead of executing every lesson a third time).
    _site_build().store_executed(notebook, lesson, seconds=time.perf_counter() - started)
