"""Stored configurations written under the old attack names, read under today's (issue 18: one threat vocabulary).

Until the rename every configuration spelled the attack its own way: ``TrainConfig(adv_eps, adv_steps,
adv_step_size)`` with ``adv_eps=None`` for standard training, ``EncoderConfig`` / ``ClassifierConfig(eps,
attack_steps, attack_step_size)``. Today all say ``eps``, ``steps``, ``step_size`` (resolved by the one
:func:`rrlib.data.resolve_threat`), and ``TrainConfig`` says whether it trains adversarially in ``adversarial``.

Run folders, checkpoints, ``config.json`` / ``metrics.json`` files and exported weights written before keep the old
names. :func:`migrate_record` is the one place they are renamed: every reader of a stored configuration goes through
it (:func:`rrlib.train.checkpoint.read_checkpoint`, :func:`rrlib.train.run_folder.read_stored_config` and
:func:`~rrlib.train.run_folder.finished_metrics`, the AutoAttack reuse of :mod:`rrlib.head_autoattack`), so an old
folder is the same run as today's configuration: its ``config_hash`` is recomputed under the new names (the hash of
the old names can match nothing any more) and the checks that compare hashes or fields see no difference. An old
run therefore resumes, or reloads when finished, to the same numbers (``tests/test_migrate.py``); its next checkpoint
is written under the new names. Nothing on disk is rewritten by reading.

The mapping is pure renaming, plus ``adversarial = adv_eps is not None`` for a supervised run: the evaluation rule
did not change (``eval_eps``, else the dataset's ε, else ``eps``), so no value moves.

>>> migrate_config({"dataset": "digits", "adv_eps": 0.1, "adv_steps": 3, "adv_step_size": 0.05, "eval_eps": None})
{'dataset': 'digits', 'adversarial': True, 'eps': 0.1, 'steps': 3, 'step_size': 0.05, 'eval_eps': None}
"""

from __future__ import annotations

from typing import Any

__all__ = ["LEGACY_FIELDS", "legacy_type", "migrate_config", "migrate_record"]

#: Old field → today's field, per configuration type (the one legacy-name table).
LEGACY_FIELDS: dict[str, dict[str, str]] = {
    "rrlib.train.supervised.TrainConfig": {"adv_eps": "eps", "adv_steps": "steps", "adv_step_size": "step_size"},
    "rrlib.train.encoder.EncoderConfig": {"attack_steps": "steps", "attack_step_size": "step_size"},
    "rrlib.train.downstream.ClassifierConfig": {"attack_steps": "steps", "attack_step_size": "step_size"},
}
#: A field that only that type has, telling old dicts without a ``"type"`` entry (checkpoints) apart.
_MARKS = {"rrlib.train.supervised.TrainConfig": "adv_eps", "rrlib.train.encoder.EncoderConfig": "estimator_loss",
          "rrlib.train.downstream.ClassifierConfig": "classifier_loss"}


def legacy_type(config: dict[str, Any], type_name: str | None = None) -> str | None:
    """The full type name of ``config`` when it holds old field names (``None`` for a configuration of today)."""
    for name, renames in LEGACY_FIELDS.items():
        if (type_name == name or (type_name is None and _MARKS[name] in config)) and any(k in config for k in renames):
            return name
    return None


def migrate_config(config: dict[str, Any], type_name: str | None = None) -> dict[str, Any]:
    """``config`` (stored fields) with the old attack names replaced by today's, in place of the old ones; a new
    dict. A configuration of today (or of another type) is returned unchanged (a copy)."""
    name = legacy_type(config, type_name)
    if name is None:
        return dict(config)
    renames = LEGACY_FIELDS[name]
    out: dict[str, Any] = {}
    for key, value in config.items():
        if key == "adv_eps":
            out["adversarial"] = value is not None
        out[renames.get(key, key)] = value
    return out


def migrate_record(record: Any) -> Any:
    """A stored record (a checkpoint, ``config.json``, ``metrics.json``: a dict with ``"config"`` and usually
    ``"config_hash"``) with its configuration under today's names and the hash it has today; anything else, and a
    record of today, is returned as it is."""
    if not isinstance(record, dict) or not isinstance(record.get("config"), dict):
        return record
    name = legacy_type(record["config"], record.get("type"))
    if name is None:
        return record
    from rrlib.train.cache import fields_hash  # the cache imports the checkpoint module, which reads through here

    config = migrate_config(record["config"], name)
    return {**record, "config": config, "config_hash": fields_hash(name, config)}
