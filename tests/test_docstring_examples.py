"""The examples in the library's docstrings are true: a learner reads them as documentation."""

import doctest
import importlib
import pkgutil

import pytest

import cachelab

MODULES = sorted(info.name for info in pkgutil.walk_packages(cachelab.__path__, prefix="cachelab."))


@pytest.mark.parametrize("module_name", MODULES)
def test_the_docstring_examples_of_each_module_run_as_written(module_name):
    module = importlib.import_module(module_name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0, f"{result.failed} docstring example(s) in {module_name} give other output"


def test_the_library_has_docstring_examples_at_all():
    attempted = sum(doctest.testmod(importlib.import_module(name)).attempted for name in MODULES)
    assert attempted >= 10
