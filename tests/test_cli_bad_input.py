"""Bad input on the command line is one ``error:`` line naming the flag and its valid values (exit 2), found before
anything is built, loaded or written; never a traceback, never a silently different run.

The cases are the hostile user's of issue 18 ("What the one loop must guarantee"): damaged dataset files,
``--width 1e9`` / ``inf``, ``--device nosuch`` in train-model, contradictory flags (``--no-adv-eval --eval-eps``,
``--adv-steps`` without ``--adv-eps``), an ε far outside the [0, 1] pixel box, messages that named configuration
fields instead of flags (the README's own digits example failed that way), and ``sweep --list | head -1``. The
output-folder cases (a file, read-only, a full disk) are in ``tests/test_run_folder.py``.
"""

from __future__ import annotations

import gzip
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from rrlib.cli import build_parser, main

ROOT = Path(__file__).resolve().parent.parent
#: A tiny standard train-model run on the 8×8 digits (no threat model in the paper: no adversarial evaluation).
DIGITS = ["train-model", "--dataset", "digits", "--width", "0.125", "--epochs", "1", "--batch-size", "64",
          "--train-subset", "64", "--test-subset", "32", "--device", "cpu", "--no-progress"]
#: train-model on Fashion-MNIST, refused before its data would be read.
FMNIST = ["train-model", "--dataset", "fashion-mnist", "--epochs", "1", "--device", "cpu", "--no-progress"]
ENCODER = ["train-encoder", "--dataset", "fashion-mnist", "--estimator-loss", "worst", "--epochs", "1", "--width",
           "0.125", "--critic-hidden", "16", "--batch-size", "16", "--device", "cpu", "--no-progress"]


def one_error_line(capsys, argv: list[str]) -> str:
    """Run ``main(argv)``; require exit 2, one ``error:`` line on stderr and no epoch run; return that line."""
    code = main(argv)
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert code == 2, (code, out, err)
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    assert not re.search(r"epoch\s+\d+/", out), out
    return lines[0]


# --- sizes and devices --------------------------------------------------------------------------------------
@pytest.mark.parametrize("width", ["1e9", "inf", "nan", "0", "17"])
@pytest.mark.parametrize("command", ["train-model", "train-encoder"])
def test_a_width_outside_0_to_16_is_refused_before_a_model_is_built(capsys, tmp_path, command, width):
    # Before: --width 1e9 asked for 4 TB ("DefaultCPUAllocator: can't allocate memory"), inf died in the cache key.
    argv = DIGITS + ["--no-adv-eval"] if command == "train-model" else ENCODER
    line = one_error_line(capsys, [*argv, "--width", width, "--out", str(tmp_path / "run")])
    assert f"--width {float(width):g}" in line and "(0, 16]" in line
    assert not (tmp_path / "run").exists()


def test_an_unknown_device_in_train_model_is_one_line_with_the_choices(capsys, tmp_path):
    # Before: a traceback ending in "ValueError: unknown device 'nosuch'" (the other commands gave one line).
    line = one_error_line(capsys, [*DIGITS, "--no-adv-eval", "--device", "nosuch", "--out", str(tmp_path / "run")])
    assert "--device nosuch" in line and "unknown device 'nosuch'" in line and "'cpu'" in line and "'cuda'" in line
    assert not (tmp_path / "run").exists()


# --- contradictions -----------------------------------------------------------------------------------------
def test_eval_eps_with_no_adv_eval_is_refused(capsys, tmp_path):
    # Before: accepted; the run trained without adversarial evaluation and recorded eval_eps 0.1 in its config.
    line = one_error_line(capsys, [*DIGITS, "--no-adv-eval", "--eval-eps", "0.1", "--out", str(tmp_path / "run")])
    assert "--eval-eps 0.1 with --no-adv-eval" in line
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("flags", [["--steps", "5"], ["--step-size", "0.01"], ["--eps", "0.2"]])
def test_attack_steps_without_adversarial_are_refused(capsys, tmp_path, flags):
    # Before: accepted, and written into the config.json of a standard run.
    line = one_error_line(capsys, [*FMNIST, *flags, "--out", str(tmp_path / "run")])
    assert f"{flags[0]} {flags[1]} without --adversarial" in line and "training is standard" in line
    assert "give --adversarial" in line and "--eval-eps EPS" in line
    assert not (tmp_path / "run").exists()
    line = one_error_line(capsys, [*DIGITS, "--no-adv-eval", *flags, "--out", str(tmp_path / "run")])
    assert "without --adversarial" in line and "leave them out" in line


