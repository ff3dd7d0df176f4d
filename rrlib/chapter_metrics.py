"""A chapter's numbers, recorded and glued: :func:`publish` (the one bookkeeping call at the end of every chapter)
writes ``<metrics_dir>/<chapter>.json`` and glues every value for the prose; :func:`load_metrics` reads it back
(the report, the tests). Needs no torch.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rrlib.jsonable import to_jsonable

__all__ = ["CHAPTER_NAME", "METRICS_ENV", "REPO_ROOT", "glue_keys", "load_metrics", "metrics_dir", "publish",
           "record_metrics", "write_json_atomic"]

REPO_ROOT = Path(__file__).resolve().parent.parent
CHAPTER_NAME = re.compile(r"^\d\d_[a-z0-9_]+$")
METRICS_ENV = "RRBOOK_METRICS_DIR"


def metrics_dir() -> Path:
    """Where chapters write their metrics: ``$RRBOOK_METRICS_DIR`` or ``<repo>/_build/metrics``."""
    return Path(os.environ.get(METRICS_ENV, REPO_ROOT / "_build" / "metrics"))


def write_json_atomic(path: Path, payload: Any) -> None:
    from rrlib.runtime import atomic_write_text  # lazy: the runner itself needs no torch

    atomic_write_text(path, json.dumps(payload, indent=2, sort_keys=True) + "\n")


def record_metrics(chapter: str, metrics: Mapping[str, Any]) -> Path:
    """Write a chapter's key numbers to ``<metrics_dir>/<chapter>.json`` (atomically) and return the path.

    Called once at the end of every chapter. Values may be floats, ints, strings, bools, lists, dicts, numpy
    arrays or tensors; NaN and infinity are rejected so that a broken computation cannot pass silently.
    """
    if not CHAPTER_NAME.match(chapter):
        raise ValueError(f"chapter name {chapter!r} must look like 'NN_name' (e.g. '02_theorem_3_2')")
    if not isinstance(metrics, Mapping) or not metrics:
        raise ValueError(f"metrics for {chapter!r} must be a non-empty mapping, got {metrics!r}")
    if "_meta" in metrics:
        raise ValueError("'_meta' is reserved for the runner")
    path = metrics_dir() / f"{chapter}.json"
    write_json_atomic(path, to_jsonable(metrics))
    return path


def glue_keys(metrics: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Every name a chapter's prose can paste with ``{glue:text}``: each key of ``metrics`` with its value, and for a
    nested mapping also each of its keys as ``parent.child`` (recursively). Lists are glued whole.

    >>> glue_keys({"a": 1.5, "h": {"n": 3, "m": {"x": "y"}}})
    {'a': 1.5, 'h': {'n': 3, 'm': {'x': 'y'}}, 'h.n': 3, 'h.m': {'x': 'y'}, 'h.m.x': 'y'}
    """
    out: dict[str, Any] = {}
    nested: dict[str, Mapping[str, Any]] = {}
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        out[name] = value
        if isinstance(value, Mapping):
            nested[name] = value
    for name, value in nested.items():
        out.update(glue_keys(value, f"{name}."))
    return out


def publish(chapter: str, metrics: Mapping[str, Any], *, glue: Any = None, **extra: Any) -> None:
    """Record a chapter's metrics and glue every one of them for the prose; the one bookkeeping call of a chapter.

    Writes ``<metrics_dir>/<chapter>.json`` with ``metrics`` plus ``extra`` (exactly as :func:`record_metrics`),
    then calls ``glue(name, value, display=False)`` for every name of :func:`glue_keys` of the recorded (plain
    JSON) values, so prose pastes them with format specs, e.g. ``{glue:text}`rv_mean:.3f```. ``glue`` defaults to
    :func:`myst_nb.glue`. Returns nothing, so that the notebook cell shows nothing.
    """
    clash = sorted(set(extra) & set(metrics))
    if clash:
        raise ValueError(f"extra values {clash} repeat keys of the metrics; give each number once")
    path = record_metrics(chapter, {**metrics, **extra})
    if glue is None:
        from myst_nb import glue
    for name, value in glue_keys(json.loads(path.read_text())).items():
        glue(name, value, display=False)


def load_metrics(chapter: str, directory: Path | None = None) -> dict[str, Any]:
    """Read a chapter's recorded metrics."""
    path = (directory or metrics_dir()) / f"{chapter}.json"
    if not path.exists():
        raise FileNotFoundError(f"no metrics for chapter {chapter!r} at {path}; run `python -m rrlib.book run`")
    return json.loads(path.read_text())
