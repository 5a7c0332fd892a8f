"""A stopwatch for a dry run of the workshop: the 3-hour plan's lessons as *taught*, by section.

    python scripts/dry_run.py                  # every lesson of the 3-hour plan (00-05, 07)
    python scripts/dry_run.py 03 04            # only lessons 03 and 04
    python scripts/dry_run.py --report runs/   # the plan's minutes beside every run recorded

``scripts/time_lessons.py`` times the cells; a room spends its time elsewhere: reading aloud,
typing, predicting, answering questions, helping a pair. So the instructor (or better, someone
who did not write the lesson) teaches each lesson to a colleague or an empty room, and presses
Enter when each section begins. The sections are the lesson's own headings (``#`` and ``##``),
read from the notebook. At the end the script prints each lesson's minutes against the plan in
``INSTRUCTORS.md`` and writes them, one CSV per run, to ``dry-runs/`` (or ``--out``):
``lesson,section,minutes``. Record who taught, and put the minutes in ``INSTRUCTORS.md``.
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LESSONS = REPO / "lessons"

PLAN_MIN = {"00": 15, "01": 15, "02": 10, "03": 40, "04": 33, "05": 20, "07": 3}
"""The room minutes of each lesson in INSTRUCTORS.md's 3-hour plan (teaching and hands-on)."""


def sections(lesson: Path) -> list[str]:
    """The lesson's ``#`` and ``##`` headings, in order: the steps a dry run times."""
    notebook = json.loads(lesson.read_text(encoding="utf-8"))
    headings = []
    for cell in notebook["cells"]:
        if cell["cell_type"] != "markdown":
            continue
        for line in "".join(cell["source"]).splitlines():
            if line.startswith("# ") or line.startswith("## "):
                headings.append(line.lstrip("#").strip())
    return headings


def time_lesson(lesson: Path, ask=input, clock=time.monotonic) -> list[tuple[str, float]]:
    """Ask for Enter at the start of each section and once at the end; minutes per section."""
    steps = sections(lesson)
    ask(f"\n{lesson.stem}: press Enter when you start teaching it ")
    started = clock()
    minutes = []
    for index, step in enumerate(steps):
        following = steps[index + 1] if index + 1 < len(steps) else "the end of the lesson"
        ask(f"  teaching '{step}' -- press Enter when you reach {following!r} ")
        now = clock()
        minutes.append((step, (now - started) / 60))
        started = now
    return minutes


def report(folder: Path) -> str:
    """Each recorded run's minutes per lesson beside the plan's, as a Markdown table."""
    runs = sorted(folder.glob("*.csv"))
    if not runs:
        return f"no runs recorded in {folder}"
    lines = ["| lesson | plan | " + " | ".join(run.stem for run in runs) + " |"]
    lines.append("|---" * (len(runs) + 2) + "|")
    totals = []
    for run in runs:
        with open(run, newline="", encoding="utf-8") as file:
            per_lesson: dict[str, float] = {}
            for row in csv.DictReader(file):
                per_lesson[row["lesson"]] = per_lesson.get(row["lesson"], 0) + float(row["minutes"])
        totals.append(per_lesson)
    for lesson, planned in PLAN_MIN.items():
        cells = [f"{run[lesson]:.0f}" if lesson in run else "" for run in totals]
        lines.append(f"| {lesson} | {planned} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lessons", nargs="*", help="lesson numbers (default: the plan's)")
    parser.add_argument("--out", type=Path, default=REPO / "dry-runs", help="folder for the CSV")
    parser.add_argument("--report", type=Path, help="print the recorded runs in a folder and stop")
    args = parser.parse_args(argv)
    if args.report:
        print(report(args.report))
        return 0
    wanted = args.lessons or list(PLAN_MIN)
    unknown = [number for number in wanted if number not in PLAN_MIN]
    if unknown:
        parser.error(f"lessons of the 3-hour plan are {', '.join(PLAN_MIN)}; got {unknown}")
    rows = []
    for number in wanted:
        (lesson,) = LESSONS.glob(f"{number}_*.ipynb")
        for step, minutes in time_lesson(lesson):
            rows.append({"lesson": number, "section": step, "minutes": round(minutes, 2)})
        taught = sum(row["minutes"] for row in rows if row["lesson"] == number)
        print(f"{lesson.stem}: {taught:.0f} min taught, {PLAN_MIN[number]} planned")
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"{datetime.now():%Y-%m-%d-%H%M}.csv"
    with open(path, "w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fieldnames=["lesson", "section", "minutes"])
        writer.writeheader()
        writer.writerows(rows)
    print(f"recorded in {path.relative_to(REPO) if path.is_relative_to(REPO) else path}")
    print(report(args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
