"""Every example in rrlib's docstrings runs and prints what it shows (doctest, default options: exact output), one
test per module that has examples, so that a failure names its module. The API reference (``book/api/``) shows
these examples; here they are checked."""

from __future__ import annotations

import doctest
import importlib
import importlib.util
import pkgutil

import pytest

import rrlib

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def modules_with_examples() -> list[str]:
    """Every rrlib module whose source holds a ``>>>`` prompt (found without importing the modules)."""
    names = ["rrlib", *(info.name for info in pkgutil.walk_packages(rrlib.__path__, "rrlib."))]
    found = []
    for name in names:
        origin = importlib.util.find_spec(name).origin
        if origin and origin.endswith(".py") and ">>>" in open(origin, encoding="utf-8").read():
            found.append(name)
    return found


MODULES = modules_with_examples()


def test_the_examples_are_found():
    assert len(MODULES) >= 40 and "rrlib.mi.bounds" in MODULES and "rrlib.own_model" in MODULES


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    report: list[str] = []
    runner = doctest.DocTestRunner(verbose=False)
    for test in doctest.DocTestFinder().find(module):
        runner.run(test, out=report.append)
    result = runner.summarize(verbose=False)
    # a ">>>" that doctest does not find (outside a docstring of this module's own objects) is an example nobody runs
    assert result.attempted > 0, f"{name} has '>>>' but no example doctest finds"
    assert result.failed == 0, "".join(report)
