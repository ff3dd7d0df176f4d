"""Checks of an output path before anything is computed, shared by the run folder
(:mod:`rrlib.train.run_folder`) and the JSON result files of ``estimate-mi`` (:func:`previous_result`).

:func:`check_output_path` refuses a path that is (or lies under) a file; :func:`probe_writable` proves a folder takes
a file with a real write (read-only folders and full disks are found here, not after an hour of computing);
:func:`config_difference` says, field by field, how a stored configuration differs from the one asked for. Every
refusal is a :class:`RunFolderError`: one line naming the path (and the flag that chose it); nothing is changed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import json
import os
import time
import warnings
from pathlib import Path
from typing import Any

__all__ = ["PROBE_BYTES", "RunFolderError", "RunFolderWarning", "check_output_path", "config_difference",
           "plain_config", "previous_result", "probe_writable"]

#: Bytes written (and synced) by the probe that proves a folder writable before any computing.
PROBE_BYTES = 1 << 20


class RunFolderError(ValueError):
    """An output folder that cannot take this run: a file in the way, not writable, full, held by another run,
    or holding another kind or configuration. The message is one line naming the path; nothing was changed."""


class RunFolderWarning(UserWarning):
    """Something in a run folder was not what it claims (e.g. an empty ``metrics.json``), and is not trusted."""


def plain_config(config: Any) -> dict[str, Any]:
    """``asdict(config)`` as JSON would give it back (tuples as lists)."""
    return json.loads(json.dumps(dataclasses.asdict(config)))


def _flat(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(_flat(item, f"{prefix}{key}."))
        return out
    return {prefix[:-1]: value}


def config_difference(theirs: dict[str, Any], ours: dict[str, Any], ignore: tuple[str, ...] = ()) -> str:
    """``"lr: 0.001 there, 0.0005 asked, ..."`` for the fields (nested ones dotted) that differ; ``""`` when none."""
    a = {k: v for k, v in _flat(theirs).items() if k.split(".")[0] not in ignore}
    b = {k: v for k, v in _flat(ours).items() if k.split(".")[0] not in ignore}
    missing = "<absent>"
    return ", ".join(f"{k}: {a.get(k, missing)!r} there, {b.get(k, missing)!r} asked" for k in sorted(set(a) | set(b))
                     if a.get(k, missing) != b.get(k, missing))


def check_output_path(path: str | os.PathLike, *, flag: str = "--out", folder: bool = True) -> None:
    """Refuse (:class:`RunFolderError`, one line) an output ``path`` that cannot be made: one that is a file
    (``folder=True``) or a folder (``folder=False``), or that lies under a file."""
    path = Path(path)
    if path.exists():
        if folder and not path.is_dir():
            raise RunFolderError(f"{flag} {path} is a file, not a folder; give a folder (nothing was changed)")
        if not folder and path.is_dir():
            raise RunFolderError(f"{flag} {path} is a folder, not a file; give a file name (nothing was changed)")
        return
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise RunFolderError(f"{flag} {path}: {parent} is a file, so nothing can be made under it; give "
                                     f"another {flag} (nothing was changed)")
            return


def probe_writable(folder: str | os.PathLike, *, flag: str = "--out", size: int = PROBE_BYTES) -> None:
    """Prove that ``folder`` (which exists) takes a file: write ``size`` bytes to a probe file, sync, remove it.

    A real write, not ``os.access`` (which says yes to root in a read-only folder and knows nothing of free
    space). Raises :class:`RunFolderError` naming the folder and the cause (read-only, disk full, ...)."""
    folder = Path(folder)
    probe = folder / f".probe-{os.getpid()}-{time.monotonic_ns()}"
    fd = None
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        block = b"\0" * min(size, 1 << 16)
        left = size
        while left > 0:
            left -= os.write(fd, block[:left])
        os.fsync(fd)
    except OSError as err:
        if err.errno in (errno.ENOSPC, errno.EDQUOT):
            cause = "the disk is full (no space left for even a small file)"
        elif err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            cause = "it is read-only"
        else:
            cause = err.strerror or str(err)
        raise RunFolderError(f"{flag} {folder} cannot be written: {cause}; free space or fix its permissions, or "
                             f"give another {flag} (nothing was computed)") from None
    finally:
        if fd is not None:
            os.close(fd)
        with contextlib.suppress(OSError):
            probe.unlink()


def previous_result(out: str | os.PathLike, identity: dict[str, Any], *, flag: str = "--out",
                    command: str = "estimate-mi") -> dict[str, Any] | None:
    """Check the JSON result file ``out`` of ``command`` before computing it; return what to reload, if anything.

    ``out`` must be makeable (not a folder, not under a file) and its folder writable (a probe write; folders this
    makes for the probe are removed again). When ``out`` already holds a result of ``command`` whose entries
    ``identity`` (e.g. checkpoint, configuration, trained model) are all equal, that result is returned: reload it
    instead of computing it again. An empty file is warned about and replaced; a result of another configuration or
    a file that is not a result of ``command`` is refused with one line naming ``flag`` (nothing is overwritten).
    """
    out = Path(out)
    check_output_path(out, flag=flag, folder=False)
    ours = json.loads(json.dumps(identity))
    if out.is_file():
        text = out.read_text(encoding="utf-8", errors="replace")
        if not text.strip():
            warnings.warn(f"{flag} {out} is empty ({len(text.encode())} bytes): not a result; it is replaced",
                          RunFolderWarning, stacklevel=2)
        else:
            try:
                stored = json.loads(text)
            except ValueError:
                stored = None
            if not isinstance(stored, dict) or stored.get("command") != command:
                raise RunFolderError(f"{flag} {out} holds something else than a result of {command}; give another "
                                     f"{flag} (nothing was computed or overwritten)")
            theirs = {key: stored.get(key) for key in ours}
            difference = config_difference(theirs, ours)
            if not difference:
                return stored
            raise RunFolderError(f"{flag} {out} holds a result of {command} with another configuration (differs in "
                                 f"{difference}); give another {flag} for this one (nothing was computed or "
                                 "overwritten)")
    missing = [p for p in out.parents if not p.exists()]
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise RunFolderError(f"{flag} {out}: its folder cannot be created ({err.strerror or err}); give another "
                             f"{flag} (nothing was computed)") from None
    try:
        probe_writable(out.parent, flag=flag)
    finally:
        for folder in missing:
            with contextlib.suppress(OSError):
                folder.rmdir()
    return None