def test_attack_steps_with_eval_eps_set_the_evaluation_attack():
    from rrlib.cli import _check_train_flags, _train_config

    args = build_parser().parse_args([*DIGITS, "--eval-eps", "0.3", "--steps", "3", "--step-size", "0.1"])
    _check_train_flags(args)
    config = _train_config(args)
    assert config.train_threat() is None
    assert (config.eval_threat().eps, config.eval_threat().steps, config.eval_threat().step_size) == (0.3, 3, 0.1)


@pytest.mark.parametrize(("argv", "flag", "shown"), [
    ([*FMNIST, "--adversarial", "--eps", "1e6"], "--eps", "1e+06"),
    ([*FMNIST, "--adversarial", "--eps", "inf"], "--eps", "inf"),
    ([*FMNIST, "--eval-eps", "2"], "--eval-eps", "2"),
    ([*ENCODER, "--eps", "1e6"], "--eps", "1e+06"),
    ([*ENCODER, "--eps", "255/255.5", "--step-size", "2"], None, None),  # 0.998: inside the box, step checked next
])
def test_an_eps_outside_the_pixel_box_is_refused(capsys, tmp_path, argv, flag, shown):
    # Before: --adv-eps 1e6 trained on Fashion-MNIST without a word (every image reachable from every other).
    line = one_error_line(capsys, [*argv, "--out", str(tmp_path / "run")])
    if flag is None:
        assert "--step-size 2.0 exceeds the diameter" in line
    else:
        assert f"{flag} {shown}: an ℓ∞ attack radius must be a number in [0, 1]" in line and "8/255" in line
    assert not (tmp_path / "run").exists()


def test_an_eps_of_at_most_one_is_accepted():
    from rrlib.cli import _check_train_flags

    for eps in ("1", "8/255", "0"):
        _check_train_flags(build_parser().parse_args([*FMNIST, "--adversarial", "--eps", eps]))
    _check_train_flags(build_parser().parse_args([*FMNIST, "--adversarial"]))


# --- messages name flags ------------------------------------------------------------------------------------
def test_a_dataset_without_a_threat_model_names_the_flags(capsys, tmp_path):
    # Before: "give the evaluation attack's eps, steps, step_size explicitly (adv_eps / eval_eps, adv_steps,
    # adv_step_size)": configuration fields, not flags. Now every command says it in the one resolver's words.
    argv = DIGITS
    line = one_error_line(capsys, [*argv, "--out", str(tmp_path / "run")])
    assert "dataset 'digits' has no threat model in the paper; give --eval-eps, --steps, --step-size" in line
    assert "--no-adv-eval" in line and "eval_eps" not in line and "step_size" not in line
    line = one_error_line(capsys, [*argv, "--adversarial", "--out", str(tmp_path / "run")])
    assert "dataset 'digits' has no threat model in the paper; give --eps, --steps, --step-size" in line
    line = one_error_line(capsys, [*argv, "--adversarial", "--eps", "0.3", "--steps", "3", "--out",
                                   str(tmp_path / "run")])
    assert line.endswith("has no threat model in the paper; give --step-size")
    encoder = [a if a != "fashion-mnist" else "digits" for a in ENCODER]
    line = one_error_line(capsys, [*encoder, "--eps", "0.3", "--out", str(tmp_path / "run")])
    assert "dataset 'digits' has no threat model in the paper; give --steps, --step-size" in line
    assert "step_size" not in line
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(("extra", "message"), [
    (["--no-adv-eval", "--epochs", "0"], "--epochs must be a positive integer, got 0"),
    (["--no-adv-eval", "--seed", "-1"], "--seed must be a non-negative integer, got -1"),
    (["--eval-eps", "0.3", "--steps", "0", "--step-size", "0.1"], "--steps must be an integer >= 1, got 0"),
    (["--eval-eps", "0.1", "--steps", "3", "--step-size", "0.7"], "--step-size 0.7 exceeds the diameter"),
])
def test_the_librarys_messages_name_the_flag(capsys, tmp_path, extra, message):
    line = one_error_line(capsys, [*DIGITS, *extra, "--out", str(tmp_path / "run")])
    assert message in line


def test_the_readme_digits_example_runs(tmp_path, capsys):
    # Before: refused with the configuration-field message above, so the README's own command failed.
    text = " ".join((ROOT / "README.md").read_text().replace("\\\n", " ").split("\n"))
    match = re.search(r"-m rrlib\.cli (train-model --dataset digits [^\n`#]*?--out \S+)", text)
    assert match, "the README's digits example is gone"
    argv = shlex.split(match.group(1))
    argv[argv.index("--out") + 1] = str(tmp_path / "digits-ddp")
    assert main([*argv, "--no-progress"]) == 0, capsys.readouterr().err
    assert (tmp_path / "digits-ddp" / "metrics.json").is_file()


