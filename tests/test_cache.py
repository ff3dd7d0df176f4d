"""The results cache: canonical JSON, sha256 keys, memoisation on disk."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field

import pytest

from rrlib.train import TrainConfig
from rrlib.train.cache import (
    cache_dir,
    cached,
    canonical_json,
    config_hash,
    entry_dir,
    load_result,
    save_result,
)


@dataclass(frozen=True)
class Inner:
    k: int = 3


@dataclass(frozen=True)
class Cfg:
    name: str = "x"
    lr: float = 1e-4
    sizes: tuple = (1, 2)
    opts: dict = field(default_factory=lambda: {"b": 1, "a": None})
    inner: Inner = Inner()


@dataclass(frozen=True)
class Twin:  # same fields as Cfg, another class
    name: str = "x"
    lr: float = 1e-4
    sizes: tuple = (1, 2)
    opts: dict = field(default_factory=lambda: {"b": 1, "a": None})
    inner: Inner = Inner()


def test_canonical_json_and_hash_match_an_independent_computation():
    text = canonical_json(Cfg())
    expected = (
        '{"fields":{"inner":{"k":3},"lr":0.0001,"name":"x","opts":{"a":null,"b":1},"sizes":[1,2]},'
        f'"type":"{__name__}.Cfg"}}'
    )
    assert text == expected
    assert config_hash(Cfg()) == hashlib.sha256(expected.encode()).hexdigest()
    # Insertion order of dict fields and tuple vs list do not matter; the class does.
    assert config_hash(Cfg(opts={"a": None, "b": 1}, sizes=[1, 2])) == config_hash(Cfg())
    assert config_hash(Twin()) != config_hash(Cfg())


def test_every_field_of_a_train_config_changes_the_key():
    base = TrainConfig(dataset="digits", adversarial=True, eps=0.1, steps=3, step_size=0.05)
    changed = {
        "dataset": "fashion-mnist",
        "model": "baseline_h",
        "head": "linear",
        "width": 0.5,
        "epochs": 2,
        "batch_size": 64,
        "optimizer": "sgd",
        "lr": 2e-4,
        "momentum": 0.8,
        "weight_decay": 1e-4,
        "lr_step_epochs": 5,
        "lr_gamma": 0.5,
        "adversarial": False,
        "eps": 0.2,
        "steps": 4,
        "step_size": 0.04,
        "eval_eps": 0.3,
        "eval_adversarial": False,
        "eval_every": 2,
        "train_subset": 10,
        "test_subset": 10,
        "augment": "cifar",
        "seed": 1,
        "amp": False,
    }
    assert set(changed) == {f.name for f in dataclasses.fields(TrainConfig)}
    keys = {config_hash(base)}
    for name, value in changed.items():
        if getattr(base, name) == value:
            continue
        keys.add(config_hash(dataclasses.replace(base, **{name: value})))
    assert len(keys) == 1 + sum(getattr(base, n) != v for n, v in changed.items())
    # Aliases are canonicalised before hashing: the same run has one key.
    assert config_hash(TrainConfig(dataset="FMNIST")) == config_hash(TrainConfig(dataset="fashion-mnist"))


def test_hash_is_stable_across_processes():
    code = (
        "from rrlib.train import TrainConfig, config_hash; "
        "print(config_hash(TrainConfig(dataset='fashion-mnist', adversarial=True, eps=0.1, width=0.25)))"
    )
    env = dict(os.environ, PYTHONHASHSEED="12345")
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    )
    config = TrainConfig(dataset="fashion-mnist", adversarial=True, eps=0.1, width=0.25)
    assert out.stdout.strip() == config_hash(config)


def test_unhashable_values_are_rejected_with_their_field():
    with pytest.raises(ValueError, match=r"Cfg\.lr = nan"):
        canonical_json(Cfg(lr=float("nan")))
    with pytest.raises(TypeError, match=r"Cfg\.opts\.f = .*set"):
        canonical_json(Cfg(opts={"f": {1}}))
    with pytest.raises(TypeError, match="dataclass instance"):
        canonical_json({"a": 1})


def test_cached_computes_once_and_reuses(tmp_path, monkeypatch):
    calls = []

    def compute(cfg):
        calls.append(cfg)
        return {"value": cfg.lr * 2, "none": None}

    first = cached(Cfg(), compute, root=tmp_path)
    second = cached(Cfg(), compute, root=tmp_path)
    assert first == second == {"value": 2e-4, "none": None} and len(calls) == 1
    cached(Cfg(lr=1.0), compute, root=tmp_path)
    assert len(calls) == 2
    cached(Cfg(), compute, root=tmp_path, refresh=True)
    assert len(calls) == 3
    folder = entry_dir(Cfg(), tmp_path)
    assert folder.parent.name == "Cfg" and folder.name == config_hash(Cfg())[:20]
    assert json.loads((folder / "config.json").read_text())["fields"]["name"] == "x"
    # A stored None is a hit, not a miss.
    save_result(Cfg(name="none"), None, tmp_path)
    assert cached(Cfg(name="none"), compute, root=tmp_path) is None and len(calls) == 3
    assert load_result(Cfg(name="absent"), tmp_path, default="miss") == "miss"
    monkeypatch.setenv("RRBOOK_NO_CACHE", "1")
    cached(Cfg(), compute, root=tmp_path)
    assert len(calls) == 4


def test_cache_dir_resolution(tmp_path, monkeypatch):
    monkeypatch.setenv("RRBOOK_CACHE", str(tmp_path / "c"))
    assert cache_dir() == tmp_path / "c"
    assert cache_dir(tmp_path / "d") == tmp_path / "d"
    monkeypatch.delenv("RRBOOK_CACHE")
    assert cache_dir().parts[-2:] == ("_build", "cache")


def test_entries_are_keyed_by_the_code_that_computed_them(tmp_path):
    from rrlib.train.cache import code_fingerprint

    fingerprint = code_fingerprint()
    assert len(fingerprint) == 12 and int(fingerprint, 16) >= 0
    folder = entry_dir(TrainConfig(dataset="fashion-mnist"), tmp_path)
    assert folder.relative_to(tmp_path).parts[0] == f"code-{fingerprint}"
