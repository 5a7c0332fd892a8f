"""pytest's view of the lessons: every notebook runs against a Redis that also holds other people's
data.

nbval executes each lesson here. Before the first one starts, a private
``redis-server`` is filled with 10,000 keys that are not the course's (every type,
some with TTLs, look-alikes of the course prefix: ``tests/reliability/foreign_data.py``)
and ``REDIS_URL`` points every lesson's kernel at it -- as on a learner's own server,
or a room's shared one. After the last lesson a final test item resets the room
(``python -m cachelab.environment.reset --all-learners``) and checks that every one of those keys
is still there, unchanged, TTLs included, and that nothing was written outside the
course prefix. (``tests/test_lessons.py`` runs every lesson twice more, on the small shop
and on one CPU, each with a private server of its own, the way ``make lab`` does without
REDIS_URL.)
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Optional

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "reliability"))

from foreign_data import Planted, changes, plant  # noqa: E402

from cachelab.environment import reset  # noqa: E402
from cachelab.environment.redis_server import PrivateRedisServer  # noqa: E402

_server: Optional[PrivateRedisServer] = None
_planted: Optional[Planted] = None
_lessons_ran = 0


def _is_lesson_cell(item: pytest.Item) -> bool:
    return item.path.suffix == ".ipynb"


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Before the first lesson's kernel starts: the shared server, planted, and REDIS_URL set."""
    global _server, _planted, _lessons_ran
    if not _is_lesson_cell(item):
        return
    _lessons_ran += 1
    if _server is None:
        _server = PrivateRedisServer().start()
        _planted = plant(_server.client())
        os.environ["REDIS_URL"] = _server.url


class ForeignDataSurvived(pytest.Item):
    """The last item of a run that executed lessons: the foreign keys are exactly as planted."""

    def runtest(self) -> None:
        assert _server is not None and _planted is not None, (
            "no lesson ran against the planted server"
        )
        client = _server.client()
        after_lessons = changes(client, _planted)
        assert after_lessons == [], (
            f"the lessons touched keys that are not theirs: {after_lessons[:5]}"
        )
        assert reset.main(["--all-learners", "--redis-only", "--url", _server.url]) == 0
        after_reset = changes(client, _planted)
        assert after_reset == [], (
            f"the reset touched keys that are not the course's: {after_reset[:5]}"
        )
        left = [key for key in client.scan_iter(match="cachelab:*") if key.count(":") >= 2]
        assert left == [], f"the reset left course keys behind: {left[:5]}"

    def reportinfo(self):
        return self.path, None, "foreign keys untouched by every lesson and by the room's reset"


def _keep_with_the_lessons(item: pytest.Item) -> None:
    """Mark ``item`` a lesson's, and keep it on the worker that runs every lesson cell under
    pytest-xdist (``--dist loadgroup``): the cells of a notebook share one kernel, in order, and
    the final check needs the planted server that worker started."""
    item.add_marker(pytest.mark.lesson)
    item.add_marker(pytest.mark.xdist_group("nbval"))


def pytest_itemcollected(item: pytest.Item) -> None:
    # Marked as each cell is collected: xdist reads the marks in its own collection hook.
    if _is_lesson_cell(item):
        _keep_with_the_lessons(item)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(session: pytest.Session, config, items: list) -> None:
    """After the last lesson cell, the check that every foreign key survived."""
    if not any(_is_lesson_cell(item) for item in items):
        return
    survived = ForeignDataSurvived.from_parent(session, name="lessons: foreign keys survived")
    _keep_with_the_lessons(survived)
    items.append(survived)


def pytest_sessionfinish(session, exitstatus) -> None:
    if _server is not None:
        _server.stop()
