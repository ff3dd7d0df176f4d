"""The book's updates and corrections, read from the repository's git history, never typed: when each erratum of
:data:`rrlib.report.errata.ERRATA` was first listed, and every commit that added, changed or deleted one of our
committed results (:data:`RESULT_PATHSPECS`), newest first, with when each committed file last changed.

Dates are commit dates in UTC. Git is called through :mod:`subprocess`; a copy without the repository's history
(no ``.git``, no ``git`` program, or a folder inside some other repository) and a shallow clone, whose history is
cut off and whose dates would therefore be wrong, give no dates at all: :attr:`Updates.history` says which
(:data:`FULL`, :data:`SHALLOW`, :data:`NONE`) and :func:`history_note` says it in one sentence.

>>> from rrlib.report.updates import collect
>>> updates = collect()                        # doctest: +SKIP
>>> updates.history, len(updates.results)       # doctest: +SKIP
('full', 6)
"""

from __future__ import annotations

import string
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from rrlib.chapter_metrics import REPO_ROOT
from rrlib.report import errata as book_errata
from rrlib.report.types import Erratum

__all__ = ["ERRATA_TRACED_UNDER", "FULL", "MIN_TRACED_CHARS", "NONE", "RESULT_PATHSPECS", "SHALLOW", "STATUS",
           "Commit", "DatedErratum", "FileChange", "FileState", "ResultUpdate", "Updates", "collect", "erratum_commits",
           "headline", "history_note", "history_state", "last_changes", "result_updates"]

#: The history is whole: dates can be given.
FULL = "full"
#: A shallow clone (``git rev-parse --is-shallow-repository``): its oldest commits stand for the cut-off history.
SHALLOW = "shallow"
#: No git history here (no ``.git`` in this folder, no ``git`` program, or no commit).
NONE = "none"

#: Our published numbers: the committed JSON results anywhere under ``results/`` (including the partial records
#: once committed there) and the medium run's weights, which chapters 08 and 09 attack and draw (git glob pathspecs:
#: ``*`` stays inside one folder, ``**/`` spans any).
RESULT_PATHSPECS = (":(glob)results/**/*.json", ":(glob)results/weights_medium/*.pt")
#: Where an erratum may have been recorded before its key existed (the errata were written as code in
#: ``rrlib/report.py`` before they became keyed data in ``rrlib/report/errata.py``).
ERRATA_TRACED_UNDER = ("rrlib",)
#: ``git log --name-status`` letters, in words (``--no-renames``: a move is a deletion and an addition).
STATUS = {"A": "added", "M": "modified", "D": "deleted", "T": "modified"}
#: The shortest literal piece of an erratum's printed text that is searched for in the history (a shorter one
#: could be any text).
MIN_TRACED_CHARS = 8

_FIELD, _RECORD = "%x1f", "%x1e"
_FORMAT = f"--format={_RECORD}%H{_FIELD}%h{_FIELD}%cI{_FIELD}%s"


@dataclass(frozen=True)
class Commit:
    """One commit: full and short hash, its commit time in UTC (ISO) and its subject line."""

    hash: str
    short: str
    time: str
    subject: str

    @property
    def date(self) -> str:
        """``YYYY-MM-DD`` in UTC."""
        return self.time[:10]


@dataclass(frozen=True)
class DatedErratum:
    """An erratum's key, where it is and what the book found, and the commit that first listed it (None without
    history)."""

    key: str
    where: str
    finding: str
    commit: Commit | None


@dataclass(frozen=True)
class FileChange:
    """One result file a commit touched: its path and ``added``, ``modified`` or ``deleted``."""

    path: str
    status: str


@dataclass(frozen=True)
class ResultUpdate:
    """A commit that added, changed or deleted committed results, with those files."""

    commit: Commit
    changes: tuple[FileChange, ...]


@dataclass(frozen=True)
class FileState:
    """A committed result file and the commit that last changed it."""

    path: str
    last: Commit


