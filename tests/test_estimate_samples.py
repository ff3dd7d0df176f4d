"""``python -m rrlib.cli estimate-samples SAMPLE DIM_X DIM_Y``: rrlib's estimators as an external estimator of bmi.

bmi's contract (github.com/cbg-ethz/bmi, commit 6c569b93): ``bmi.utils.save_sample`` writes
``pandas.DataFrame(np.hstack([x, y]), columns=[X0.., Y0..]).to_csv(path, index=False)`` to a ``NamedTemporaryFile``
(no ``.csv`` suffix); ``ExternalEstimator`` runs ``COMMAND path dim_x dim_y [options]`` and
``_run_command_and_read_mi`` parses ``subprocess.check_output(args, stderr=subprocess.STDOUT).decode().strip()`` with
``float``. :func:`bmi_read_mi` below is that function; :func:`write_bmi_sample` writes what ``save_sample`` writes
(pandas prints each float64 as its shortest round-trip repr, like Python's ``repr``).

No mocks: real CSV files, the real command as a subprocess (three runs of a few seconds each) and in-process calls
of ``rrlib.cli.main`` for the cases that need no fresh interpreter.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from rrlib.cli import main
from rrlib.mi.bmi_tasks import get_task
from rrlib.mi.bounds import BOUND_NAMES
from rrlib.mi.external import DEFAULTS, SampleOptions, estimate_from_arrays, read_sample

ROOT = Path(__file__).resolve().parent.parent
TASK = "1v1-normal-0.75"  # a bivariate normal with correlation 0.75: I = -0.5 log(1 - 0.75^2) = 0.4133 nats

#: The accuracy run: 4,000 points (2,000 train, 2,000 test: 7 full test batches of 256), at most 300 Adam steps of
#: batch 256 (test evaluations after 250 and 300 steps, the better reported, as bmi's early stopping does), the
#: default DV bound and separable critic. Measured while writing this test (data seed = estimator seed = 0..9, one
#: thread): 0.3980 0.4120 0.4109 0.4059 0.3965 0.3977 0.4111 0.4104 0.4010 0.4330, mean 0.4077, sd 0.0108, so a
#: bias of -0.006 and a largest error of 0.020 nats. The test part's sampling error alone is about
#: sd(pmi) / sqrt(1792) = 0.75 / 42 = 0.018 nats (for a bivariate normal, Var[log p(x,y)/(p(x)p(y))] = rho^2).
#: Tolerance 0.06 nats: the measured bias plus five measured standard deviations.
N_POINTS, STEPS, TOLERANCE = 4000, 300, 0.06
#: Seed 0's estimate, measured: the deterministic value this test's command prints on one CPU thread.
SEED0_ESTIMATE = 0.3980


def write_bmi_sample(path: Path, x: np.ndarray, y: np.ndarray) -> None:
    """What ``bmi.utils.save_sample(path, x, y)`` writes: header ``X0..,Y0..``, no index column, repr floats."""
    columns = [f"X{i}" for i in range(x.shape[1])] + [f"Y{i}" for i in range(y.shape[1])]
    lines = [",".join(columns)] + [",".join(repr(float(v)) for v in row) for row in np.hstack([x, y])]
    path.write_text("\n".join(lines) + "\n")


def bmi_read_mi(args: list[str]) -> float:
    """bmi's ``_run_command_and_read_mi`` (src/bmi/estimators/external/external_estimator.py), verbatim in effect."""
    raw_output = subprocess.check_output(args, stderr=subprocess.STDOUT, cwd=ROOT, env=_env(), timeout=120)
    output: str = raw_output.decode().strip()
    try:
        return float(output)
    except Exception as e:
        raise ValueError(f"Failed to cast output to float, got output '{output}' and error '{e}'.") from e


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "RRBOOK_THREADS": "1"}


def _command(path: Path, dim_x: int, dim_y: int, *options: str) -> list[str]:
    return [sys.executable, "-m", "rrlib.cli", "estimate-samples", str(path), str(dim_x), str(dim_y), *options]


@pytest.fixture(scope="module")
def task_sample(tmp_path_factory) -> tuple[Path, float]:
    """The task's sample in bmi's format at a suffix-less path, as bmi's NamedTemporaryFile; and the true MI."""
    task = get_task(TASK)
    x, y = task.sample(N_POINTS, seed=0)
    path = tmp_path_factory.mktemp("bmi") / "tmpabc123"
    write_bmi_sample(path, x, y)
    return path, task.mutual_information


@pytest.fixture(scope="module")
def small_sample(tmp_path_factory) -> Path:
    """A 2 x 2 Gaussian sample (600 points) for the quick in-process runs."""
    x, y = get_task("multinormal-dense-2-2-0.5").sample(600, seed=1)
    path = tmp_path_factory.mktemp("bmi") / "small.csv"
    write_bmi_sample(path, x, y)
    return path


