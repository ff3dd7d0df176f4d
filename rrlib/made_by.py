"""A "made by" line under every figure and table of the book (issue 23): the command, profile, seed and commit that
made it and the data it shows. A Sphinx extension, named in ``_config.yml`` (``sphinx: extra_extensions``).

A code cell of a chapter that shows a figure or a table says where its numbers come from in its metadata::

    "rrbook": {"made_by": {"metrics": "scoreboard"}}                      # a key of the chapter's metrics
    "rrbook": {"made_by": {"metrics": ["rob_rv", "std_rv"]}}               # several keys
    "rrbook": {"made_by": {"metrics": "images", "results": "results/image_mi_medium.json"}}
    "rrbook": {"made_by": {"page": "a sweep of 200 values of ε"}}         # drawn from numbers not stored

``metrics`` is a key (dots for nested keys; a final ``*`` for every key with that prefix, e.g. ``aligned_*``), or a list
of keys, of the chapter's metrics (``_build/metrics/NAME.json``, written by :func:`rrlib.book.publish`); ``results`` a
committed result file or a list of them (``results/README.md`` says how each was made), which the cell shows
instead whenever every one exists in the checkout the book is built from (the chapters load them exactly then);
``page`` says what the page computed when the numbers drawn are not stored in the metrics. The line under each of
its figures and tables then reads, in small type::

    Made by python -m rrlib.book run --profile quick --only 12_outside_ground_truth (seed 0) at commit 1a2b3c4d5e;
    data: 12_outside_ground_truth.json → scoreboard

with the profile and seed of the executed notebook (papermill's parameters) and the commit of the checkout whose
``rrlib`` runs the build (with "+ uncommitted changes" when tracked files differ from it). A table typed in a page's
text says so instead. A code cell that shows a figure or a table without ``made_by`` metadata is a build warning,
so with ``-W`` the build fails.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from docutils import nodes

__all__ = ["METADATA_KEY", "annotation", "chapter_parameters", "checkout_commit", "made_by_text", "setup"]

#: The cell metadata key (``cell.metadata[METADATA_KEY]["made_by"]``).
METADATA_KEY = "rrbook"


def annotation(cell_metadata: dict[str, Any]) -> dict[str, Any] | None:
    """A cell's ``made_by`` metadata (``{"metrics": key or keys}``, ``{"results": path}``, ``{"page": what}``), or
    ``None``.

    >>> annotation({"rrbook": {"made_by": {"metrics": "images"}}})
    {'metrics': 'images'}
    >>> annotation({"tags": ["remove-input"]}) is None
    True
    """
    made_by = (cell_metadata.get(METADATA_KEY) or {}).get("made_by")
    return dict(made_by) if made_by else None


@cache
def checkout_commit(root: str) -> str:
    """The short commit of the git checkout at ``root`` (ten hex digits), with " + uncommitted changes" when tracked
    files differ from it (:func:`rrlib.provenance.git_commit`'s ``-dirty``); "no git commit" outside a git checkout."""
    from rrlib.provenance import git_commit

    commit = git_commit(root)
    if commit is None:
        return "no git commit"
    dirty = commit.endswith("-dirty")
    return commit.removesuffix("-dirty")[:10] + (" + uncommitted changes" if dirty else "")


def chapter_parameters(notebook: Path) -> dict[str, Any]:
    """The parameters papermill ran ``notebook`` with (``profile``, ``seed``, ``device``); ``{}`` if none."""
    try:
        meta = json.loads(notebook.read_text(encoding="utf-8")).get("metadata", {})
    except (OSError, ValueError):
        return {}
    return dict((meta.get("papermill") or {}).get("parameters") or {})


def made_by_text(chapter: str, made_by: dict[str, Any] | None, parameters: dict[str, Any], commit: str,
                 root: Path) -> str:
    """The line under a figure or table of ``chapter`` (``made_by``: the cell's annotation; ``None``: a table typed
    in the page's text).

    >>> print(made_by_text("04_mine", {"metrics": "fit"}, {"profile": "quick", "seed": 1}, "abc", Path(".")))
    Made by python -m rrlib.book run --profile quick --only 04_mine (seed 1) at commit abc; data: 04_mine.json → fit
    """
    if made_by is None:
        return f"Typed in the text of {chapter} at commit {commit}."
    profile = parameters.get("profile", "quick")
    seed = parameters.get("seed", 0)
    line = f"Made by python -m rrlib.book run --profile {profile} --only {chapter} (seed {seed}) at commit {commit}"
    results = made_by.get("results")
    files = [results] if isinstance(results, str) else list(results or [])
    if files and all((root / f).is_file() for f in files):
        made = "it was" if len(files) == 1 else "each was"
        return f"{line}; data: {', '.join(files)} (committed; results/README.md says how {made} made)"
    keys = made_by.get("metrics")
    if keys:
        keys = [keys] if isinstance(keys, str) else list(keys)
        return f"{line}; data: {chapter}.json → {', '.join(keys)}"
    if made_by.get("page"):
        return f"{line}; data: computed on the page ({made_by['page']}), not stored in {chapter}.json"
    return line


def _shows(node: nodes.Node) -> list[nodes.Element]:
    """The figures and tables under ``node`` (itself included), outermost only: a table inside a figure is the
    figure's."""
    def nested(element: nodes.Element) -> bool:
        parent = element.parent
        while parent is not None and parent is not node:
            if isinstance(parent, (nodes.figure, nodes.table)):
                return True
            parent = parent.parent
        return False

    return [e for e in node.findall(lambda n: isinstance(n, (nodes.figure, nodes.table))) if not nested(e)]


def _line(text: str) -> nodes.paragraph:
    return nodes.paragraph(text, text, classes=["made-by"])


def _annotate(app, doctree: nodes.document, docname: str) -> None:
    from sphinx.util import logging

    logger = logging.getLogger(__name__)
    from rrlib.book import REPO_ROOT

    root = REPO_ROOT  # the checkout whose rrlib ran the chapters and whose results/ they loaded
    commit = checkout_commit(str(root))
    chapter = docname.rsplit("/", 1)[-1]
    source = Path(app.srcdir) / f"{docname}.ipynb"
    parameters = chapter_parameters(source) if source.exists() else {}
    cells = list(doctree.findall(lambda n: isinstance(n, nodes.container) and n.get("nb_element") == "cell_code"))
    lines: list[tuple[nodes.Element, str]] = []
    in_cells: set[int] = set()
    for cell in cells:
        shown = _shows(cell)
        if not shown:
            continue
        in_cells.update(id(e) for e in shown)
        made_by = annotation(cell.get("cell_metadata") or {})
        if made_by is None:
            logger.warning(f"cell {cell.get('cell_index')} shows a figure or table but has no "
                           f"'{METADATA_KEY}: made_by' metadata (rrlib.made_by)", location=(docname, cell.line),
                           type="rrbook", subtype="made_by")
            continue
        lines += [(e, made_by_text(chapter, made_by, parameters, commit, root)) for e in shown]
    typed = made_by_text(chapter, None, parameters, commit, root)
    lines += [(e, typed) for e in _shows(doctree) if id(e) not in in_cells]
    for element, text in lines:
        element.parent.insert(element.parent.index(element) + 1, _line(text))


def _outdated_by_commit(app, env, added, changed, removed) -> list[str]:
    """Every page, when the checkout's commit (or its uncommitted state) differs from the last build's: the lines
    are written when a page is, and an incremental build rewrites only the pages whose sources changed."""
    from rrlib.book import REPO_ROOT

    commit = checkout_commit(str(REPO_ROOT))
    previous, env.rrbook_made_by_commit = getattr(env, "rrbook_made_by_commit", None), commit
    return sorted(env.found_docs) if previous != commit else []


def setup(app) -> dict[str, Any]:
    """Register the extension: it runs on every resolved page, and on every page again when the commit changed."""
    app.connect("env-get-outdated", _outdated_by_commit)
    app.connect("doctree-resolved", _annotate)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
