"""Open a chapter on Google Colab: links and the notebooks' set-up cell, derived from ``_config.yml``.

The repository's address lives in one place, ``_config.yml``'s ``repository`` section (``url``, ``branch``,
``path_to_book``, as Jupyter Book 1.x defines it; ``url`` empty by default). From it:

* :func:`colab_url` gives the "open in Colab" address of a chapter:
  ``https://colab.research.google.com/github/<owner>/<name>/blob/<branch>/<path_to_book>/notebooks/<chapter>.ipynb``,
  character for character the address that sphinx-book-theme's launch button composes
  (``{colab_url}/github/{org}/{repo}/blob/{branch}/{path_to_docs}/{pagename}{extension}``, the page name being
  ``notebooks/<chapter>`` because the book is staged with the repository's layout);
* :func:`stage_config` writes the ``_config.yml`` the book is built from: with a ``url`` it spells the repository
  out in normal form (no ``.git``, an explicit branch) so that every chapter page gets that Colab button; without
  one it switches the Colab button off (sphinx-book-theme fails on a launch button with no repository);
* :func:`setup_cell_source` gives the first code cell of every chapter (right after its title): outside Colab it
  does nothing; on Colab it installs ``rrlib`` from that repository and branch with pip and says how to switch
  the runtime to a GPU when none is attached (the parameters cell's ``device = "auto"`` then picks CUDA);
* :func:`sync_notebooks` (``python -m rrlib.colab sync-notebooks``) writes that cell into every notebook,
  idempotently; run it after changing the ``repository`` section or adding a chapter;
* :func:`set_repository` (``python -m rrlib.colab set-repository URL --branch B``) names the repository in
  ``_config.yml`` (its ``url`` and ``branch`` lines, nothing else of the file) and syncs the notebooks: what the
  publishing workflow runs with the repository it runs in, so the published book has its Colab buttons and its
  set-up cells install ``rrlib`` from there, with no hand edit.

>>> repo = Repository("https://github.com/someone/rrbook", "main")
>>> colab_url("04_mine", repo)
'https://colab.research.google.com/github/someone/rrbook/blob/main/notebooks/04_mine.ipynb'
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rrlib.console import quiet_broken_pipe

__all__ = [
    "COLAB",
    "CONFIG_PATH",
    "SETUP_TAG",
    "SETUP_TAGS",
    "Repository",
    "colab_url",
    "read_repository",
    "set_repository",
    "setup_cell",
    "setup_cell_source",
    "stage_config",
    "sync_notebook",
    "sync_notebooks",
]

COLAB = "https://colab.research.google.com/github"
#: The book's configuration, where the repository is named (the one place).
CONFIG_PATH = Path(__file__).resolve().parent.parent / "_config.yml"
NOTEBOOKS_DIR = CONFIG_PATH.parent / "notebooks"
#: Tag that identifies the set-up cell (what :func:`sync_notebook` looks for).
SETUP_TAG = "colab-setup"
#: Its tags: ``remove-cell`` keeps it off the rendered page, which it would only clutter: it prints nothing
#: outside Colab, and a reader of the book is not on Colab (the launch button opens the notebook itself).
SETUP_TAGS = ("remove-cell", SETUP_TAG)
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
    raise RuntimeError("this copy of the book names no repository (_config.yml: repository.url), so Colab cannot "
                       "install rrlib: set it and run `python -m rrlib.colab sync-notebooks`, or pip-install rrlib")
"""
_INSTALL = """\
    import subprocess

    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", {spec}], check=True)
    import torch

    if not torch.cuda.is_available():
        print("No GPU in this Colab session: Runtime > Change runtime type > GPU, then run all cells again.")
"""
_CELL = """\
# Set-up for Google Colab; it does nothing anywhere else.
import os
import sys

if "google.colab" in sys.modules or "COLAB_RELEASE_TAG" in os.environ:
{body}\
"""


