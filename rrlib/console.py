"""The console end of the command-line programs (``rrlib.cli``, ``rrlib.book``, ``rrlib.colab``); needs no torch.

A reader that stops early (``python -m rrlib.cli sweep ... --list | head -1``) closes the pipe that a program still
writes to. Python then raises ``BrokenPipeError`` at the next write or at its last flush; :func:`quiet_broken_pipe`
ends the program quietly instead, as other Unix tools do: no traceback, exit status 141 (128 + SIGPIPE, what a
shell reports for a writer whose reader has gone).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

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
