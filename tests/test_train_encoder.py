"""Unsupervised encoder training (paper §5): exact resumption, ε = 0 ground truth, labels never read, the shared
worst-case machinery, and one clear error for every bad folder or file.

Data: tiny Fashion-MNIST folders in the true gzipped-IDX format (real images when Debian's package is present),
read through :func:`rrlib.data.load_dataset`. Models: width-0.125 Baseline-H encoder, width-16 critic, batches of
16, 2-step PGD: each run takes well under a second on one CPU core.
"""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import torch
from _tiny_fmnist import write_fmnist

import rrlib.mi.worst_case
from rrlib.attacks import ThreatModel
from rrlib.data import dataset_threat_model
from rrlib.train.checkpoint import CheckpointError
from rrlib.train.encoder import (
    CHECKPOINT_FILE,
    TIMING_KEYS,
    EncoderConfig,
    PixelCritic,
    PixelEncoder,
    encoder_step,
    load_encoder,
    train_encoder,
)

N_TRAIN, N_TEST = 64, 32  # the sizes of conftest's tiny_fmnist_root
TINY = EncoderConfig(dataset="fashion-mnist", width=0.125, critic_hidden=16, epochs=2, batch_size=16, lr=1e-3,
                     estimator_loss="worst", steps=2, step_size=0.05, heldout_batches=2, seed=3)


def _train(config, folder, root, **kwargs):
    return train_encoder(config, folder, device="cpu", data_root=root, show_progress=False, **kwargs)


def _states(res) -> dict[str, torch.Tensor]:
    return {f"{prefix}.{k}": v.detach().clone() for prefix, module in (("g", res.encoder), ("T", res.critic))
            for k, v in module.state_dict().items()}


def _assert_same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def _numbers(history):
    return [{k: v for k, v in rec.items() if k not in TIMING_KEYS} for rec in history]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def reference(tiny_fmnist_root, tmp_path_factory):
    """The uninterrupted 2-epoch ``worst`` run."""
    res = _train(TINY, tmp_path_factory.mktemp("ref") / "enc", tiny_fmnist_root)
    return res


# ------------------------------------------------------------------------------------------------ configuration
def test_config_validates_names_and_resolves_the_paper_attack():
    with pytest.raises(ValueError, match=r"unknown estimator_loss 'wrost'.*\('normal', 'worst', 'worst-infonce', "
                                         r"'adv-contrastive'\)"):
        EncoderConfig(estimator_loss="wrost")
    with pytest.raises(ValueError, match=r"unknown dataset 'imagenet'.*fashion-mnist"):
        EncoderConfig(dataset="imagenet")
    with pytest.raises(ValueError, match=r"'digits' has no threat model in the paper; give eps, steps, step_size$"):
        EncoderConfig(dataset="digits")
    with pytest.raises(ValueError, match="batch_size must be an integer >= 2"):
        EncoderConfig(batch_size=1)
    with pytest.raises(ValueError, match=r"step_size=0\.5 exceeds the diameter"):
        EncoderConfig(step_size=0.5)  # the ThreatModel's own check, at construction
    assert EncoderConfig(dataset="FashionMNIST").threat() == dataset_threat_model("fashion-mnist")  # supplement D.1
    assert EncoderConfig(dataset="FashionMNIST").threat() == ThreatModel("linf", 0.1, 10, 0.02)
    assert EncoderConfig(dataset="cifar10").threat() == ThreatModel("linf", 8 / 255, 7, 0.01)
    assert replace(TINY, eps=0.05).threat() == ThreatModel("linf", 0.05, 2, 0.05)
    assert EncoderConfig(dataset="digits", eps=0.2, steps=3, step_size=0.1).threat() == \
        ThreatModel("linf", 0.2, 3, 0.1)


def test_training_writes_history_checkpoint_and_metrics(reference):
    hist = reference.history
    assert [r["epoch"] for r in hist] == [1, 2] and reference.finished
    for rec in hist:
        assert set(rec) >= {"train_dv", "heldout_mi_normal", "heldout_mi_worst", "heldout_rv", "images_per_second"}
        assert all(np.isfinite(v) for v in rec.values())
        # Algorithm 1 keeps the best iterate, and the clean batch is its start: worst ≤ normal on every batch.
        assert rec["heldout_mi_worst"] <= rec["heldout_mi_normal"] + 1e-6
    metrics = json.loads((reference.out_dir / "metrics.json").read_text())
    assert metrics["finished"] and _numbers(metrics["history"]) == _numbers(hist)
    assert not reference.encoder.training and not reference.critic.training


