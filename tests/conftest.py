"""Shared fixtures. Chapters are executed at most once per test session, in the quick profile."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("RRBOOK_NO_PROGRESS", "1")


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
    (``metrics/``); the layout test renders the book from ``executed/``."""
    return tmp_path_factory.mktemp("chapters")


@pytest.fixture(scope="session")
def chapter_metrics(chapters_workdir: Path):
    """``chapter_metrics("NN_name")`` executes that chapter once (quick profile) and returns its recorded metrics."""
    from rrlib.book import load_metrics, run_chapters

    workdir = chapters_workdir
    cache: dict[str, dict] = {}

    def get(name: str) -> dict:
        if name not in cache:
            run_chapters("quick", only=[name], seed=0, device="cpu", output_dir=workdir / "executed",
                         metrics_directory=workdir / "metrics")
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
