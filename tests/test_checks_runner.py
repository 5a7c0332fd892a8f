"""``checks.run`` and ``checks.hint``: a verdict per property, and hints asked for -- one level at a
time.

The hints belong to the property that failed, not to how many times the learner
failed: fixing one property and failing another starts the other's hints from the
first. These tests drive real checks (lesson 03's) with plausible wrong answers.
"""

from __future__ import annotations

import ast
import importlib
import re
import time
from collections import OrderedDict
from pathlib import Path

import pytest
from support import load_solutions

from cachelab import checks
from cachelab.checks import ExerciseNotPassed
from cachelab.checks.memory_cache import _HINTS, check_cache_contract, check_lru_eviction

solutions = load_solutions("03_memory_cache")
ROOT = Path(__file__).resolve().parents[1]


class FirstInFirstOut:
    """An LRU cache whose get forgets to refresh recency (fails 03.2 on "recency")."""

    def __init__(self, max_entries):
        self.max_entries, self.entries = max_entries, OrderedDict()

    def get(self, key, default=None):
        return self.entries.get(key, default)

    def set(self, key, value):
        self.entries[key] = value
        self.entries.move_to_end(key)
        while len(self.entries) > self.max_entries:
            self.entries.popitem(last=False)

    def delete(self, key):
        self.entries.pop(key, None)


class HoldsOneTooMany(FirstInFirstOut):
    """Right recency, wrong bound (fails 03.2 on "bound")."""

    def get(self, key, default=None):
        if key in self.entries:
            self.entries.move_to_end(key)
        return self.entries.get(key, default)

    def set(self, key, value):
        self.entries[key] = value
        self.entries.move_to_end(key)
        while len(self.entries) > self.max_entries + 1:
            self.entries.popitem(last=False)


def fail(check, answer, capsys) -> str:
    with pytest.raises(ExerciseNotPassed):
        checks.run(check, answer)
    return capsys.readouterr().out


def ask(exercise: str, capsys) -> str:
    checks.hint(exercise)
    return capsys.readouterr().out


def test_a_failed_check_prints_the_property_and_how_to_ask_for_a_hint_but_no_hint(capsys):
    out = fail(check_lru_eviction, FirstInFirstOut, capsys)
    assert out.startswith("❌ 03.2 · lru eviction: a get makes an entry the most recently used")
    assert 'checks.hint("03.2")' in out or "checks.hint('03.2')" in out
    assert not any(text in out for text in _HINTS["03.2"]["recency"]), (
        "no hint is shown before it is asked for"
    )


def test_hints_come_one_level_at_a_time_and_stay_at_the_last(capsys):
    fail(check_lru_eviction, FirstInFirstOut, capsys)
    levels = _HINTS["03.2"]["recency"]
    shown = [ask("03.2", capsys) for _ in range(len(levels) + 2)]
    for number, (out, text) in enumerate(zip(shown, levels), start=1):
        assert text in out and f"hint {number} of {len(levels)}" in out
    assert levels[-1] in shown[-1] and levels[-1] in shown[-2], (
        "asking past the last level repeats the last"
    )
    assert "lessons/solutions/03_" in shown[-1]


def test_a_hint_is_about_the_property_that_failed_not_the_number_of_failures(capsys):
    fail(check_lru_eviction, FirstInFirstOut, capsys)
    assert _HINTS["03.2"]["recency"][0] in ask("03.2", capsys)
    fail(check_lru_eviction, HoldsOneTooMany, capsys)  # recency fixed, now the bound is wrong
    out = ask("03.2", capsys)
    assert _HINTS["03.2"]["bound"][0] in out and "hint 1 of" in out, (
        "another property starts at its first hint"
    )


def test_failing_the_same_property_again_continues_where_its_hints_were(capsys):
    fail(check_lru_eviction, FirstInFirstOut, capsys)
    ask("03.2", capsys)
    fail(check_lru_eviction, FirstInFirstOut, capsys)
    assert _HINTS["03.2"]["recency"][1] in ask("03.2", capsys)


def test_hints_of_one_exercise_do_not_move_another_exercises_hints(capsys):
    fail(check_lru_eviction, FirstInFirstOut, capsys)
    fail(
        check_cache_contract, lambda ttl, clock: FirstInFirstOut(3), capsys
    )  # a cache with no TTL at all
    ask("03.1", capsys)
    assert _HINTS["03.2"]["recency"][0] in ask("03.2", capsys)


def test_asking_before_running_the_check_says_to_run_it(capsys):
    out = ask("03.2", capsys)
    assert "run its check cell first" in out
    assert not any(text in out for levels in _HINTS["03.2"].values() for text in levels)


def test_after_a_pass_there_is_no_hint_to_give(capsys):
    fail(check_lru_eviction, FirstInFirstOut, capsys)
    checks.run(check_lru_eviction, solutions.LRUCache)
    assert capsys.readouterr().out.startswith("✅ 03.2")
    assert "passes" in ask("03.2", capsys)


@pytest.mark.parametrize("exercise", ["03.9", "42.1", "three"])
def test_asking_for_an_unknown_exercise_is_a_clear_error(exercise):
    with pytest.raises(ValueError, match="exercise"):
        checks.hint(exercise)