@dataclass(frozen=True)
class Updates:
    """The page's data: the state of the history, the errata with their dates, the result updates (newest first)
    and each committed result file's last change. Without a full history the last two are empty and no erratum has a
    commit."""

    history: str
    errata: list[DatedErratum]
    results: list[ResultUpdate]
    files: list[FileState]

    def metrics(self) -> dict[str, Any]:
        """Plain JSON for :func:`rrlib.book.publish` (``n_updates`` is None without a full history)."""
        def commit(c: Commit | None) -> dict[str, str] | None:
            return None if c is None else {"hash": c.hash, "short": c.short, "date": c.date, "time": c.time,
                                           "subject": c.subject}

        return {"history": self.history, "n_errata": len(self.errata),
                "n_updates": len(self.results) if self.history == FULL else None,
                "errata": [{"key": e.key, "where": e.where, "finding": e.finding, "commit": commit(e.commit)}
                           for e in self.errata],
                "updates": [{"commit": commit(u.commit), "changes": [asdict(c) for c in u.changes]}
                            for u in self.results],
                "files": [{"path": f.path, "last": commit(f.last)} for f in self.files]}


# ------------------------------------------------------------------------------------------------------- git calls
def _git(root: Path, *args: str) -> str:
    """``git args`` in ``root``: its stdout; raises OSError (no git) or CalledProcessError. Paths unquoted, no
    signature lines, whatever the user's configuration."""
    return subprocess.run(["git", "-c", "core.quotePath=false", "-c", "log.showSignature=false", *args], cwd=root,
                          capture_output=True, text=True, encoding="utf-8", check=True).stdout


def history_state(root: str | Path = REPO_ROOT) -> str:
    """:data:`FULL`, :data:`SHALLOW` or :data:`NONE` for the repository whose top folder is ``root``. A folder
    inside another repository (a copy of the book put into some other project) has no history of its own: NONE."""
    root = Path(root)
    try:
        top = _git(root, "rev-parse", "--show-toplevel").strip()
        if Path(top).resolve() != root.resolve():
            return NONE
        shallow = _git(root, "rev-parse", "--is-shallow-repository").strip()
        _git(root, "rev-parse", "--verify", "--quiet", "HEAD^{commit}")
    except (OSError, subprocess.CalledProcessError):
        return NONE
    return SHALLOW if shallow == "true" else FULL


def _parse_log(text: str) -> list[tuple[Commit, list[str]]]:
    """``git log`` output in :data:`_FORMAT` → each commit with the non-empty lines after its header."""
    out = []
    for record in text.split("\x1e")[1:]:
        header, _, rest = record.partition("\n")
        full, short, iso, subject = header.split("\x1f", 3)
        when = datetime.fromisoformat(iso).astimezone(timezone.utc).isoformat()
        out.append((Commit(full, short, when, subject), [line for line in rest.splitlines() if line.strip()]))
    return out


def _first_adding(root: Path, text: str, *paths: str) -> Commit | None:
    """The oldest commit whose diff changes the number of occurrences of ``text`` (``git log -S``; the first such
    commit can only add it), under ``paths`` or anywhere."""
    found = _parse_log(_git(root, "log", "--reverse", f"-S{text}", _FORMAT, *(("--", *paths) if paths else ())))
    return found[0][0] if found else None


def _longest_literal(template: str) -> str:
    """The longest piece of a ``str.format`` template outside its ``{fields}``, stripped."""
    pieces = [literal.strip() for literal, *_ in string.Formatter().parse(template)]
    return max(pieces, key=len, default="")


# --------------------------------------------------------------------------------------------------------- the data
def erratum_commits(root: str | Path, errata: Mapping[str, Erratum]) -> dict[str, Commit | None]:
    """Per erratum key, the commit that first listed it: the older of the commit that first added ``"key":
    Erratum(`` anywhere in the history (``git log -S``, so a moved file is followed) and the commit that first added
    the longest literal piece of its printed text under :data:`ERRATA_TRACED_UNDER` (an erratum listed before the
    errata had keys; pieces shorter than :data:`MIN_TRACED_CHARS` are not searched). None when neither is found."""
    root = Path(root)
    out: dict[str, Commit | None] = {}
    for key, template in errata.items():
        found = [_first_adding(root, f'"{key}": Erratum(')]
        printed = _longest_literal(template.printed)
        if len(printed) >= MIN_TRACED_CHARS:
            found.append(_first_adding(root, printed, *ERRATA_TRACED_UNDER))
        dated = [c for c in found if c is not None]
        out[key] = min(dated, key=lambda c: c.time) if dated else None
    return out


