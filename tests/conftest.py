"""Shared fixtures. Chapters are executed at most once per test session, in the quick profile."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("RRBOOK_NO_PROGRESS", "1")


@pytest.fixture(scope="session")
def chapter_metrics(tmp_path_factory):
    """``chapter_metrics("NN_name")`` executes that chapter once (quick profile) and returns its recorded metrics."""
    from rrlib.book import load_metrics, run_chapters

    workdir: Path = tmp_path_factory.mktemp("chapters")
    cache: dict[str, dict] = {}

    def get(name: str) -> dict:
        if name not in cache:
            run_chapters("quick", only=[name], seed=0, device="cpu", output_dir=workdir / "executed",
                         metrics_directory=workdir / "metrics")
            cache[name] = load_metrics(name, workdir / "metrics")
        return cache[name]

    return get
