"""The prepared GPU check (``benchmarks/gpu_check.py``) dry-run on the CPU, so that it never rots between loans.

The dry run is the real script, every stage, at toy sizes (``--device cpu --tiny``), in a subprocess as the lent
machine runs it; on the CPU the consistency stage compares two CPU runs, so it must find every experiment
bit-for-bit deterministic. The budget test gives the check too little time and checks that it ends inside it,
with its report written.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


gpu_check = _load("gpu_check")
gpu_prepare = _load("gpu_prepare")


def _check(out: Path, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    cmd = [sys.executable, str(ROOT / "benchmarks" / "gpu_check.py"), "--device", "cpu", "--tiny", "--out", str(out),
           *args]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=timeout)


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory) -> tuple[subprocess.CompletedProcess, dict, Path]:
    out = tmp_path_factory.mktemp("gpu-check")
    done = _check(out, "--budget-s", "600")
    report = json.loads((out / "gpu_check.json").read_text())
    return done, report, out


@pytest.mark.slow
def test_the_cpu_dry_run_runs_every_stage(dry_run):
    done, report, out = dry_run
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert list(report["stages"]) == list(gpu_check.STAGES)
    assert {name: s["status"] for name, s in report["stages"].items()} == dict.fromkeys(gpu_check.STAGES, "ok")
    assert sorted(p.name for p in out.iterdir()) == ["gpu_check.json", "gpu_check.log", "projection.md"]  # ≤ 8
    assert "| stage | status |" in done.stdout  # the summary is the last thing printed (the reply's tail)


@pytest.mark.slow
def test_the_dry_run_finds_the_experiments_deterministic_and_the_one_process_group_equal(dry_run):
    _, report, _ = dry_run
    stages = {name: s["result"] for name, s in report["stages"].items()}
    assert stages["cuda_tests"]["counts"].get("skipped", 0) >= 10 and not stages["cuda_tests"]["counts"].get("failed")
    experiments = stages["consistency"]["experiments"]
    assert set(experiments) == set(gpu_check.TINY_EXPERIMENTS)
    for name, row in experiments.items():
        c = row["comparison"]
        assert c["structure_equal"] and c["n_floats"] > 0, name
        assert c["n_equal"] == c["n_floats"] and c["max_rel"] == 0.0, (name, c["largest"])  # CPU twice: identical
    ddp = stages["ddp"]
    assert ddp["backend"] == "gloo" and ddp["world_size"] == 1
    assert ddp["max_abs_train_dv"] <= ddp["tolerance"]
    assert stages["chapter"]["chapter"] == gpu_check.TINY_CHAPTER and stages["chapter"]["metrics"]
    bench = stages["benchmarks"]
    assert bench["staircase"]["sequential"]["steps"] == bench["staircase"]["batched"]["steps"] > 0
    assert set(bench["steps"]) == {"fp32", "tf32", "bf16"}
    projection = stages["projection"]  # tiny: one unit of every kind, each measured
    assert projection["n_measured"] == projection["n_units"] > 10 and not projection["errors"]
    assert projection["n_units_in_profile"] > projection["n_units"] and projection["rows"]


@pytest.mark.slow
def test_the_check_keeps_its_budget_and_writes_its_report(tmp_path):
    """8 s cannot hold the tiny benchmarks alone (≈ 45 s here): the check must stop at its budget, say which
    stages did not finish, and exit with the incomplete status."""
    budget = 8.0
    start = time.monotonic()
    done = _check(tmp_path, "--budget-s", str(budget), "--only", "environment", "consistency", "benchmarks")
    wall = time.monotonic() - start
    assert wall < budget + 25, wall  # + interpreter start-up, killing a stage's process group, the summary
    report = json.loads((tmp_path / "gpu_check.json").read_text())
    statuses = {name: s["status"] for name, s in report["stages"].items()}
    assert list(statuses) == ["environment", "consistency", "benchmarks"]
    assert set(statuses.values()) <= {"ok", "timed_out", "failed", "skipped"}
    assert statuses["benchmarks"] != "ok", statuses
    assert done.returncode == gpu_check.EXIT_INCOMPLETE, done.stderr[-2000:]
    assert "| benchmarks |" in done.stdout


def test_bad_arguments_are_one_line(tmp_path):
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu_check.py"), "--device", "cpu",
                           "--out", str(tmp_path), "--budget-s", "0"], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 2 and "--budget-s must be positive, got 0.0" in done.stderr
    assert "Traceback" not in done.stderr
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu_check.py"), "--device", "tpu"],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 2 and "invalid choice: 'tpu'" in done.stderr


def test_a_record_with_nan_and_odd_values_stays_plain_json_and_keeps_its_strings():
    import math

    record = {"loss": float("nan"), "best": -math.inf, "note": "NaN seen at Infinity", "dtype": object(),
              "steps": (1, 2.5, float("inf")), 3: True}
    plain = gpu_check._plain(record)
    assert json.loads(json.dumps(plain, allow_nan=False)) == plain
    assert plain["loss"] is None and plain["best"] is None and plain["steps"] == [1, 2.5, None]
    assert plain["note"] == "NaN seen at Infinity" and plain["3"] is True and plain["dtype"].startswith("<object")


def test_compare_metrics_finds_structure_values_and_float_differences():
    a = {"n": 3, "x": 1.0, "y": [1.0, 2.0], "name": "a", "wall_s": 3.0, "cost": {"ratio": 2.0, "steps": 10}}
    same = gpu_check.compare_metrics(a, json.loads(json.dumps(a)))
    assert same["structure_equal"] and same["n_floats"] == same["n_equal"] == 3 and same["max_rel"] == 0.0
    b = {**a, "x": 1.5, "wall_s": 9.0, "cost": {"ratio": 7.0, "steps": 10}}  # wall times and cost.ratio volatile
    diff = gpu_check.compare_metrics(a, b)
    assert diff["structure_equal"] and diff["n_equal"] == 2
    assert diff["max_abs"] == 0.5 and diff["max_rel"] == pytest.approx(1 / 3) and diff["largest"][0][0] == "x"
    broken = gpu_check.compare_metrics(a, {**a, "y": [1.0], "n": 4, "extra": 1})
    assert not broken["structure_equal"]
    assert any("lengths 2 vs 1" in m for m in broken["mismatches"])
    assert any(m.startswith("n: 3 vs 4") for m in broken["mismatches"])
    assert any("keys differ ['extra']" in m for m in broken["mismatches"])


def test_the_documented_device_call_fits_the_tool_and_is_on_the_page():
    call = gpu_check.DEVICE_CALL
    assert len(call["command"]) <= 2000 and len(call["carry"]) <= 8 and call["timeout_s"] <= 600
    assert f"--budget-s {int(gpu_check.STAGE_BUDGET_DEFAULT)}" in call["command"]
    assert gpu_check.STAGE_BUDGET_DEFAULT + 45 <= call["timeout_s"]  # room for the pip install and start-up
    page = (ROOT / "book" / "how_to_run.md").read_text()
    assert call["command"] in page and json.dumps(call["carry"]) in page
    assert ".gpu/" in (ROOT / ".gitignore").read_text().split()  # carried, never committed


def test_prepare_keeps_only_what_the_lent_machine_lacks():
    wheels = ["papermill-2.7.0-py3-none-any.whl", "numpy-2.3.0-cp312-cp312-manylinux_2_28_x86_64.whl",
              "jupyter_client-8.10.0-py3-none-any.whl", "nvidia_cublas_cu12-12.8.4.1-py3-none-manylinux_2_27.whl",
              "torch-2.9.0-cp312-cp312-manylinux_2_28_x86_64.whl", "PyYAML-6.0-cp312-cp312-manylinux.whl"]
    assert gpu_prepare.kept(wheels) == ["jupyter_client-8.10.0-py3-none-any.whl", "papermill-2.7.0-py3-none-any.whl"]
    assert gpu_prepare.distribution("jupyter_client-8.10.0-py3-none-any.whl") == "jupyter-client"
