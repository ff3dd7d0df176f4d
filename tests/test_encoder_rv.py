"""The fresh-critic judge of the medium run's encoders (rrlib.report.encoder_rv): the same judge as chapter 07's,
paired by seed, cached per encoder, and read by the report."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import torch

from rrlib.data import load_dataset, subset
from rrlib.mi.worst_case import EstimatorConfig, representation_vulnerability
from rrlib.report import encoder_rv
from rrlib.train.encoder import EncoderConfig, PixelCritic, load_encoder, train_encoder

TINY = EncoderConfig(dataset="fashion-mnist", train_subset=64, width=0.125, critic_hidden=8, epochs=1,
                     batch_size=16, lr=1e-3, heldout_batches=1, estimator_loss="normal")
SETTINGS = encoder_rv.JudgeSettings(iterations=2, batch_size=16, rv_train=64, rv_test=32)


def test_measure_runs_chapter_07s_judge_and_caches(tmp_path):
    torch.set_num_threads(1)
    folder = tmp_path / "encoders" / "normal-seed0-abc"
    train_encoder(TINY, folder, device="cpu", show_progress=False)
    folders = encoder_rv.encoder_folders(tmp_path / "encoders")
    assert folders == {("normal", 0): folder} and encoder_rv.finished(folder)
    assert not encoder_rv.finished(tmp_path)
    records = encoder_rv.measure(folders, SETTINGS, cache=tmp_path / "cache", log=lambda _: None)
    assert len(records) == 1 and records[0]["loss"] == "normal" and records[0]["seed"] == 0
    # the same numbers as representation_vulnerability called the way chapter 07 calls it
    res = load_encoder(folder)
    x_train = subset(load_dataset("fashion-mnist", "train"), 64, 1, stratified=False).tensors()[0]
    x_test = subset(load_dataset("fashion-mnist", "test"), 32, 0, stratified=False).tensors()[0]
    vul = representation_vulnerability(
        res.encoder.eval(), lambda: PixelCritic("fashion-mnist", z_dim=64, hidden=8), x_train, x_test,
        threat=TINY.threat(), config=EstimatorConfig(iterations=2, batch_size=16, lr=SETTINGS.lr), seeds=(0,))
    np.testing.assert_allclose(records[0]["normal"], vul.normal, rtol=1e-6)
    np.testing.assert_allclose(records[0]["worst"], vul.worst, rtol=1e-6)
    assert records[0]["rv"][0] == records[0]["normal"][0] - records[0]["worst"][0]
    # a second call reloads the cached record (no new training: the folder may even be gone)
    cached = json.loads((tmp_path / "cache" / "normal-seed0.json").read_text())
    assert encoder_rv.measure(folders, replace(SETTINGS, iterations=999), cache=tmp_path / "cache") == [cached]
    # a folder whose name and checkpoint disagree is refused, not measured under the wrong label
    with pytest.raises(ValueError, match="holds the normal encoder of seed 0, not the worst encoder"):
        encoder_rv.measure({("worst", 0): folder}, SETTINGS)


def test_paired_values_and_missing_result(tmp_path):
    assert encoder_rv.load_result(tmp_path / "none.json") is None
    rec = [{"loss": loss, "seed": s, "normal": [1.0, 1.2], "worst": [w, w], "rv": [1.0 - w, 1.2 - w],
            "impossible": [w < 0, w < 0]} for s in (0, 1) for loss, w in (("normal", -0.1 * s), ("worst", 0.5))]
    rec.append({"loss": "worst", "seed": 7, "normal": [1.0], "worst": [0.5], "rv": [0.5], "impossible": [False]})
    seeds, rv, impossible = encoder_rv.paired_values({"encoders": rec}, "rv")
    assert seeds == [0, 1]  # seed 7 has no DIM encoder: unpaired, left out
    np.testing.assert_allclose(rv["normal"], [1.1, 1.2])
    np.testing.assert_allclose(rv["worst"], [0.6, 0.6])
    assert impossible == ["normal seed 1"]


def test_encoder_folders_reads_hyphenated_losses(tmp_path):
    for name in ("worst-infonce-seed2-ab12", "adv-contrastive-seed0-cd34", "normal-seed1-ef56", "notes", "x-seedy-1"):
        (tmp_path / name).mkdir()
    assert encoder_rv.encoder_folders(tmp_path) == {
        ("worst-infonce", 2): tmp_path / "worst-infonce-seed2-ab12",
        ("adv-contrastive", 0): tmp_path / "adv-contrastive-seed0-cd34",
        ("normal", 1): tmp_path / "normal-seed1-ef56"}
