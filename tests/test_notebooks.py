"""Every chapter is stored clean and follows the house conventions (see ARCHITECTURE.md)."""

from __future__ import annotations

import ast
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
    assert code.count(f'record_metrics("{name}"') == 1, f"{name} must record its metrics exactly once"
    first = nb.cells[0]
    assert first.cell_type == "markdown" and first.source.startswith("# "), f"{name}: first cell must be the title"
    titles = [line for c in nb.cells if c.cell_type == "markdown" for line in c.source.splitlines()
              if line.startswith("# ")]
    assert len(titles) == 1, f"{name}: exactly one top-level title, found {titles}"


def test_no_generated_files_committed():
    assert not (Path(REPO_ROOT) / "notebooks" / ".ipynb_checkpoints").exists()