def setup_cell_source(repository: Repository | None) -> str:
    """The source of every chapter's first code cell (see the module docstring).

    Colab is recognised by ``google.colab`` being imported (Colab's kernel imports it at start) or, failing that,
    by Colab's ``COLAB_RELEASE_TAG`` environment variable. Anywhere else the cell only binds ``os`` and ``sys``.
    """
    if repository is None:
        return _CELL.format(body=_NO_REPOSITORY)
    spec = f"rrlib @ git+{repository.clone_url}@{repository.branch}"
    return _CELL.format(body=_INSTALL.format(spec=json.dumps(spec)))


def setup_cell(repository: Repository | None) -> Any:
    """The set-up cell as an ``nbformat`` code cell: :func:`setup_cell_source`, tags :data:`SETUP_TAGS` and a fixed
    cell id (so rewriting it changes nothing when nothing changed)."""
    import nbformat

    cell = nbformat.v4.new_code_cell(setup_cell_source(repository))
    cell.id = SETUP_TAG
    cell.metadata["tags"] = list(SETUP_TAGS)
    return cell


def sync_notebook(path: str | Path, repository: Repository | None, *, write: bool = True) -> bool:
    """Make the set-up cell the first code cell of the notebook at ``path`` (just after its title, before the
    ``parameters`` cell); ``True`` when the notebook changed (or, with ``write=False``, would change).

    A cell tagged :data:`SETUP_TAG` anywhere in the notebook is replaced (or moved); otherwise one is inserted
    before the first code cell. Running it twice writes the same bytes.
    """
    import nbformat

    path = Path(path)
    if path.suffix != ".ipynb" or not path.is_file():
        raise FileNotFoundError(f"notebook {str(path)!r} not found (a .ipynb file is expected)")
    before = path.read_text()
    notebook = nbformat.reads(before, as_version=4)
    cells = [c for c in notebook.cells if SETUP_TAG not in c.metadata.get("tags", [])]
    first_code = next((i for i, c in enumerate(cells) if c.cell_type == "code"), len(cells))
    cells.insert(first_code, setup_cell(repository))
    notebook.cells = cells
    after = nbformat.writes(notebook) + "\n"
    if after == before:
        return False
    if write:
        path.write_text(after)
    return True


def sync_notebooks(
    notebooks: str | Path = NOTEBOOKS_DIR, config: str | Path = CONFIG_PATH, *, write: bool = True
) -> list[Path]:
    """:func:`sync_notebook` on every ``NN_name.ipynb`` of ``notebooks`` with the repository of ``config``;
    returns the notebooks that changed (with ``write=False``: that are out of date)."""
    repository = read_repository(config)
    paths = sorted(p for p in Path(notebooks).glob("*.ipynb") if re.match(r"^\d\d_", p.name))
    if not paths:
        raise FileNotFoundError(f"no chapter notebooks (NN_name.ipynb) in {str(notebooks)!r}")
    return [p for p in paths if sync_notebook(p, repository, write=write)]


def _set_in_section(text: str, section: str, values: dict[str, str]) -> str:
    """``text`` (a YAML file) with the lines ``  key: ...`` of the top-level block ``section:`` set to ``values``
    (quoted), every other byte kept; a key the block lacks is added at its end."""
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if re.match(rf"^{section}:\s*(#.*)?$", line)), None)
    if start is None:
        lines += [f"{section}:\n"] if not text or text.endswith("\n") else [f"\n{section}:\n"]
        start = len(lines) - 1
    end = next((i for i in range(start + 1, len(lines)) if re.match(r"^\S", lines[i])), len(lines))
    while end > start + 1 and not lines[end - 1].strip():
        end -= 1  # blank lines before the next block stay after the values
    todo = dict(values)
    for i in range(start + 1, end):
        match = re.match(r"^(\s+)([A-Za-z_]+):", lines[i])
        if match and match[2] in todo:
            lines[i] = f"{match[1]}{match[2]}: {json.dumps(todo.pop(match[2]))}\n"
    lines[end:end] = [f"  {key}: {json.dumps(value)}\n" for key, value in todo.items()]
    return "".join(lines)


