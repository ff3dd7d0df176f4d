"""Every command the README, the how-to-run page and the benchmark docstrings show runs as documented.

Each documented ``python -m rrlib.<module> [subcommand] ...`` or ``python benchmarks/<script>.py ...`` line is run
from the repository root with ``--help`` (the same interpreter, no PYTHONPATH: exactly what a reader types), and every
``--flag`` the documentation uses must appear in that help text. ``python -m rrlib.book list`` runs for real.
"""

from __future__ import annotations

import ast
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", ROOT / "book" / "how_to_run.md"]
COMMAND = re.compile(r"^(?:\S*/)?python3?\s+(-m\s+rrlib\.[a-z_.]+|benchmarks/[a-z_]+\.py)\b")
#: A fenced code block, opening and closing fence each at the start of a line: ``(info string's language, body)``.
#: Matching fences as pairs keeps a block of another language (```yaml) from shifting every later block.
FENCE = re.compile(r"^```([A-Za-z0-9_+-]*)[^\n]*\n(.*?)^```", flags=re.S | re.M)
SHELL_LANGUAGES = ("", "bash", "sh", "shell", "console")


def _logical_lines(text: str) -> list[str]:
    """Lines of fenced code blocks (and indented docstring blocks), with backslash continuations joined."""
    out, current = [], ""
    for raw in text.splitlines():
        line = raw.strip()
        if current:
            line = current + " " + line
            current = ""
        if line.endswith("\\"):
            current = line[:-1].rstrip()
            continue
        out.append(line)
    return out


def documented_commands() -> list[tuple[str, str]]:
    """``(source, command)`` for every documented command line."""
    found: list[tuple[str, str]] = []
    for doc in DOCS:
        for lang, block in FENCE.findall(doc.read_text()):
            if lang not in SHELL_LANGUAGES:
                continue
            for line in _logical_lines(block):
                line = line.split(" #")[0].strip()
                if COMMAND.match(line):
                    found.append((doc.name, line))
    for script in sorted((ROOT / "benchmarks").glob("*.py")):
        docstring = ast.get_docstring(ast.parse(script.read_text())) or ""
        for line in _logical_lines(docstring):
            if COMMAND.match(line):
                found.append((script.name, line))
    return found


def _help_invocation(command: str) -> tuple[list[str], list[str]]:
    """The ``--help`` invocation for ``command`` and the flags the command uses."""
    tokens = shlex.split(command.replace("[", " ").replace("]", " ").replace("|", " "))
    tokens = tokens[1:]  # drop the interpreter
    if tokens[0] == "-m":
        target, rest = tokens[:2], tokens[2:]
    else:
        target, rest = tokens[:1], tokens[1:]
    while rest and not rest[0].startswith("-"):
        # subcommands (``tables run``) and positionals before the first flag: argparse prints the innermost
        # subcommand's help whatever positionals precede ``--help``
        target.append(rest.pop(0))
    flags = sorted({t.split("=")[0] for t in rest if t.startswith("--")})
    return [sys.executable, *target, "--help"], flags


COMMANDS = documented_commands()


def _grouped() -> dict[tuple[str, ...], list[tuple[str, str, list[str]]]]:
    """Documented commands grouped by their ``--help`` invocation (each invocation runs once)."""
    groups: dict[tuple[str, ...], list[tuple[str, str, list[str]]]] = {}
    for source, command in COMMANDS:
        invocation, flags = _help_invocation(command)
        groups.setdefault(tuple(invocation), []).append((source, command, flags))
    return groups


GROUPS = _grouped()


def test_the_docs_document_commands():
    sources = {source for source, _ in COMMANDS}
    assert {"README.md", "how_to_run.md", "attack_overhead.py", "mi_staircase.py"} <= sources, sources


@pytest.mark.parametrize("invocation", list(GROUPS), ids=[" ".join(i[1:]) for i in GROUPS])
def test_documented_command_runs(invocation):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(list(invocation), cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    sources = sorted({source for source, _, _ in GROUPS[invocation]})
    assert done.returncode == 0, f"{sources}: `{' '.join(invocation[1:])}` failed:\n{done.stderr[-2000:]}"
    for source, command, flags in GROUPS[invocation]:
        missing = [flag for flag in flags if flag not in done.stdout]
        assert not missing, f"{source}: `{command}` uses {missing}, which `--help` does not list"


def test_book_list_runs_for_real():
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([sys.executable, "-m", "rrlib.book", "list"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "01_preliminaries" in done.stdout
