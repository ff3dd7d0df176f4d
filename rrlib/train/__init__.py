"""Training: one loop (:func:`rrlib.train.fit.fit`) running jobs (:mod:`rrlib.train.jobs`: supervised classifiers,
encoders, heads), atomic checkpoints, the results cache.

>>> from rrlib.train import TrainConfig
>>> TrainConfig(dataset="fmnist", adversarial=True, eps=0.1).train_threat()
ThreatModel(norm='linf', eps=0.1, steps=10, step_size=0.02, box=(0.0, 1.0), random_start=False, restarts=0)
"""

from __future__ import annotations

from rrlib.train.cache import (
    cache_dir,
    cached,
    canonical_json,
    config_hash,
    entry_dir,
    load_result,
    save_result,
)
from rrlib.train.checkpoint import CheckpointError, atomic_write, atomic_write_text, load_checkpoint, save_checkpoint
from rrlib.train.fit import TIMING_KEYS, Job, StepOutput, fit
from rrlib.train.run_folder import FinishedRunError
from rrlib.train.supervised import (
    TrainConfig,
    TrainResult,
    autocast_context,
    evaluate,
    load_data,
    load_trained,
    paper_config,
    train_cached,
    train_model,
)

__all__ = [
    "TIMING_KEYS",
    "CheckpointError",
    "FinishedRunError",
    "Job",
    "StepOutput",
    "TrainConfig",
    "TrainResult",
    "atomic_write",
    "atomic_write_text",
    "autocast_context",
    "cache_dir",
    "cached",
    "canonical_json",
    "config_hash",
    "entry_dir",
    "evaluate",
    "fit",
    "load_checkpoint",
    "load_data",
    "load_result",
    "load_trained",
    "paper_config",
    "save_checkpoint",
    "save_result",
    "train_cached",
    "train_model",
]