# ------------------------------------------------------------------------------------------------ as bmi runs it
def test_bmi_parses_the_output_and_it_is_near_the_true_mi_and_the_same_seed_repeats(task_sample):
    path, true_mi = task_sample
    args = _command(path, 1, 1, "--steps", str(STEPS), "--seed", "0")
    first = bmi_read_mi(args)
    assert abs(first - true_mi) < TOLERANCE, (first, true_mi)
    assert first == pytest.approx(SEED0_ESTIMATE, abs=2e-3)  # the value measured above (other BLAS: last digits)
    raw = subprocess.check_output(args, stderr=subprocess.STDOUT, cwd=ROOT, env=_env(), timeout=120)
    assert raw.decode() == f"{first:.6f}\n"  # the number alone, both streams together, and the same seed repeats


def test_bad_input_from_a_subprocess_is_one_error_line_and_exit_2(task_sample):
    path, _ = task_sample
    done = subprocess.run(_command(path, 1, 1, "--bound", "nosuch"), cwd=ROOT, env=_env(), timeout=120,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert done.returncode == 2
    lines = done.stdout.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --bound 'nosuch'"), lines
    with pytest.raises(subprocess.CalledProcessError):  # bmi sees a failed estimator, never a number
        bmi_read_mi(_command(path, 1, 1, "--bound", "nosuch"))


# ----------------------------------------------------------------------------------------------- in-process runs
def _run(capsys, argv: list[str]) -> tuple[int, str, str]:
    try:
        code = main(["estimate-samples", *argv])
    except SystemExit as done:  # argparse's own refusals
        code = int(done.code)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("bound", BOUND_NAMES)
def test_every_bound_prints_one_finite_float_and_nothing_else(capsys, small_sample, bound):
    code, out, err = _run(capsys, [str(small_sample), "2", "2", "--bound", bound, "--steps", "60", "--batch-size",
                                   "64"])
    assert code == 0 and err == "", (code, err)
    assert out.count("\n") == 1 and math.isfinite(float(out)), out


def test_the_seed_changes_the_estimate_and_concat_runs(capsys, small_sample):
    base = [str(small_sample), "2", "2", "--steps", "40", "--batch-size", "32"]
    values = []
    for extra in (["--seed", "0"], ["--seed", "1"], ["--seed", "0"], ["--critic", "concat", "--hidden", "32"]):
        code, out, err = _run(capsys, [*base, *extra])
        assert code == 0 and err == "", err
        values.append(float(out))
    assert values[0] == values[2] and values[0] != values[1]
    assert math.isfinite(values[3])


def test_the_help_gives_the_defaults_and_where_they_come_from(capsys):
    with pytest.raises(SystemExit) as done:
        main(["estimate-samples", "--help"])
    assert done.value.code == 0
    text = capsys.readouterr().out
    for piece in ("--steps 10000", "--batch-size 256", "--train-fraction 0.5", "_DEFAULT_N_STEPS",
                  "_DEFAULT_BATCH_SIZE", "_DEFAULT_TRAIN_TEST_SPLIT", "--bound dv is the paper's", "save_sample"):
        assert piece in text, piece
    assert (DEFAULTS.steps, DEFAULTS.batch_size, DEFAULTS.train_fraction, DEFAULTS.bound) == (10_000, 256, 0.5, "dv")


# --------------------------------------------------------------------------------------------------- bad input
def _one_error_line(capsys, argv: list[str]) -> str:
    code, out, err = _run(capsys, argv)
    lines = err.splitlines()
    assert code == 2 and out == "", (code, out, err)
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    return lines[0]


def _bad_file(tmp_path: Path, text: str) -> str:
    path = tmp_path / "bad.csv"
    path.write_text(text)
    return str(path)


def test_a_missing_file_is_named(capsys, tmp_path):
    line = _one_error_line(capsys, [str(tmp_path / "absent.csv"), "1", "1"])
    assert f"SAMPLE '{tmp_path / 'absent.csv'}'" in line and "no such file" in line


@pytest.mark.parametrize("header", ["X0,Y0,Y1", "Y0,X0", "x0,y0", ",X0,Y0", "X0,Y1"])
def test_a_header_that_does_not_match_the_dims_is_named_with_the_expected_one(capsys, tmp_path, header):
    line = _one_error_line(capsys, [_bad_file(tmp_path, header + "\n" + "0.1,0.2,0.3\n" * 600), "1", "1"])
    assert f"header {header!r}" in line and "expected 'X0,Y0'" in line and "DIM_X 1" in line, line


def test_a_row_with_a_wrong_column_count_is_named(capsys, tmp_path):
    text = "X0,X1,Y0\n" + "0.1,0.2,0.3\n" * 3 + "0.1,0.2\n" + "0.1,0.2,0.3\n" * 600
    line = _one_error_line(capsys, [_bad_file(tmp_path, text), "2", "1"])
    assert "data row 4 has 2 fields, the header 3" in line


@pytest.mark.parametrize(("which", "value"), [(1, "0"), (1, "abc"), (1, "1.5"), (1, "-2"), (2, "0"), (2, "two")])
def test_dims_that_are_not_positive_integers_are_named(capsys, small_sample, which, value):
    argv = [str(small_sample), "2", "2"]
    argv[which] = value
    line = _one_error_line(capsys, argv)
    assert line.startswith(f"error: {'DIM_X' if which == 1 else 'DIM_Y'} {value!r}: must be a positive integer")


@pytest.mark.parametrize(("flag", "value", "expected"), [
    ("--bound", "nosuch", "valid choices: " + ", ".join(BOUND_NAMES)),
    ("--critic", "deep", "valid choices: separable, concat"),
    ("--steps", "0", "must be an integer >= 1"),
    ("--steps", "ten", "must be an integer"),
    ("--batch-size", "1", "must be an integer >= 2"),
    ("--train-fraction", "1.5", "in (0, 1)"),
    ("--lr", "nan", "finite number > 0"),
    ("--device", "nosuch", "valid choices"),
])
def test_a_bad_flag_is_named_with_its_valid_values(capsys, small_sample, flag, value, expected):
    line = _one_error_line(capsys, [str(small_sample), "2", "2", flag, value])
    assert line.startswith(f"error: {flag} ") and value in line.split(":")[1] and expected in line, line


@pytest.mark.parametrize("cell", ["nan", "inf", "-Infinity", "", "1.2.3"])
def test_a_cell_that_is_not_a_finite_number_is_named_by_row_and_column(capsys, tmp_path, cell):
    text = "X0,Y0\n" + "0.1,0.2\n" * 5 + f"0.1,{cell}\n" + "0.1,0.2\n" * 600
    line = _one_error_line(capsys, [_bad_file(tmp_path, text), "1", "1"])
    assert "data row 6, column Y0" in line and ("not a finite number" in line or "not a number" in line), line


def test_too_few_rows_for_the_batch_size_is_refused_with_the_largest_that_fits(capsys, tmp_path):
    x, y = get_task(TASK).sample(300, seed=0)
    path = tmp_path / "short.csv"
    write_bmi_sample(path, x, y)
    line = _one_error_line(capsys, [str(path), "1", "1"])
    assert line.startswith("error: --batch-size 256: the sample's 300 rows split into 150 training and 150 test")
    assert "at most 150" in line


def test_a_missing_argument_is_one_line_too(capsys, small_sample):
    line = _one_error_line(capsys, [str(small_sample), "2"])
    assert "DIM_Y" in line


# ------------------------------------------------------------------------------------------------- the library
def test_the_reader_returns_the_written_sample_exactly(tmp_path):
    x, y = get_task("multinormal-dense-2-2-0.5").sample(50, seed=3)
    path = tmp_path / "s"
    write_bmi_sample(path, x, y)
    x2, y2 = read_sample(path, 2, 2)
    assert np.array_equal(x, x2) and np.array_equal(y, y2)


def test_early_stopping_is_bmis_rule_and_reports_the_best_evaluation():
    x, y = get_task("multinormal-dense-2-2-0.5").sample(600, seed=1)
    options = SampleOptions(steps=3000, batch_size=64, test_every=25, hidden=64)
    result = estimate_from_arrays(x, y, options)
    steps = [s for s, _ in result.history]
    values = [v for _, v in result.history]
    assert steps == list(range(25, 25 * len(steps) + 1, 25)) and result.steps == steps[-1] < 3000
    best = int(np.argmax(values))
    assert best == len(values) - 3 and max(values[-2:]) <= values[best]  # two evaluations without a new best
    assert result.value == values[best] == pytest.approx(float(np.mean(result.test_values)))
    assert len(result.test_values) == 300 // 64  # the full test batches
    plain = estimate_from_arrays(x, y, SampleOptions(steps=100, batch_size=64, hidden=64, early_stopping=False))
    assert plain.steps == 100 and len(plain.history) == 1 and plain.value == plain.history[0][1]


def test_a_diverged_run_reports_nan():
    # NWJ's exp(T - 1) overflows when the critic's scores are huge: inputs scaled by 1e6 without standardisation
    # and a large learning rate make it diverge in its first steps.
    x, y = get_task(TASK).sample(600, seed=0)
    result = estimate_from_arrays(x * 1e6, y * 1e6, SampleOptions(bound="nwj", steps=20, batch_size=64, lr=10.0,
                                                                  standardize=False))
    assert result.diverged and math.isnan(result.value)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_the_estimate_on_cuda_is_near_the_true_mi():
    # The training batches come from a CUDA generator (another stream than the CPU's), so only the accuracy bound of
    # the CPU run applies, not its value.
    task = get_task(TASK)
    x, y = task.sample(N_POINTS, seed=0)
    result = estimate_from_arrays(x, y, SampleOptions(steps=STEPS, device="cuda"))
    assert abs(result.value - task.mutual_information) < TOLERANCE, result.value
