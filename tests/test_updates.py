"""rrlib.report.updates on a small git repository made here: its errata dates, result updates and files' last changes
are exactly the commits made; a copy without history, a folder inside another repository, no git program and a
shallow clone give no dates and say so in one sentence."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from rrlib.report import markdown
from rrlib.report.types import Erratum
from rrlib.report.updates import (
    FULL,
    NONE,
    SHALLOW,
    FileChange,
    FileState,
    collect,
    headline,
    history_note,
    history_state,
)

ERRATA = {"alpha": Erratum("Theorem 9", "A = B + C as printed", "a sign is wrong", "a test"),
          "beta": Erratum("Table {number}, row {row}", "{value:.2f} in both rows", "a copy error", "the table")}


def _git(root: Path, *args: str, when: str | None = None) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.org", "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    if when:
        env.update(GIT_AUTHOR_DATE=when, GIT_COMMITTER_DATE=when)
    return subprocess.run(["git", *args], cwd=root, env=env, capture_output=True, text=True, check=True).stdout


def _write(root: Path, files: dict[str, str | None]) -> None:
    for name, text in files.items():
        path = root / name
        if text is None:
            path.unlink()
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)


#: (commit time with its zone, files written (None: deleted), subject)
COMMITS = [
    ("2026-01-01T10:00:00+00:00", {"rrlib/report.py": 'out.append(Erratum("Theorem 9", "A = B + C as printed"))\n',
                                   "results/a.json": "{}", "results/README.md": "what a is"},
     "The report, with its first erratum written as code. And a first result"),
    # 23:30 at UTC-05:00 is 04:30 UTC the next day: dates are given in UTC
    ("2026-01-02T23:30:00-05:00", {"rrlib/report/errata.py": 'ERRATA = {\n    "alpha": Erratum("Theorem 9", "A = B + '
                                   'C as printed"),\n    "beta": Erratum("Table {n}", "{v} in both rows"),\n}\n',
                                   "rrlib/report.py": None, "results/a.json": '{"x": 1}', "results/b.json": "{}",
                                   "results/sub/c.json": "{}"},
     "Errata as keyed data: a second one (the table's copy error); a changed, b and c added"),
    ("2026-01-04T09:00:00+00:00", {"results/a.json": None, "results/weights_medium/w.pt": "weights",
                                   "notes.txt": "not a result"},
     "a deleted, weights added"),
    ("2026-01-05T09:00:00+00:00", {"results/README.md": "what b is", "results/other.txt": "not a result"},
     "Only the README and a text file"),
]


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> tuple[Path, list[str]]:
    """The repository and its commits' short hashes, oldest first."""
    root = tmp_path_factory.mktemp("history") / "book"
    root.mkdir()
    _git(root, "init", "-q", "-b", "main")
    hashes = []
    for when, files, subject in COMMITS:
        _write(root, files)
        _git(root, "add", "-A")
        _git(root, "commit", "-q", "-m", subject, when=when)
        hashes.append(_git(root, "rev-parse", "--short", "HEAD").strip())
    return root, hashes


def test_errata_updates_and_files_are_exactly_the_commits_made(repo):
    root, (c1, c2, c3, _) = repo
    updates = collect(root, ERRATA)
    assert updates.history == FULL
    # alpha: first listed as code in c1, before it had a key (c2); beta: with its key
    assert [(e.key, e.commit.short, e.commit.date) for e in updates.errata] == [("alpha", c1, "2026-01-01"),
                                                                                ("beta", c2, "2026-01-03")]
    assert [e.where for e in updates.errata] == ["Theorem 9", "Table …, row …"]  # fields not filled: elided
    assert [(u.commit.short, u.commit.date, u.commit.subject, u.changes) for u in updates.results] == [
        (c3, "2026-01-04", "a deleted, weights added",
         (FileChange("results/a.json", "deleted"), FileChange("results/weights_medium/w.pt", "added"))),
        (c2, "2026-01-03", COMMITS[1][2],
         (FileChange("results/a.json", "modified"), FileChange("results/b.json", "added"),
          FileChange("results/sub/c.json", "added"))),
        (c1, "2026-01-01", COMMITS[0][2], (FileChange("results/a.json", "added"),)),
    ]
    assert [(f.path, f.last.short) for f in updates.files] == [
        ("results/b.json", c2), ("results/sub/c.json", c2), ("results/weights_medium/w.pt", c3)]
    assert all(isinstance(f, FileState) for f in updates.files)
    assert updates.results[1].commit.time == "2026-01-03T04:30:00+00:00"


