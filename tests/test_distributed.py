"""Data-parallel training under torchrun (rrlib.distributed): 2 Gloo processes on the CPU against 1 process.

Each 2-process run is a real ``python -m torch.distributed.run --nproc_per_node 2 -m rrlib.cli ...`` (about 10 s on
one core each); the 1-process reference runs in this interpreter through ``rrlib.cli.main``.

**Tolerance.** Splitting a batch of B images over 2 ranks changes nothing in the mathematics (the loss is each
rank's share of the batch mean, batch norm is synchronised, DDP averages), only the order of floating-point sums:
the batch sums of the gradients and of the batch-norm statistics become two partial sums plus an all-reduce.
A reordered float32 sum of B terms differs by at most about B·u relative (u = 2⁻²⁴, unit round-off; typically
√B·u), so one step's gradient differs by ≲ B·u relatively, and with a small learning rate these differences add
up over T steps to ≲ T·B·u relative in the parameters and the recorded losses: for T = 12 steps of B = 64,
``TOL = T·B·u ≈ 4.6e-5``. Measured (this machine): max relative parameter difference 1.2e-7 (a few ulps),
train loss 3e-8, test loss 1e-7; accuracies identical.

Two things are excluded on purpose and say why: (1) the comparison of ``train-model`` uses SGD, and that of
``train-encoder`` (Adam only) skips the biases of the layers that feed a batch norm (``encoder.fc1.0.bias``, the
critic's conv biases) and those batch norms' running means: the true gradient of such a bias is exactly 0 (batch
norm subtracts it), so its computed gradient is rounding noise, which Adam divides by its own running RMS and turns
into steps of up to lr·(1−β₁)/√(1−β₂) ≈ 3.2·lr in *either* run. Parameters next to such gradients inherit the
noise (a measured allowance of 100·T·B·u was exceeded on a loaded machine: 2e-3 for a critic batch-norm bias),
so every encoder and critic parameter is checked against that derived step bound, and the recorded training DV
(the objective, a well-conditioned batch sum) at T·B·u. The held-out MI is read in eval mode through those
running means and is therefore not compared.
(2) Runs with dropout or random starts draw per-rank random numbers by design and agree only in distribution.
"""

from __future__ import annotations

import json
import math
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from rrlib.cli import main

ROOT = Path(__file__).resolve().parent.parent
U = 2.0 ** -24  # float32 unit round-off

MODEL = ["train-model", "--dataset", "digits", "--head", "linear", "--width", "0.125", "--epochs", "2",
         "--batch-size", "64", "--optimizer", "sgd", "--lr", "0.05", "--train-subset", "384", "--test-subset", "128",
         "--no-adv-eval", "--device", "cpu", "--no-progress"]
MODEL_STEPS = 2 * 384 // 64
ENCODER_LR = 1e-3
ENCODER = ["train-encoder", "--dataset", "fashion-mnist", "--estimator-loss", "normal", "--epochs", "2",
           "--train-subset", "64", "--width", "0.125", "--critic-hidden", "16", "--batch-size", "16",
           "--lr", str(ENCODER_LR), "--device", "cpu", "--no-progress"]
