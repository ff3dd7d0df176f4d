"""Shared fixtures. Chapters are executed at most once per test session, in the quick profile — also when
pytest-xdist's workers share the session (``make test`` runs ``pytest -n auto``): the first worker that needs a
chapter executes it, the others wait for it and read its results."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("RRBOOK_NO_PROGRESS", "1")


def pytest_configure(config) -> None:
    """In each of n xdist workers, torch (and every chapter kernel and subprocess, through ``RRBOOK_THREADS``) uses
    cores/n threads, so that the workers share the cores instead of oversubscribing them."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if os.environ.get("PYTEST_XDIST_WORKER") and workers > 1:
        threads = os.environ.setdefault("RRBOOK_THREADS", str(max(1, (os.cpu_count() or 1) // workers)))
        import torch

        torch.set_num_threads(int(threads))


#: The xdist group of the layout test, which renders every chapter.
LAYOUT_GROUP = "book_layout"
#: The chapter that reads every other chapter's metrics.
REPORT_CHAPTER = "10_reproduction_report"
#: Module-scoped fixtures too cheap to keep a module's tests on one worker (``module.py::name``, or a conftest
#: fixture's name): the full-profile smoke module writes a few small files and then runs seven long tests, which
#: spread over the workers.
CHEAP_MODULE_FIXTURES = {"one_torch_thread", "test_full_profile_smoke.py::data_root"}


def _chapter_group(item) -> str | None:
    """The chapter whose executed copy ``item`` reads (its module's ``CHAPTER``, or its ``name`` parameter), the
    layout test's group for a test of the whole book, or ``None`` for a test that executes no chapter."""
    if "chapter_metrics" not in item.fixturenames:
        return None
    if getattr(item.module, "CHAPTER", None):
        return item.module.CHAPTER
    name = getattr(getattr(item, "callspec", None), "params", {}).get("name")
    return name if isinstance(name, str) else LAYOUT_GROUP


def _module_group(item) -> str | None:
    """``item``'s module when the test uses a module-scoped fixture (one that trains or runs something for the
    module's tests), so that one worker runs it once instead of every worker that gets one of its tests."""
    defs = getattr(getattr(item, "_fixtureinfo", None), "name2fixturedefs", {})
    module = item.nodeid.split("::")[0]
    for name in item.fixturenames:
        if name not in defs or {name, f"{Path(module).name}::{name}"} & CHEAP_MODULE_FIXTURES:
            continue
        if defs[name][-1].scope == "module":
            return module
    return None


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items) -> None:
    """Under ``pytest -n N --dist loadgroup --no-loadscope-reorder`` (``make test``) each chapter's tests go to one
    worker (so it alone executes that chapter), the longest chapters first; then the modules whose module-scoped
    fixtures train something (one worker each, so the fixture runs once); then the other tests marked slow; then
    the report (which reads every other chapter) and the layout test (which renders them all); then the many small
    tests, which fill the workers to the end. The order only decides which worker runs what; every test runs the
    same way."""
    from rrlib.book import QUICK_SECONDS_GUESS

    def rank(item) -> tuple:
        group = _chapter_group(item)
        if group is not None:
            item.add_marker(pytest.mark.xdist_group(group))
            if group == REPORT_CHAPTER:
                return (3, 0.0, group)
            if group == LAYOUT_GROUP:
                return (4, 0.0, group)
            return (0, -QUICK_SECONDS_GUESS.get(group, 0.0), group)
        module = _module_group(item)
        if module is not None:
            item.add_marker(pytest.mark.xdist_group(module))
            return (1, 0.0, "")
        return (2, 0.0, "") if item.get_closest_marker("slow") else (5, 0.0, "")

    items[:] = sorted(items, key=rank)  # stable: collection order within a rank


@pytest.fixture(scope="module")
def one_torch_thread():
    """One intra-op thread for a module (``pytestmark = pytest.mark.usefixtures("one_torch_thread")``): tiny
    convolutions gain nothing from more, and lose a lot on a busy machine."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_fmnist_root(tmp_path_factory) -> Path:
    """A Fashion-MNIST folder in the true on-disk format: 64 training and 32 test images (read-only to tests)."""
    from _tiny_fmnist import write_fmnist

    return write_fmnist(tmp_path_factory.mktemp("fmnist"), 64, 32)


@pytest.fixture(scope="session")
def chapters_workdir(tmp_path_factory) -> Path:
    """Where :func:`chapter_metrics` writes the session's executed chapters (``executed/``) and metrics
    (``metrics/``); the layout test renders the book from ``executed/``. One folder for all xdist workers of the
    session (their common base temp folder), else the session's own."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = tmp_path_factory.getbasetemp().parent / "chapters"
        shared.mkdir(exist_ok=True)
        return shared
    return tmp_path_factory.mktemp("chapters")


@pytest.fixture(scope="session")
def chapter_metrics(chapters_workdir: Path):
    """``chapter_metrics("NN_name")`` executes that chapter once (quick profile) and returns its recorded metrics.

    Across xdist workers a lock file per chapter makes one worker execute it while the others wait; a chapter that
    failed is not executed again: the others raise its recorded failure."""
    from filelock import FileLock

    from rrlib.book import ChapterFailed, load_metrics, run_chapters

    workdir = chapters_workdir
    cache: dict[str, dict] = {}

    def get(name: str) -> dict:
        if name not in cache:
            done, failed = workdir / f"{name}.done", workdir / f"{name}.failed"
            with FileLock(str(workdir / f"{name}.lock")):
                if failed.exists():
                    raise ChapterFailed(failed.read_text())
                if not done.exists():
                    try:
                        run_chapters("quick", only=[name], seed=0, device="cpu", output_dir=workdir / "executed",
                                     metrics_directory=workdir / "metrics")
                    except ChapterFailed as error:
                        failed.write_text(str(error))
                        raise
                    done.touch()
            cache[name] = load_metrics(name, workdir / "metrics")
        return cache[name]

    return get


def _assert_plain(value, where: str = "metrics") -> None:
    """``value`` is plain JSON: dicts with string keys, lists, str, bool, int, finite float or None (no numpy)."""
    import math

    if isinstance(value, dict):
        for key, item in value.items():
            assert type(key) is str, f"{where}: key {key!r} is not a str"
            _assert_plain(item, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _assert_plain(item, f"{where}[{index}]")
    else:
        assert value is None or type(value) in (str, bool, int, float), f"{where} = {value!r} ({type(value)})"
        assert not (type(value) is float and not math.isfinite(value)), f"{where} = {value!r} is not finite"


@pytest.fixture
def assert_plain():
    """A checker: ``assert_plain(metrics)`` fails on anything that is not plain, finite JSON."""
    return _assert_plain