# ------------------------------------------------------------------------------------------------ resumption
def test_one_epoch_then_resume_equals_two_epochs_straight(reference, tiny_fmnist_root, tmp_path):
    folder = tmp_path / "enc"
    first = _train(TINY, folder, tiny_fmnist_root, stop_after_epochs=1)
    assert not first.finished and len(first.history) == 1
    with pytest.raises(CheckpointError, match="has not finished training.*epoch 1 of 2.*resume"):
        load_encoder(folder)
    resumed = _train(TINY, folder, tiny_fmnist_root)
    assert resumed.finished
    _assert_same(_states(resumed), _states(reference))
    assert _numbers(resumed.history) == _numbers(reference.history)
    saved = torch.load(folder / CHECKPOINT_FILE, weights_only=True)
    ref_saved = torch.load(reference.out_dir / CHECKPOINT_FILE, weights_only=True)
    for group, ref_group in zip(saved["optimizer"]["state"].values(), ref_saved["optimizer"]["state"].values(),
                                strict=True):
        assert all(torch.equal(group[k], ref_group[k]) for k in group)
    loaded = load_encoder(folder)
    _assert_same(_states(loaded), _states(reference))


def test_a_finished_shorter_run_is_extended_to_more_epochs(reference, tiny_fmnist_root, tmp_path):
    """Constant lr: ``epochs`` is only a stopping point, so a finished 1-epoch run continues to 2 epochs exactly."""
    folder = tmp_path / "enc"
    short = _train(replace(TINY, epochs=1), folder, tiny_fmnist_root)
    assert short.finished and load_encoder(folder).config.epochs == 1
    longer = _train(TINY, folder, tiny_fmnist_root)
    assert longer.finished and [r["epoch"] for r in longer.history] == [1, 2]
    _assert_same(_states(longer), _states(reference))
    assert _numbers(longer.history) == _numbers(reference.history)
    assert load_encoder(folder).config.epochs == 2
    before = (folder / CHECKPOINT_FILE).read_bytes()
    with pytest.raises(ValueError, match=r"trained for 2 epochs, more than the 1 asked for.*nothing was overwritten"):
        _train(replace(TINY, epochs=1), folder, tiny_fmnist_root)
    assert (folder / CHECKPOINT_FILE).read_bytes() == before


# ------------------------------------------------------------------------------------------------ ground truth
def test_worst_with_eps_zero_is_exactly_normal(tiny_fmnist_root, tmp_path):
    normal = _train(replace(TINY, estimator_loss="normal", eps=0.0, epochs=1), tmp_path / "n", tiny_fmnist_root)
    worst = _train(replace(TINY, estimator_loss="worst", eps=0.0, epochs=1), tmp_path / "w", tiny_fmnist_root)
    _assert_same(_states(normal), _states(worst))
    assert _numbers(normal.history) == _numbers(worst.history)


