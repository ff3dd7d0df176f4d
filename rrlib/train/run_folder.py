"""The run folder: one run per folder, a refused run changes nothing, finished work is never redone, checks first.

Every training loop (:func:`rrlib.train.supervised.train_model`, :func:`rrlib.train.encoder.train_encoder`,
:func:`rrlib.train.downstream.train_classifier`, and through them ``sweep`` and the tables experiment) enters its
output folder through :func:`claim_run_folder`, which, before anything is computed:

1. refuses an output path that is a file or lies under one (one line naming ``--out``);
2. reads what the folder already holds — ``config.json`` (any of the formats written so far) and ``metrics.json`` —
   and refuses a folder of another kind or configuration (``ignore`` names the fields that may differ, e.g.
   ``epochs`` for runs that can be extended). A ``metrics.json`` that says *finished* for this very configuration
   makes the run a reload: nothing is locked or written (and with its checkpoints deleted,
   :class:`FinishedRunError` says so instead of training again). An empty or unreadable ``metrics.json`` is not
   finished work: a one-line warning names it and the run resumes (its metrics are rewritten at the end);
3. creates the folder, proves it writable with a probe file (a read-only folder or a full disk is found here, not
   after the first epoch) and takes an OS lock (``fcntl.flock`` on ``run.lock``, non-blocking; the kernel releases
   it when the process dies, so there is no stale marker). A second run on a held folder is refused with one line
   naming the holder (pid, host, start time and command, written into ``run.lock`` after taking the lock).

The loop then makes its own checks of the checkpoint (kind, configuration hash) and calls :meth:`RunFolder.accept`
just before its first step; only then is ``config.json`` written. Leaving the block without having written anything
(a refusal, an error, Ctrl-C) undoes the claim: the lock file and any folder the claim created are removed, an
existing lock file gets its bytes back, so a refused run leaves every byte of the folder as it was.
:meth:`RunFolder.write_metrics` writes ``metrics.json`` atomically and never replaces a finished one of the same
configuration.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import json
import os
import socket
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rrlib import distributed as dist
from rrlib.runtime import atomic_write_text
from rrlib.train.cache import config_hash
from rrlib.train.checkpoint import CheckpointError, previous_path
from rrlib.train.migrate import migrate_config, migrate_record
from rrlib.train.output_checks import (  # re-exported: checks of an output path before any computing
    RunFolderError,
    RunFolderWarning,
    check_output_path,
    config_difference,
    plain_config,
    previous_result,
    probe_writable,
)

try:  # POSIX; on other systems the folder is not locked (one run per folder is then the user's care)
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "CHECKPOINT_FILE",
    "CONFIG_FILE",
    "LOCK_FILE",
    "METRICS_FILE",
    "FinishedRunError",
    "RunFolder",
    "RunFolderError",
    "RunFolderWarning",
    "check_output_path",
    "claim_run_folder",
    "config_difference",
    "finished_metrics",
    "previous_result",
    "probe_writable",
    "read_stored_config",
]

#: The checkpoint of a run folder.
CHECKPOINT_FILE = "checkpoint.pt"
#: The configuration of a run folder, written once its run has started.
CONFIG_FILE = "config.json"
#: The metrics of a run folder, written when its run finishes.
METRICS_FILE = "metrics.json"
LOCK_FILE = "run.lock"
#: ``flock`` errors that mean "this file system cannot lock", not "another process holds the lock".
_NO_LOCKS = {getattr(errno, name) for name in ("ENOLCK", "ENOTSUP", "EOPNOTSUPP", "ENOSYS") if hasattr(errno, name)}


class FinishedRunError(CheckpointError):
    """The folder holds this very run, finished (its ``metrics.json`` says so), but its checkpoint is gone: it is
    neither retrained nor rewritten. ``metrics`` holds the stored ``metrics.json``."""

    def __init__(self, message: str, metrics: dict[str, Any]) -> None:
        super().__init__(message)
        self.metrics = metrics


# ----------------------------------------------------------------------------------------------------- helpers
def _type_name(config: Any) -> str:
    return f"{type(config).__module__}.{type(config).__qualname__}"


def read_stored_config(path: str | os.PathLike, *, flag: str = "--out") -> tuple[str | None, dict[str, Any]]:
    """``(kind or type name, configuration fields)`` of a ``config.json`` in any format written so far: this
    module's ``{"kind", "type", "config", "config_hash"}``, the sweep's ``{"cell", "kind", "config"}`` and the
    results cache's canonical ``{"type", "fields"}``, old attack names read as today's
    (:func:`rrlib.train.migrate.migrate_record`). Raises :class:`RunFolderError` naming the file (and ``flag``,
    the option that chose the folder) when it is empty, not JSON, or lacks its configuration."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise RunFolderError(f"{path} cannot be read ({err.strerror or err}); move it away or use another {flag} "
                             "(nothing was changed)") from None
    try:
        data = json.loads(text)
    except ValueError as err:
        what = "is empty (0 bytes)" if not text.strip() else f"is not valid JSON ({err})"
        raise RunFolderError(f"{path} {what}; move it away (the next run writes it again) or use another {flag} "
                             "(nothing was changed)") from None
    if isinstance(data, dict) and isinstance(data.get("config"), dict):
        return data.get("type") or data.get("kind"), migrate_record(data)["config"]
    if isinstance(data, dict) and isinstance(data.get("fields"), dict):
        return data.get("type"), migrate_config(data["fields"], data.get("type"))
    raise RunFolderError(f"{path} holds no configuration (no 'config' entry); move it away (the next run writes it "
                         f"again) or use another {flag} (nothing was changed)")


