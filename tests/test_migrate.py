"""One threat vocabulary (issue 18, item 3): configurations stored under the old attack names (``adv_eps``,
``adv_steps``, ``adv_step_size``; ``attack_steps``, ``attack_step_size``) read as today's ``adversarial``, ``eps``,
``steps``, ``step_size`` (:mod:`rrlib.train.migrate`): the mapping and its hash, old run folders that resume (or
reload) to the same numbers bit for bit, and the committed weights of ``results/weights_medium``."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest
import torch

from rrlib.train import TrainConfig, config_hash, train_model
from rrlib.train.cache import fields_hash
from rrlib.train.downstream import ClassifierConfig
from rrlib.train.encoder import EncoderConfig, train_encoder
from rrlib.train.fit import CHECKPOINT_FILE, TIMING_KEYS
from rrlib.train.migrate import LEGACY_FIELDS, migrate_config, migrate_record
from rrlib.train.run_folder import CONFIG_FILE, METRICS_FILE

pytestmark = pytest.mark.usefixtures("one_torch_thread")

ROOT = Path(__file__).resolve().parents[1]
SUP = TrainConfig(dataset="digits", width=0.125, epochs=2, batch_size=64, lr=3e-3, adversarial=True, eps=0.1, steps=2,
                  step_size=0.05, train_subset=128, test_subset=32, eval_every=2)
ENC = EncoderConfig(dataset="fashion-mnist", width=0.125, critic_hidden=16, epochs=2, batch_size=16, lr=1e-3,
                    estimator_loss="worst", steps=2, step_size=0.05, heldout_batches=1, seed=3)


def _type(config) -> str:
    return f"{type(config).__module__}.{type(config).__qualname__}"


def _old(config) -> dict:
    """``asdict(config)`` as the code before the rename wrote it."""
    fields = asdict(config)
    if isinstance(config, TrainConfig):
        adversarial = fields.pop("adversarial")
        fields["eps"] = fields["eps"] if adversarial else None
    new_to_old = {new: old for old, new in LEGACY_FIELDS[_type(config)].items()}
    return {new_to_old.get(k, k): v for k, v in fields.items()}


def _make_old(folder: Path, config) -> None:
    """Rewrite a run folder's checkpoint, ``config.json`` and ``metrics.json`` under the old names and old hash."""
    old, name = _old(config), _type(config)
    old_hash = fields_hash(name, old)
    assert old_hash != config_hash(config)
    path = folder / CHECKPOINT_FILE
    saved = torch.load(path, weights_only=True)
    torch.save({**saved, "config": old, "config_hash": old_hash}, path)
    for file in (CONFIG_FILE, METRICS_FILE):
        if (folder / file).is_file():
            data = json.loads((folder / file).read_text())
            (folder / file).write_text(json.dumps({**data, "config": old, "config_hash": old_hash}, indent=2) + "\n")


def _numbers(history):
    return [{k: v for k, v in r.items() if k not in TIMING_KEYS} for r in history]