def test_the_tables_show_every_row(repo, assert_plain):
    root, (c1, c2, c3, _) = repo
    updates = collect(root, ERRATA)
    errata = markdown.dated_errata_markdown(updates)
    assert ":name: tab-updates-errata" in errata and errata.count("\n| ") == 1 + 2
    assert f"2026-01-01</span> | `{c1}` | Theorem 9 | a sign is wrong |" in errata
    results = markdown.result_updates_markdown(updates)
    assert results.startswith(":::{table} The 3 commits that added, changed or deleted our committed results")
    assert results.count("\n| ") == 1 + 3
    assert f"| `{c3}` | deleted a.json<br>added weights_medium/w.pt | a deleted, weights added |" in results
    assert (f"| `{c2}` | modified a.json<br>added b.json<br>added sub/c.json | Errata as keyed data: a second one (the "
            "table's copy error) |") in results
    assert f"| `{c1}` | added a.json | The report, with its first erratum written as code |" in results
    files = markdown.result_files_markdown(updates)
    assert files.count("\n| ") == 1 + 3 and "| weights_medium/w.pt | " in files and f"`{c3}` |" in files
    metrics = updates.metrics()
    assert_plain(metrics)
    assert (metrics["history"], metrics["n_errata"], metrics["n_updates"]) == (FULL, 2, 3)


def _without_dates(updates, history: str) -> None:
    assert updates.history == history and not updates.results and not updates.files
    assert [e.key for e in updates.errata] == ["alpha", "beta"] and all(e.commit is None for e in updates.errata)
    errata = markdown.dated_errata_markdown(updates)
    assert errata.startswith(history_note(history) + "\n\n:::{table}") and "2026" not in errata
    assert markdown.result_updates_markdown(updates) == markdown.result_files_markdown(updates) == ""
    assert updates.metrics()["n_updates"] is None


def test_a_copy_without_git_history_gives_no_dates(repo, tmp_path):
    root, _ = repo
    copy = tmp_path / "copy"
    shutil.copytree(root, copy, ignore=shutil.ignore_patterns(".git"))
    assert history_state(copy) == NONE
    _without_dates(collect(copy, ERRATA), NONE)
    assert "without its repository's git history" in history_note(NONE)


def test_a_folder_inside_another_repository_has_no_history_of_its_own(repo):
    root, _ = repo
    assert history_state(root / "results") == NONE


def test_no_git_program_gives_no_dates(repo, monkeypatch, tmp_path):
    root, _ = repo
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no git
    _without_dates(collect(root, ERRATA), NONE)


def test_a_shallow_clone_is_detected_and_gives_no_dates(repo, tmp_path):
    root, _ = repo
    clone = tmp_path / "shallow"
    _git(tmp_path, "clone", "-q", "--depth", "1", root.as_uri(), str(clone))
    assert history_state(clone) == SHALLOW
    _without_dates(collect(clone, ERRATA), SHALLOW)
    assert "shallow clone" in history_note(SHALLOW) and history_note(FULL) == ""


def test_an_empty_repository_has_no_history(tmp_path):
    _git(tmp_path, "init", "-q")
    assert history_state(tmp_path) == NONE


def test_headline_is_the_first_clause_or_cut():
    assert headline("Chapter 12's medium runs committed: the bmi scoreboard (40 tasks: 1,044 runs)") == \
        "Chapter 12's medium runs committed"
    assert headline("Issue 19: the judge's first four records (seeds 0 and 2; RV 0.96). More") == \
        "Issue 19: the judge's first four records (seeds 0 and 2; RV 0.96)"
    long = "word " * 60
    assert headline(long, limit=40) == "word word word word word word word word …"
