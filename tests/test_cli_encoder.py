"""``train-encoder`` / ``train-classifier`` on the command line (``rrlib.cli.main``): per-epoch lines, metrics.json
(accuracies in [0, 1] for the final and best epochs, the attack as a ThreatModel dict), resumption (``--epochs 1``
then ``--epochs 2`` equals a straight 2-epoch run), and one clear line for every bad input with nothing on disk
overwritten.

Data: a tiny Fashion-MNIST folder in the true gzipped-IDX format; width-0.125 encoder, width-16 critic, batches of
16, 2-step PGD.
"""

from __future__ import annotations

import json
from dataclasses import asdict

import pytest
import torch

from rrlib.attacks import ThreatModel
from rrlib.cli import build_parser, main
from rrlib.train.encoder import CHECKPOINT_FILE, TIMING_KEYS, EncoderConfig, train_encoder

ATTACK = ["--steps", "2", "--step-size", "0.05"]
COMMON = ["--device", "cpu", "--no-progress", "--seed", "3"]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def encoder_args(root, out, epochs=2, *extra):
    return ["train-encoder", "--dataset", "fmnist", "--estimator-loss", "worst", "--out", str(out), "--epochs",
            str(epochs), "--width", "0.125", "--critic-hidden", "16", "--batch-size", "16", "--lr", "1e-3",
            *ATTACK, "--data-root", str(root), *COMMON, *extra]


def classifier_args(root, encoder, out, *extra):
    return ["train-classifier", "--encoder", str(encoder), "--head", "mlp", "--classifier-loss", "robust", "--out",
            str(out), "--epochs", "2", "--val-size", "16", "--batch-size", "16", "--lr", "3e-3", *ATTACK,
            "--data-root", str(root), *COMMON, *extra]


def run(capsys, argv):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def _weights(folder):
    saved = torch.load(folder / CHECKPOINT_FILE, weights_only=True)
    return {**{f"g.{k}": v for k, v in saved["encoder"].items()}, **{f"T.{k}": v for k, v in saved["critic"].items()}}


def _numbers(history):
    return [{k: v for k, v in r.items() if k not in TIMING_KEYS} for r in history]


@pytest.fixture(scope="module")
def encoder_dir(tiny_fmnist_root, tmp_path_factory):
    """The straight 2-epoch run, through the command line."""
    folder = tmp_path_factory.mktemp("enc") / "g"
    assert main(encoder_args(tiny_fmnist_root, folder)) == 0
    return folder


def test_train_encoder_prints_epochs_and_writes_metrics(encoder_dir, tiny_fmnist_root, capsys):
    # the same command again reuses the finished run
    code, out, _ = run(capsys, encoder_args(tiny_fmnist_root, encoder_dir))
    assert code == 0 and "continuing (or reusing)" in out and "epoch" not in out.replace("epochs", "")
    metrics = json.loads((encoder_dir / "metrics.json").read_text())
    assert metrics["finished"] and [r["epoch"] for r in metrics["history"]] == [1, 2]
    assert metrics["attack"] == {"name": "pgd", **asdict(ThreatModel("linf", 0.1, 2, 0.05)), "box": [0.0, 1.0]}
    assert metrics["final"]["heldout_mi_worst"] <= metrics["final"]["heldout_mi_normal"] + 1e-6


def test_encoder_epochs_1_then_2_equals_straight_2(encoder_dir, tiny_fmnist_root, tmp_path, capsys):
    folder = tmp_path / "g"
    code, out, _ = run(capsys, encoder_args(tiny_fmnist_root, folder, 1))
    assert code == 0 and "epoch   1/1  train DV" in out and " s\n" in out
    code, out, _ = run(capsys, encoder_args(tiny_fmnist_root, folder, 2))
    assert code == 0 and "epoch   2/2" in out and "epoch   1/" not in out  # continued, not restarted
    straight, resumed = _weights(encoder_dir), _weights(folder)
    assert straight.keys() == resumed.keys() and all(torch.equal(straight[k], resumed[k]) for k in straight)
    a, b = (json.loads((f / "metrics.json").read_text()) for f in (encoder_dir, folder))
    assert _numbers(a["history"]) == _numbers(b["history"])


