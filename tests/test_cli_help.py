"""``--help`` of every command of the one program (``python -m rrlib.cli`` / ``rrbook``) and of its aliases."""

from __future__ import annotations

import argparse

import pytest

from rrlib import book, colab
from rrlib.cli import build_parser, main
from rrlib.experiments import downstream_tables


def _commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    """Every (words, sub-parser) below ``parser``, depth first, the parser itself first."""
    yield path, parser
    for action in parser._actions:  # noqa: SLF001
        if isinstance(action, argparse._SubParsersAction):  # noqa: SLF001
            for name, sub in action.choices.items():
                yield from _commands(sub, (*path, name))


COMMANDS = list(_commands(build_parser()))


def test_the_one_program_has_every_sub_command():
    names = {words for words, _ in COMMANDS}
    for words in [("train-model",), ("estimate-mi",), ("train-encoder",), ("train-classifier",), ("sweep",),
                  ("download",), ("tables", "run"), ("tables", "copy"), ("book", "list"), ("book", "run"),
                  ("book", "build"), ("colab", "sync-notebooks"), ("colab", "links")]:
        assert words in names


@pytest.mark.parametrize("words", [words for words, _ in COMMANDS], ids=lambda w: " ".join(w) or "rrbook")
def test_help_of_every_sub_command_exits_0_and_lists_its_flags(words, capsys):
    parser = dict(COMMANDS)[words]
    with pytest.raises(SystemExit) as done:
        main([*words, "--help"])
    assert done.value.code == 0
    text = capsys.readouterr().out
    flags = [o for a in parser._actions for o in a.option_strings if a.help != argparse.SUPPRESS]  # noqa: SLF001
    for flag in flags:
        assert flag in text, f"{' '.join(words)} --help does not show {flag}"


@pytest.mark.parametrize(("alias", "words"), [(book.main, ["build"]), (colab.main, ["sync-notebooks"]),
                                              (downstream_tables.main, ["run"])])
def test_the_old_programs_take_the_same_arguments(alias, words, capsys):
    with pytest.raises(SystemExit) as done:
        alias([*words, "--help"])
    assert done.value.code == 0
    alias_text = capsys.readouterr().out
    name = {book.main: "book", colab.main: "colab", downstream_tables.main: "tables"}[alias]
    with pytest.raises(SystemExit):
        main([name, *words, "--help"])
    one_text = capsys.readouterr().out
    assert alias_text.split("\n\n", 1)[1] == one_text.split("\n\n", 1)[1]
