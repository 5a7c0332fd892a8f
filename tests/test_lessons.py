"""Every lesson on two more machines: a fast one (the small shop) and a slow one (one CPU).

nbval (``pytest -p nbval --nbval-lax lessons``) executes each lesson once, on the default shop
with every core: the machine the course was written on. A lesson's claims must also hold on a
learner's laptop ten times faster and on a Binder or hub pod with one CPU (issue 16), so this
file executes every lesson twice more, each time top to bottom on a fresh kernel:

- **small shop** (``CACHELAB_SHOP_SIZE=small``): the same 2,000 products with a tenth of the
  orders, so the trending query is about ten times faster -- what a fast machine sees. The data
  folder (``CACHELAB_DATA_DIR``) starts empty, as on a learner's first day or when a learner opens
  lesson 05 without having run 00-04: the lesson must build what it needs.
- **one CPU**: the kernel, and every process it starts, may run on one CPU only
  (``os.sched_setaffinity``; ``timing.usable_cores()`` then says 1), on the default shop that
  nbval's run has just used: with nbval's run, that is the "twice in a row" the course promises.

Each run must leave the shop it used with exactly the rows ``build_shop`` makes (lessons that
change prices or stock work on ``scratch_shop()``), and leave no scratch copies behind. Each
kernel starts a private Redis of its own, as ``make lab`` does without ``REDIS_URL``. The one-CPU
runs are kept in ``test-results/executed/`` (the course site renders them: ``tests/test_site.py``).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from functools import lru_cache
from pathlib import Path
from typing import Iterator, Optional

import pytest
from support import shop_digest

from cachelab.shop.data import _SCRATCH_PREFIX, _data_dir, build_shop

REPO = Path(__file__).resolve().parents[1]
LESSONS = sorted((REPO / "lessons").glob("[0-9][0-9]_*.ipynb"))
EXECUTED = REPO / "test-results" / "executed"
CELL_TIMEOUT_S = 300  # one cell, on one busy CPU
MACHINES = ["small-shop", "one-cpu"]

pytestmark = pytest.mark.lesson


@lru_cache(maxsize=None)
def reference_digest(size: str) -> str:
    """The digest of a shop as ``build_shop`` makes it (in a folder of its own, built afresh)."""
    folder = Path(tempfile.mkdtemp(prefix="cachelab-reference-"))
    try:
        return shop_digest(build_shop(folder / f"shop-{size}.db", size=size))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def one_cpu() -> set[int]:
    """The CPU a one-CPU run may use: with two xdist workers, each takes a different one."""
    cpus = sorted(os.sched_getaffinity(0))
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    return {cpus[int(worker) % len(cpus)] if worker.isdigit() else cpus[0]}


@pytest.fixture
def pinned(request: pytest.FixtureRequest) -> Iterator[Optional[set[int]]]:
    """For a one-CPU run, pin this process (and so the kernel it starts) to one CPU; else None."""
    if request.node.callspec.params["machine"] != "one-cpu":
        yield None
        return
    if not hasattr(os, "sched_setaffinity"):
        pytest.skip("pinning a kernel to one CPU needs Linux (os.sched_setaffinity)")
    before = os.sched_getaffinity(0)
    cpu = one_cpu()
    os.sched_setaffinity(0, cpu)
    try:
        yield cpu
    finally:
        os.sched_setaffinity(0, before)


@pytest.mark.parametrize("machine", MACHINES)
@pytest.mark.parametrize("lesson", LESSONS, ids=[p.stem for p in LESSONS])
def test_a_lesson_runs_top_to_bottom_and_leaves_its_shop_as_built(
    lesson: Path,
    machine: str,
    pinned: Optional[set[int]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if machine == "small-shop":
        monkeypatch.setenv("CACHELAB_SHOP_SIZE", "small")
        monkeypatch.setenv("CACHELAB_DATA_DIR", str(tmp_path))  # the kernel inherits: no shop yet
        shops = tmp_path
    else:
        monkeypatch.delenv("CACHELAB_SHOP_SIZE", raising=False)
        shops = _data_dir()
    monkeypatch.delenv("REDIS_URL", raising=False)  # a private server per kernel, as make lab
    # The kernel's temporary files in a folder of its own (short: Redis's unix socket lives
    # there), so that what it leaves is told apart from what runs beside it make.
    kernel_tmp = Path(tempfile.mkdtemp(prefix="cachelab-lesson-"))
    monkeypatch.setenv("TMPDIR", str(kernel_tmp))
    shops_before = {path: path.stat().st_mtime_ns for path in shops.glob("shop-*.db")}
    # Imported here, not at the top: nbformat imports jsonschema, whose format checks compile a
    # grammar (rfc3987-syntax, about 1.5 s of CPU) in every process that collects this file.
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(lesson, as_version=4)
    started = time.perf_counter()
    NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT_S,
        kernel_name="python3",
        resources={"metadata": {"path": str(lesson.parent)}},
    ).execute()
    seconds = time.perf_counter() - started
    print(f"{lesson.stem} on {machine} ({pinned or 'every CPU'}): {seconds:.1f} s")

    used = sorted(shops.glob("shop-*.db"))
    for shop in used:
        if machine == "one-cpu" and shops_before.get(shop) == shop.stat().st_mtime_ns:
            continue  # untouched since before the lesson: nothing to check, nothing to rebuild
        size = shop.stem.removeprefix("shop-")
        assert shop_digest(shop) == reference_digest(size), (
            f"{lesson.name} changed the rows of {shop.name}: lessons must write to scratch_shop()"
        )
    left = set(kernel_tmp.glob(_SCRATCH_PREFIX + "*"))
    deadline = time.monotonic() + 5  # the kernel is gone: its atexit handler or watchdog cleans up
    while any(folder.exists() for folder in left) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(folder.exists() for folder in left), f"{lesson.name} left scratch copies: {left}"
    shutil.rmtree(kernel_tmp, ignore_errors=True)
    if machine == "small-shop" and any(
        cell.cell_type == "code" and ("build_shop" in cell.source or "scratch_shop" in cell.source)
        for cell in notebook.cells
    ):
        assert used, f"{lesson.name} uses the shop but none was built in the empty data folder"
    if machine == "one-cpu":  # the default shop's run: the course site shows it
        EXECUTED.mkdir(parents=True, exist_ok=True)
        notebook.metadata["cachelab"] = {"execution_seconds": seconds, "machine": machine}
        nbformat.write(notebook, EXECUTED / lesson.name)
