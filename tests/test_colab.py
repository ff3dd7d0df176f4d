"""Colab links and the set-up cell, without a network: the cell's logic runs with pip and Colab faked."""

from __future__ import annotations

import subprocess
import sys
import types

import pytest

from rrlib.colab import Repository, colab_url, read_repository, setup_cell_source

REPO = Repository("https://github.com/someone/rrbook.git", "v1.2/fix", "docs/book")


def test_link_names_branch_path_and_ipynb():
    url = colab_url("06_vulnerability_robustness", REPO)
    assert url == ("https://colab.research.google.com/github/someone/rrbook/blob/v1.2/fix/docs/book/"
                   "notebooks/06_vulnerability_robustness.ipynb")
    assert url.endswith(".ipynb")
    assert colab_url("01_preliminaries", Repository("https://github.com/a/b/")).endswith(
        "/github/a/b/blob/main/notebooks/01_preliminaries.ipynb")


@pytest.mark.parametrize("url", ["", "http://github.com/a/b", "https://gitlab.com/a/b", "https://github.com/a",
                                 "git@github.com:a/b.git"])
def test_bad_urls_are_named(url):
    with pytest.raises(ValueError, match="not a GitHub repository address"):
        Repository(url)


def test_bad_branch_path_and_chapter():
    with pytest.raises(ValueError, match="branch"):
        Repository("https://github.com/a/b", "bad branch")
    with pytest.raises(ValueError, match="path_to_book"):
        Repository("https://github.com/a/b", "main", "../up")
    with pytest.raises(ValueError, match="NN_name"):
        colab_url("mine", REPO)


def test_read_repository(tmp_path):
    config = tmp_path / "_config.yml"
    config.write_text("title: x\n")
    assert read_repository(config) is None
    config.write_text("repository:\n  url: https://github.com/o/n\n  branch: dev\n  path_to_book: /sub/\n")
    assert read_repository(config) == Repository("https://github.com/o/n", "dev", "sub")


def _execute(source: str, monkeypatch, *, colab: bool, cuda: bool) -> list[list[str]]:
    calls: list[list[str]] = []
    monkeypatch.setattr(subprocess, "run", lambda args, check: calls.append(list(args)))
    if colab:
        monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    else:
        monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    exec(compile(source, "<setup cell>", "exec"), {})
    return calls


def test_setup_cell_does_nothing_outside_colab(monkeypatch, capsys):
    assert _execute(setup_cell_source(REPO), monkeypatch, colab=False, cuda=False) == []
    assert capsys.readouterr().out == ""


def test_setup_cell_installs_from_the_repository_on_colab(monkeypatch, capsys):
    calls = _execute(setup_cell_source(REPO), monkeypatch, colab=True, cuda=True)
    assert calls == [[sys.executable, "-m", "pip", "install", "--quiet",
                      "rrlib @ git+https://github.com/someone/rrbook@v1.2/fix"]]
    assert capsys.readouterr().out == ""
    _execute(setup_cell_source(REPO), monkeypatch, colab=True, cuda=False)
    assert "Change runtime type > GPU" in capsys.readouterr().out


def test_setup_cell_without_repository_explains(monkeypatch):
    with pytest.raises(RuntimeError, match="repository.url"):
        _execute(setup_cell_source(None), monkeypatch, colab=True, cuda=True)
    assert _execute(setup_cell_source(None), monkeypatch, colab=False, cuda=True) == []
