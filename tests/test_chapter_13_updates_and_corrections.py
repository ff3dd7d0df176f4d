"""The "Updates and corrections" page (quick profile) on this repository: every erratum of ERRATA with the date and
commit git gives for it, and every commit that added, changed or deleted a committed result, newest first, with its
files, each compared with `git log` run here; each committed file's last change likewise. Without a full history
(a shallow clone in CI, a copy without .git) the page gives no dates and says why."""

from __future__ import annotations

import json
import string
import subprocess
from datetime import datetime, timezone

import pytest

from rrlib.book import REPO_ROOT
from rrlib.report.errata import ERRATA
from rrlib.report.updates import ERRATA_TRACED_UNDER, FULL, RESULT_PATHSPECS, history_note, history_state

CHAPTER = "13_updates_and_corrections"


def _git(*args: str) -> str:
    return subprocess.run(["git", "-c", "core.quotePath=false", *args], cwd=REPO_ROOT, capture_output=True, text=True,
                          check=True).stdout


def _first(*args: str) -> tuple[str, str] | None:
    """(short hash, UTC commit time) of the oldest commit `git log -S…` finds."""
    lines = _git("log", "--reverse", "--format=%h %cI", *args).splitlines()
    if not lines:
        return None
    short, iso = lines[0].split()
    return short, datetime.fromisoformat(iso).astimezone(timezone.utc).isoformat()


def _page_markdown(chapters_workdir) -> str:
    """Every markdown output of the executed page, joined."""
    nb = json.loads((chapters_workdir / "executed" / f"{CHAPTER}.ipynb").read_text())
    return "\n".join("".join(o["data"]["text/markdown"]) for c in nb["cells"] if c["cell_type"] == "code"
                     for o in c.get("outputs", []) if "text/markdown" in o.get("data", {}))


@pytest.mark.slow
def test_every_erratum_has_the_date_git_gives(chapter_metrics, chapters_workdir):
    m = chapter_metrics(CHAPTER)
    page = _page_markdown(chapters_workdir)
    assert m["history"] == history_state(REPO_ROOT)
    assert [e["key"] for e in m["errata"]] == list(ERRATA) and m["n_errata"] == len(ERRATA)
    if m["history"] != FULL:
        assert history_note(m["history"]) in page and all(e["commit"] is None for e in m["errata"])
        return
    for e in m["errata"]:
        keyed = _first(f'-S"{e["key"]}": Erratum(')
        assert keyed is not None, f"git finds no commit adding the key {e['key']!r}"
        printed = max((piece.strip() for piece, *_ in string.Formatter().parse(ERRATA[e["key"]].printed)), key=len)
        traced = _first(f"-S{printed}", "--", *ERRATA_TRACED_UNDER)
        short, time = min((c for c in (keyed, traced) if c is not None), key=lambda c: c[1])
        assert (e["commit"]["short"], e["commit"]["time"]) == (short, time), e["key"]
        assert f"{time[:10]}</span> | `{short}` |" in page  # the row on the page
    assert page.count("tab-updates-errata") == 1


@pytest.mark.slow
def test_every_change_to_a_committed_result_is_listed_newest_first(chapter_metrics, chapters_workdir):
    m = chapter_metrics(CHAPTER)
    if m["history"] != FULL:
        assert m["updates"] == m["files"] == [] and m["n_updates"] is None
        return
    page = _page_markdown(chapters_workdir)
    log = _git("log", "--no-renames", "--name-status", "--format=%x1e%h %cI", "--", *RESULT_PATHSPECS)
    expected = []
    for record in log.split("\x1e")[1:]:
        header, *lines = [line for line in record.splitlines() if line.strip()]
        short, iso = header.split()
        changes = [{"path": line.split("\t")[1], "status": {"A": "added", "M": "modified", "D": "deleted"}[line[0]]}
                   for line in lines]
        expected.append((short, datetime.fromisoformat(iso).astimezone(timezone.utc).date().isoformat(), changes))
    assert [(u["commit"]["short"], u["commit"]["date"], u["changes"]) for u in m["updates"]] == expected
    assert m["n_updates"] == len(expected) > 0
    # every commit that touched results/*.json is among them
    assert set(_git("log", "--format=%h", "--", "results/*.json").split()) <= {short for short, *_ in expected}
    table = page.split("tab-updates-results", 1)[1].split(":::", 1)[0]
    assert table.count("\n| ") == 1 + len(expected)
    rows = [line for line in table.splitlines() if line.startswith("| <span")]
    assert [row.split(" | ")[1] for row in rows] == [f"`{short}`" for short, *_ in expected]
    # each committed result file with its last change
    files = _git("ls-files", "--", *RESULT_PATHSPECS).split()
    assert [f["path"] for f in m["files"]] == sorted(files)
    for f in m["files"]:
        assert f["last"]["short"] == _git("log", "-1", "--format=%h", "--", f["path"]).strip(), f["path"]
