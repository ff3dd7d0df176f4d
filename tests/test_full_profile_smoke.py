"""The full profile runs: every experiment's ``Config.full`` shrunk by :func:`rrlib.smoke.smoke` (sizes small,
structure kept) and run end to end on the CPU, on tiny MNIST, Fashion-MNIST, CIFAR-10 and SVHN folders written in
each dataset's true on-disk format and read by torchvision's own classes.

A failure here is a break in the full profile's code path (a loader, an architecture, the width-2048 critic, the
estimator, the multi-trial statistics, the metrics) that the quick profile does not reach. The numbers themselves
mean nothing at these sizes; what is checked is that the metrics are plain finite JSON and structurally complete.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import pytest

from rrlib import smoke as smoke_module
from rrlib.data import DATASETS
from rrlib.experiments import (
    downstream_tables,
    mine,
    preliminaries,
    robust_encoders,
    saliency_maps,
    theorem_3_2,
    theorem_3_4,
    vulnerability,
    worst_case_mi,
)
from rrlib.paper import TABLES
from rrlib.smoke import KEEP, NESTED, SMOKE_RULES, full_configs, smoke

pytestmark = pytest.mark.usefixtures("one_torch_thread")

#: Images per split of the written datasets (a few dozen): more than the largest smoke subset (8 head images;
#: 8 test images hold the encoders' two held-out batches of 4), every class among the training images.
N_TRAIN, N_TEST = 30, 8

FULL_CONFIGS = {name: (lambda name=name: full_configs(0, "cpu")[name]) for name in full_configs(0, "cpu")}


# ------------------------------------------------------------------------------------------- the rule table
def _nested_configs(config) -> list:
    """``config`` and every configuration nested in it (fields that hold dataclasses or tuples of them)."""
    out = [config]
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        items = value if isinstance(value, tuple) else (value,)
        for item in items:
            if dataclasses.is_dataclass(item) and not isinstance(item, type):
                out += _nested_configs(item)
    return out


def test_every_experiment_module_has_a_full_config_here():
    from test_experiment_contract import MODULES

    assert sorted({name.split("[")[0] for name in FULL_CONFIGS}) == MODULES
    assert {name for name in FULL_CONFIGS if name.startswith("downstream")} == {
        f"downstream_tables[{d}]" for d in TABLES}


def test_rules_name_exactly_the_fields_of_their_classes():
    for kind, rules in SMOKE_RULES.items():
        assert set(rules) == {f.name for f in dataclasses.fields(kind)}, kind.__qualname__


@pytest.mark.parametrize("name", sorted(FULL_CONFIGS))
def test_smoke_shrinks_sizes_and_keeps_structure(name):
    full = FULL_CONFIGS[name]()
    small = smoke(full)
    assert type(small) is type(full)
    pairs = list(zip(_nested_configs(full), _nested_configs(small), strict=True))
    assert all(type(a) in SMOKE_RULES for a, _ in pairs), [type(a) for a, _ in pairs]
    shrunk = 0
    for a, b in pairs:
        for f in dataclasses.fields(a):
            rule, old, new = SMOKE_RULES[type(a)][f.name], getattr(a, f.name), getattr(b, f.name)
            where = f"{name}: {type(a).__qualname__}.{f.name}"
            if rule is KEEP:
                assert new == old, where
            elif rule is not NESTED:
                shrunk += new != old
                _assert_not_larger(new, old, where)
    assert shrunk >= 1, f"{name}: smoke changed nothing"
    if hasattr(full, "seeds"):
        assert len(small.seeds) == 2 <= len(full.seeds)


def _assert_not_larger(new, old, where: str) -> None:
    """A smoke size never exceeds the full one (``None`` = all data counts as unbounded)."""
    if old is None:
        assert new is None or isinstance(new, int), where
    elif isinstance(old, tuple) and all(isinstance(v, (int, float)) for v in old):
        assert len(new) <= len(old) and max(new) <= max(old), (where, old, new)
    elif isinstance(old, tuple):  # (field, value) pairs: every shared numeric value shrinks or stays
        before, after = dict(old), dict(new)
        for key, value in after.items():
            if isinstance(before.get(key), int) and isinstance(value, int):
                assert value <= before[key], (where, key, before[key], value)
    else:
        assert new <= old, (where, old, new)


def test_smoke_refuses_configs_without_rules():
    @dataclasses.dataclass(frozen=True)
    class Unknown:
        size: int = 3

    with pytest.raises(TypeError, match="no smoke rules for .*Unknown.*valid choices"):
        smoke(Unknown())
    with pytest.raises(TypeError, match="no smoke rules"):
        smoke(3)


def test_smoke_refuses_a_field_without_a_rule(monkeypatch):
    rules = dict(SMOKE_RULES[theorem_3_4.Theorem34Config])
    del rules["n_problems"]
    monkeypatch.setitem(smoke_module.SMOKE_RULES, theorem_3_4.Theorem34Config, rules)
    with pytest.raises(KeyError, match="Theorem34Config.n_problems has no smoke rule"):
        smoke(theorem_3_4.Theorem34Config.full())


# ------------------------------------------------------------------------------------------- the runs
@pytest.fixture(scope="module")
def data_root(tmp_path_factory) -> Path:
    from _tiny_formats import write_all

    return write_all(tmp_path_factory.mktemp("smoke-data"), N_TRAIN, N_TEST)


@pytest.fixture
def real_formats(data_root, tmp_path, monkeypatch) -> Path:
    """Point the library at the written datasets (``RRBOOK_DATA``) and a fresh results cache (``RRBOOK_CACHE``)."""
    from _tiny_formats import honest_classes

    monkeypatch.setenv("RRBOOK_DATA", str(data_root))
    monkeypatch.setenv("RRBOOK_CACHE", str(tmp_path / "cache"))
    for key, cls in honest_classes(data_root).items():
        monkeypatch.setitem(DATASETS, key, dataclasses.replace(DATASETS[key], torchvision_class=cls))
    return data_root


def _finite_numbers(value) -> list[float]:
    if isinstance(value, dict):
        return [x for v in value.values() for x in _finite_numbers(v)]
    if isinstance(value, list):
        return [x for v in value for x in _finite_numbers(v)]
    return [float(value)] if type(value) in (int, float) and math.isfinite(value) else []


@pytest.mark.parametrize("name", ["preliminaries", "theorem_3_2", "theorem_3_4"])
def test_numpy_chapters_full_profile_smoke(name, assert_plain):
    module = {"preliminaries": preliminaries, "theorem_3_2": theorem_3_2, "theorem_3_4": theorem_3_4}[name]
    config = smoke(FULL_CONFIGS[name]())
    metrics = module.run(config).metrics()
    assert_plain(metrics, name)
    assert len(_finite_numbers(metrics)) >= 10, name


@pytest.mark.slow
def test_mine_full_profile_smoke(assert_plain):
    config = smoke(FULL_CONFIGS["mine"]())
    metrics = mine.run(config, show_progress=False).metrics()
    assert_plain(metrics, "mine")
    # every (critic, bound) of the full protocol ran the whole staircase
    labels = {f"{critic}/{bound}" for critic in ("separable", "concat")
              for bound in ("dv", "nwj", "infonce", "js", "smile", "mine")}
    assert len(metrics["staircase"]) == len(labels) == 12
    for label, run in metrics["staircase"].items():
        assert len(run["mse"]) == len(config.levels), label
    assert set(metrics["staircase_steps_per_level"].values()) == {8}
    assert len(metrics["oracle"]) == len(mine.ORACLE_BOUNDS) * len(config.levels) * len(config.oracle_batches)


@pytest.mark.slow
def test_worst_case_mi_full_profile_smoke(assert_plain):
    config = smoke(FULL_CONFIGS["worst_case_mi"]())
    metrics = worst_case_mi.run(config).metrics()
    assert_plain(metrics, "worst_case_mi")
    g, d = config.gaussian, config.digits
    assert metrics["n_seeds"] == 2.0
    assert len(metrics["risk"]) == 2 * len(g.risk_eps_values)
    assert {s["eps"] for s in metrics["gaussian"] if s["sweep"] == "eps"} == set(g.eps_values)
    assert {s["iterations"] for s in metrics["gaussian"] if s["sweep"] == "iterations"} == {2, 3, 4}
    assert len(metrics["digits"]) == 2 * (1 + len(d.eps_values))
    assert [r["steps"] for r in metrics["cost"]] == list(config.cost.steps_values)


@pytest.mark.slow
def test_vulnerability_full_profile_smoke(real_formats, tmp_path, assert_plain):
    config = smoke(FULL_CONFIGS["vulnerability"]())
    result = vulnerability.run(config, cache_root=tmp_path / "cache", show_progress=False)
    metrics = result.metrics()
    assert_plain(metrics, "vulnerability")
    assert metrics["dataset_title"] == "CIFAR-10" and metrics["n_models"] == 12
    members = {(m["architecture"], round(m["train_eps"] * 255)) for m in metrics["models"]}
    assert members == {(a, e) for a in ("baseline_h", "vgg16", "resnet18", "resnet50", "densenet121")
                       for e in (0, 8)} | {("baseline_h", 2), ("vgg16", 2)}
    for m in metrics["models"]:
        for key in ("natural_accuracy", "adversarial_accuracy", "normal_mi", "worst_mi", "bound"):
            assert isinstance(m[key], float), (m["name"], key)
    assert [n["kind"] for n in metrics["neurons"]] == ["standard", "robust"]
    assert all(n["n_impossible"] <= len(n["normal"]) for n in metrics["neurons"])
    assert "pearson_rv_gap" in metrics and "std_neuron_vuln" in metrics


@pytest.mark.slow
def test_robust_encoders_full_profile_smoke(real_formats, tmp_path, assert_plain):
    config = smoke(FULL_CONFIGS["robust_encoders"]())
    assert config.critic_hidden == 2048
    metrics = robust_encoders.run(config, cache_root=tmp_path / "cache").metrics()
    assert_plain(json.loads(json.dumps(metrics)), "robust_encoders")  # finite numbers, string keys
    for loss in ("normal", "worst"):
        enc = metrics["encoders"][loss]
        assert enc["epochs"] == 1
        assert len(enc["normal"]["values"]) == len(enc["worst"]["values"]) == len(config.rv_seeds) == 2
        assert isinstance(enc["rv"]["std"], float)
    assert metrics["cost"]["attack_steps"] == 10  # Fashion-MNIST's PGD-10
    assert_plain(metrics, "robust_encoders")  # the config too: plain JSON lists, not tuples


@pytest.mark.slow
@pytest.mark.parametrize("dataset", sorted(TABLES))
def test_downstream_tables_full_profile_smoke(dataset, real_formats, tmp_path, assert_plain):
    config = smoke(FULL_CONFIGS[f"downstream_tables[{dataset}]"]())
    assert config.critic_hidden == 2048 and len(config.seeds) == 2
    result = downstream_tables.run(dataclasses.replace(config, out_root=str(tmp_path / "tables")))
    metrics = result.metrics()
    assert_plain(metrics, f"downstream_tables[{dataset}]")
    assert metrics["dataset"] == dataset and metrics["seeds"] == list(config.seeds)
    assert set(metrics["table"]) == set(downstream_tables.ROWS)
    for row, by_head in metrics["table"].items():
        assert set(by_head) == set(downstream_tables.HEADS), row
        for head, cell in by_head.items():
            assert cell["seeds"] == list(config.seeds), (row, head)
            for column in ("natural", "adversarial"):
                assert len(cell[column]["values"]) == 2, (row, head, column)
            assert cell["autoattack"] is None  # autoattack_n = 0 in smoke mode (see rrlib.smoke)


@pytest.mark.slow
def test_contrastive_comparison_full_profile_smoke(real_formats, tmp_path, assert_plain):
    from rrlib.experiments import contrastive_comparison as cc

    config = smoke(FULL_CONFIGS["contrastive_comparison"]())
    assert config.tables.critic_hidden == 2048 and config.tables.rows == cc.COMPARED_ROWS
    tables = dataclasses.replace(config.tables, out_root=str(tmp_path / "tables"))
    metrics = cc.run(dataclasses.replace(config, tables=tables)).metrics()
    assert_plain(metrics, "contrastive_comparison")
    assert set(metrics["table"]) == set(cc.COMPARED_ROWS)
    assert set(metrics["cost"]) == {"worst", "worst-infonce", "adv-contrastive"}
    assert {c["verdict"] for c in metrics["comparisons"]} == {"too few to judge"}  # two seeds


@pytest.mark.slow
def test_image_mi_full_profile_smoke(real_formats, assert_plain):
    from rrlib.experiments import image_mi

    config = smoke(FULL_CONFIGS["image_mi"]())
    assert config.critic_hidden == 2048 and config.levels == image_mi.ImageMIConfig.full().levels
    metrics = image_mi.run(config).metrics()
    assert_plain(metrics, "image_mi")
    assert len(metrics["levels"]) == len(config.levels)
    assert all(len(v) == 2 for level in metrics["levels"] for v in level["estimates"].values())


@pytest.mark.slow
def test_bmi_scoreboard_full_profile_smoke(assert_plain):
    from rrlib.experiments import bmi_scoreboard
    from rrlib.mi.bmi_tasks import TASKS
    from rrlib.mi.bounds import BOUND_NAMES

    full = FULL_CONFIGS["bmi_scoreboard"]()
    config = smoke(full)
    assert (config.tasks, config.bounds, config.size_tasks) == (tuple(TASKS), BOUND_NAMES, full.size_tasks)
    metrics = bmi_scoreboard.run(config).metrics()
    assert_plain(metrics, "bmi_scoreboard")
    # every task, bound and seed of the full protocol ran (40 x 6 x 2 at n = 512, the 6 size tasks also at 520)
    assert len(metrics["runs"]) == config.n_runs == 40 * 6 * 2 + 6 * 6 * 2
    assert list(metrics["tasks"]) == list(TASKS) and len(metrics["tasks"]) == 40
    assert all(list(by) == list(BOUND_NAMES) and all(c["n_runs"] == 2 for c in by.values())
               for by in metrics["scores"].values())
    assert list(metrics["samples_needed"]) == list(full.size_tasks)
    assert all(r["steps"] <= 2 for r in metrics["runs"])


@pytest.mark.slow
def test_saliency_maps_full_profile_smoke(real_formats, tmp_path, assert_plain):
    """Chapter 09's full path reads exported weights: export them from a smoke-sized Table 4 run, then draw."""
    tables = smoke(FULL_CONFIGS["downstream_tables[fashion-mnist]"]())
    downstream_tables.run(dataclasses.replace(tables, out_root=str(tmp_path / "tables")))
    downstream_tables.export_weights(tables, tmp_path / "tables", tmp_path / "weights", seed=tables.seed)
    config = dataclasses.replace(smoke(FULL_CONFIGS["saliency_maps"]()), weights=str(tmp_path / "weights"))
    metrics = saliency_maps.run(config).metrics()
    assert_plain(metrics, "saliency_maps")
    assert set(metrics["alignment"]) == set(saliency_maps.MAPS)
    assert all(a["n"] <= config.n_images for a in metrics["alignment"].values())
