"""The one training loop: :func:`fit` runs a :class:`Job` (what to build, how to step, how to evaluate) in a run folder.

Supervised classifiers (:mod:`rrlib.train.supervised`), unsupervised encoders (:mod:`rrlib.train.encoder`) and heads on
a frozen encoder (:mod:`rrlib.train.downstream`) are jobs; a new objective is one more job, not one more loop. The
loop owns everything the three once repeated:

* **the run folder** (:func:`rrlib.train.run_folder.claim_run_folder`): one run per folder, checked before anything is
  computed, ``config.json`` written only once the run is accepted, ``metrics.json`` written when the run ends (never
  over a finished one of this configuration);
* **seeding**: :func:`rrlib.runtime.seed_everything` with the job's seed just before the job builds its modules, so
  torch's global RNG is consumed in one order — build, (resume: restore the saved RNG), steps, evaluations;
* **the checkpoint**, written by :func:`save_training_checkpoint` alone (atomically, the previous one kept as
  ``.prev``): ``kind``, ``config``, ``config_hash``, ``rng`` (torch's CPU and CUDA generators), the job's own tensors
  (models, optimiser, ...) and the progress (epoch, step within the epoch, global step, the epoch's running sums,
  history, finished) — nested under ``"state"`` or flat, as each kind has always stored it (:attr:`Job.state_key`),
  so checkpoints written before this loop resume unchanged;
* **resume**: a checkpoint of this configuration is continued bit for bit (CPU); another configuration is refused
  (by its hash, or field by field where ``epochs`` may grow: :attr:`Job.ignore`), nothing is overwritten;
* **DDP** (:mod:`rrlib.distributed`): the job wraps its modules after loading (every rank starts from rank 0's
  weights); rank 0 alone writes, logs and shows progress;
* **progress** (one tqdm bar for the run), **history** (one record per epoch) and **timing**: every record carries
  ``train_seconds`` (the epoch's steps), ``eval_seconds`` (its evaluation; only in evaluated epochs), ``seconds`` =
  their sum and ``images_per_second`` (:data:`TIMING_KEYS`; :func:`epoch_seconds` reads records of any version).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from rrlib import distributed as dist
from rrlib.runtime import progress, seed_everything, select_device
from rrlib.train.cache import config_hash
from rrlib.train.checkpoint import (
    check_resumable,
    previous_path,
    read_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from rrlib.train.run_folder import CHECKPOINT_FILE, METRICS_FILE, RunFolder, claim_run_folder
from rrlib.validation import check_int, check_optional_int

__all__ = ["CHECKPOINT_FILE", "METRICS_FILE", "TIMING_KEYS", "Job", "StepOutput", "epoch_seconds", "fit",
           "save_training_checkpoint"]

#: Keys of an epoch record that depend on the clock, not on the computation (seconds; images per second).
TIMING_KEYS = ("train_seconds", "eval_seconds", "seconds", "images_per_second")


def epoch_seconds(record: dict[str, Any]) -> float:
    """Wall seconds (training + evaluation) of one history record, of this loop or of the three loops before it
    (supervised: ``train_seconds`` + ``eval_seconds``; encoder: ``seconds``; head: ``seconds`` + ``eval_seconds``)."""
    if "seconds" in record and "train_seconds" in record:
        return float(record["seconds"])
    return float(sum(record.get(k, 0.0) for k in ("seconds", "train_seconds", "eval_seconds")))


@dataclass(frozen=True)
class StepOutput:
    """What one optimiser step reports: the batch's summed loss (nats; for an encoder the DV value × batch size),
    the number it classified correctly (0 where nothing is classified), its size (the whole batch over all ranks)
    and the callback's record."""

    loss_sum: float
    correct: int
    seen: int
    info: dict[str, Any]