def result_updates(root: str | Path, pathspecs: Sequence[str] = RESULT_PATHSPECS) -> list[ResultUpdate]:
    """Every commit that added, changed or deleted a file matching ``pathspecs``, newest first (``git log``'s
    order), with those files (``--no-renames``)."""
    text = _git(Path(root), "log", "--no-renames", "--name-status", _FORMAT, "--", *pathspecs)
    out = []
    for commit, lines in _parse_log(text):
        changes = []
        for line in lines:
            letter, _, path = line.partition("\t")
            changes.append(FileChange(path, STATUS.get(letter[:1], letter)))
        out.append(ResultUpdate(commit, tuple(changes)))
    return out


def last_changes(updates: Sequence[ResultUpdate]) -> list[FileState]:
    """Each file still committed after ``updates`` (newest first), with the commit that last changed it, by path."""
    last: dict[str, Commit | None] = {}
    for update in updates:
        for change in update.changes:
            last.setdefault(change.path, None if change.status == "deleted" else update.commit)
    return [FileState(path, commit) for path, commit in sorted(last.items()) if commit is not None]


def _where(key: str, template: Erratum, filled: Sequence[Erratum]) -> str:
    """Where an erratum is: its template's ``where`` when it has no fields, else the filled ones (``; ``-joined),
    else the template with its fields as ``…``."""
    pieces = list(string.Formatter().parse(template.where))
    if all(field is None for _, field, *_ in pieces):
        return template.where
    wheres = list(dict.fromkeys(e.where for e in filled if e.key == key))
    return "; ".join(wheres) if wheres else "".join(lit + ("…" if f is not None else "") for lit, f, *_ in pieces)


def collect(root: str | Path = REPO_ROOT, errata: Mapping[str, Erratum] | None = None,
            pathspecs: Sequence[str] = RESULT_PATHSPECS) -> Updates:
    """The page's :class:`Updates` for the repository at ``root``: ``errata`` (default: the book's
    :data:`~rrlib.report.errata.ERRATA`, placed by :func:`~rrlib.report.errata.errata` where the paper's tables fill
    them) with their dates, the result updates and the files' last changes. Without a full history
    (:func:`history_state`): no dates, no updates."""
    filled = book_errata.errata({}) if errata is None else []
    errata = book_errata.ERRATA if errata is None else errata
    history = history_state(root)
    commits = erratum_commits(root, errata) if history == FULL else {}
    results = result_updates(root, pathspecs) if history == FULL else []
    dated = [DatedErratum(key, _where(key, t, filled), t.finding, commits.get(key)) for key, t in errata.items()]
    return Updates(history, dated, results, last_changes(results))


def history_note(history: str) -> str:
    """One sentence on why a copy without a full history gives no dates (empty for :data:`FULL`)."""
    if history == SHALLOW:
        return ("This copy of the book was built from a shallow clone of its repository, whose history is cut off, so "
                "it gives no dates for the errata and no list of changes to our results rather than wrong ones; a full "
                "clone (`git fetch --unshallow`) gives both.")
    if history == NONE:
        return ("This copy of the book was built without its repository's git history, so it gives no dates for the "
                "errata and no list of changes to our results; the book built from a clone of the repository gives "
                "both.")
    return ""


def headline(subject: str, limit: int = 160, shortest: int = 24) -> str:
    """A commit subject's first clause: up to the first ``. ``, ``: ``, ``; `` or `` — `` outside parentheses that
    leaves at least ``shortest`` characters (so ``"Issue 19: …"`` keeps going), cut at a word before ``limit``
    characters with ``…`` when still longer.

    >>> headline("Chapter 12's runs committed: the bmi scoreboard (40 tasks: 1,044 runs)")
    "Chapter 12's runs committed"
    """
    depth = 0
    for i, char in enumerate(subject):
        depth += (char == "(") - (char == ")")
        if depth == 0 and i >= shortest and subject.startswith((". ", ": ", "; ", " — "), i):
            subject = subject[:i]
            break
    if len(subject) <= limit:
        return subject
    return subject[:limit].rsplit(" ", 1)[0].rstrip(",;:") + " …"
