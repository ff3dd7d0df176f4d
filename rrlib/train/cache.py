"""Results cache keyed by a hash of the configuration, so re-running a chapter reuses finished work.

key = sha256 of the *canonical JSON* of a frozen dataclass: ``{"type": "<module>.<Class>", "fields": {...}}``
with sorted keys, no whitespace, tuples as lists and nested dataclasses expanded. Two configurations share an
entry exactly when they are of the same class and have equal fields.

Results also depend on the code that computed them, so entries live under a *code fingerprint* (sha256 of every
``rrlib/**/*.py`` source): editing the library never serves a stale result computed by older code.

Layout: ``<cache root>/code-<fingerprint>/<ClassName>/<first 20 hex digits>/`` holding ``config.json`` (the
canonical JSON, for humans) and whatever the caller stores there (``result.pkl`` for :func:`cached`; a checkpoint
and metrics for training). The cache root is ``$RRBOOK_CACHE``, else ``<repo>/_build/cache`` for a source checkout, else
``~/.cache/rrbook/cache``.

>>> from dataclasses import dataclass
>>> @dataclass(frozen=True)
... class C:
...     a: int = 1
...     b: tuple = (0.5, "x")
>>> canonical_json(C()).startswith('{"fields":{"a":1,"b":[0.5,"x"]},"type":')
True
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
import os
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from rrlib.train.checkpoint import atomic_write, atomic_write_text

T = TypeVar("T")
KEY_DIGITS = 20
RESULT_FILE = "result.pkl"


def _plain(value: Any, where: str) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: _plain(getattr(value, f.name), f"{where}.{f.name}") for f in dataclasses.fields(value)
        }
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{where} = {value!r}: non-finite floats cannot be part of a cache key")
        return value
    if isinstance(value, (list, tuple)):
        return [_plain(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise TypeError(f"{where}: dict keys must be strings to be hashed, got {list(value)!r}")
        return {k: _plain(v, f"{where}.{k}") for k, v in value.items()}
    raise TypeError(
        f"{where} = {value!r} of type {type(value).__name__} cannot be part of a cache key; "
        "use None, bool, int, float, str, tuples/lists, str-keyed dicts or nested dataclasses"
    )


def canonical_json(config: Any) -> str:
    """The canonical JSON text of a dataclass instance (see the module docstring)."""
    if not (dataclasses.is_dataclass(config) and not isinstance(config, type)):
        raise TypeError(f"config must be a dataclass instance, got {type(config).__name__}")
    cls = type(config)
    return _canonical(f"{cls.__module__}.{cls.__qualname__}", _plain(config, cls.__name__))


def _canonical(type_name: str, fields: Any) -> str:
    payload = {"type": type_name, "fields": fields}
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def config_hash(config: Any) -> str:
    """sha256 (64 hex digits) of :func:`canonical_json`."""
    return hashlib.sha256(canonical_json(config).encode("utf-8")).hexdigest()


def fields_hash(type_name: str, fields: dict[str, Any]) -> str:
    """:func:`config_hash` of a configuration given as its type's full name and its (stored) fields: equal to
    ``config_hash(Type(**fields))`` when ``fields`` holds every field of ``Type`` in canonical form (as stored)."""
    return hashlib.sha256(_canonical(type_name, _plain(fields, type_name)).encode("utf-8")).hexdigest()


@functools.lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """First 12 hex digits of the sha256 of every ``rrlib/**/*.py`` file (relative path and bytes, sorted)."""
    package = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        digest.update(path.relative_to(package).as_posix().encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def cache_dir(root: str | os.PathLike | None = None) -> Path:
    """The cache root: ``root``, else ``$RRBOOK_CACHE``, else ``<repo>/_build/cache`` (or ``~/.cache``)."""
    if root is not None:
        return Path(root).expanduser()
    env = os.environ.get("RRBOOK_CACHE")
    if env:
        return Path(env).expanduser()
    repo = Path(__file__).resolve().parents[2]
    if (repo / "pyproject.toml").is_file() and (repo / "rrlib").is_dir():
        return repo / "_build" / "cache"
    return Path.home() / ".cache" / "rrbook" / "cache"


def entry_dir(config: Any, root: str | os.PathLike | None = None, *, create: bool = True) -> Path:
    """The folder of ``config``'s cache entry (created, with ``config.json``, when ``create``)."""
    folder = cache_dir(root) / f"code-{code_fingerprint()}" / type(config).__name__ / config_hash(config)[:KEY_DIGITS]
    if create and not (folder / "config.json").is_file():
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write_text(folder / "config.json", canonical_json(config) + "\n")
    return folder


_MISSING = object()


def load_result(config: Any, root: str | os.PathLike | None = None, default: Any = None) -> Any:
    """The result stored for ``config`` by :func:`save_result`, or ``default`` when there is none."""
    path = entry_dir(config, root, create=False) / RESULT_FILE
    if not path.is_file():
        return default
    with open(path, "rb") as f:
        return pickle.load(f)


def save_result(config: Any, result: Any, root: str | os.PathLike | None = None) -> Path:
    """Store ``result`` (any picklable object) for ``config``, atomically; returns the file's path."""
    path = entry_dir(config, root) / RESULT_FILE
    return atomic_write(path, lambda f: pickle.dump(result, f, protocol=pickle.HIGHEST_PROTOCOL))


def cached(
    config: Any, compute: Callable[[Any], T], *, root: str | os.PathLike | None = None, refresh: bool = False
) -> T:
    """``compute(config)``, memoised on disk by :func:`config_hash` (``refresh=True`` recomputes).

    Set ``RRBOOK_NO_CACHE=1`` to bypass the cache entirely (nothing is read or written).
    """
    if os.environ.get("RRBOOK_NO_CACHE") == "1":
        return compute(config)
    if not refresh:
        hit = load_result(config, root, default=_MISSING)
        if hit is not _MISSING:
            return hit
    result = compute(config)
    save_result(config, result, root)
    return result