ENCODER_STEPS = 2 * 64 // 16


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def torchrun(args: list[str], nproc: int = 2, entry: tuple[str, ...] = ("-m", "rrlib.cli")
             ) -> subprocess.CompletedProcess:
    """``python -m torch.distributed.run --nproc_per_node N ENTRY ARGS`` from the repository root (ENTRY: the
    CLI, or a script); ``nproc=0`` runs ``python ENTRY ARGS`` as one plain process instead."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "RRBOOK_THREADS": "1", "RRBOOK_NO_PROGRESS": "1"}
    launcher = ["-m", "torch.distributed.run", "--nproc_per_node", str(nproc), "--master_port", str(_free_port())]
    cmd = [sys.executable, *(launcher if nproc else []), *entry, *args]
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)


def _relative_differences(a: dict, b: dict, skip: tuple[str, ...] = ()) -> dict[str, float]:
    """max |a − b| / max |a| per floating tensor of two state dicts (the same keys)."""
    assert a.keys() == b.keys()
    out = {}
    for key, x in a.items():
        if key in skip or not x.is_floating_point():
            continue
        scale = float(x.double().abs().max()) or 1.0
        out[key] = float((x.double() - b[key].double()).abs().max()) / scale
    return out


def _pre_batchnorm(state: dict) -> tuple[str, ...]:
    """Keys of the biases of layers whose output feeds a batch norm (``p.N.bias`` with ``p.N+1.running_mean``) and
    of those batch norms' running means: the entries whose true gradient is 0 (see the module docstring)."""
    out = []
    for key in state:
        prefix, _, last = key.rpartition(".")
        parent, _, index = prefix.rpartition(".")
        if last == "bias" and index.isdigit() and f"{parent}.{int(index) + 1}.running_mean" in state:
            out += [key, f"{parent}.{int(index) + 1}.running_mean"]
    return tuple(out)


def _close(x: float, y: float, tol: float) -> bool:
    return abs(x - y) <= tol * max(abs(x), abs(y), 1.0)


@pytest.fixture(scope="module")
def one_process_model(tmp_path_factory):
    out = tmp_path_factory.mktemp("model1")
    assert main([*MODEL, "--out", str(out)]) == 0
    return out


def test_train_model_two_gloo_processes_match_one(one_process_model, tmp_path):
    tol = MODEL_STEPS * 64 * U
    done = torchrun([*MODEL, "--out", str(tmp_path)])
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("finished;") == 1  # rank 0 alone prints
    one = torch.load(one_process_model / "checkpoint.pt", weights_only=True)
    two = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    diffs = _relative_differences(one["model"], two["model"])
    assert max(diffs.values()) <= tol, sorted(diffs.items(), key=lambda kv: -kv[1])[:3]
    assert one["state"]["global_step"] == two["state"]["global_step"] == MODEL_STEPS
    m1 = json.loads((one_process_model / "metrics.json").read_text())["final"]
    m2 = json.loads((tmp_path / "metrics.json").read_text())["final"]
    for key in ("train_loss", "nat_loss"):
        assert _close(m1[key], m2[key], tol), (key, m1[key], m2[key])
    assert m1["train_acc"] == m2["train_acc"] and m1["nat_acc"] == m2["nat_acc"]


def test_a_two_process_checkpoint_resumes_in_one_process(one_process_model, tmp_path):
    tol = MODEL_STEPS * 64 * U
    done = torchrun([*MODEL, "--out", str(tmp_path), "--max-steps", "4"])  # stops inside epoch 1
    assert done.returncode == 0, done.stderr[-3000:]
    saved = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert saved["state"]["global_step"] == 4 and not saved["state"]["finished"]
    assert not any(k.startswith("module.") for k in saved["model"])  # the unwrapped model: any world size resumes
    assert main([*MODEL, "--out", str(tmp_path)]) == 0
    one = torch.load(one_process_model / "checkpoint.pt", weights_only=True)
    resumed = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    diffs = _relative_differences(one["model"], resumed["model"])
    assert max(diffs.values()) <= tol, sorted(diffs.items(), key=lambda kv: -kv[1])[:3]


def test_a_world_size_that_does_not_divide_the_batch_is_one_error_line(tmp_path):
    done = torchrun([*[a if a != "64" else "63" for a in MODEL], "--train-subset", "378", "--out", str(tmp_path)])
    assert done.returncode != 0
    lines = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert lines and len(set(lines)) == 1, done.stderr[-3000:]
    assert "batch_size 63" in lines[0] and "world size 2" in lines[0] and "[1, 3, 7, 9, 21, 63]" in lines[0]
    assert not (tmp_path / "checkpoint.pt").exists()


