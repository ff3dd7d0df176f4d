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
