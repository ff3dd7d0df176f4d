"""The one training loop (:func:`rrlib.train.fit.fit`): one timing scheme, one checkpoint writer, checkpoints of the
three loops before it resume to the same numbers, and a new encoder objective is one small job."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from rrlib.train import TrainConfig, train_model
from rrlib.train.encoder import EncoderConfig, train_encoder
from rrlib.train.fit import CHECKPOINT_FILE, TIMING_KEYS, epoch_seconds, fit
from rrlib.train.jobs import EncoderJob

pytestmark = pytest.mark.usefixtures("one_torch_thread")

ENC = EncoderConfig(dataset="fashion-mnist", width=0.125, critic_hidden=16, epochs=2, batch_size=16, lr=1e-3,
                    estimator_loss="worst", steps=2, step_size=0.05, heldout_batches=1, seed=3)
SUP = TrainConfig(dataset="digits", width=0.125, epochs=2, batch_size=64, lr=3e-3, adversarial=True, eps=0.1, steps=2,
                  step_size=0.05, train_subset=128, test_subset=32, eval_every=2)


def _numbers(history):
    return [{k: v for k, v in r.items() if k not in TIMING_KEYS} for r in history]


def test_one_timing_scheme_in_every_record(tiny_fmnist_root, tmp_path):
    enc = train_encoder(ENC, tmp_path / "g", device="cpu", data_root=tiny_fmnist_root, show_progress=False)
    sup = train_model(SUP, device="cpu", show_progress=False)
    for record in [*enc.history, *sup.history]:
        assert {"train_seconds", "seconds", "images_per_second"} <= set(record)
        assert record["seconds"] == record["train_seconds"] + record.get("eval_seconds", 0.0) == epoch_seconds(record)
    assert "eval_seconds" not in sup.history[0] and "eval_seconds" in sup.history[1]  # evaluated epochs only
    assert all("eval_seconds" in r for r in enc.history)  # the held-out MI estimates, every epoch
    # records written before the one loop: supervised, encoder, head
    assert epoch_seconds({"train_seconds": 2.0, "eval_seconds": 1.0}) == 3.0
    assert epoch_seconds({"seconds": 2.0}) == 2.0 and epoch_seconds({"seconds": 2.0, "eval_seconds": 0.5}) == 2.5


def test_exactly_one_function_writes_training_checkpoints():
    root = Path(__file__).resolve().parents[1] / "rrlib"
    writers = [f"{p.relative_to(root)}" for p in root.rglob("*.py") if p.name != "checkpoint.py"
               and re.search(r"\bsave_checkpoint\(", p.read_text())]
    assert writers == ["train/fit.py"]
    text = (root / "train" / "fit.py").read_text()
    assert len(re.findall(r"\bsave_checkpoint\(", text)) == 1 and "save_checkpoint(path, {" in text


def test_checkpoints_of_the_former_loops_resume(tiny_fmnist_root, tmp_path):
    """Flat encoder checkpoints without step / global step / sums and supervised ones without "kind" (as the three
    loops wrote them) continue to the uninterrupted run's numbers."""
    straight = train_encoder(ENC, tmp_path / "a", device="cpu", data_root=tiny_fmnist_root, show_progress=False)
    train_encoder(ENC, tmp_path / "b", device="cpu", data_root=tiny_fmnist_root, show_progress=False,
                  stop_after_epochs=1)
    path = tmp_path / "b" / CHECKPOINT_FILE
    saved = torch.load(path, weights_only=True)
    torch.save({k: v for k, v in saved.items() if k not in ("step", "global_step", "sums")}, path)
    resumed = train_encoder(ENC, tmp_path / "b", device="cpu", data_root=tiny_fmnist_root, show_progress=False)
    assert _numbers(resumed.history) == _numbers(straight.history)
    assert all(torch.equal(a, b) for a, b in zip(resumed.encoder.state_dict().values(),
                                                 straight.encoder.state_dict().values(), strict=True))
    sup_straight = train_model(SUP, device="cpu", checkpoint_path=tmp_path / "s" / CHECKPOINT_FILE,
                               show_progress=False)
    ckpt = tmp_path / "t" / CHECKPOINT_FILE
    train_model(SUP, device="cpu", checkpoint_path=ckpt, max_steps=3, show_progress=False)
    saved = torch.load(ckpt, weights_only=True)
    assert saved["kind"] == "supervised" and saved["state"]["step"] == 1
    torch.save({k: v for k, v in saved.items() if k != "kind"}, ckpt)
    sup_resumed = train_model(SUP, device="cpu", checkpoint_path=ckpt, show_progress=False)
    assert _numbers(sup_resumed.history) == _numbers(sup_straight.history)


class ScaledWorst(EncoderJob):
    """A new objective as one small job: the worst-case step on a batch scaled by a half (a toy)."""

    def step(self, batch, epoch, step, global_step):
        return super().step((batch[0] * 0.5, batch[1]), epoch, step, global_step)


def test_a_new_objective_is_one_small_job(tiny_fmnist_root, tmp_path):
    cfg = replace(ENC, epochs=1)
    res = fit(ScaledWorst(cfg), tmp_path / "new", device="cpu", data_root=tiny_fmnist_root, show_progress=False)
    again = fit(ScaledWorst(cfg), tmp_path / "new", device="cpu", data_root=tiny_fmnist_root, show_progress=False)
    assert res.finished and len(res.history) == 1 and again.history == res.history  # a reload, not a retraining
    assert (tmp_path / "new" / "metrics.json").is_file() and (tmp_path / "new" / "config.json").is_file()
    plain = train_encoder(cfg, tmp_path / "plain", device="cpu", data_root=tiny_fmnist_root, show_progress=False)
    assert res.history[0]["train_dv"] != plain.history[0]["train_dv"]
