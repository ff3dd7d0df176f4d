"""The console end of the command-line programs (``rrlib.cli``, ``rrlib.book``, ``rrlib.colab``); needs no torch.

Bad input is one ``error: ...`` line (:func:`error_line`, exit 2); warnings are one ``warning: ...`` line
(:func:`one_line_warnings`); :func:`guarded_training` runs a training command's work with both and Ctrl-C as a line
saying how to resume (exit 130).

A reader that stops early (``python -m rrlib.cli sweep ... --list | head -1``) closes the pipe that a program still
writes to. Python then raises ``BrokenPipeError`` at the next write or at its last flush; :func:`quiet_broken_pipe`
ends the program quietly instead, as other Unix tools do: no traceback, exit status 141 (128 + SIGPIPE, what a
shell reports for a writer whose reader has gone).
"""

from __future__ import annotations

import contextlib
import os
import sys
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

#: The exit status of a program whose standard output was closed by its reader (128 + SIGPIPE).
BROKEN_PIPE_EXIT = 141


@contextlib.contextmanager
def quiet_broken_pipe() -> Iterator[None]:
    """Run a program's body; a closed standard output ends it with ``SystemExit(141)`` and nothing on stderr.

    Standard output is flushed on the way out (also after ``--help``'s ``SystemExit``), so that a closed pipe is
    found here rather than in the interpreter's final flush; after one, standard output points at ``/dev/null`` so
    that the final flush has nothing left to complain about.
    """
    try:
        try:
            yield
        finally:
            sys.stdout.flush()
    except BrokenPipeError:
        with contextlib.suppress(OSError, ValueError, AttributeError):  # a captured stdout may have no descriptor
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
        raise SystemExit(BROKEN_PIPE_EXIT) from None


def error_line(err: BaseException) -> int:
    """Print ``err`` as one ``error: ...`` line on stderr; returns the exit code 2 (bad input)."""
    print(f"error: {err}", file=sys.stderr)
    return 2


@contextlib.contextmanager
def one_line_warnings() -> Iterator[None]:
    """Show warnings (e.g. a fallback to the previous checkpoint) as one ``warning: ...`` line on stderr."""
    saved = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001
        print(f"warning: {message}", file=sys.stderr)

    warnings.showwarning = show
    try:
        yield
    finally:
        warnings.showwarning = saved


def guarded_training(train: Callable[[], Any], out: Path) -> tuple[Any, int]:
    """Run ``train()`` as the three training commands do: warnings as one line, a bad checkpoint or configuration
    as one ``error:`` line (exit 2), Ctrl-C as a line saying how to resume (exit 130). Returns (result, 0) or
    (None, exit code)."""
    from rrlib.train.checkpoint import CheckpointError
    from rrlib.train.run_folder import FinishedRunError

    try:
        with one_line_warnings():
            return train(), 0
    except FinishedRunError as done:  # finished earlier, checkpoint gone: reported, not retrained (exit 0)
        print(f"finished: {done}")
        return None, 0
    except (CheckpointError, ValueError, FileExistsError, FileNotFoundError) as err:
        return None, error_line(err)
    except KeyboardInterrupt:
        print(f"interrupted; rerun the same command to continue from the last checkpoint in {out}", file=sys.stderr)
        return None, 130


# ------------------------------------------------------------------------------------------ lines of the commands
def encoder_epoch_line(record: dict[str, Any], epochs: int) -> str:
    """train-encoder's line for one epoch's record (training DV, held-out normal and worst-case MI, RV; nats)."""
    return (f"epoch {record['epoch']:>3}/{epochs}  train DV {record['train_dv']:.4f}  held-out MI normal "
            f"{record['heldout_mi_normal']:.4f} worst {record['heldout_mi_worst']:.4f} RV {record['heldout_rv']:.4f} "
            f"nats  {record['seconds']:.1f} s")


def describe_threat(threat: Any) -> str:
    """``linf PGD-10, eps 0.1, step 0.01`` of a :class:`rrlib.attacks.ThreatModel`."""
    return f"{threat.norm} PGD-{threat.steps}, eps {threat.eps:.4g}, step {threat.step_size:.4g}"


def classifier_epoch_line(record: dict[str, Any], epochs: int) -> str:
    """train-classifier's line for one epoch's record (training loss and accuracy, validation and test accuracy)."""
    line = (f"epoch {record['epoch']:>3}/{epochs}  train loss {record['train_loss']:.4f} acc {record['train_acc']:.3f}")
    for split in ("val", "test"):
        if f"{split}_nat_acc" in record:
            line += f"  {split} nat {record[f'{split}_nat_acc']:.3f} adv {record[f'{split}_adv_acc']:.3f}"
    line += f"  {record['seconds']:.1f} s"
    return line + (f" (+{record['eval_seconds']:.1f} s eval)" if "eval_seconds" in record else "")


def head_summary_lines(metrics: dict[str, Any]) -> list[str]:
    """train-classifier's closing lines: test accuracy (natural, PGD, AutoAttack when measured) of the final and the
    best head."""
    lines = []
    for which in ("final", "best"):
        numbers = metrics[which]
        if numbers is not None:
            aa_text = (f", AutoAttack {numbers['autoattack_accuracy']:.3f}" if "autoattack_accuracy" in numbers
                       else "")
            lines.append(f"{which} (epoch {numbers['epoch']}): test natural {numbers['natural_accuracy']:.3f}, PGD "
                         f"{numbers['adversarial_accuracy']:.3f}{aa_text}")
    return lines


def reloaded_estimate_line(out: Path, previous: dict[str, Any]) -> str:
    """estimate-mi's line for a result file that already holds the same estimate (reloaded, not recomputed)."""
    summary = " | ".join(f"{key} {previous[key]['mean']:.4f}" for key in ("normal", "worst", "rv")
                         if previous.get(key) is not None)
    return (f"estimate-mi: {out} already holds this estimate (same checkpoint and settings): {summary} nats; "
            "reloaded, nothing recomputed")