class Job:
    """One kind of training, as :func:`fit` runs it. Subclasses set the class attributes and implement the methods.

    Order of calls: :meth:`setup` → (seed) → :meth:`build` → [:meth:`load` a checkpoint] → if unfinished:
    :meth:`prepare` (data; before ``config.json`` is written) → :meth:`wrap` → per batch :meth:`step`, per epoch
    :meth:`end_epoch`, :meth:`evaluate` (when :meth:`evaluates`), :meth:`after_record` → :meth:`result`.
    """

    #: The run folder's kind (``"supervised"``, ``"encoder"``, ``"head"``).
    folder_kind: str = ""
    #: The checkpoint's ``"kind"`` entry.
    checkpoint_kind: str = ""
    #: Checkpoints written before the one loop may lack ``"kind"`` (supervised ones did).
    kind_optional: bool = False
    #: The progress is stored under this key (``None`` stores it at the top level of the checkpoint).
    state_key: str | None = None
    #: Configuration fields that may differ on resume (``("epochs",)`` lets a finished run be extended).
    ignore: tuple[str, ...] = ()
    #: ``metrics.json`` also for an unfinished (stopped) run.
    metrics_unfinished: bool = False
    #: How the run is named in messages (``"an encoder"``).
    what: str = "a run"

    def __init__(self, config: Any) -> None:
        self.config = config

    # ------------------------------------------------------------------------------------------ building
    def setup(self, device: torch.device) -> None:
        """Work before seeding (e.g. load a frozen encoder); checks that need no RNG."""

    def build(self, device: torch.device) -> None:
        """Build models and optimiser (torch's global RNG was just seeded with ``config.seed``)."""
        raise NotImplementedError

    def entries(self) -> dict[str, Any]:
        """The job's own checkpoint entries (state dicts of models, optimiser, ...)."""
        raise NotImplementedError

    def load(self, saved: dict[str, Any], path: Path, device: torch.device) -> None:
        """Restore :meth:`entries` from a checkpoint (raise ``ValueError`` when it cannot be continued)."""
        raise NotImplementedError

    def prepare(self, device: torch.device, data_root: str | os.PathLike | None) -> Any:
        """Load the data; return the training :class:`rrlib.data.BatchLoader` (``iterate(epoch, start)``)."""
        raise NotImplementedError

    def wrap(self, device: torch.device) -> None:
        """Wrap the trained modules for DDP (a no-op in one process)."""

    # ------------------------------------------------------------------------------------------ training
    def start_epoch(self, epoch: int) -> None:
        """Called before the epoch's first (or resumed) step."""

    def step(self, batch: tuple[torch.Tensor, torch.Tensor], epoch: int, step: int, global_step: int) -> StepOutput:
        """One optimiser step on ``batch``, the ``step``-th (from 0) of ``epoch``, ``global_step`` done before it."""
        raise NotImplementedError

    def end_epoch(self, epoch: int, sums: dict[str, Any]) -> dict[str, Any]:
        """After the epoch's last step: the record's training entries (``sums``: loss, correct, seen, seconds)."""
        raise NotImplementedError

    def evaluates(self, epochs_done: int) -> bool:
        """Whether the epoch that brought the run to ``epochs_done`` is evaluated."""
        return True

    def evaluate(self, epochs_done: int) -> dict[str, Any]:
        """The record's evaluation entries."""
        return {}

    def after_record(self, history: list[dict[str, Any]]) -> None:
        """Called once the epoch's record is in the history, before the checkpoint (e.g. keep the best weights)."""

    def log_line(self, record: dict[str, Any]) -> str | None:
        """One line for ``log`` after an epoch (``None``: nothing)."""
        return None

    def result(self, state: dict[str, Any], checkpoint: Path | None) -> Any:
        """The returned result (models in eval mode); ``state`` is the progress."""
        raise NotImplementedError

    @property
    def desc(self) -> str:
        """The progress bar's label."""
        return self.folder_kind


# ----------------------------------------------------------------------------------------------------- progress
def _fresh_sums() -> dict[str, Any]:
    return {"loss": 0.0, "correct": 0, "seen": 0, "seconds": 0.0}


def _new_state() -> dict[str, Any]:
    return {"epoch": 0, "step": 0, "global_step": 0, "sums": _fresh_sums(), "history": [], "finished": False}


def _unpack(job: Job, saved: dict[str, Any]) -> dict[str, Any]:
    """The progress stored in ``saved`` (nested or flat; flat checkpoints of the former loops hold only epoch-end
    progress: step 0, fresh sums, and a global step that :func:`fit` derives from the epoch)."""
    stored = saved[job.state_key] if job.state_key is not None else saved
    state = _new_state()
    state.update({k: stored[k] for k in state if k in stored})
    if "global_step" not in stored:
        state["global_step"] = None
    state["history"] = list(state["history"])
    return state


