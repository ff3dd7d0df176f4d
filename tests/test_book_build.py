"""The whole pipeline on a throw-away book: papermill run, staging, Jupyter Book 1.x with warnings as errors."""

from __future__ import annotations

import re
import shutil

import nbformat
import pytest
import yaml

from rrlib.book import REPO_ROOT, build_book, run_chapters
from rrlib.colab import Repository, colab_url, sync_notebook
from rrlib.made_by import checkout_commit

TOC = """format: jb-book
root: book/intro
chapters:
  - file: notebooks/01_figure
"""

INTRO = """# A tiny book

Inline math $I(X; Z) = H(Z)$ and display math

$$
\\mathrm{RV}_\\epsilon(g) = I(X; g(X)) - \\inf I(X'; g(X')).
$$

See {doc}`../notebooks/01_figure`.
"""


#: The figure cell's metadata: a numbered figure and, as every figure and table of the book, what made it.
FIGURE = {"mystnb": {"figure": {"caption": "A line.", "name": "fig-line"}}}
MADE_BY = {"rrbook": {"made_by": {"metrics": "answer"}}}


def _tiny_book(tmp_path, repository: Repository | None = None, figure_metadata: dict | None = None):
    shutil.copy2(REPO_ROOT / "_config.yml", tmp_path / "_config.yml")
    if repository is not None:
        config = yaml.safe_load((REPO_ROOT / "_config.yml").read_text())
        config["repository"] = {"url": repository.url, "branch": repository.branch,
                                "path_to_book": repository.path_to_book}
        (tmp_path / "_config.yml").write_text(yaml.safe_dump(config))
    (tmp_path / "_toc.yml").write_text(TOC)
    (tmp_path / "book").mkdir()
    (tmp_path / "book" / "intro.md").write_text(INTRO)
    shutil.copy2(REPO_ROOT / "book" / "references.bib", tmp_path / "book" / "references.bib")
    shutil.copytree(REPO_ROOT / "book" / "_static", tmp_path / "book" / "_static")  # the book's CSS (_config.yml)
    (tmp_path / "notebooks").mkdir()
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('profile = "quick"\nseed = 0\ndevice = "auto"')
    params.metadata["tags"] = ["parameters"]
    figure = nbformat.v4.new_code_cell(
        "from myst_nb import glue\nimport rrlib.book\nfrom rrlib.plotting import new_figure\n"
        "fig, axes = new_figure()\naxes[0, 0].plot([0, 1], [0, 1])\nglue('answer', 0.5, display=False)\n"
        "rrlib.book.record_metrics('01_figure', {'answer': 0.5})\nfig"
    )
    figure.metadata.update({**FIGURE, **MADE_BY} if figure_metadata is None else figure_metadata)
    nb.cells = [
        nbformat.v4.new_markdown_cell("# A figure\n\nThe value is {glue:text}`answer:.2f` nats."),
        params,
        figure,
    ]
    nbformat.write(nb, tmp_path / "notebooks" / "01_figure.ipynb")
    sync_notebook(tmp_path / "notebooks" / "01_figure.ipynb", repository)

    run_chapters("quick", root=tmp_path)
    return build_book(tmp_path)


@pytest.mark.slow
def test_tiny_book_builds_offline_with_math_and_figures(tmp_path, capfd):
    html = _tiny_book(tmp_path)
    # a quiet build: one line per chapter with its time, then the site's path; no kernel warning, no MyST dump
    out, err = capfd.readouterr()
    lines = (out + err).splitlines()
    assert len(lines) == 2 and re.fullmatch(r"\[1/1\]\s+01_figure\s+\d+\.\d s", lines[0]), lines
    assert lines[1] == f"book: {html / 'index.html'}"

    page = (html / "notebooks" / "01_figure.html").read_text()
    assert "0.50" in page and "<img" in page  # glued number and the figure are rendered
    intro = (html / "book" / "intro.html").read_text()
    assert "../mathjax/MathJax.js" in intro and "cdn.jsdelivr" not in intro
    assert (html / "mathjax" / "MathJax.js").exists()
    assert (html / "mathjax" / "config" / "TeX-AMS-MML_HTMLorMML-full.js").exists()

    # the repository's _config.yml names no repository: no launch button, and the set-up cell is not rendered
    assert "colab.research.google.com" not in page and "Set-up for Google Colab" not in page

    # rrlib.made_by (named in _config.yml): the line right under the figure says what made it
    made_by = re.search(r'</figure>\s*<p class="made-by">([^<]*)</p>', page)
    assert made_by, "no made-by line right after the figure"
    text = made_by.group(1)
    assert "python -m rrlib.book run --profile quick --only 01_figure (seed 0)" in text
    assert f"at commit {checkout_commit(str(REPO_ROOT))};" in text and "01_figure.json → answer" in text


@pytest.mark.slow
def test_a_figure_that_does_not_say_what_made_it_fails_the_build(tmp_path, capfd):
    with pytest.raises(SystemExit, match="jupyter-book build failed"):
        _tiny_book(tmp_path, figure_metadata=FIGURE)
    out, err = capfd.readouterr()
    assert "has no 'rrbook: made_by' metadata (rrlib.made_by)" in out + err


@pytest.mark.slow
def test_a_named_repository_gives_every_chapter_its_colab_button(tmp_path):
    repository = Repository("https://github.com/someone/rrbook", "dev", "docs")
    page = (_tiny_book(tmp_path, repository) / "notebooks" / "01_figure.html").read_text()
    assert f'href="{colab_url("01_figure", repository)}"' in page
    assert "Set-up for Google Colab" not in page
