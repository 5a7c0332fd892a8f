"""scripts/dry_run.py: the stopwatch an instructor times a taught lesson with, against the plan."""

from __future__ import annotations

import re
from pathlib import Path

from support import load_module

REPO = Path(__file__).resolve().parents[1]
dry_run = load_module("dry_run", REPO / "scripts" / "dry_run.py")


def test_a_lesson_is_timed_by_its_own_headings():
    lesson = REPO / "lessons" / "05_stale_reads.ipynb"
    steps = dry_run.sections(lesson)
    assert steps[0].startswith("05 · ") and "Key points" in steps and steps[-1] == "References"


def test_each_section_gets_the_minutes_until_the_next_enter():
    lesson = REPO / "lessons" / "00_setup_check.ipynb"
    moments = iter(60.0 * minute for minute in range(100))  # one press a minute
    timed = dry_run.time_lesson(lesson, ask=lambda prompt: None, clock=lambda: next(moments))
    assert [step for step, _ in timed] == dry_run.sections(lesson)
    assert all(minutes == 1.0 for _, minutes in timed)


def test_the_report_puts_each_run_beside_the_plan(tmp_path):
    (tmp_path / "2026-12-08-0900.csv").write_text(
        "lesson,section,minutes\n03,A,30\n03,B,25.5\n04,A,33\n", encoding="utf-8"
    )
    table = dry_run.report(tmp_path)
    assert "| 03 | 40 | 56 |" in table and "| 04 | 33 | 33 |" in table


def test_the_plan_minutes_are_instructors_md_s():
    """One plan: the script's minutes per lesson must be the totals of INSTRUCTORS.md's table."""
    text = (REPO / "INSTRUCTORS.md").read_text(encoding="utf-8")
    planned = {
        number: int(total)
        for number, total in re.findall(
            r"^\| \d:\d\d \| [^|]*?\[(\d\d) · [^|]*\|[^|]*\|[^|]*\|[^|]*\| (\d+) \|$", text, re.M
        )
    }
    assert planned == dry_run.PLAN_MIN
