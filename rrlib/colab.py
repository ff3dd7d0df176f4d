"""Open a chapter on Google Colab: links and the notebooks' set-up cell, derived from ``_config.yml``.

The repository's address lives in one place, ``_config.yml``'s ``repository`` section (``url``, ``branch``,
``path_to_book``). From it:

* :func:`colab_url` gives the "open in Colab" address of a chapter:
  ``https://colab.research.google.com/github/<owner>/<name>/blob/<branch>/<path_to_book>/notebooks/<chapter>.ipynb``
  (the address Jupyter Book's launch button builds; the book is staged with the repository's layout);
* :func:`setup_cell_source` gives the first code cell of every chapter: outside Colab it does nothing; on Colab it
  installs ``rrlib`` from that repository and branch with pip and says how to switch the runtime to a GPU when
  none is attached (the parameters cell's ``device = "auto"`` then picks CUDA).

>>> repo = Repository("https://github.com/someone/rrbook", "main")
>>> colab_url("04_mine", repo)
'https://colab.research.google.com/github/someone/rrbook/blob/main/notebooks/04_mine.ipynb'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["COLAB", "SETUP_TAG", "Repository", "colab_url", "read_repository", "setup_cell_source"]

COLAB = "https://colab.research.google.com/github"
#: Tag of the set-up cell (with ``remove-cell``: the rendered book does not show it).
SETUP_TAG = "colab-setup"
_GITHUB = re.compile(r"^https://github\.com/(?P<owner>[A-Za-z0-9_.-]+)/(?P<name>[A-Za-z0-9_.-]+?)(?:\.git)?/?$")
_BRANCH = re.compile(r"^[A-Za-z0-9_./-]+$")


@dataclass(frozen=True)
class Repository:
    """Where the book's sources live on GitHub: ``url`` (``https://github.com/<owner>/<name>``), ``branch`` and
    the folder of the book inside the repository (``path_to_book``, ``""`` for the root)."""

    url: str
    branch: str = "main"
    path_to_book: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.url, str) or not _GITHUB.match(self.url.strip()):
            raise ValueError(f"repository url {self.url!r} is not a GitHub repository address; valid form: "
                             "https://github.com/<owner>/<name>")
        if not isinstance(self.branch, str) or not _BRANCH.match(self.branch) or ".." in self.branch:
            raise ValueError(f"repository branch {self.branch!r} is not a valid branch name (letters, digits, . _ / -)")
        if not isinstance(self.path_to_book, str) or self.path_to_book.startswith("/") or ".." in self.path_to_book:
            raise ValueError(f"repository path_to_book {self.path_to_book!r} must be a relative folder ('' for the "
                             "repository root)")

    @property
    def owner(self) -> str:
        match = _GITHUB.match(self.url.strip())
        assert match is not None
        return match["owner"]

    @property
    def name(self) -> str:
        match = _GITHUB.match(self.url.strip())
        assert match is not None
        return match["name"]

    @property
    def clone_url(self) -> str:
        return f"https://github.com/{self.owner}/{self.name}"


def read_repository(config_path: str | Path) -> Repository | None:
    """The ``repository`` section of a Jupyter Book ``_config.yml``; ``None`` when its ``url`` is unset or empty."""
    import yaml

    config = yaml.safe_load(Path(config_path).read_text()) or {}
    section = config.get("repository") or {}
    url = section.get("url") or ""
    if not url:
        return None
    return Repository(url, section.get("branch") or "main", (section.get("path_to_book") or "").strip("/"))


def colab_url(chapter: str, repository: Repository) -> str:
    """The Colab address that opens ``notebooks/<chapter>.ipynb`` of ``repository`` (see the module docstring)."""
    if not re.match(r"^\d\d_[a-z0-9_]+$", chapter):
        raise ValueError(f"chapter name {chapter!r} must look like 'NN_name' (e.g. '04_mine')")
    folder = f"{repository.path_to_book}/" if repository.path_to_book else ""
    return (f"{COLAB}/{repository.owner}/{repository.name}/blob/{repository.branch}/"
            f"{folder}notebooks/{chapter}.ipynb")


_NO_REPOSITORY = """\
    raise RuntimeError("this copy of the book names no repository (_config.yml: repository.url), "
                       "so Colab cannot install rrlib; open the notebook from the published book")
"""
_INSTALL = """\
    import subprocess

    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", {spec!r}], check=True)
"""
_CELL = """\
# Set-up for Google Colab; it does nothing anywhere else.
import sys

if "google.colab" in sys.modules:
{install}\
    import torch

    if not torch.cuda.is_available():
        print("No GPU in this Colab session: Runtime > Change runtime type > GPU, then run all cells again.")
"""


def setup_cell_source(repository: Repository | None) -> str:
    """The source of every chapter's first code cell (see the module docstring)."""
    if repository is None:
        return _CELL.format(install=_NO_REPOSITORY)
    spec = f"rrlib @ git+{repository.clone_url}@{repository.branch}"
    return _CELL.format(install=_INSTALL.format(spec=spec))