def test_one_step_eps_zero_equals_normal_step():
    x = torch.rand(8, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    values = {}
    for name, threat in (("normal", None), ("eps0", ThreatModel("linf", 0.0, 3, 0.05)),
                         ("eps", ThreatModel("linf", 0.1, 3, 0.05))):
        torch.manual_seed(0)
        g, t = PixelEncoder("fmnist", width=0.125), PixelCritic("fmnist", hidden=16)
        opt = torch.optim.Adam([*g.parameters(), *t.parameters()], lr=1e-3)
        values[name] = (encoder_step(g, t, opt, x, threat), {k: v.clone() for k, v in g.state_dict().items()})
    assert values["eps0"][0] == values["normal"][0]
    _assert_same(values["eps0"][1], values["normal"][1])
    assert not torch.equal(values["eps"][1]["encoder.fc2.weight"], values["normal"][1]["encoder.fc2.weight"])


def test_labels_are_never_read(tmp_path):
    """Same images, labels shuffled: identical weights and numbers (the subset is drawn without labels too)."""
    from rrlib.data import load_dataset

    perm = np.random.default_rng(0).permutation(N_TRAIN + N_TEST)
    shuffled_root = write_fmnist(tmp_path / "shuffled", N_TRAIN, N_TEST, label_permutation=perm)
    plain_root = write_fmnist(tmp_path / "plain", N_TRAIN, N_TEST)
    a, b = (load_dataset("fmnist", "train", root=r) for r in (shuffled_root, plain_root))
    assert torch.equal(a.images, b.images) and not torch.equal(a.labels, b.labels)
    config = replace(TINY, train_subset=48)
    shuffled = _train(config, tmp_path / "enc_shuffled", shuffled_root)
    plain = _train(config, tmp_path / "enc_plain", plain_root)
    _assert_same(_states(shuffled), _states(plain))
    assert _numbers(shuffled.history) == _numbers(plain.history)


def test_worst_training_uses_the_estimators_algorithm_1(tiny_fmnist_root, tmp_path, monkeypatch):
    calls = []
    original = rrlib.mi.worst_case.worst_case_batch

    def spy(critic, representation, x, threat, **kwargs):
        calls.append((threat, kwargs.get("keep_best", True), kwargs.get("gradient", "representation")))
        return original(critic, representation, x, threat, **kwargs)

    monkeypatch.setattr(rrlib.mi.worst_case, "worst_case_batch", spy)
    _train(replace(TINY, epochs=1), tmp_path / "w", tiny_fmnist_root)
    steps, heldout = N_TRAIN // TINY.batch_size, TINY.heldout_batches
    # no random start, best batch iterate kept, the adversary's gradient through z only (the official code)
    assert calls == [(ThreatModel("linf", 0.1, 2, 0.05), True, "representation")] * (steps + heldout)
    calls.clear()
    _train(replace(TINY, epochs=1, estimator_loss="normal"), tmp_path / "n", tiny_fmnist_root)
    assert len(calls) == heldout  # normal training attacks only the held-out batches it reports


# ------------------------------------------------------------------------------------------------ bad folders
def test_load_encoder_errors_name_the_path_and_what_to_do(reference, tmp_path):
    with pytest.raises(CheckpointError, match=r"no encoder folder at .*nowhere.*train_encoder"):
        load_encoder(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match=r"no encoder checkpoint at .*empty.*checkpoint\.pt.*train-encoder"):
        load_encoder(tmp_path / "empty")
    good = (reference.out_dir / CHECKPOINT_FILE).read_bytes()
    for name, content in (("truncated", good[: len(good) // 2]), ("garbage", b"not a checkpoint at all\n" * 40),
                          ("empty-file", b"")):
        folder = tmp_path / name
        folder.mkdir()
        (folder / CHECKPOINT_FILE).write_bytes(content)
        with pytest.raises(CheckpointError, match=rf"checkpoint .*{name}.*corrupt or truncated.*train"):
            load_encoder(folder)
        assert (folder / CHECKPOINT_FILE).read_bytes() == content
    folder = tmp_path / "other-kind"
    folder.mkdir()
    torch.save({"kind": "downstream classifier"}, folder / CHECKPOINT_FILE)
    with pytest.raises(CheckpointError, match=r"not a checkpoint of kind 'encoder'.*downstream classifier"):
        load_encoder(folder)


def test_nothing_on_disk_is_overwritten(reference, tiny_fmnist_root, tmp_path):
    folder = tmp_path / "enc"
    folder.mkdir()
    (folder / CHECKPOINT_FILE).write_bytes(b"\x00garbage")
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        _train(TINY, folder, tiny_fmnist_root)
    assert (folder / CHECKPOINT_FILE).read_bytes() == b"\x00garbage"
    path = reference.out_dir / CHECKPOINT_FILE
    before = path.read_bytes()
    with pytest.raises(ValueError, match=r"another configuration \(differs in lr.*another out_dir"):
        _train(replace(TINY, lr=5e-4), reference.out_dir, tiny_fmnist_root)
    with pytest.raises(FileExistsError, match="resume=False"):
        _train(TINY, reference.out_dir, tiny_fmnist_root, resume=False)
    assert path.read_bytes() == before
