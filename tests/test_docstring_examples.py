"""The examples in the library's docstrings are true: a learner reads them as documentation."""

import doctest
import importlib
import pkgutil

import pytest

import cachelab
import cachelab.checks

MODULES = sorted(info.name for info in pkgutil.walk_packages(cachelab.__path__, prefix="cachelab."))

MODULES_WITHOUT_EXAMPLES = {
    "cachelab",  # the package: its docstring is the map of the library
    # the folders: each docstring lists the folder's modules, which show examples
    "cachelab.shop",
    "cachelab.lab",
    "cachelab.show",
    "cachelab.environment",
    "cachelab._internal",
    "cachelab._internal.watchdog",  # runs beside a server process; its test starts one
    "cachelab.web.__main__",  # two lines that call cachelab.web._server.main, which has examples
    # one lesson's exercise checks each: run against the reference solutions and wrong answers
    # in tests/test_checks_<slug>.py, and shown in use by every lesson's exercises
    *(f"cachelab.checks.{name}" for name in cachelab.checks._LESSON_MODULES.values()),
}
"""Modules whose docstrings hold no examples, on purpose. Every other module shows one."""


@pytest.mark.parametrize("module_name", MODULES)
def test_the_docstring_examples_of_each_module_run_as_written(module_name):
    module = importlib.import_module(module_name)
    finder = doctest.DocTestFinder()
    examples = sum(len(test.examples) for test in finder.find(module))
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0, f"{result.failed} example(s) in {module_name} give other output"
    if module_name not in MODULES_WITHOUT_EXAMPLES:
        assert examples > 0, f"{module_name} shows no example in its docstrings: add one"


def test_no_example_is_skipped():
    """An example marked +SKIP is never run, so nothing says it is still true: run it or drop it."""
    for name in MODULES:
        for test in doctest.DocTestFinder().find(importlib.import_module(name)):
            for example in test.examples:
                assert doctest.SKIP not in example.options, f"{test.name}: {example.source.strip()}"
