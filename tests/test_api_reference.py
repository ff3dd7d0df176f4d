"""The API reference (``book/api/``, issue 23): every public name (each module's ``__all__``) of the modules a reader
calls is rendered with its docstring, read from the book that the session renders once (``built_book``)."""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path

import pytest

from rrlib.api_reference import defining_comment
from rrlib.book import REPO_ROOT

#: The modules the reference documents, page by page (book/api/*.md).
MODULES = {
    "own_model": ("rrlib.own_model",),
    "theory": ("rrlib.theory",),
    "bounds_critics": ("rrlib.mi.bounds", "rrlib.mi.critics"),
    "estimators": ("rrlib.mi.estimator", "rrlib.mi.worst_case", "rrlib.mi.algorithm2", "rrlib.mi.neurons",
                   "rrlib.synthetic"),
    "attacks": ("rrlib.attacks",),
    "training": ("rrlib.train", "rrlib.train.jobs", "rrlib.train.encoder", "rrlib.train.downstream"),
    "models": ("rrlib.models",),
    "data": ("rrlib.data",),
}
PUBLIC = [(page, module, name) for page, modules in MODULES.items() for module in modules
          for name in importlib.import_module(module).__all__]


def _docstring(module: str, name: str) -> str | None:
    """The docstring autodoc shows for ``module.name``: its own, or the ``#:`` comment of module data."""
    value = getattr(importlib.import_module(module), name)
    if inspect.isclass(value) or inspect.isroutine(value) or inspect.ismodule(value):
        return inspect.getdoc(value)
    comment = defining_comment(f"{module}.{name}", value)
    return "\n".join(comment) if comment else None


def test_the_pages_document_these_modules_and_every_public_name_has_a_docstring():
    """Cheap, without a build: each page's ``automodule`` directives are MODULES' (so the rendered test below covers
    the whole reference), and every public name has a docstring to render."""
    for page, modules in MODULES.items():
        source = (REPO_ROOT / "book" / "api" / f"{page}.md").read_text()
        assert tuple(re.findall(r"^\.\. automodule:: (\S+)$", source, re.M)) == modules, page
    assert {p.stem for p in (REPO_ROOT / "book" / "api").glob("*.md")} == {"index", *MODULES}
    undocumented = [f"{module}.{name}" for _, module, name in PUBLIC if not _docstring(module, name)]
    assert not undocumented, "public names without a docstring: " + ", ".join(undocumented)


@pytest.fixture(scope="module")
def rendered(request) -> dict[str, object]:
    """page name → its parsed HTML, from the session's one rendering of the book."""
    from bs4 import BeautifulSoup

    html: Path = request.getfixturevalue("built_book")
    return {page: BeautifulSoup((html / "book" / "api" / f"{page}.html").read_text(), "html.parser")
            for page in MODULES}


def _own_text(dd) -> str:
    """The text of a description without the entries nested in it (a class's members)."""
    return " ".join(child.get_text(" ", strip=True) for child in dd.children
                    if getattr(child, "name", None) != "dl" and not isinstance(child, str)).strip()


@pytest.mark.slow
@pytest.mark.timeout(3600)  # run alone, it first executes and renders the whole book (about 15 CPU minutes)
def test_every_public_name_is_rendered_with_its_docstring(rendered):
    missing, empty = [], []
    for page, module, name in PUBLIC:
        soup = rendered[page]
        assert soup.find(id=f"module-{module}") is not None, f"{page}.html does not document {module}"
        entry = soup.find("dt", id=f"{module}.{name}")
        if entry is None:
            missing.append(f"{page}.html#{module}.{name}")
        elif not _own_text(entry.find_next_sibling("dd")):
            empty.append(f"{page}.html#{module}.{name}")
    assert not missing, "public names not in the reference: " + ", ".join(missing)
    assert not empty, "public names rendered without their docstring: " + ", ".join(empty)


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_docstrings_render_as_text_not_as_types_or_sections(rendered):
    """Two misreadings that no warning reports. napoleon reads the first line of a data, attribute or property
    docstring as ``type: description`` when it has a colon outside code (a "Type" field of prose); a NumPy-style
    ``Parameters`` / ``----------`` block, which napoleon does not read here (rrlib's docstrings are Google style,
    ``Args:``), becomes a section heading inside the entry."""
    types = [f"{page}.html#{dt.find_previous('dt', id=True)['id']}"
             for page, soup in rendered.items() for dt in soup.select("dl.field-list > dt")
             if dt.get_text(strip=True).rstrip(":") == "Type"]
    assert not types, "docstrings whose first line was read as a type: " + ", ".join(types)
    headings = [f"{page}.html#{heading.find_previous('dt', id=True)['id']}: {heading.get_text(strip=True)}"
                for page, soup in rendered.items() for heading in soup.select("dd h1, dd h2, dd h3, dd h4, dd h5")]
    assert not headings, "section headings inside docstrings: " + ", ".join(headings)