def test_train_classifier_metrics_resume_and_autoattack(encoder_dir, tiny_fmnist_root, tmp_path, capsys):
    folder = tmp_path / "h"
    code, out, _ = run(capsys, classifier_args(tiny_fmnist_root, encoder_dir, folder))
    assert code == 0 and "epoch   1/2  train loss" in out and "val nat" in out and "test nat" in out
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["attack"]["eps"] == 0.1 and metrics["attack"]["steps"] == 2 and metrics["attack"]["norm"] == "linf"
    for which in ("final", "best"):
        for key in ("natural_accuracy", "adversarial_accuracy"):
            assert 0.0 <= metrics[which][key] <= 1.0
    assert metrics["final"]["epoch"] == 2
    before = (folder / "checkpoint.pt").read_bytes()
    # finished: reused, not retrained
    code, out, _ = run(capsys, classifier_args(tiny_fmnist_root, encoder_dir, folder))
    assert code == 0 and "epoch   " not in out and (folder / "checkpoint.pt").read_bytes() == before
    pytest.importorskip("torchattacks")
    code, out, _ = run(capsys, classifier_args(tiny_fmnist_root, encoder_dir, folder, "--autoattack", "8"))
    assert code == 0 and "AutoAttack (standard version) on 8 test images" in out
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["autoattack"]["n_images"] == 8
    for which in ("final", "best"):
        assert 0.0 <= metrics[which]["autoattack_accuracy"] <= metrics[which]["adversarial_accuracy"] + 1.0 / 8
    code, out, _ = run(capsys, classifier_args(tiny_fmnist_root, encoder_dir, folder, "--autoattack", "8"))
    assert code == 0 and "reusing the numbers" in out


def test_classifier_epochs_1_then_2_equals_straight_2(encoder_dir, tiny_fmnist_root, tmp_path, capsys):
    straight, resumed = tmp_path / "a", tmp_path / "b"
    assert run(capsys, classifier_args(tiny_fmnist_root, encoder_dir, straight))[0] == 0
    short = classifier_args(tiny_fmnist_root, encoder_dir, resumed)
    short[short.index("--epochs") + 1] = "1"
    assert run(capsys, short)[0] == 0
    code, out, _ = run(capsys, classifier_args(tiny_fmnist_root, encoder_dir, resumed))
    assert code == 0 and "epoch   2/2" in out and "epoch   1/" not in out
    a, b = (torch.load(f / "checkpoint.pt", weights_only=True) for f in (straight, resumed))
    assert all(torch.equal(a["head"][k], b["head"][k]) for k in a["head"])
    ma, mb = (json.loads((f / "metrics.json").read_text()) for f in (straight, resumed))
    assert {k: ma[k] for k in ("final", "best", "attack")} == {k: mb[k] for k in ("final", "best", "attack")}


# ------------------------------------------------------------------------------------------------ bad input
def _argparse_error(capsys, argv, message):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code != 0
    assert message in capsys.readouterr().err


def test_unknown_names_are_refused_by_the_parser(tiny_fmnist_root, tmp_path, capsys):
    args = encoder_args(tiny_fmnist_root, tmp_path / "e")
    args[args.index("fmnist")] = "imagenet"
    _argparse_error(capsys, args, "argument --dataset: unknown dataset 'imagenet'; valid choices:")
    args = encoder_args(tiny_fmnist_root, tmp_path / "e")
    args[args.index("worst")] = "wrost"
    _argparse_error(capsys, args, "argument --estimator-loss: invalid choice: 'wrost' (choose from 'normal', 'worst', "
                                  "'worst-infonce', 'adv-contrastive')")
    args = classifier_args(tiny_fmnist_root, tmp_path / "e", tmp_path / "h")
    args[args.index("mlp")] = "resnet"
    _argparse_error(capsys, args, "argument --head: invalid choice: 'resnet' (choose from 'mlp', 'linear')")
    args = classifier_args(tiny_fmnist_root, tmp_path / "e", tmp_path / "h")
    args[args.index("robust")] = "adversarial"
    _argparse_error(capsys, args, "argument --classifier-loss: invalid choice: 'adversarial'")
    assert not (tmp_path / "e").exists() and not (tmp_path / "h").exists()


def _one_line_error(capsys, argv, *messages):
    code, _, err = run(capsys, argv)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    for m in messages:
        assert m in lines[0], lines[0]