def _same_tensors(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("config", [
    SUP, TrainConfig(dataset="digits", steps=3, step_size=0.1, eval_eps=0.3),
    TrainConfig(dataset="fmnist", adversarial=True, eps=0.2), ENC,
    ClassifierConfig(dataset="digits", classifier_loss="robust", eps=0.2, steps=3, step_size=0.1),
])
def test_old_names_map_to_todays_and_their_hash(config):
    old = _old(config)
    assert migrate_config(old) == asdict(config)
    record = migrate_record({"config": old, "config_hash": fields_hash(_type(config), old), "history": []})
    assert record["config"] == asdict(config) and record["config_hash"] == config_hash(config)
    assert record["history"] == []
    today = {"config": asdict(config), "config_hash": config_hash(config)}
    assert migrate_record(today) is today and migrate_config(asdict(config)) == asdict(config)
    # the evaluation rule did not change: an old adv_eps 0.2 on Fashion-MNIST was evaluated at the dataset's 0.1
    if isinstance(config, TrainConfig) and config.dataset == "fashion-mnist":
        assert config.eval_threat().eps == 0.1


def test_old_keywords_of_train_config_migrate_to_the_same_config():
    old = {"dataset": "digits", "width": 0.125, "epochs": 2, "batch_size": 64, "lr": 3e-3, "adv_eps": 0.1,
           "adv_steps": 2, "adv_step_size": 0.05, "train_subset": 128, "test_subset": 32, "eval_every": 2}
    assert TrainConfig(**migrate_config(old, _type(SUP))) == SUP
    with pytest.raises(TypeError, match="adv_eps"):  # the old keywords are read from stored records only
        TrainConfig(**old)


def test_an_old_supervised_run_folder_resumes_to_the_same_numbers(tmp_path):
    straight = train_model(SUP, device="cpu", checkpoint_path=tmp_path / "a" / CHECKPOINT_FILE, show_progress=False)
    folder = tmp_path / "b"
    train_model(SUP, device="cpu", checkpoint_path=folder / CHECKPOINT_FILE, max_steps=3, show_progress=False)
    _make_old(folder, SUP)
    resumed = train_model(SUP, device="cpu", checkpoint_path=folder / CHECKPOINT_FILE, show_progress=False)
    assert resumed.global_step > 3 and resumed.finished
    assert _numbers(resumed.history) == _numbers(straight.history)
    assert _same_tensors(resumed.model.state_dict(), straight.model.state_dict())
    saved = torch.load(folder / CHECKPOINT_FILE, weights_only=True)  # the next checkpoint says today's names
    assert saved["config"] == asdict(SUP) and saved["config_hash"] == config_hash(SUP)


def test_an_old_finished_run_folder_reloads_without_training_or_rewriting(tmp_path):
    folder = tmp_path / "done"
    first = train_model(SUP, device="cpu", checkpoint_path=folder / CHECKPOINT_FILE, show_progress=False)
    _make_old(folder, SUP)
    before = (folder / METRICS_FILE).read_bytes()
    again = train_model(SUP, device="cpu", checkpoint_path=folder / CHECKPOINT_FILE, callback=pytest.fail,
                        show_progress=False)
    assert again.finished and again.history == first.history
    assert _same_tensors(again.model.state_dict(), first.model.state_dict())
    assert (folder / METRICS_FILE).read_bytes() == before


def test_an_old_encoder_run_folder_resumes_to_the_same_numbers(tiny_fmnist_root, tmp_path):
    straight = train_encoder(ENC, tmp_path / "a", device="cpu", data_root=tiny_fmnist_root, show_progress=False)
    train_encoder(ENC, tmp_path / "b", device="cpu", data_root=tiny_fmnist_root, show_progress=False,
                  stop_after_epochs=1)
    _make_old(tmp_path / "b", ENC)
    resumed = train_encoder(ENC, tmp_path / "b", device="cpu", data_root=tiny_fmnist_root, show_progress=False)
    assert _numbers(resumed.history) == _numbers(straight.history)
    assert _same_tensors(resumed.encoder.state_dict(), straight.encoder.state_dict())
    assert _same_tensors(resumed.critic.state_dict(), straight.critic.state_dict())


def test_the_committed_weights_read_under_todays_names():
    """``results/weights_medium`` keeps its files (and the old names in their "config"); every one of those
    configurations, migrated, is a valid configuration of today with the same attack."""
    kinds = {"encoder": EncoderConfig, "head_on": ClassifierConfig, "supervised": TrainConfig}
    files = sorted((ROOT / "results" / "weights_medium").glob("*.pt"))
    assert len(files) == 6
    for path in files:
        stored = torch.load(path, map_location="cpu", weights_only=False)["config"]
        kind = next(cls for prefix, cls in kinds.items() if path.stem.startswith(prefix))
        config = kind(**migrate_config(stored))
        assert asdict(config) == migrate_config(stored)
        if kind is TrainConfig:
            assert config.adversarial == (path.stem == "supervised_robust") == (stored["adv_eps"] is not None)
            assert config.eval_threat().eps == 0.1