def test_a_check_cell_may_name_its_exercise_instead_of_its_check(capsys):
    checks.run("03.2", solutions.LRUCache)
    assert capsys.readouterr().out.startswith("✅ 03.2 · lru eviction")
    with pytest.raises(ExerciseNotPassed):
        checks.run("03.2", FirstInFirstOut)
    assert "❌ 03.2" in capsys.readouterr().out


@pytest.mark.parametrize("exercise", ["03.9", "42.1", "three"])
def test_running_an_unknown_exercise_is_a_clear_error(exercise):
    with pytest.raises(ValueError, match="exercise"):
        checks.run(exercise, solutions.LRUCache)


def test_every_lessons_check_cell_names_an_exercise_of_that_lesson():
    """Lessons call checks.run("NN.k", answer): the id must be one of lesson NN's exercises."""
    every_call = []
    for path in sorted((ROOT / "lessons").glob("*.ipynb")):
        calls = re.findall(r'checks\.run\(\\"(\d\d\.\d)\\"', path.read_text(encoding="utf-8"))
        for exercise in calls:
            assert exercise.startswith(path.name[:2] + "."), f"{path.name} runs {exercise}"
            assert checks._check_of(exercise)
        every_call += calls
    all_exercises = [
        exercise
        for name in checks._LESSON_MODULES.values()
        for exercise in importlib.import_module(f"cachelab.checks.{name}")._EXERCISES
    ]
    assert sorted(every_call) == sorted(all_exercises), "each exercise is checked once, by its id"


def test_an_unattempted_stub_reads_as_not_attempted_and_does_not_stop_run_all(capsys):
    class Stub:
        def __init__(self, ttl, clock=time.monotonic):
            raise NotImplementedError

    checks.run(check_cache_contract, Stub)
    assert capsys.readouterr().out.startswith("⏳ 03.1")


def test_a_failure_stops_run_all_with_one_short_line_instead_of_a_traceback(capsys):
    with pytest.raises(ExerciseNotPassed) as stopped:
        checks.run(check_lru_eviction, FirstInFirstOut)
    lines = stopped.value._render_traceback_()
    assert lines == ["⛔ exercise 03.2 does not pass yet (see the ❌ above)"]
    assert stopped.value.__cause__ is None and stopped.value.__suppress_context__, (
        "no chained traceback"
    )


def test_every_exercise_of_every_lesson_has_hints_of_one_or_more_levels():
    for lesson, name in checks._LESSON_MODULES.items():
        module = importlib.import_module(f"cachelab.checks.{name}")
        assert set(module._EXERCISES) == set(module._HINTS), name
        for exercise, topics in module._HINTS.items():
            assert exercise.startswith(lesson + "."), exercise
            assert topics and all(len(levels) >= 1 and all(levels) for levels in topics.values()), (
                exercise
            )


def _reference_names_and_lines(lesson: str) -> tuple[set[str], set[str]]:
    """The names a lesson's reference solution binds that its notebook never shows (its locals
    and ``self.`` attributes), and its code lines, whitespace squeezed: what a learner's own
    answer need not have.
    """
    (solution,) = (ROOT / "lessons" / "solutions").glob(f"{lesson}_*.py")
    (notebook,) = (ROOT / "lessons").glob(f"{lesson}_*.ipynb")
    shown = set(re.findall(r"\w+", notebook.read_text()))
    source = solution.read_text()
    bound = {
        node.id if isinstance(node, ast.Name) else node.attr
        for node in ast.walk(ast.parse(source))
        if isinstance(node, (ast.Name, ast.Attribute)) and isinstance(node.ctx, ast.Store)
    }
    lines = {" ".join(line.split()) for line in source.splitlines()}
    code = {line for line in lines if len(line) >= 20 and not line.startswith(("#", '"'))}
    return bound - shown, code


def test_no_hint_names_the_reference_solutions_insides_or_ends_in_its_code():
    """A learner wrote their own class and names: a hint speaks of "your dict of entries", never
    ``self.entries.move_to_end`` or ``known[index + 1]``; and each property's hints climb at least
    two levels to a nudge, not to a line of the answer (the solution file is where that is).
    """
    problems = []
    for lesson, name in checks._LESSON_MODULES.items():
        private, code = _reference_names_and_lines(lesson)
        names = "|".join(map(re.escape, private)) or "(?!)"
        used_as_code = re.compile(rf"\b({names})(?:\[|\(|\.\w)")  # known[i], f(, x.y
        module = importlib.import_module(f"cachelab.checks.{name}")
        for exercise, topics in module._HINTS.items():
            for topic, levels in topics.items():
                if len(levels) < 2:
                    problems.append(f"{exercise} {topic}: one level is no path")
                for text in levels:
                    squeezed = " ".join(text.split())
                    if "self." in text:
                        problems.append(f"{exercise} {topic}: names an attribute: {text!r}")
                    if found := used_as_code.search(text):
                        problems.append(f"{exercise} {topic}: uses the reference's {found[1]!r}")
                    if line := next((line for line in code if line in squeezed), None):
                        problems.append(f"{exercise} {topic}: gives the reference's {line!r}")
    assert not problems, "\n".join(problems)