def test_train_encoder_two_gloo_processes_match_one(tiny_fmnist_root, tmp_path):
    tol = ENCODER_STEPS * 16 * U
    adam_bound = 2 * ENCODER_STEPS * ENCODER_LR * 0.1 / 0.001 ** 0.5  # both runs, |step| ≤ lr(1-β1)/√(1-β2)
    data = ["--data-root", str(tiny_fmnist_root)]
    assert main([*ENCODER, *data, "--out", str(tmp_path / "one")]) == 0
    done = torchrun([*ENCODER, *data, "--out", str(tmp_path / "two")])
    assert done.returncode == 0, done.stderr[-3000:]
    one = torch.load(tmp_path / "one" / "checkpoint.pt", weights_only=True)
    two = torch.load(tmp_path / "two" / "checkpoint.pt", weights_only=True)
    for part in ("encoder", "critic"):
        # Adam turns rounding noise in nearly cancelling gradients into steps of up to lr(1-β1)/√(1-β2) per step
        # and run, so parameters are held to that derived bound, 2·T·3.2·lr ≈ 0.05 (measured on a loaded machine:
        # up to 2e-3, critic.image_branch.1.bias); the objective itself is held to T·B·u below.
        noisy = _pre_batchnorm(one[part])
        assert "encoder.fc1.0.bias" in noisy or part == "critic"
        for key, value in one[part].items():
            if value.is_floating_point():
                assert float((value - two[part][key]).abs().max()) <= adam_bound, key
    for r1, r2 in zip(one["history"], two["history"], strict=True):
        assert _close(r1["train_dv"], r2["train_dv"], tol), (r1["train_dv"], r2["train_dv"])


def test_worst_case_encoder_two_gloo_processes_attack_the_whole_batch(tiny_fmnist_root, tmp_path):
    """Worst-case training (Eq. 5.4) under torchrun: Algorithm 1 runs on each rank's share of the batch against
    the DV of the *whole* batch (``ddp_mi.global_dv``), so the first step — an attack and a DV at the same initial
    parameters in both runs — must agree with one process to rounding: its DV is a batch sum in another order,
    ≤ (steps + 1)·B·u relative over the attack's iterates. (ℓ∞ steps follow gradient signs; a sign that differs
    between the runs belongs to a pixel where the DV's gradient is at rounding level, so the DV moves only at second
    order in the step, as for the robust head below; keep-best can only swap iterates whose DVs agree to rounding.)
    Later steps are not compared: the attack runs in eval mode, where the pre-batch-norm biases that Adam moves by
    rounding noise (module docstring) do change the output. Measured on this machine: one process with 1 thread
    against 2 threads differs as much (epoch-1 training DV −4.31 vs −4.17 nats) as 2 ranks against 1 (−4.22)."""
    from _ddp_encoder_steps import CONFIG

    script = (str(ROOT / "tests" / "_ddp_encoder_steps.py"),)
    one = torchrun([str(tiny_fmnist_root), str(tmp_path / "one"), str(tmp_path / "one.json")], 0, script)
    assert one.returncode == 0, one.stderr[-3000:]
    two = torchrun([str(tiny_fmnist_root), str(tmp_path / "two"), str(tmp_path / "two.json")], 2, script)
    assert two.returncode == 0, two.stderr[-3000:]
    steps_one = json.loads((tmp_path / "one.json").read_text())
    steps_two = json.loads((tmp_path / "two.json").read_text())
    assert len(steps_one) == len(steps_two) == 64 // CONFIG.batch_size
    assert all(math.isfinite(v) for v in steps_two)
    tol = (CONFIG.threat().steps + 1) * CONFIG.batch_size * U
    assert _close(steps_one[0], steps_two[0], tol), (steps_one[0], steps_two[0], tol)
    saved = torch.load(tmp_path / "two" / "checkpoint.pt", weights_only=True)
    assert saved["config"]["estimator_loss"] == "worst" and len(saved["history"]) == 1


HEAD = ["train-classifier", "--head", "linear", "--epochs", "2", "--train-subset", "64", "--val-size", "16",
        "--test-subset", "32", "--batch-size", "16", "--lr", "0.01", "--device", "cpu", "--no-progress"]
