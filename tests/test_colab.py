"""Colab links and the set-up cell, without a network: the cell's logic runs with pip and Colab faked."""

from __future__ import annotations

import shutil
import subprocess
import sys
import types

import nbformat
import pytest
import yaml

from rrlib.book import REPO_ROOT, chapters
from rrlib.colab import (
    SETUP_TAG,
    Repository,
    colab_url,
    main,
    read_repository,
    setup_cell_source,
    stage_config,
    sync_notebook,
    sync_notebooks,
)

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
    monkeypatch.delenv("COLAB_RELEASE_TAG", raising=False)
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


def test_colab_is_also_recognised_by_its_environment(monkeypatch):
    calls = _execute(setup_cell_source(REPO), monkeypatch, colab=False, cuda=True)
    assert calls == []
    monkeypatch.setenv("COLAB_RELEASE_TAG", "release-colab_20260101-060000_RC00")
    exec(compile(setup_cell_source(REPO), "<setup cell>", "exec"), {})
    # subprocess.run is still the fake of _execute
    assert calls == [[sys.executable, "-m", "pip", "install", "--quiet",
                      "rrlib @ git+https://github.com/someone/rrbook@v1.2/fix"]]


# ------------------------------------------------------------------------------------------- the chapter notebooks
def _setup_cells(name: str) -> list:
    notebook = nbformat.read(REPO_ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
    return notebook.cells


@pytest.mark.parametrize("name", chapters())
def test_every_chapter_starts_with_the_generated_setup_cell(name):
    """Adding a chapter (or changing _config.yml's repository) means: python -m rrlib.colab sync-notebooks."""
    cells = _setup_cells(name)
    code = [c for c in cells if c.cell_type == "code"]
    expected = setup_cell_source(read_repository(REPO_ROOT / "_config.yml"))
    assert code[0].source == expected, f"{name}: run `python -m rrlib.colab sync-notebooks`"
    assert code[0].metadata["tags"] == ["remove-cell", SETUP_TAG]
    assert cells[0].cell_type == "markdown" and cells[1] is code[0]  # right after the title
    assert "parameters" in code[1].metadata.get("tags", [])  # before the parameters cell
    assert sum(SETUP_TAG in c.metadata.get("tags", []) for c in cells) == 1


@pytest.mark.parametrize("name", chapters())
def test_chapter_setup_cell_is_a_no_op_here(name, monkeypatch):
    """Executed outside Colab, a chapter's set-up cell installs nothing, imports nothing new, prints nothing and
    binds only ``os`` and ``sys``."""
    source = next(c.source for c in _setup_cells(name) if c.cell_type == "code")
    monkeypatch.delenv("COLAB_RELEASE_TAG", raising=False)
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    calls: list = []
    monkeypatch.setattr(subprocess, "run", lambda *args, **kwargs: calls.append(args))
    modules = set(sys.modules)
    namespace: dict = {}
    exec(compile(source, f"<{name} set-up cell>", "exec"), namespace)
    assert calls == []
    assert set(sys.modules) == modules
    assert set(namespace) == {"__builtins__", "os", "sys"}


def test_sync_is_idempotent_and_inserts_after_the_title(tmp_path):
    for name in chapters()[:2]:
        shutil.copy2(REPO_ROOT / "notebooks" / f"{name}.ipynb", tmp_path)
    config = tmp_path / "_config.yml"
    config.write_text("repository:\n  url: https://github.com/o/n\n  branch: dev\n")
    changed = sync_notebooks(tmp_path, config)
    assert len(changed) == 2
    before = {p.name: p.read_bytes() for p in tmp_path.glob("*.ipynb")}
    assert sync_notebooks(tmp_path, config) == []
    assert before == {p.name: p.read_bytes() for p in tmp_path.glob("*.ipynb")}
    cells = nbformat.read(changed[0], as_version=4).cells
    assert "git+https://github.com/o/n@dev" in cells[1].source

    # a new chapter without the cell gets it inserted before its first code cell
    fresh = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('profile = "quick"')
    params.metadata["tags"] = ["parameters"]
    fresh.cells = [nbformat.v4.new_markdown_cell("# New"), params]
    path = tmp_path / "07_new.ipynb"
    nbformat.write(fresh, path)
    assert sync_notebook(path, None) and not sync_notebook(path, None)
    cells = nbformat.read(path, as_version=4).cells
    assert [c.cell_type for c in cells] == ["markdown", "code", "code"]
    assert cells[1].source == setup_cell_source(None) and cells[2].source == 'profile = "quick"'
    assert sync_notebook(path, Repository("https://github.com/o/n"), write=False)


def test_sync_command_check_mode(monkeypatch, capsys):
    assert main(["sync-notebooks", "--check"]) == 0
    assert "current set-up cell" in capsys.readouterr().out
    with pytest.raises(FileNotFoundError, match="not found"):
        sync_notebook(REPO_ROOT / "notebooks" / "99_missing.ipynb", None)


def _theme_colab_link(staged_config: dict, pagename: str) -> str:
    """The link sphinx-book-theme 1.x composes (header_buttons/launch.py), from the configuration Jupyter Book 1.x
    passes it (repository.url/branch/path_to_book -> repository_url/repository_branch/path_to_docs)."""
    section = staged_config["repository"]
    org, repo = section["url"].strip("/").rsplit("/", 2)[1:]
    relpath = section.get("path_to_book", "").strip("/")
    relpath = relpath + "/" if relpath else ""
    colab = staged_config["launch_buttons"]["colab_url"].strip("/")
    return f"{colab}/github/{org}/{repo}/blob/{section['branch']}/{relpath}{pagename}.ipynb"


def test_staged_config_switches_the_colab_button(tmp_path):
    staged = tmp_path / "staged.yml"
    # the repository's own configuration: no URL, so no launch button (and the file is otherwise untouched)
    assert stage_config(REPO_ROOT / "_config.yml", staged) is None
    config = yaml.safe_load(staged.read_text())
    assert config["repository"]["url"] == "" and config["launch_buttons"]["colab_url"] == ""
    original = yaml.safe_load((REPO_ROOT / "_config.yml").read_text())
    assert {k: v for k, v in config.items() if k not in ("repository", "launch_buttons")} == \
        {k: v for k, v in original.items() if k not in ("repository", "launch_buttons")}

    # with a URL (even spelled with .git and a trailing slash), the button opens colab_url(chapter)
    source = tmp_path / "_config.yml"
    original["repository"] = {"url": "https://github.com/someone/rrbook.git", "branch": "v1.2/fix",
                              "path_to_book": "/docs/book/"}
    source.write_text(yaml.safe_dump(original))
    repository = stage_config(source, staged)
    assert repository == REPO
    config = yaml.safe_load(staged.read_text())
    assert config["launch_buttons"]["colab_url"] == "https://colab.research.google.com"
    for name in chapters():
        link = _theme_colab_link(config, f"notebooks/{name}")
        assert link == colab_url(name, repository)
        assert link.endswith(f"/blob/v1.2/fix/docs/book/notebooks/{name}.ipynb")


def test_set_repository_on_a_copy_gives_buttons_and_setup_cells(tmp_path, capsys):
    # what the publishing workflow does with `github.server_url`/`github.repository` and the branch, on a copy
    shutil.copy(REPO_ROOT / "_config.yml", tmp_path / "_config.yml")
    shutil.copytree(REPO_ROOT / "notebooks", tmp_path / "notebooks")
    before = (tmp_path / "_config.yml").read_text()
    assert main(["set-repository", "https://github.com/someone/rrbook", "--branch", "pages-test",
                 "--root", str(tmp_path)]) == 0
    assert "repository: https://github.com/someone/rrbook (branch pages-test)" in capsys.readouterr().out
    after = (tmp_path / "_config.yml").read_text()
    changed = [(a, b) for a, b in zip(before.splitlines(), after.splitlines(), strict=True) if a != b]
    assert changed == [('  url: ""', '  url: "https://github.com/someone/rrbook"'),
                       ("  branch: main", '  branch: "pages-test"')]  # comments and all else byte for byte
    repository = read_repository(tmp_path / "_config.yml")
    assert repository == Repository("https://github.com/someone/rrbook", "pages-test")
    stage_config(tmp_path / "_config.yml", tmp_path / "staged.yml")
    staged = yaml.safe_load((tmp_path / "staged.yml").read_text())
    assert staged["launch_buttons"]["colab_url"] == "https://colab.research.google.com"
    for name in chapters():
        assert _theme_colab_link(staged, f"notebooks/{name}") == colab_url(name, repository)
        cell = next(c for c in nbformat.read(tmp_path / "notebooks" / f"{name}.ipynb", as_version=4).cells
                    if c.cell_type == "code")
        assert cell.source == setup_cell_source(repository)
        assert '"rrlib @ git+https://github.com/someone/rrbook@pages-test"' in cell.source
    assert main(["set-repository", "https://gitlab.com/a/b", "--root", str(tmp_path)]) == 1
    assert "not a GitHub repository address" in capsys.readouterr().err
    assert (tmp_path / "_config.yml").read_text() == after  # a refused URL writes nothing