# --- damaged data -------------------------------------------------------------------------------------------
def test_a_truncated_dataset_file_is_one_line_naming_it(tmp_path, capsys):
    # Before: "RuntimeError: shape '[64, 28, 28]' is invalid for input of size 25080" (AssertionError for a garbage
    # header) from inside torchvision, after the output folder and its config.json had been written.
    from _tiny_fmnist import write_fmnist

    root = write_fmnist(tmp_path / "data", 64, 32)
    images = root / "FashionMNIST" / "raw" / "train-images-idx3-ubyte.gz"
    images.write_bytes(gzip.compress(gzip.decompress(images.read_bytes())[: 4 + 12 + 32 * 28 * 28]))
    out = tmp_path / "run"
    line = one_error_line(capsys, [*FMNIST, "--data-root", str(root), "--out", str(out)])
    assert f"{images.with_suffix('')} is damaged or truncated" in line
    assert "header announces 64×28×28 values" in line and "delete it and get it again" in line
    assert not out.exists()
    line = one_error_line(capsys, [*ENCODER, "--data-root", str(root), "--out", str(tmp_path / "enc")])
    assert f"{images.with_suffix('')} is damaged or truncated" in line


# --- a reader that leaves early -----------------------------------------------------------------------------
def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


def test_sweep_list_into_head_prints_no_traceback(tmp_path):
    # Before: "BrokenPipeError: [Errno 32] Broken pipe" with its traceback (the full profile's 56 lines).
    command = (f"{shlex.quote(sys.executable)} -m rrlib.cli sweep --profile full --dataset fashion-mnist "
               f"--out-root {shlex.quote(str(tmp_path / 'tables'))} --list | head -1")
    done = subprocess.run(["sh", "-c", command], cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and len(done.stdout.splitlines()) == 1, done
    assert done.stderr == "", done.stderr
    assert not (tmp_path / "tables").exists()


@pytest.mark.parametrize("argv", [["rrlib.cli", "sweep", "--profile", "quick", "--list"], ["rrlib.book", "list"]])
def test_a_closed_stdout_ends_quietly_with_141(tmp_path, argv):
    # The reader is gone before the first line: every write fails (deterministic, unlike a race with head).
    if argv[0] == "rrlib.cli":
        argv = [*argv, "--out-root", str(tmp_path / "tables")]
    read, write = os.pipe()
    os.close(read)
    try:
        done = subprocess.run([sys.executable, "-m", *argv], cwd=ROOT, env=_env(), stdout=write,
                              stderr=subprocess.PIPE, text=True, timeout=300)
    finally:
        os.close(write)
    assert done.returncode == 141 and done.stderr == "", done.stderr


# --- one threat vocabulary: the former flags -----------------------------------------------------------------
@pytest.mark.parametrize(("old", "new"), [
    (["--adv-eps", "0.2", "--adv-steps", "3", "--adv-step-size", "0.05"],
     ["--adversarial", "--eps", "0.2", "--steps", "3", "--step-size", "0.05"]),
    (["--adv-eps", "paper"], ["--adversarial"]),
    (["--eval-eps", "0.3", "--adv-steps", "3", "--adv-step-size", "0.1"],
     ["--eval-eps", "0.3", "--steps", "3", "--step-size", "0.1"]),
])
def test_the_former_train_model_flags_still_work_and_say_so(capsys, old, new):
    from rrlib.cli import _check_train_flags, _train_config

    base = FMNIST if "--eval-eps" not in old else DIGITS
    args = build_parser().parse_args([*base, *old])
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == sum(a.startswith("--adv-") for a in old)
    assert all(line.startswith("warning: --adv-") and "is deprecated; use --" in line for line in err), err
    _check_train_flags(args)
    assert _train_config(args) == _train_config(build_parser().parse_args([*base, *new]))


def test_adv_eps_keeps_evaluating_at_the_datasets_eps():
    # --adv-eps 0.2 on Fashion-MNIST trained at 0.2 and evaluated at the dataset's 0.1; it still does.
    from rrlib.cli import _train_config

    config = _train_config(build_parser().parse_args([*FMNIST, "--adv-eps", "0.2"]))
    assert config.adversarial and config.train_threat().eps == 0.2 and config.eval_threat().eps == 0.1


@pytest.mark.parametrize("command", [[*ENCODER, "--out", "x"], ["estimate-mi", "--checkpoint", "x"]])
def test_attack_steps_is_a_deprecated_alias_of_steps(capsys, command):
    args = build_parser().parse_args([*command, "--attack-steps", "3"])
    assert args.steps == 3
    assert "warning: --attack-steps is deprecated; use --steps instead" in capsys.readouterr().err