def _pack(job: Job, state: dict[str, Any]) -> dict[str, Any]:
    return {job.state_key: state} if job.state_key is not None else dict(state)


def save_training_checkpoint(path: Path, job: Job, state: dict[str, Any]) -> Path:
    """Write the training checkpoint of ``job`` at ``state`` (the one writer of training checkpoints in rrlib): kind,
    configuration and its hash, torch's RNG states, the job's entries and the progress, atomically."""
    return save_checkpoint(path, {"kind": job.checkpoint_kind, "config": asdict(job.config),
                                  "config_hash": config_hash(job.config), "rng": rng_state(), **job.entries(),
                                  **_pack(job, state)})


def _check_saved(job: Job, saved: dict[str, Any], path: Path) -> bool | None:
    """Check that ``saved`` may be continued as ``job.config`` (``ValueError`` if not, before anything is read from
    it); returns whether the run is finished where that depends on ``epochs`` (``None``: as the checkpoint says)."""
    if job.ignore:
        return check_resumable(saved, job.config, path, what=job.what)
    if saved.get("config_hash") != config_hash(job.config):
        theirs = str(saved.get("config_hash"))[:12]
        raise ValueError(f"checkpoint {path} belongs to another configuration (hash {theirs} ≠ "
                         f"{config_hash(job.config)[:12]}); remove it or use another path")
    return None


# ----------------------------------------------------------------------------------------------------- the loop
def fit(
    job: Job,
    out_dir: str | os.PathLike | None,
    *,
    checkpoint: str | os.PathLike | None = None,
    resume: bool = True,
    device: str | torch.device = "auto",
    data_root: str | os.PathLike | None = None,
    stop_after_epochs: int | None = None,
    max_steps: int | None = None,
    checkpoint_every: int | None = None,
    checkpoint_seconds: float | None = None,
    callback: Callable[[dict[str, Any]], None] | None = None,
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
    log: Callable[[str], None] | None = None,
    show_progress: bool = True,
) -> Any:
    """Run ``job`` with its checkpoint in ``out_dir`` (``None``: no folder, no checkpoint, no resumption).

    Args:
        checkpoint: the checkpoint file (default ``out_dir/checkpoint.pt``).
        resume: continue a checkpoint of this configuration; ``False`` refuses a folder that holds one.
        device: ``"auto"``, ``"cpu"``, ``"cuda"``, ... (not part of the configuration).
        data_root: dataset root (default :func:`rrlib.data.data_dir`).
        stop_after_epochs: stop (checkpointed, unfinished) once this many epochs in total are done.
        max_steps: stop after this many optimiser steps in total (checkpointed, unfinished).
        checkpoint_every, checkpoint_seconds: also checkpoint within an epoch, every this many steps / seconds.
        callback: called after every step with the job's record of it; an exception it raises aborts the run like a
            crash (the last checkpoint stays).
        on_epoch: called with each epoch's record once it is checkpointed.
        log: receives the job's line for each epoch (rank 0).

    Returns the job's result (:meth:`Job.result`).
    """
    check_optional_int("stop_after_epochs", stop_after_epochs, 1)
    for name, value in (("max_steps", max_steps), ("checkpoint_every", checkpoint_every)):
        if value is not None:
            check_int(name, value, 1, what="a positive integer")
    if out_dir is None:
        folder, path = contextlib.nullcontext(), None
    else:
        path = Path(checkpoint) if checkpoint is not None else Path(out_dir) / CHECKPOINT_FILE
        folder = claim_run_folder(out_dir, job.folder_kind, job.config, checkpoint=path, ignore=job.ignore)
    with folder as run:
        result, state = _fit(job, run, path, resume=resume, device=device, data_root=data_root,
                             stop_after_epochs=stop_after_epochs, max_steps=max_steps,
                             checkpoint_every=checkpoint_every, checkpoint_seconds=checkpoint_seconds,
                             callback=callback, on_epoch=on_epoch, log=log, show_progress=show_progress)
        if run is not None and (state["finished"] or job.metrics_unfinished):
            run.write_metrics(result.metrics())
    return result


