"""``python -m rrlib.cli estimate-mi`` end to end: train a tiny classifier with ``train-model``, then estimate the
normal and worst-case MI of its logit layer (Definition 3.1, Eq. 4.1; nats) and check the JSON it writes.

Everything runs on scikit-learn's 8×8 digits (always available) with a width-0.125 Baseline-H, a 16-wide critic and
60 critic steps of batch 32: a few seconds on one CPU thread. The digits have no threat model in the paper, so the
attack is given explicitly (ε = 0.3, PGD-3 of step 0.1: MNIST's radius on the same [0, 1] pixel scale).
"""

from __future__ import annotations

import json
import math

import pytest

from rrlib.cli import main

# Algorithm 2 at toy scale: T = 60 iterations of B = 32, K = 4 test batches (128 test images).
ESTIMATE = [
    "--critic-hidden", "16", "--iterations", "60", "--batch-size", "32", "--lr", "0.003", "--test-batches", "4",
    "--train-subset", "256", "--test-subset", "128", "--device", "cpu", "--threads", "1",
]
ATTACK = ["--eps", "0.3", "--steps", "3", "--step-size", "0.1"]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A standard Baseline-H (width 0.125) trained for 3 epochs on 384 digits through the command line."""
    out = tmp_path_factory.mktemp("model")
    rc = main([
        "train-model", "--dataset", "digits", "--width", "0.125", "--epochs", "3", "--batch-size", "64",
        "--lr", "0.003", "--train-subset", "384", "--test-subset", "128", "--no-adv-eval", "--device", "cpu",
        "--out", str(out), "--no-progress",
    ])
    assert rc == 0
    return out / "checkpoint.pt"


def _estimate(checkpoint, out, *extra: str) -> dict:
    assert main(["estimate-mi", "--checkpoint", str(checkpoint), *ESTIMATE, *extra, "--out", str(out)]) == 0
    return json.loads(out.read_text())


@pytest.fixture(scope="module")
def both(checkpoint, tmp_path_factory):
    """Normal and worst-case MI of the logit layer for seeds 0 and 1 (the checkpoint's folder is given)."""
    return _estimate(checkpoint.parent, tmp_path_factory.mktemp("mi") / "both.json", *ATTACK, "--seeds", "0", "1")


def test_both_writes_finite_estimates_and_rv_is_their_difference(both, checkpoint):
    assert both["units"] == "nats" and both["checkpoint"] == str(checkpoint)
    assert both["z_dim"] == 10 and both["n_train"] == 256 and both["n_test"] == 128
    cfg = both["config"]
    assert cfg["representation"] == "logits" and cfg["estimator_loss"] == "both" and cfg["seeds"] == [0, 1]
    assert cfg["threat"] == {"norm": "linf", "eps": 0.3, "steps": 3, "step_size": 0.1, "box": [0.0, 1.0],
                             "random_start": False, "restarts": 0}
    assert cfg["estimator"]["gradient"] == "representation" and cfg["estimator"]["attack_keep_best"] is True
    assert cfg["estimator"]["iterations"] == 60 and cfg["estimator"]["batch_size"] == 32
    assert both["model"]["config"]["dataset"] == "digits" and both["model"]["finished"]
    normal, worst, rv = both["normal"], both["worst"], both["rv"]
    for summary in (normal, worst, rv):
        assert len(summary["per_seed"]) == 2
        assert all(math.isfinite(v) for v in [summary["mean"], summary["std"], *summary["per_seed"]])
    # RV = normal − worst (Eq. 4.1), seed by seed; the means agree up to float64 rounding of a 2-term mean
    assert rv["per_seed"] == [n - w for n, w in zip(normal["per_seed"], worst["per_seed"], strict=True)]
    assert rv["mean"] == pytest.approx(normal["mean"] - worst["mean"], abs=1e-12)
    runs = both["runs"]
    assert [(r["kind"], r["seed"]) for r in runs] == [("normal", 0), ("worst", 0), ("normal", 1), ("worst", 1)]
    for r in runs:
        assert len(r["test_values"]) == 4 and all(math.isfinite(v) for v in r["test_values"])
        assert r["estimate"] == pytest.approx(sum(r["test_values"]) / 4, abs=1e-12)
        assert 0 <= r["best_iteration"] < 60 and math.isfinite(r["standard_error"])


def test_worst_case_is_below_clean_and_normal(both):
    runs = both["runs"]
    for normal, worst in zip(runs[::2], runs[1::2], strict=True):
        # Exact guarantee: Algorithm 1 keeps the best iterate and scores the clean batch first, so on every test
        # batch the worst-case value is at most the same critic's value on the clean batch. The clean value is
        # recomputed in a second forward pass; 1e-5 nats covers float32 round-off between the two passes.
        for v, clean in zip(worst["test_values"], worst["clean_test_values"], strict=True):
            assert v <= clean + 1e-5
        # Statistical check: the normal and worst-case critics are trained separately, so nothing forces worst ≤
        # normal exactly; allow 5 standard errors of the difference of the two test-batch means (K = 4 each).
        # Measured: normal ≈ 2.4, worst ≈ 1.1, s.e. ≈ 0.1–0.2 nats.
        tol = 5 * math.hypot(normal["standard_error"], worst["standard_error"])
        assert worst["estimate"] <= normal["estimate"] + tol
        # a standard model is vulnerable: RV is well above its noise (measured ≈ 1.3 nats, ≈ 6 standard errors)
        assert normal["estimate"] - worst["estimate"] > 3 * tol / 5


def test_worst_case_at_eps_zero_is_the_normal_estimate_exactly(checkpoint, both, tmp_path):
    """With ε = 0 Algorithm 1 leaves every batch unchanged, so the worst-case run is the normal run, bit for bit
    (same critic initialisation, same batches). A single-mode run also reproduces its half of a ``both`` run."""
    normal = _estimate(checkpoint, tmp_path / "normal.json", "--estimator-loss", "normal", "--seed", "1")
    worst = _estimate(checkpoint, tmp_path / "worst.json", "--estimator-loss", "worst", "--seed", "1",
                      "--eps", "0", "--steps", "3", "--step-size", "0.1")
    assert normal["worst"] is None and normal["rv"] is None and worst["normal"] is None
    assert worst["config"]["threat"]["eps"] == 0.0 and normal["config"]["threat"] is None
    (n,), (w,) = normal["runs"], worst["runs"]
    assert w["estimate"] == n["estimate"] and w["test_values"] == n["test_values"]
    assert w["best_iteration"] == n["best_iteration"] and w["train_curve"] == n["train_curve"]
    assert n["estimate"] == both["normal"]["per_seed"][1] and n["test_values"] == both["runs"][2]["test_values"]


def test_latent_representation_and_default_output_path(checkpoint, capsys):
    assert main(["estimate-mi", "--checkpoint", str(checkpoint), *ESTIMATE, "--iterations", "5",
                 "--estimator-loss", "normal", "--representation", "z"]) == 0
    text = capsys.readouterr().out
    assert "representation z (64-d)" in text and "result: normal MI" in text
    (out,) = checkpoint.parent.glob("estimate-mi-z-normal-*.json")
    result = json.loads(out.read_text())
    assert result["z_dim"] == 64 and result["config"]["estimator"]["iterations"] == 5
    assert math.isfinite(result["normal"]["mean"])


def test_bad_inputs_are_clear_errors(checkpoint, tmp_path, capsys):
    missing = tmp_path / "nowhere" / "checkpoint.pt"
    assert main(["estimate-mi", "--checkpoint", str(missing)]) == 2
    assert str(missing) in capsys.readouterr().err
    not_a_checkpoint = tmp_path / "notes.pt"
    not_a_checkpoint.write_text("hello")
    assert main(["estimate-mi", "--checkpoint", str(not_a_checkpoint)]) == 2
    assert "not a checkpoint written by train-model" in capsys.readouterr().err
    for option, value in (("--estimator-loss", "best"), ("--representation", "pixels"), ("--gradient", "x")):
        with pytest.raises(SystemExit) as exc:
            main(["estimate-mi", "--checkpoint", str(checkpoint), option, value])
        assert exc.value.code == 2
        err = capsys.readouterr().err
        assert f"invalid choice: '{value}'" in err and "choose from" in err
    base = ["estimate-mi", "--checkpoint", str(checkpoint), *ESTIMATE]
    cases = [
        ([], "no threat model"),  # the digits need an explicit attack
        ([*ATTACK[:-2], "--step-size", "0.7"], "--step-size 0.7"),  # a step longer than the ball's diameter
        ([*ATTACK[:-2], "--step-size", "0.7"], "exceeds the diameter"),  # ThreatModel's own explanation
        (["--eps", "0.3", "--steps", "0", "--step-size", "0.1"], "--steps 0"),
        ([*ATTACK, "--test-batches", "5"], "--test-batches 5"),  # 128 test images hold 4 batches of 32
        ([*ATTACK, "--batch-size", "1"], "batch_size"),
        (["--eps", "1e6", *ATTACK[2:]], "--eps 1e+06: an ℓ∞ attack radius must be a number in [0, 1]"),  # was accepted
    ]
    for extra, message in cases:
        assert main([*base, *extra]) == 2
        assert message in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["estimate-mi", "--checkpoint", str(checkpoint), "--seeds", "0", "-1"])
    assert "non-negative integer" in capsys.readouterr().err


