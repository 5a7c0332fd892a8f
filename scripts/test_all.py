"""``make test``: every test, in two phases, so the whole run fits in minutes on two cores.

Phase 1 runs two independent suites side by side:

- the **room** and **browser** tests (``-m "room or browser"``: ``tests/test_room.py``'s
  four learners, ``tests/test_hub.py``'s JupyterHub, the widgets in Chromium), which
  mostly wait on the kernels, servers and browsers they start, with their output kept
  in ``test-results/room.log`` and printed when they end;
- the **library** tests (everything else under ``tests/`` except the lessons), live.

Phase 2 runs the **lessons** alone: nbval on ``lessons/`` and ``test_lessons_run_twice.py``,
which execute every lesson once each, with nothing else beside them, so the whole suite's
peak load stays near the two cores. A lesson's asserts must hold on a busy machine too
(``scripts/time_lessons.py`` runs each beside busy processes): the room test runs the
lessons that use Redis for four learners at once, and the browser tests run the lessons
that show widgets (``LESSON_WIDGETS``), both in phase 1, on purpose. (A new test file
that executes lessons belongs in ``LESSON_TESTS`` below.)

The last line adds the three runs up, as pytest would: ``total: N passed, N failed,
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
LESSON_TESTS = ["tests/test_lessons_run_twice.py", "lessons"]
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


def main(argv: list[str]) -> int:
    RESULTS.mkdir(exist_ok=True)
    started = time.monotonic()
    ignore_lessons = [f"--ignore={path}" for path in LESSON_TESTS if path.startswith("tests/")]

    print("== phase 1: the room tests (in the background) beside the library tests", flush=True)
    room_log = RESULTS / "room.log"
    with open(room_log, "w") as log:
        room = subprocess.Popen(
            pytest("room", "tests", "-m", BESIDE, *ignore_lessons, *argv),
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        try:
            library = subprocess.run(
                pytest(
                    "library",
                    "tests",
                    "-m",
                    f"not ({BESIDE})",  # each test runs in exactly one of the two
                    *ignore_lessons,
                    "--durations=10",
                    *argv,
                ),
                cwd=REPO,
            ).returncode
            room_status = room.wait()
        finally:
            if room.poll() is None:  # interrupted: stop what was started, by its id
                room.terminate()
                room.wait()
    print(f"\n== the room tests (also in {room_log.relative_to(REPO)}):", flush=True)
    print(room_log.read_text(errors="replace"), flush=True)

    print("== phase 2: the lessons, alone (they assert timing ratios)", flush=True)
    lessons = subprocess.run(pytest("lessons", *LESSON_TESTS, "--durations=10", *argv), cwd=REPO)

    total = {"passed": 0, "failed": 0, "skipped": 0}
    for name in ("library", "room", "lessons"):
        for key, value in counts(name).items():
            total[key] += value
    statuses = {"library": library, "room": room_status, "lessons": lessons.returncode}
    failed_runs = [name for name, status in statuses.items() if status != 0]
    print(
        f"\nmake test: {time.monotonic() - started:.0f} s"
        + (f"; FAILED: the {', '.join(failed_runs)} run(s)" if failed_runs else "")
    )
    print(f"total: {total['passed']} passed, {total['failed']} failed, {total['skipped']} skipped")
    return 1 if failed_runs else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
