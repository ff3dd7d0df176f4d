"""Every chapter is stored clean and follows the house conventions (see ARCHITECTURE.md)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat
import pytest

from rrlib.book import REPO_ROOT, chapters

NOTEBOOKS = REPO_ROOT / "notebooks"
CHAPTERS = chapters()
PARAMETERS = {"profile", "seed", "device"}


def _load(name: str):
    return nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)


def test_every_notebook_is_in_the_toc_and_vice_versa():
    on_disk = sorted(path.stem for path in NOTEBOOKS.glob("*.ipynb"))
    assert sorted(CHAPTERS) == on_disk


@pytest.mark.parametrize("name", CHAPTERS)
def test_stored_without_outputs(name):
    for cell in _load(name).cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{name}: stored outputs"


@pytest.mark.parametrize("name", CHAPTERS)
def test_exactly_one_literal_parameters_cell(name):
    cells = [c for c in _load(name).cells if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1, f"{name}: {len(cells)} parameters cells"
    tree = ast.parse(cells[0].source)
    names = set()
    for statement in tree.body:
        assert isinstance(statement, ast.Assign) and isinstance(statement.value, ast.Constant), (
            f"{name}: the parameters cell may only assign literals"
        )
        names.update(target.id for target in statement.targets)
    assert names == PARAMETERS


@pytest.mark.parametrize("name", CHAPTERS)
def test_thin_driver_over_rrlib(name):
    nb = _load(name)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    tree = ast.parse(code)
    imports = [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert any("rrlib" in ast.unparse(n) for n in imports), f"{name} does not import rrlib"
    defined = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef, ast.Lambda))]
    assert not defined, f"{name} defines functions/classes; move them into rrlib"
    assert code.count(f'publish("{name}"') == 1, f"{name} must publish its metrics exactly once"
    assert "glue(" not in code, f"{name}: rrlib.book.publish glues every metric; no hand-written glue(...) lines"
    first = nb.cells[0]
    assert first.cell_type == "markdown" and first.source.startswith("# "), f"{name}: first cell must be the title"
    titles = [line for c in nb.cells if c.cell_type == "markdown" for line in c.source.splitlines()
              if line.startswith("# ")]
    assert len(titles) == 1, f"{name}: exactly one top-level title, found {titles}"


def test_no_generated_files_committed():
    assert not (Path(REPO_ROOT) / "notebooks" / ".ipynb_checkpoints").exists()


GLUE_REFERENCE = re.compile(r"\{glue:text\}`([^`:]+)(?::[^`]*)?`")


@pytest.mark.parametrize("name", CHAPTERS)
def test_bookkeeping_cells_are_hidden(name):
    for cell in _load(name).cells:
        if cell.cell_type == "code" and "publish(" in cell.source:
            assert "remove-cell" in cell.metadata.get("tags", []), f"{name}: tag the publish cell 'remove-cell'"


@pytest.mark.slow
@pytest.mark.parametrize("name", CHAPTERS)
def test_prose_pastes_only_published_numbers(name, chapter_metrics):
    from rrlib.book import glue_keys

    prose = "\n".join(c.source for c in _load(name).cells if c.cell_type == "markdown")
    referenced = set(GLUE_REFERENCE.findall(prose))
    published = glue_keys({k: v for k, v in chapter_metrics(name).items() if k != "_meta"})
    assert referenced, f"{name}: no glued numbers in the prose"
    assert referenced <= set(published), f"{name}: prose pastes unpublished keys {sorted(referenced - set(published))}"


# ----------------------------------------------------------------------------- the "made by" line (rrlib.made_by)
#: A table in a cell's Markdown output: a MyST table directive, or a pipe table's header and delimiter rows.
MARKDOWN_TABLE = re.compile(r"\{(?:list-|csv-)?table\}|^ *\|.*\|[ \t]*\n *\|[ :|-]*-[ :|-]*\| *$", re.M)
MADE_BY_FIELDS = {"metrics", "results", "page"}


def _shows_figure_or_table(cell) -> bool:
    """Whether an executed code cell shows a figure (``mystnb.figure`` metadata or an image output) or a table (a
    Markdown table, or an HTML one such as a DataFrame's): what the book puts a made-by line under."""
    if "figure" in cell.metadata.get("mystnb", {}):
        return True
    for output in cell.get("outputs", []):
        data = output.get("data", {})
        if any(mime.startswith("image/") for mime in data):
            return True
        if MARKDOWN_TABLE.search(data.get("text/markdown", "")) or "<table" in data.get("text/html", ""):
            return True
    return False


def _metrics_keys(made_by: dict) -> list[str]:
    keys = made_by.get("metrics") or []
    return [keys] if isinstance(keys, str) else list(keys)


@pytest.mark.parametrize("name", CHAPTERS)
def test_made_by_annotations_are_well_formed(name):
    """Each ``rrbook: made_by`` names metrics keys, a committed results file that exists, or what the page
    computed (rrlib/made_by.py's docstring)."""
    from rrlib.made_by import annotation

    for cell in _load(name).cells:
        made_by = annotation(cell.metadata)
        if made_by is None:
            continue
        where = f"{name}, cell {cell.get('id')}"
        assert cell.cell_type == "code" and set(made_by) <= MADE_BY_FIELDS, f"{where}: {made_by}"
        assert made_by.keys() & {"metrics", "results"} or made_by.get("page"), f"{where}: names no data"
        assert all(isinstance(k, str) and k for k in _metrics_keys(made_by)), f"{where}: {made_by}"
        results = made_by.get("results")
        for path in [results] if isinstance(results, str) else results or []:
            assert path.startswith("results/") and (REPO_ROOT / path).is_file(), f"{where}: no {path}"
        if "page" in made_by:
            assert isinstance(made_by["page"], str) and made_by["page"].strip(), f"{where}: empty 'page'"
            assert "metrics" not in made_by and "results" not in made_by, f"{where}: page, or stored data"


@pytest.mark.slow
@pytest.mark.parametrize("name", CHAPTERS)
def test_every_figure_and_table_says_what_made_it(name, chapter_metrics, chapters_workdir):
    """Every cell of the executed chapter that shows a figure or a table carries ``rrbook: made_by`` metadata (else
    the book's build warns and fails), and every metrics key a cell names (also a cell that shows a table only
    when a committed file exists) is a key of the chapter's metrics (dots: nested; a final ``*``: a prefix)."""
    import fnmatch

    from rrlib.book import glue_keys
    from rrlib.made_by import annotation

    published = set(glue_keys({k: v for k, v in chapter_metrics(name).items() if k != "_meta"}))
    executed = nbformat.read(chapters_workdir / "executed" / f"{name}.ipynb", as_version=4)
    bare = [cell.get("id") for cell in executed.cells
            if cell.cell_type == "code" and _shows_figure_or_table(cell) and annotation(cell.metadata) is None]
    assert not bare, f"{name}: cells {bare} show a figure or table without 'rrbook: made_by' metadata"
    for cell in _load(name).cells:
        made_by = annotation(cell.metadata) or {}
        unknown = [k for k in _metrics_keys(made_by) if not fnmatch.filter(published, k)]
        assert not unknown, f"{name}, cell {cell.get('id')}: {unknown} are not keys of its metrics"