def test_attack_lr_is_a_deprecated_alias_of_step_size(capsys):
    from rrlib.cli import build_parser

    args = build_parser().parse_args(["estimate-mi", "--checkpoint", "x", "--attack-lr", "8/255"])
    assert args.step_size == pytest.approx(8 / 255)
    err = capsys.readouterr().err
    assert "--attack-lr is deprecated" in err and "use --step-size" in err
    args = build_parser().parse_args(["estimate-mi", "--checkpoint", "x", "--step-size", "0.1"])
    assert args.step_size == 0.1 and "deprecated" not in capsys.readouterr().err


@pytest.mark.parametrize("command, function", [("train-model", "rrlib.train.supervised.train_model"),
                                               ("train-encoder", "rrlib.train.encoder.train_encoder")])
def test_ctrl_c_during_training_says_how_to_resume_and_exits_130(command, function, tmp_path, capsys, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(function, interrupted)
    argv = {"train-model": ["train-model", "--dataset", "digits", "--epochs", "1", "--no-adv-eval"],
            "train-encoder": ["train-encoder", "--dataset", "fmnist", "--estimator-loss", "normal"]}[command]
    assert main([*argv, "--device", "cpu", "--out", str(tmp_path / "run"), "--no-progress"]) == 130
    assert f"interrupted; rerun the same command to continue from the last checkpoint in {tmp_path / 'run'}" \
        in capsys.readouterr().err