def finished_metrics(folder: str | os.PathLike) -> tuple[dict[str, Any] | None, str | None]:
    """``(metrics, problem)`` of ``folder/metrics.json``: the parsed metrics when they say ``"finished": true``
    (else ``None``; old attack names read as today's), and a one-line description when the file is there but empty or
    unreadable (else ``None``)."""
    path = Path(folder) / METRICS_FILE
    if not path.is_file():
        return None, None
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        return None, f"{path} cannot be read ({err.strerror or err})"
    if not text.strip():
        return None, f"{path} is empty ({len(text.encode())} bytes)"
    try:
        data = json.loads(text)
    except ValueError as err:
        return None, f"{path} is not valid JSON ({err})"
    if not isinstance(data, dict):
        return None, f"{path} holds no metrics (a JSON {type(data).__name__})"
    return (migrate_record(data) if data.get("finished") is True else None), None


def _holder_line() -> str:
    command = " ".join(sys.argv) if sys.argv and sys.argv[0] else "python"
    command = " ".join(command.split())
    if len(command) > 200:
        command = command[:197] + "..."
    return (f"pid {os.getpid()} on {socket.gethostname()}, since {time.strftime('%Y-%m-%d %H:%M:%S')}, "
            f"command: {command}")


# ----------------------------------------------------------------------------------------------------- the folder
@dataclasses.dataclass
class RunFolder:
    """One claimed output folder (see the module docstring); made by :func:`claim_run_folder`.

    ``finished`` is the stored ``metrics.json`` when the folder already holds this configuration, finished (the run
    is then a reload: nothing is locked or written).
    """

    path: Path
    kind: str
    config: Any
    checkpoint: Path
    ignore: tuple[str, ...] = ()
    finished: dict[str, Any] | None = None
    _fd: int | None = dataclasses.field(default=None, repr=False)
    _created: list[Path] = dataclasses.field(default_factory=list, repr=False)
    _lock_created: bool = dataclasses.field(default=False, repr=False)
    _lock_before: bytes = dataclasses.field(default=b"", repr=False)
    _written: bool = dataclasses.field(default=False, repr=False)

    # --------------------------------------------------------------------------------- checks (read-only)
    def _refuse_other(self, where: Path, stored: dict[str, Any], ours: dict[str, Any]) -> None:
        if set(stored) != set(ours):
            raise RunFolderError(f"{self.path} holds another kind of run than {self.kind!r} (the configuration in "
                                 f"{where.name} has other fields); use another --out (nothing was overwritten)")
        difference = config_difference(stored, ours, self.ignore)
        raise RunFolderError(f"{self.path} holds a run of another configuration (differs in {difference}) in "
                             f"{where.name}; use another out_dir (--out) for this one (nothing was overwritten)")

    def _check_stored(self) -> None:
        """Compare ``config.json`` and ``metrics.json`` with this run; set :attr:`finished`. Reads only."""
        ours = plain_config(self.config)
        config_file = self.path / CONFIG_FILE
        if config_file.is_file():
            kind, stored = read_stored_config(config_file)
            if kind is not None and kind not in (self.kind, _type_name(self.config)):
                raise RunFolderError(f"{self.path} holds a run of another kind ({kind!r} in {config_file.name}, not "
                                     f"{self.kind!r}); use another --out (nothing was overwritten)")
            if config_difference(stored, ours, self.ignore):
                self._refuse_other(config_file, stored, ours)
        metrics, problem = finished_metrics(self.path)
        if problem is not None:
            warnings.warn(f"{problem}: not counted as a finished run; it is rewritten when this run ends",
                          RunFolderWarning, stacklevel=4)
        if metrics is None:
            return
        stored = metrics.get("config") if isinstance(metrics.get("config"), dict) else {}
        if config_difference(stored, ours, self.ignore):
            self._refuse_other(self.path / METRICS_FILE, stored, ours)
        has_checkpoint = self.checkpoint.is_file() or previous_path(self.checkpoint).is_file()
        if metrics.get("config_hash") == config_hash(self.config):
            self.finished = metrics
            if not has_checkpoint:
                raise FinishedRunError(
                    f"{self.path} holds this run, finished ({METRICS_FILE} says so), but its checkpoint "
                    f"{self.checkpoint.name} is gone: nothing was retrained or rewritten; its numbers are in "
                    f"{self.path / METRICS_FILE} (move the folder away to train it again)", metrics)
        elif not has_checkpoint:
            done = config_difference(stored, ours) or "nothing"
            raise RunFolderError(f"{self.path} holds a finished run ({METRICS_FILE}; differs in {done}) whose "
                                 f"checkpoint {self.checkpoint.name} is gone, so it cannot be continued; use another "
                                 "--out (nothing was overwritten)")

    # --------------------------------------------------------------------------------- lock
    def _claim(self) -> dict[str, Any] | None:
        """Check, create, probe and lock (rank 0); returns :attr:`finished`."""
        check_output_path(self.path)
        self._check_stored()
        if self.finished is not None:
            return self.finished  # a reload: read-only, no lock (the folder may even be read-only)
        missing = [p for p in (self.path, *self.path.parents) if not p.exists()]
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise RunFolderError(f"--out {self.path} cannot be created ({err.strerror or err}); give another --out "
                                 "(nothing was computed)") from None
        self._created = missing  # deepest first: removed in this order when nothing is written
        try:
            probe_writable(self.path)
            self._lock()
        except BaseException:
            self._undo()
            raise
        return None

    def _lock(self) -> None:
        if fcntl is None:  # pragma: no cover - Windows
            return
        path = self.path / LOCK_FILE
        for _ in range(10):
            created = not path.exists()
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as err:
                if err.errno in _NO_LOCKS:  # a file system without flock (some network mounts): say so, go on
                    warnings.warn(f"{path} cannot be locked on this file system ({err.strerror or err}): one run at "
                                  "a time in this folder is not enforced", RunFolderWarning, stacklevel=5)
                    self._fd, self._lock_created = fd, created
                    self._lock_before = b"" if created else path.read_bytes()
                    self._set_holder(_holder_line().encode("utf-8") + b"\n")
                    return
                os.close(fd)
                if err.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    raise RunFolderError(f"--out {self.path}: cannot lock {path} ({err.strerror or err})") from None
                holder = ""
                with contextlib.suppress(OSError):
                    holder = " ".join(path.read_text(encoding="utf-8", errors="replace").split())
                holder = holder or "a process that has not yet said which"
                raise RunFolderError(f"{self.path} is in use by another run ({holder}); wait for it to end or use "
                                     "another --out (nothing was changed)") from None
            try:  # the file we locked must still be the one at the path (a releasing run may have removed it)
                same = os.stat(path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if not same:
                os.close(fd)
                continue
            self._fd, self._lock_created = fd, created
            self._lock_before = b"" if created else path.read_bytes()
            self._set_holder(_holder_line().encode("utf-8") + b"\n")
            return
        raise RunFolderError(f"--out {self.path}: {path} keeps changing; another run is starting or ending there")

    def _set_holder(self, data: bytes) -> None:
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, data, 0)

    def _undo(self) -> None:
        """Give the folder back as it was: lock file removed (or its bytes restored), created folders removed."""
        if self._fd is not None:
            with contextlib.suppress(OSError):
                if self._lock_created:
                    (self.path / LOCK_FILE).unlink()
                else:
                    self._set_holder(self._lock_before)
            os.close(self._fd)
            self._fd = None
        for folder in self._created:
            with contextlib.suppress(OSError):
                folder.rmdir()  # only when empty
        self._created = []

    def _release(self) -> None:
        if not self._written:
            self._undo()
            return
        if self._fd is not None:
            with contextlib.suppress(OSError):
                self._set_holder(b"")
            os.close(self._fd)  # closing the descriptor releases the lock
            self._fd = None

    # --------------------------------------------------------------------------------- writes (main process)
    def accept(self) -> None:
        """The loop has checked the checkpoint too and is about to train: write ``config.json`` (when missing or of
        fewer ``epochs``). A folder whose ``metrics.json`` says finished while its checkpoint does not is refused."""
        if self.finished is not None:
            raise RunFolderError(f"{self.path}: {METRICS_FILE} says this run finished, but its checkpoint "
                                 f"{self.checkpoint.name} stopped earlier; move one of them away or use another --out "
                                 "(nothing was overwritten)")
        if not dist.is_main():
            return
        self._written = True
        path = self.path / CONFIG_FILE
        if path.is_file():
            _, stored = read_stored_config(path)
            if not config_difference(stored, plain_config(self.config)):
                return
        text = json.dumps({"kind": self.kind, "type": _type_name(self.config), "config": plain_config(self.config),
                           "config_hash": config_hash(self.config)}, indent=2) + "\n"
        atomic_write_text(path, text)

    def write_metrics(self, metrics: dict[str, Any]) -> None:
        """Write ``metrics.json`` atomically, unless it already holds this configuration, finished."""
        if not dist.is_main():
            return
        stored, _ = finished_metrics(self.path)
        if stored is not None and stored.get("config_hash") == metrics.get("config_hash"):
            return
        self._written = True
        atomic_write_text(self.path / METRICS_FILE, json.dumps(metrics, indent=2) + "\n")


@contextlib.contextmanager
def claim_run_folder(folder: str | os.PathLike, kind: str, config: Any, *, checkpoint: str | os.PathLike | None = None,
                     ignore: tuple[str, ...] = ()) -> Iterator[RunFolder]:
    """Claim ``folder`` for a run of ``kind`` (``"supervised"``, ``"encoder"``, ``"head"``) and ``config`` (a
    dataclass); see the module docstring. ``checkpoint`` is the run's checkpoint file (default
    ``folder/checkpoint.pt``); ``ignore`` the configuration fields that may differ from the stored ones.

    Raises :class:`RunFolderError` (one line; nothing changed) or :class:`FinishedRunError`. In a distributed run
    rank 0 alone claims, and a refusal is raised on every rank.
    """
    folder = Path(folder)
    run = RunFolder(folder, kind, config, Path(checkpoint) if checkpoint is not None else folder / CHECKPOINT_FILE,
                    tuple(ignore))
    run.finished = dist.from_main(run._claim)
    try:
        yield run
    finally:
        run._release()
