"""One shape for every experiment (see ARCHITECTURE.md): each module of ``rrlib.experiments`` has a frozen config
with ``quick(seed=0, device="auto")`` / ``full(seed=0, device="auto")``, ``run(config) -> Result`` and
``Result.metrics()`` of plain JSON values. Chapters 5 and 6 check their metrics on tiny runs in their own tests."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil
import typing

import pytest

import rrlib.experiments

MODULES = sorted(info.name for info in pkgutil.iter_modules(rrlib.experiments.__path__))


def _types(name: str) -> tuple[type, type]:
    module = importlib.import_module(f"rrlib.experiments.{name}")
    assert callable(getattr(module, "run", None)), f"{name} has no run(config)"
    hints = typing.get_type_hints(module.run)
    return hints["config"], hints["return"]


@pytest.mark.parametrize("name", MODULES)
def test_run_takes_its_config_alone(name):
    # the real signature, not only the hints: run(config) is a complete call; anything else is an optional keyword
    signature = inspect.signature(importlib.import_module(f"rrlib.experiments.{name}").run)
    params = signature.parameters
    assert list(params)[0] == "config", f"{name}.run{signature}"
    required = [p for p in list(params.values())[1:] if p.default is inspect.Parameter.empty]
    assert not required, f"{name}.run needs {[p.name for p in required]} besides its config"
    positional = [p.name for p in list(params.values())[1:] if p.kind is not inspect.Parameter.KEYWORD_ONLY]
    assert not positional, f"{name}.run: {positional} must be keyword-only"


def test_every_chapter_experiment_is_there():
    # the six chapters' experiments, plus Section 5's: robust encoders (chapter 07), the downstream tables
    # (Tables 1/3/4/5, chapter 08), saliency maps (chapter 09); and beyond the paper, chapter 11's comparison and
    # the estimators on images with known MI (issue 21), and the bounds on the bmi benchmark's tasks
    assert MODULES == ["bmi_scoreboard", "contrastive_comparison", "downstream_tables", "image_mi", "mine",
                       "preliminaries", "robust_encoders", "saliency_maps", "theorem_3_2", "theorem_3_4",
                       "vulnerability", "worst_case_mi"]


@pytest.mark.parametrize("name", MODULES)
def test_config_profiles_and_result_metrics(name):
    config_type, result_type = _types(name)
    assert dataclasses.is_dataclass(config_type) and config_type.__dataclass_params__.frozen, name
    for profile in ("quick", "full"):
        build = getattr(config_type, profile)
        params = inspect.signature(build).parameters
        # (seed, device) first; further parameters (e.g. the dataset of a table) only with defaults
        assert list(params)[:2] == ["seed", "device"], f"{name}.{profile}{inspect.signature(build)}"
        extra = [p for p in list(params)[2:] if params[p].default is inspect.Parameter.empty]
        assert not extra, f"{name}.{profile}: parameters {extra} need defaults"
        assert (params["seed"].default, params["device"].default) == (0, "auto")
    config = config_type.quick(seed=3, device="cpu")
    assert isinstance(config, config_type) and config.seed == 3
    assert config_type.quick() == config_type.quick(0, "auto")  # profiles are deterministic values
    assert callable(getattr(result_type, "metrics", None)), f"{name}: Result has no metrics()"
    for legacy in ("summary", "headline", "key_metrics"):
        assert not callable(getattr(result_type, legacy, None)), f"{name}: use metrics(), not {legacy}()"


def test_small_runs_give_plain_metrics(assert_plain):
    from rrlib.experiments import mine, preliminaries, theorem_3_2, theorem_3_4

    small = [
        (preliminaries, preliminaries.PreliminariesConfig(mc_samples=400)),
        (theorem_3_2, theorem_3_2.Theorem32Config(n_instances=40, n_quad=2, mc_samples=400, n_eps=5, n_angles=5)),
        (theorem_3_4, theorem_3_4.Theorem34Config(n_problems=20, kernel_problems=2, kernels_per_problem=10)),
        (mine, mine.MineConfig(levels=(2.0, 4.0), dim=4, oracle_batches=(8, 16), oracle_trials=20,
                               deterministic_dim=2, deterministic_steps=5, device="cpu")),
    ]
    for module, config in small:
        kwargs = {"show_progress": False} if module is mine else {}
        metrics = module.run(config, **kwargs).metrics()
        assert isinstance(metrics, dict) and metrics, module.__name__
        assert_plain(metrics, module.__name__)
