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


#: Test files that read every chapter, run after the chapters' own files, in this order (the report executes
#: chapter 10 from the others' metrics; the prose test reads all of them; the layout and API-reference tests read the
#: rendered book, :func:`built_book`).
WHOLE_BOOK_FILES = ("test_chapter_10_reproduction_report.py", "test_notebooks.py", "test_layout.py",
                    "test_api_reference.py")
#: Module-scoped fixtures too cheap to make their file a long unit of work (``file.py::name``, or a conftest
#: fixture's name).
CHEAP_MODULE_FIXTURES = {"one_torch_thread", "test_full_profile_smoke.py::data_root"}


def _file_rank(items) -> tuple:
    """Where a test file goes in the run: chapters (longest first), other files with slow tests, files whose
    module-scoped fixtures train something, the whole-book files, then the rest."""
    from rrlib.book import QUICK_SECONDS_GUESS

    module, name = items[0].module, Path(str(items[0].fspath)).name
    if name in WHOLE_BOOK_FILES:
        return (3, WHOLE_BOOK_FILES.index(name))
    if getattr(module, "CHAPTER", None):
        return (0, -QUICK_SECONDS_GUESS.get(module.CHAPTER, 0.0))
    if any(item.get_closest_marker("slow") for item in items):
        return (1, 0)
    for item in items:
        defs = getattr(getattr(item, "_fixtureinfo", None), "name2fixturedefs", {})
        if any(fixture in defs and defs[fixture][-1].scope == "module"
               and not {fixture, f"{name}::{fixture}"} & CHEAP_MODULE_FIXTURES for fixture in item.fixturenames):
            return (2, 0)
    return (4, 0)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items) -> None:
    """Order the test files for ``pytest -n N --dist loadfile --no-loadscope-reorder`` (``make test``), where a
    worker takes a whole file at a time in this order: each chapter's file first, the longest chapters first (the
    worker that takes it executes that chapter, once for the session); then other files with slow tests; then the
    files whose module-scoped fixtures train something (run once, by one worker); then the files that read every
    chapter (by then executed); then the many small files, which fill the workers to the end. The order only
    decides which worker runs what and when; every test runs the same way, and a file keeps its own order."""
    files: dict[str, list] = {}
    for item in items:
        files.setdefault(str(item.fspath), []).append(item)
    rank = {path: _file_rank(group) for path, group in files.items()}
    position = {path: index for index, path in enumerate(files)}
    items[:] = sorted(items, key=lambda item: (rank[str(item.fspath)], position[str(item.fspath)]))


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


@pytest.fixture(scope="session")
def built_book(chapter_metrics, chapters_workdir: Path) -> Path:
    """The whole book rendered once per test session, also when xdist's workers share the session (a lock file; a
    failed build is not repeated: the others raise its recorded failure), and its ``_build/html``.

    Its pages are the book's own: every chapter executed by this session in the quick profile (:func:`chapter_metrics`,
    which executes only the ones no earlier test has) and ``book/``, rendered with Jupyter Book exactly as ``python -m
    rrlib.book build`` renders them, into the session's folder, never into the clone's ``_build``."""
    from filelock import FileLock

    from rrlib.book import REPO_ROOT, build_book, chapters

    for name in chapters():
        chapter_metrics(name)
    root = chapters_workdir / "book"
    done, failed = chapters_workdir / "book.done", chapters_workdir / "book.failed"
    with FileLock(str(chapters_workdir / "book.lock")):
        if failed.exists():
            raise RuntimeError(failed.read_text())
        if not done.exists():
            # a book root whose sources are the repository's and whose executed chapters are this session's
            (root / "_build").mkdir(parents=True, exist_ok=True)
            for name in ("_config.yml", "_toc.yml", "book"):
                if not (root / name).is_symlink():
                    (root / name).symlink_to(REPO_ROOT / name)
            if not (root / "_build" / "executed").is_symlink():
                (root / "_build" / "executed").symlink_to(chapters_workdir / "executed")
            try:
                build_book(root)
            except SystemExit as error:  # build_book's one line, after Jupyter Book's warnings (captured output)
                failed.write_text(str(error))
                raise RuntimeError(str(error)) from None
            done.touch()
    return root / "_build" / "html"


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