def test_bad_encoder_folders_give_one_line_and_write_nothing(encoder_dir, tiny_fmnist_root, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    _one_line_error(capsys, classifier_args(tiny_fmnist_root, tmp_path / "empty", tmp_path / "h1"),
                    "no encoder checkpoint at", "train-encoder")
    _one_line_error(capsys, classifier_args(tiny_fmnist_root, tmp_path / "nowhere", tmp_path / "h1"),
                    "no encoder folder at")
    unfinished = tmp_path / "unfinished"
    config = EncoderConfig(dataset="fmnist", width=0.125, critic_hidden=16, epochs=2, batch_size=16,
                           steps=2, step_size=0.05)
    train_encoder(config, unfinished, device="cpu", data_root=tiny_fmnist_root, show_progress=False,
                  stop_after_epochs=1)
    _one_line_error(capsys, classifier_args(tiny_fmnist_root, unfinished, tmp_path / "h1"),
                    "has not finished training (epoch 1 of 2)")
    good = (encoder_dir / "checkpoint.pt").read_bytes()
    for name, content in (("truncated", good[: len(good) // 2]), ("garbage", b"not a checkpoint\n" * 50)):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "checkpoint.pt").write_bytes(content)
        _one_line_error(capsys, classifier_args(tiny_fmnist_root, folder, tmp_path / "h1"), "is corrupt or truncated")
        # resuming it: refused too
        _one_line_error(capsys, encoder_args(tiny_fmnist_root, folder), "is corrupt or truncated")
        assert (folder / "checkpoint.pt").read_bytes() == content
    _one_line_error(capsys, classifier_args(tiny_fmnist_root, encoder_dir, tmp_path / "h1", "--dataset", "mnist"),
                    "--dataset mnist: the encoder in", "was trained on 'fashion-mnist'", "omit --dataset")
    assert not (tmp_path / "h1").exists()


def test_other_configuration_or_fewer_epochs_is_refused(encoder_dir, tiny_fmnist_root, capsys):
    before = (encoder_dir / "checkpoint.pt").read_bytes()
    args = encoder_args(tiny_fmnist_root, encoder_dir)
    args[args.index("--lr") + 1] = "5e-4"
    _one_line_error(capsys, args, "another configuration (differs in lr: 0.001 there, 0.0005 asked)",
                    "nothing was overwritten")
    _one_line_error(capsys, encoder_args(tiny_fmnist_root, encoder_dir, 1),
                    "trained for 2 epochs, more than the 1 asked for")
    _one_line_error(capsys, encoder_args(tiny_fmnist_root, encoder_dir, 2, "--epochs", "0"),
                    "epochs must be an integer >= 1")
    assert (encoder_dir / "checkpoint.pt").read_bytes() == before


def test_help_lists_the_documented_flags():
    sub = build_parser()._subparsers._group_actions[0].choices  # noqa: SLF001
    enc = {o for a in sub["train-encoder"]._actions for o in a.option_strings}  # noqa: SLF001
    assert {"--dataset", "--estimator-loss", "--out", "--epochs", "--train-subset", "--width", "--critic-hidden",
            "--batch-size", "--lr", "--eps", "--steps", "--step-size", "--seed", "--device", "--temperature",
            "--adv-weight", "--projection-dim"} <= enc
    cls = {o for a in sub["train-classifier"]._actions for o in a.option_strings}  # noqa: SLF001
    assert {"--encoder", "--head", "--classifier-loss", "--out", "--dataset", "--epochs", "--train-subset",
            "--val-size", "--test-subset", "--eps", "--steps", "--step-size", "--seed", "--device",
            "--autoattack"} <= cls


# ------------------------------------------------------------------------------------------------ the new objectives
@pytest.mark.parametrize("loss", ["worst-infonce", "adv-contrastive"])
def test_new_objectives_train_resume_and_reuse(loss, tiny_fmnist_root, tmp_path, capsys):
    """``--epochs 1`` then ``--epochs 2`` equals a straight 2-epoch run, for the two objectives of issue 20."""

    def args(folder, epochs):
        argv = encoder_args(tiny_fmnist_root, folder, epochs)
        argv[argv.index("worst")] = loss
        return argv

    code, out, _ = run(capsys, args(tmp_path / "a", 2))
    first_line = "train InfoNCE" if loss == "worst-infonce" else "train loss"
    assert code == 0 and f"epoch   2/2  {first_line}" in out and "finished: 2 epochs" in out
    assert run(capsys, args(tmp_path / "b", 1))[0] == 0
    code, out, _ = run(capsys, args(tmp_path / "b", 2))
    assert code == 0 and "epoch   2/2" in out and "epoch   1/" not in out
    a, b = (torch.load(f / CHECKPOINT_FILE, weights_only=True) for f in (tmp_path / "a", tmp_path / "b"))
    assert a["config"]["estimator_loss"] == loss
    for key in ("encoder", "critic", *(("projection_head",) if loss == "adv-contrastive" else ())):
        assert all(torch.equal(a[key][k], b[key][k]) for k in a[key]), key
    ma, mb = (json.loads((f / "metrics.json").read_text()) for f in (tmp_path / "a", tmp_path / "b"))
    assert _numbers(ma["history"]) == _numbers(mb["history"])
    code, out, _ = run(capsys, args(tmp_path / "a", 2))
    assert code == 0 and "continuing (or reusing)" in out and "epoch   " not in out


def test_contrastive_flags_give_one_line_errors(tiny_fmnist_root, tmp_path, capsys):
    args = encoder_args(tiny_fmnist_root, tmp_path / "e", 1, "--temperature", "0.2")
    _one_line_error(capsys, args, "--temperature: only --estimator-loss adv-contrastive takes this flag",
                    "not --estimator-loss worst")
    args[args.index("worst")] = "adv-contrastive"
    args[args.index("--temperature") + 1] = "-1"
    _one_line_error(capsys, args, "--temperature must be a finite number > 0, got -1.0")
    args[args.index("--temperature") + 1] = "0.2"
    _one_line_error(capsys, [*args, "--adv-weight", "-2"], "--adv-weight must be a finite number >= 0, got -2.0")
    assert not (tmp_path / "e").exists()
