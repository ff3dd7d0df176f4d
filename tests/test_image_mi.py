"""Known MI on images (rrlib.experiments.image_mi): the experiment's shape, its truth, reproducibility, the global
critic against the exact answer, and clear errors. Data: conftest's tiny Fashion-MNIST folder (real on-disk format)."""

from __future__ import annotations

import json
import math

import pytest

from rrlib.experiments.image_mi import CRITICS, ImageMIConfig, run

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _tiny(root, **kwargs):
    base = dict(levels=((1, 0.1), (5, 0.0)), steps=3, batch=16, eval_batches=1, critic_hidden=16, seeds=(0, 1),
                device="cpu", data_root=str(root))
    return ImageMIConfig(**{**base, **kwargs})


def test_every_level_critic_and_seed_is_measured_and_reproducible(tiny_fmnist_root):
    config = _tiny(tiny_fmnist_root)
    metrics = run(config).metrics()
    json.dumps(metrics)  # plain JSON
    assert [(lv["bits"], lv["crossover"]) for lv in metrics["levels"]] == [(1, 0.1), (5, 0.0)]
    assert metrics["levels"][1]["true_mi"] == pytest.approx(5 * math.log(2))
    for level in metrics["levels"]:
        assert set(level["estimates"]) == set(CRITICS)
        assert all(len(v) == 2 and all(math.isfinite(x) for x in v) for v in level["estimates"].values())
        grid = level["per_location"]["grid"]
        assert len(grid) == 7 and all(len(row) == 7 for row in grid)  # the critic's 7x7 locations at 28x28
        assert level["per_location"]["min"] <= level["per_location"]["mean"] <= level["per_location"]["max"]
    assert run(config).metrics() == metrics


def test_the_global_critic_comes_close_to_the_exact_answer(tiny_fmnist_root):
    # 2 bits through a BSC(0.1): I = 2 (ln 2 - H_b(0.1)) = 0.736 nats. The held-out DV of 4 batches of 128 has a
    # sampling SE of about sqrt(2 * 0.434 / 512) = 0.041 nats (0.434: the per-bit variance of log r); the pilot runs
    # (full Fashion-MNIST, 200-2,000 steps) gave 0.668-0.720, so 300 steps must land within 0.2 below and 4 SE above.
    config = _tiny(tiny_fmnist_root, levels=((2, 0.1),), critics=("separable",), steps=300, batch=128,
                   eval_batches=4, seeds=(0,))
    level = run(config).metrics()["levels"][0]
    estimate = level["estimates"]["separable"][0]
    assert level["true_mi"] - 0.2 < estimate < level["true_mi"] + 4 * 0.041, estimate


def test_bad_configurations_name_the_value():
    with pytest.raises(ValueError, match=r"critics must be names from \('encode_and_dot', 'separable'\)"):
        ImageMIConfig(critics=("mlp",))
    with pytest.raises(ValueError, match=r"a level is \(bits 1\.\.16, crossover in \[0, 0\.5\]\), got \(17, 0\.1\)"):
        ImageMIConfig(levels=((17, 0.1),))
    with pytest.raises(ValueError, match="unknown bound"):
        ImageMIConfig(bound="kl")
    with pytest.raises(ValueError, match="seeds"):
        ImageMIConfig(seeds=())


def test_a_cached_run_resumes_to_the_same_numbers_without_retraining(tiny_fmnist_root, tmp_path):
    config = _tiny(tiny_fmnist_root, levels=((1, 0.1),), seeds=(0,))
    first = run(config, cache_dir=tmp_path).metrics()
    files = sorted(tmp_path.iterdir())
    assert [f.name for f in files] == ["1x0.1-encode_and_dot-seed0.json", "1x0.1-separable-seed0.json"]
    stamps = [f.stat().st_mtime_ns for f in files]
    assert run(config, cache_dir=tmp_path).metrics() == first == run(config).metrics()
    assert [f.stat().st_mtime_ns for f in files] == stamps  # reloaded, not rewritten


def test_level_summaries_are_student_t_over_seeds():
    from rrlib.experiments.image_mi import PAPER_RANGE, level_summaries
    from rrlib.stats import t_quantile

    # values 0.1, 0.2, 0.3: mean 0.2, sd 0.1, se 0.1/sqrt(3); true MI ln 2 (one bit, p = 0)
    metrics = {"levels": [{"bits": 1, "crossover": 0.0, "true_mi": math.log(2),
                           "estimates": {"encode_and_dot": [0.1, 0.2, 0.3], "separable": [0.6]}},
                          {"bits": 9, "crossover": 0.0, "true_mi": 9 * math.log(2), "estimates": {"separable": [5.0]}}]}
    first, second = level_summaries(metrics)
    c = first["critics"]["encode_and_dot"]
    half = t_quantile(0.95, 2) * 0.1 / math.sqrt(3)  # the two-sided 95 % quantile, 4.303
    assert c["mean"] == pytest.approx(0.2) and c["interval"] == pytest.approx([0.2 - half, 0.2 + half])
    assert c["ratio"] == pytest.approx(0.2 / math.log(2)) and c["shortfall"] == pytest.approx(math.log(2) - 0.2)
    assert first["critics"]["separable"]["interval"] is None  # one seed: no interval
    assert first["in_paper_range"] and not second["in_paper_range"] and PAPER_RANGE == (0.0, 1.74)


def test_the_command_refuses_an_existing_out_and_a_bad_profile(tmp_path, capsys):
    from rrlib.experiments.image_mi import main

    out = tmp_path / "done.json"
    out.write_text("{}")
    assert main(["--out", str(out)]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"error: --out {out} exists: finished results are never overwritten; move it away or give another --out"]
    assert main(["--profile", "huge", "--out", str(tmp_path / "x.json")]) == 2
    assert "--profile 'huge': valid choices: quick, medium, full" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["done.json"]  # nothing else was created