HEAD_STEPS = 2 * (48 // 16)


def _head_runs(data_root: Path, tmp_path: Path, loss: str) -> tuple[dict, dict]:
    """A linear head (``--classifier-loss LOSS``) on a 1-epoch encoder, trained by one process and by 2 ranks: their
    checkpoints."""
    data = ["--data-root", str(data_root)]
    assert main([*ENCODER, *data, "--epochs", "1", "--out", str(tmp_path / "enc")]) == 0
    head = [*HEAD, "--encoder", str(tmp_path / "enc"), "--classifier-loss", loss, *data]
    assert main([*head, "--out", str(tmp_path / "one")]) == 0
    done = torchrun([*head, "--out", str(tmp_path / "two")])
    assert done.returncode == 0, done.stderr[-3000:]
    return (torch.load(tmp_path / "one" / "checkpoint.pt", weights_only=True),
            torch.load(tmp_path / "two" / "checkpoint.pt", weights_only=True))


def test_train_classifier_two_gloo_processes_match_one(tiny_fmnist_root, tmp_path):
    """``train-classifier`` under torchrun: a standard linear head on a frozen encoder, 2 ranks against 1 process.
    No dropout (the MLP head's dropout draws per-rank masks by design), no attack in training, Adam on a head without
    batch norm: every step is a continuous function of the weights, so the tolerance is the module's T·B·u for
    T = 2 epochs × 3 steps of B = 16. Measured: 1.2e-7 relative in the weights, 1.1e-7 in the losses."""
    one, two = _head_runs(tiny_fmnist_root, tmp_path, "standard")
    tol = HEAD_STEPS * 16 * U
    for part in ("head", "best_head"):
        worst = max(_relative_differences(one[part], two[part]).values())
        assert worst <= tol, (part, worst, tol)
    for r1, r2 in zip(one["history"], two["history"], strict=True):
        assert _close(r1["train_loss"], r2["train_loss"], tol)
        assert r1["test_nat_acc"] == r2["test_nat_acc"] and r1["test_adv_acc"] == r2["test_adv_acc"]


def test_robust_classifier_two_gloo_processes_match_one_in_its_objective(tiny_fmnist_root, tmp_path):
    """``train-classifier --classifier-loss robust`` under torchrun: each rank attacks its share of the batch (PGD on
    the head's cross-entropy) and DDP averages the head's gradient. Compared with one process:

    * the training loss of every epoch at T·B·u, as for the standard head. The weights of the two runs differ by
      rounding after the first step, and ℓ∞ PGD steps along gradient *signs*, so a pixel whose input gradient sits at
      rounding level can step the other way in the other run: that pixel moves by 2η and the codes, the head's
      gradient and (through Adam's division by small second moments) some weights change at first order. The loss
      does not: the flip happens only where the loss's gradient in that pixel is ≈ 0, so the loss moves at second
      order in the step. Measured with this test's settings over head seeds 0–8: one seed of 9 had such a flip
      (weights 9.9e-4 relative, per-step losses 5.1e-7); the other eight matched at ≤ 1.8e-7 in the weights and
      ≤ 1.6e-7 in the losses.
    * the test accuracies, natural and under PGD, equal;
    * not the weights: a sign flip is a discontinuity of PGD, not an error of the data-parallel code, and no
      rounding bound holds across one (Adam's own bound, 2·T·lr·(1−β₁)/√(1−β₂) ≈ 0.38 here, exceeds the weights).
      The data-parallel parts a robust head adds (each rank's attack on its share, the loss scaled to the global
      batch) change the loss at first order if wrong; the weights' all-reduce is checked by the standard head.
    """
    one, two = _head_runs(tiny_fmnist_root, tmp_path, "robust")
    tol = HEAD_STEPS * 16 * U
    assert one["config"]["classifier_loss"] == two["config"]["classifier_loss"] == "robust"
    for r1, r2 in zip(one["history"], two["history"], strict=True):
        assert _close(r1["train_loss"], r2["train_loss"], tol), (r1["train_loss"], r2["train_loss"], tol)
        assert r1["test_nat_acc"] == r2["test_nat_acc"] and r1["test_adv_acc"] == r2["test_adv_acc"]
