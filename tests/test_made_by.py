"""The "made by" line under every figure and table (rrlib/made_by.py): its text in each case, and the commit it names.
The extension at work in a built book: tests/test_book_build.py; every chapter's cells annotated: test_notebooks.py."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from rrlib.made_by import annotation, chapter_parameters, checkout_commit, made_by_text

RUN = "Made by python -m rrlib.book run --profile {profile} --only 04_mine (seed {seed}) at commit abc"


def line(made_by, tmp_path, parameters=None):
    return made_by_text("04_mine", made_by, {"profile": "medium", "seed": 3} if parameters is None else parameters,
                        "abc", tmp_path)


def test_a_metrics_key_names_the_chapters_metrics_file(tmp_path):
    assert line({"metrics": "fit"}, tmp_path) == RUN.format(profile="medium", seed=3) + "; data: 04_mine.json → fit"


def test_several_keys_are_listed_in_order(tmp_path):
    text = line({"metrics": ["oracle", "staircase.dv", "aligned_*"]}, tmp_path)
    assert text.endswith("; data: 04_mine.json → oracle, staircase.dv, aligned_*")


def test_a_committed_file_is_named_when_it_exists_and_the_metrics_otherwise(tmp_path):
    made_by = {"metrics": "images", "results": "results/image_mi_medium.json"}
    assert line(made_by, tmp_path).endswith("; data: 04_mine.json → images")  # not in this checkout
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "image_mi_medium.json").write_text("{}")
    assert line(made_by, tmp_path) == (RUN.format(profile="medium", seed=3) + "; data: results/image_mi_medium.json "
                                       "(committed; results/README.md says how it was made)")
    assert line({"results": "results/missing.json"}, tmp_path) == RUN.format(profile="medium", seed=3)
    (tmp_path / "results" / "b.json").write_text("{}")
    both = {"metrics": "images", "results": ["results/image_mi_medium.json", "results/b.json"]}
    assert line(both, tmp_path).endswith("; data: results/image_mi_medium.json, results/b.json (committed; "
                                         "results/README.md says how each was made)")
    both["results"].append("results/missing.json")  # one of them absent: the metrics are named
    assert line(both, tmp_path).endswith("; data: 04_mine.json → images")


def test_numbers_the_page_computed_are_said_not_to_be_stored(tmp_path):
    assert line({"page": "ε sweep of 50 values"}, tmp_path).endswith(
        "; data: computed on the page (ε sweep of 50 values), not stored in 04_mine.json")


def test_a_notebook_run_without_parameters_reads_as_the_default_quick_run(tmp_path):
    assert line({"metrics": "fit"}, tmp_path, {}).startswith(RUN.format(profile="quick", seed=0))


def test_a_table_typed_in_the_text_says_so(tmp_path):
    assert made_by_text("04_mine", None, {}, "abc", tmp_path) == "Typed in the text of 04_mine at commit abc."


def test_annotation_reads_the_cells_made_by_metadata():
    assert annotation({"rrbook": {"made_by": {"page": "x"}}, "tags": ["remove-input"]}) == {"page": "x"}
    assert annotation({"rrbook": {}}) is None and annotation({}) is None


def test_chapter_parameters_are_papermills(tmp_path):
    notebook = tmp_path / "01_x.ipynb"
    notebook.write_text(json.dumps({"metadata": {"papermill": {"parameters": {"profile": "full", "seed": 2}}}}))
    assert chapter_parameters(notebook) == {"profile": "full", "seed": 2}
    notebook.write_text(json.dumps({"metadata": {}}))
    assert chapter_parameters(notebook) == {}
    assert chapter_parameters(tmp_path / "missing.ipynb") == {}


def test_outside_a_git_checkout_there_is_no_commit(tmp_path, monkeypatch):
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))  # git must not find a repository above
    assert checkout_commit(str(tmp_path)) == "no git commit"


def test_the_commit_is_the_short_head_and_says_when_tracked_files_changed(tmp_path, monkeypatch):
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))

    def git(repo: Path, *args: str) -> str:
        return subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", *args],
                              capture_output=True, text=True, check=True).stdout.strip()

    clean, dirty = tmp_path / "clean", tmp_path / "dirty"
    for repo in (clean, dirty):
        repo.mkdir()
        git(repo, "init", "-q")
        (repo / "a.txt").write_text("a\n")
        git(repo, "add", "a.txt")
        git(repo, "commit", "-q", "-m", "a")
    (clean / "untracked.txt").write_text("not tracked: does not count\n")
    (dirty / "a.txt").write_text("changed\n")
    head = git(clean, "rev-parse", "HEAD")
    assert re.fullmatch(r"[0-9a-f]{10}", checkout_commit(str(clean))) and head.startswith(checkout_commit(str(clean)))
    assert checkout_commit(str(dirty)) == git(dirty, "rev-parse", "--short=10", "HEAD") + " + uncommitted changes"


@pytest.mark.parametrize("text", ["no git commit", "0123456789 + uncommitted changes"])
def test_the_commit_is_pasted_as_given(text, tmp_path):
    assert f" at commit {text}; data:" in made_by_text("04_mine", {"metrics": "fit"}, {}, text, tmp_path)
