"""``make test``: every test, in two phases, so the whole run fits in minutes on two cores.

Each phase runs independent suites side by side, in the background (their output kept in
``test-results/<name>.log`` and printed when they end) and one live:

- **Phase 1.** In the background, the **room** and **browser** tests (``-m "room or browser"``:
  ``tests/test_room.py``'s four learners, ``tests/test_hub.py``'s JupyterHub, the widgets and
  dashboards in Chromium), one after the other (beside each other and the library they load
  the two cores so much that the room's lessons miss their timing bounds); live, the
  **library** tests (everything else under ``tests/`` but the lessons).
- **Phase 2.** The **lessons**, each executed twice on fresh kernels: in the background, nbval
  on ``lessons/``; live, ``test_lessons_run_twice.py`` (each lesson with no shop yet) and then
  ``test_site.py``, which renders the course site from the run-twice test's runs. So each
  lesson runs beside at most one other lesson's kernel, and the whole suite's peak load stays
  near the two cores.

A lesson's asserts must hold on a busy machine (``scripts/time_lessons.py`` runs each beside
two busy processes, a heavier load than phase 2's): the room test runs the lessons that use
Redis for four learners at once, and the browser tests run the lessons that show widgets
(``LESSON_WIDGETS``), both in phase 1, on purpose. (A new test file that executes lessons
belongs in ``LESSON_TESTS`` below.)

The last line adds the four runs up, as pytest would: ``total: N passed, N failed,
N skipped``; the exit status is non-zero when any run failed.

    python scripts/test_all.py            # what make test runs
    python scripts/test_all.py -x         # options go to every pytest run
"""

from __future__ import annotations

import subprocess
import sys
import time
import xml.etree.ElementTree as ElementTree
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "test-results"
LESSON_TESTS = ["tests/test_lessons_run_twice.py", "tests/test_site.py"]
# test_site.py renders the course site from the runs test_lessons_run_twice.py keeps, so it
# comes after it in the same run (and executes the lessons itself, minutes, when run alone).
NOTEBOOKS = "lessons"  # nbval's run, beside them
BESIDE = "room or browser"  # run in the background in phase 1 (see the module's docstring)


def pytest(name: str, *args: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "pytest",
        f"--junitxml={RESULTS / f'junit-{name}.xml'}",
        *args,
    ]


def counts(name: str) -> dict[str, int]:
    """passed/failed/skipped of one run, from its JUnit XML (errors count as failed)."""
    path = RESULTS / f"junit-{name}.xml"
    if not path.exists():
        return {"passed": 0, "failed": 1, "skipped": 0}  # the run died before writing it
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for suite in ElementTree.parse(path).getroot().iter("testsuite"):
        for key in totals:
            totals[key] += int(suite.get(key, 0))
    failed = totals["failures"] + totals["errors"]
    return {
        "passed": totals["tests"] - failed - totals["skipped"],
        "failed": failed,
        "skipped": totals["skipped"],
    }


def side_by_side(
    background: dict[str, list[str]], live: str, live_args: list[str]
) -> dict[str, int]:
    """Run pytest suites at once: each of ``background`` into ``test-results/<name>.log``, one live.

    The background runs' logs are printed once all have ended; an interrupt stops them by id.
    """
    behind: dict[str, subprocess.Popen] = {}
    statuses: dict[str, int] = {}
    try:
        for name, args in background.items():
            with open(RESULTS / f"{name}.log", "w") as log:
                behind[name] = subprocess.Popen(
                    pytest(name, *args),
                    cwd=REPO,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                )
        statuses[live] = subprocess.run(pytest(live, *live_args), cwd=REPO).returncode
        for name, process in behind.items():
            statuses[name] = process.wait()
    finally:
        for process in behind.values():
            if process.poll() is None:  # interrupted: stop what was started, by its id
                process.terminate()
                process.wait()
    for name in background:
        log_path = RESULTS / f"{name}.log"
        print(f"\n== the {name} run (also in {log_path.relative_to(REPO)}):", flush=True)
        print(log_path.read_text(errors="replace"), flush=True)
    return statuses


def main(argv: list[str]) -> int:
    RESULTS.mkdir(exist_ok=True)
    started = time.monotonic()
    ignore_lessons = [f"--ignore={path}" for path in LESSON_TESTS]

    print("== phase 1: the room tests (in the background) beside the library tests", flush=True)
    statuses = side_by_side(
        {"room": ["tests", "-m", BESIDE, *ignore_lessons, *argv]},
        "library",
        # each test runs in exactly one of the two
        ["tests", "-m", f"not ({BESIDE})", *ignore_lessons, "--durations=10", *argv],
    )
    print("== phase 2: nbval (in the background) beside the run-twice and site tests", flush=True)
    statuses |= side_by_side(
        {"nbval": [NOTEBOOKS, "--durations=10", *argv]},
        "lessons",
        [*LESSON_TESTS, "--durations=10", *argv],
    )

    total = {"passed": 0, "failed": 0, "skipped": 0}
    for name in statuses:
        for key, value in counts(name).items():
            total[key] += value
    failed_runs = [name for name, status in statuses.items() if status != 0]
    print(
        f"\nmake test: {time.monotonic() - started:.0f} s"
        + (f"; FAILED: the {', '.join(failed_runs)} run(s)" if failed_runs else "")
    )
    print(f"total: {total['passed']} passed, {total['failed']} failed, {total['skipped']} skipped")
    return 1 if failed_runs else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