def _fit(job: Job, run: RunFolder | None, path: Path | None, *, resume: bool, device: str | torch.device,
         data_root: str | os.PathLike | None, stop_after_epochs: int | None, max_steps: int | None,
         checkpoint_every: int | None, checkpoint_seconds: float | None,
         callback: Callable[[dict[str, Any]], None] | None, on_epoch: Callable[[dict[str, Any]], None] | None,
         log: Callable[[str], None] | None, show_progress: bool) -> tuple[Any, dict[str, Any]]:
    """The body of :func:`fit`, inside its claimed run folder ``run``; returns ``(result, progress)``."""
    dev = select_device(device)
    distributed = dist.is_distributed()
    if distributed:
        dist.check_batch(job.config.batch_size)
    job.setup(dev)
    seed_everything(job.config.seed)
    job.build(dev)
    state = _new_state()

    if path is not None and dist.from_main(lambda: path.is_file() or previous_path(path).is_file()):
        if not resume:
            raise FileExistsError(f"{path} already exists and resume=False; choose another out_dir or remove it "
                                  "(nothing was overwritten)")
        saved = dist.from_main(lambda: read_checkpoint(
            path, kind=None if job.kind_optional else job.checkpoint_kind,
            remedy=f"remove {path} (and {previous_path(path).name}) to train from scratch",
            map_location="cpu" if distributed else dev))
        finished = _check_saved(job, saved, path)
        state = _unpack(job, saved)
        state["finished"] = bool(state["finished"]) if finished is None else finished
        job.load(saved, path, dev)
        set_rng_state(saved["rng"])

    def save() -> None:
        if path is not None and dist.is_main():
            save_training_checkpoint(path, job, state)

    if state["finished"]:
        return job.result(state, path), state

    loader = job.prepare(dev, data_root)
    n = len(loader)
    if state["global_step"] is None:  # a flat checkpoint of the former loops: saved at an epoch's end
        state["global_step"] = state["epoch"] * n
    if run is not None:
        run.accept()
    job.wrap(dev)
    epochs = job.config.epochs
    last = epochs if stop_after_epochs is None else min(epochs, stop_after_epochs)
    done = state["epoch"] * n + state["step"]
    ticks: Iterator[Any] = progress(range(done, last * n), total=epochs * n, initial=done, desc=job.desc) \
        if show_progress and dist.is_main() else iter(())
    last_save = time.monotonic()
    while state["epoch"] < last:
        epoch = state["epoch"]
        job.start_epoch(epoch)
        tick = time.perf_counter()
        for batch in loader.iterate(epoch, state["step"]):
            out = job.step(batch, epoch, state["step"], state["global_step"])
            sums = state["sums"]
            sums["loss"] += out.loss_sum
            sums["correct"] += out.correct
            sums["seen"] += out.seen
            state["step"] += 1
            state["global_step"] += 1
            now = time.perf_counter()
            sums["seconds"] += now - tick
            tick = now
            next(ticks, None)
            due = checkpoint_every is not None and state["global_step"] % checkpoint_every == 0
            due = due or (checkpoint_seconds is not None and time.monotonic() - last_save >= checkpoint_seconds)
            if due and state["step"] < n:
                save()
                last_save = time.monotonic()
            if callback is not None:
                callback(out.info)
            if max_steps is not None and state["global_step"] >= max_steps and state["step"] < n:
                save()
                return job.result(state, path), state
        sums = state["sums"]
        record = {"epoch": epoch + 1, **job.end_epoch(epoch, sums)}
        train_seconds = float(sums["seconds"])
        record.update(train_seconds=train_seconds, images_per_second=sums["seen"] / max(train_seconds, 1e-12))
        if job.evaluates(epoch + 1):
            t0 = time.perf_counter()
            record.update(job.evaluate(epoch + 1))
            record["eval_seconds"] = time.perf_counter() - t0
        record["seconds"] = train_seconds + record.get("eval_seconds", 0.0)
        state["history"].append(record)
        job.after_record(state["history"])
        state.update(epoch=epoch + 1, step=0, sums=_fresh_sums(), finished=epoch + 1 >= epochs)
        save()
        last_save = time.monotonic()
        line = job.log_line(record) if log is not None and dist.is_main() else None
        if line is not None:
            log(line)
        if on_epoch is not None:
            on_epoch(dict(record))
        if max_steps is not None and state["global_step"] >= max_steps and not state["finished"]:
            break
    return job.result(state, path), state
