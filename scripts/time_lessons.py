"""Run every lesson on a fresh kernel, on a quiet machine and beside busy processes, and time it.

    python scripts/time_lessons.py                 # every lesson, quiet then with 2 busy processes
    python scripts/time_lessons.py 02 05           # only lessons 02 and 05
    python scripts/time_lessons.py --busy 4        # four busy processes beside the loaded runs

A lesson's asserts hold on a fast laptop and on a busy CI machine alike, or they are
not claims worth asserting. This script is how that is checked: each lesson runs top
to bottom twice on fresh kernels -- once with the machine as it is, once with
``timing.competing_work`` keeping ``--busy`` other processes on the cores (the
default, 2, is every core of a 2-core machine) -- and the table says how long each
took and whether every cell passed. The wall times are what an instructor plans with
(``INSTRUCTORS.md``): a learner reads and types for far longer than the cells run.

"Quiet" means only that this script adds no load; the machine's load average is
printed beside the table, so a reader can tell what else was running.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from cachelab.lab.timing import _MAX_COMPETING_SECONDS, competing_work, format_seconds

LESSONS = Path(__file__).resolve().parents[1] / "lessons"
CELL_TIMEOUT_S = 600


def run_lesson(path: Path) -> tuple[float, str]:
    """Execute one lesson on a fresh kernel: (wall seconds, "passed" or the first error's name)."""
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT_S,
        kernel_name="python3",
        resources={"metadata": {"path": str(LESSONS)}},
    )
    start = time.perf_counter()
    try:
        client.execute()
        outcome = "passed"
    except CellExecutionError as error:
        outcome = f"FAILED ({error.ename}: {str(error.evalue)[:80]})"
    return time.perf_counter() - start, outcome


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("only", nargs="*", help="lesson numbers to run, e.g. 02 05 (default: all)")
    parser.add_argument("--busy", type=int, default=2, help="busy processes beside the loaded run")
    args = parser.parse_args()

    lessons = sorted(LESSONS.glob("[0-9][0-9]_*.ipynb"))
    if args.only:
        lessons = [path for path in lessons if path.name[:2] in args.only]
        if not lessons:
            parser.error(f"no lesson numbered {' or '.join(args.only)} in {LESSONS}")
    os.environ.pop("REDIS_URL", None)  # each kernel starts its own server, as make lab does

    rows = []
    for path in lessons:
        quiet_s, quiet = run_lesson(path)
        print(f"{path.stem:<24} quiet   {format_seconds(quiet_s):>9}  {quiet}", flush=True)
        with competing_work(processes=args.busy, time_limit_s=_MAX_COMPETING_SECONDS):
            busy_s, busy = run_lesson(path)
        print(f"{path.stem:<24} busy    {format_seconds(busy_s):>9}  {busy}", flush=True)
        rows.append((path.stem, quiet_s, quiet, busy_s, busy))

    cores = os.cpu_count()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\n{cores} cores; load average now {load}; loaded runs beside {args.busy} busy ones")
    print(f"| lesson | quiet | with {args.busy} busy processes |")
    print("|---|---|---|")
    for name, quiet_s, quiet, busy_s, busy in rows:
        print(f"| {name} | {quiet_s:.0f} s, {quiet} | {busy_s:.0f} s, {busy} |")
    total_quiet = sum(row[1] for row in rows)
    total_busy = sum(row[3] for row in rows)
    print(f"| all | {total_quiet:.0f} s | {total_busy:.0f} s |")
    return 0 if all(row[2] == row[4] == "passed" for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