def set_repository(url: str, branch: str = "main", root: str | Path = CONFIG_PATH.parent
                   ) -> tuple[Repository, list[Path]]:
    """Name ``url`` (``https://github.com/<owner>/<name>``) and ``branch`` in ``root/_config.yml`` and sync the
    set-up cell of every notebook of ``root/notebooks``; returns the repository and the notebooks that changed.
    A bad URL or branch raises ``ValueError`` before anything is written."""
    repository = Repository(url.strip(), branch)
    root = Path(root)
    config = root / "_config.yml"
    text = config.read_text()
    config.write_text(_set_in_section(text, "repository", {"url": repository.clone_url,
                                                           "branch": repository.branch}))
    return repository, sync_notebooks(root / "notebooks", config)


def stage_config(source: str | Path, target: str | Path) -> Repository | None:
    """Write the ``_config.yml`` the book is built from (``target``) from the repository's (``source``).

    With a repository ``url``: the ``repository`` section in normal form (the :class:`Repository`'s URL, branch
    and folder), so the theme's Colab button of every chapter is :func:`colab_url`. Without one: the section's
    ``url`` empty and ``launch_buttons.colab_url`` cleared, so the book builds without launch buttons (Jupyter
    Book would otherwise fall back to its own default repository, and the theme fails on a Colab button without
    a repository). An unchanged configuration is copied byte for byte. Returns the repository, or ``None``.
    """
    import yaml

    source, target = Path(source), Path(target)
    text = source.read_text()
    config = yaml.safe_load(text) or {}
    repository = read_repository(source)
    launch = dict(config.get("launch_buttons") or {})
    if repository is None:
        section = {"url": ""}
        launch["colab_url"] = ""
    else:
        section = {"url": repository.clone_url, "branch": repository.branch,
                   "path_to_book": repository.path_to_book}
    if (config.get("repository") or {}) == section and (config.get("launch_buttons") or {}) == launch:
        target.write_text(text)
    else:
        config["repository"] = section
        if launch:
            config["launch_buttons"] = launch
        target.write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True))
    return repository


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m rrlib.colab sync-notebooks [--check]`` and ``python -m rrlib.colab links``; a closed standard
    output (``links | head -1``) ends it quietly."""
    with quiet_broken_pipe():
        return _main(argv)


def _main(argv: Sequence[str] | None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rrlib.colab",
                                     description="Colab set-up cells and links from _config.yml's repository.")
    add_arguments(parser)
    return run_command(parser.parse_args(argv))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The sub-commands ``sync-notebooks`` and ``links`` of ``python -m rrlib.colab`` and of ``rrbook colab``."""
    commands = parser.add_subparsers(dest="colab_command", required=True)
    sync = commands.add_parser("sync-notebooks", help="(re)write the set-up cell of every chapter notebook")
    sync.add_argument("--check", action="store_true", help="only report out-of-date notebooks (exit 1 if any)")
    commands.add_parser("links", help="print every chapter's open-in-Colab address")
    where = commands.add_parser("set-repository", help="name the book's GitHub repository in _config.yml and sync the "
                                "notebooks (the publishing workflow runs it)")
    where.add_argument("url", metavar="URL", help="https://github.com/<owner>/<name>")
    where.add_argument("--branch", default="main", help="the branch Colab and the set-up cells use (default main)")
    where.add_argument("--root", default=str(CONFIG_PATH.parent), help=argparse.SUPPRESS)


def run_command(args: argparse.Namespace) -> int:
    """Run the parsed ``sync-notebooks``/``links`` (:func:`add_arguments`); returns the exit code."""
    try:
        if args.colab_command == "set-repository":
            repository, changed = set_repository(args.url, args.branch, args.root)
            print(f"repository: {repository.clone_url} (branch {repository.branch}); "
                  f"{len(changed)} notebook set-up cells rewritten")
            return 0
        if args.colab_command == "links":
            repository = read_repository(CONFIG_PATH)
            if repository is None:
                print("error: _config.yml names no repository (repository.url); no Colab links", file=sys.stderr)
                return 1
            for path in sorted(NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb")):
                print(colab_url(path.stem, repository))
            return 0
        changed = sync_notebooks(write=not args.check)
    except (ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    verb = "out of date" if args.check else "rewritten"
    for path in changed:
        print(f"{verb}: {path.relative_to(NOTEBOOKS_DIR.parent)}")
    if not changed:
        print("every chapter notebook has the current set-up cell")
    return 1 if (args.check and changed) else 0


if __name__ == "__main__":
    sys.exit(main())
