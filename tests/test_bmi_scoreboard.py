"""The bmi scoreboard experiment (:mod:`rrlib.experiments.bmi_scoreboard`) on a tiny configuration, its cache and
its rendering. The numbers mean nothing at 10 steps; what is checked is the structure of the metrics, that they
carry the tasks' exact true MI, that a resumed run reuses every cached run unchanged, and that bad values are
refused with one clear error."""

from __future__ import annotations

import copy
import json
import math

import pytest

from rrlib.experiments import bmi_scoreboard
from rrlib.experiments.bmi_scoreboard import ScoreboardConfig, run
from rrlib.mi.bmi_tasks import get_task
from rrlib.plotting.bmi_scoreboard import ln_ratio_figure
from rrlib.plotting.mi import BOUND_TITLES
from rrlib.rendering.bmi_scoreboard import (
    FAIL_MARK,
    samples_needed_markdown,
    scoreboard_markdown,
    summary_markdown,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")

#: Two tasks (1 x 1 normal, dense 2 x 2 Gaussian), two bounds, two seeds, 10 steps; the normal also at n = 520
#: (the smallest sizes that hold one batch of 256 in each half are 512 and up): 12 runs, a few seconds.
TINY = ScoreboardConfig(tasks=("1v1-normal-0.75", "multinormal-dense-2-2-0.5"), bounds=("dv", "infonce"),
                        seeds=(0, 1), n=600, size_tasks=("1v1-normal-0.75",), sizes=(520,), steps=10, device="cpu")


@pytest.fixture(scope="module")
def cached(tmp_path_factory):
    """The tiny run with a cache folder: ``(cache folder, metrics)``."""
    folder = tmp_path_factory.mktemp("bmi-cache")
    return folder, run(TINY, cache_dir=folder).metrics()


def test_metrics_shape(cached, assert_plain):
    _, metrics = cached
    assert_plain(metrics, "bmi_scoreboard")
    assert json.loads(json.dumps(metrics)) == metrics
    assert list(metrics["tasks"]) == list(TINY.tasks) and metrics["main_n"] == 600 and metrics["units"] == "nats"
    assert len(metrics["runs"]) == TINY.n_runs == len(TINY.runs()) == 2 * 2 * 2 + 2 * 2
    assert {(r["task"], r["bound"], r["n"], r["seed"]) for r in metrics["runs"]} == set(TINY.runs())
    for r in metrics["runs"]:
        assert 1 <= r["steps"] <= TINY.steps and r["seconds"] > 0 and r["device"] == "cpu"
    for task_id in TINY.tasks:
        assert list(metrics["scores"][task_id]) == list(TINY.bounds)
        for score in metrics["scores"][task_id].values():
            assert set(score) == {"n_runs", "n_failed", "mean_estimate", "ln_ratio", "ln_ratio_of_mean", "within"}
            assert score["n_runs"] == 2 and 0 <= score["n_failed"] <= 2
    # samples needed only where several sizes ran
    assert list(metrics["samples_needed"]) == ["1v1-normal-0.75"]
    for cell in metrics["samples_needed"]["1v1-normal-0.75"].values():
        assert cell["sizes"] == [520, 600] and set(cell["ln_ratio_by_n"]) == {"520", "600"}
        assert cell["needed"] in (None, 520, 600)
    timing = metrics["timing"]
    assert timing["runs"] == 12 and timing["total_steps"] == sum(r["steps"] for r in metrics["runs"])
    assert timing["seconds_per_1000_steps"] == pytest.approx(1000 * timing["total_seconds"] / timing["total_steps"],
                                                             rel=1e-12)  # the same sum, summed in another order


def test_true_mi_and_dims_are_the_tasks(cached):
    _, metrics = cached
    for task_id, entry in metrics["tasks"].items():
        task = get_task(task_id)
        assert entry["true_mi"] == task.mutual_information  # exact: the same float
        assert (entry["dim_x"], entry["dim_y"], entry["name"]) == (task.dim_x, task.dim_y, task.task_name)
        assert entry["paper_regime"] is bool(task.mutual_information <= 1.74)
    assert metrics["tasks"]["1v1-normal-0.75"]["true_mi"] == -0.5 * math.log(1 - 0.75**2)


def test_cell_scores_follow_bmis_rules(cached):
    from rrlib.mi.bmi_scoring import score_cell

    _, metrics = cached
    for task_id, by_bound in metrics["scores"].items():
        for bound, score in by_bound.items():
            values = [math.nan if r["estimate"] is None else r["estimate"] for r in metrics["runs"]
                      if (r["task"], r["bound"], r["n"]) == (task_id, bound, 600)]
            expected = score_cell(values, metrics["tasks"][task_id]["true_mi"])
            assert score["n_failed"] == expected.n_failed and score["within"] == expected.within


def test_resume_reuses_the_cache(cached):
    folder, metrics = cached
    files = sorted(folder.glob("*.json"))
    assert len(files) == TINY.n_runs
    stamps = {f.name: f.stat().st_mtime_ns for f in files}
    assert run(TINY, cache_dir=folder).metrics() == metrics  # identical, seconds included: nothing was rerun
    assert {f.name: f.stat().st_mtime_ns for f in folder.glob("*.json")} == stamps


def test_an_interrupted_run_resumes_with_identical_numbers(cached, tmp_path):
    folder, metrics = cached
    for f in folder.glob("*.json"):  # a copy of the cache with one run missing (interrupted before it finished)
        (tmp_path / f.name).write_text(f.read_text())
    missing = sorted(tmp_path.glob("*.json"))[0]
    missing.unlink()
    again = run(TINY, cache_dir=tmp_path).metrics()
    assert missing.exists()
    # the rerun run's estimate and steps are the same (same seed, same CPU); only its wall seconds differ
    strip = [{k: v for k, v in r.items() if k != "seconds"} for r in again["runs"]]
    assert strip == [{k: v for k, v in r.items() if k != "seconds"} for r in metrics["runs"]]
    assert again["scores"] == metrics["scores"] and again["samples_needed"] == metrics["samples_needed"]


def test_a_changed_config_does_not_reuse_the_cache(cached):
    import dataclasses

    folder, _ = cached
    longer = dataclasses.replace(TINY, steps=11)
    task, bound, n, seed = TINY.runs()[0]
    assert bmi_scoreboard.run_key(longer, task, bound, n, seed) != bmi_scoreboard.run_key(TINY, task, bound, n, seed)
    assert not (folder / bmi_scoreboard.run_key(longer, task, bound, n, seed)).exists()


@pytest.mark.parametrize(("change", "message"), [
    ({"tasks": ("1v1-normal",)}, r"tasks: unknown name '1v1-normal'; valid choices: 1v1-normal-0.75, "),
    ({"tasks": ()}, r"tasks must be a non-empty tuple"),
    ({"bounds": ("dv", "mi")}, r"bounds: unknown name 'mi'; valid choices: dv, nwj, infonce, js, smile, mine"),
    ({"bounds": ("dv", "dv")}, r"bounds .* a name appears twice"),
    ({"seeds": ()}, r"seeds must be a non-empty tuple"),
    ({"seeds": (0, -1)}, r"seed -1: must be an integer >= 0"),
    ({"n": 500}, r"n 500: too small for bmi's batch of 256"),
    ({"sizes": (100,)}, r"sizes: size 100: too small"),
    ({"sizes": (600,)}, r"sizes \(600,\): sizes must differ .* n = 600"),
    ({"size_tasks": ("student-identity-1-1-1",)}, r"size_tasks: 'student-identity-1-1-1' is not among the tasks"),
    ({"steps": 0}, r"steps 0: must be an integer >= 1"),
    ({"device": "gpu"}, r"device 'gpu': .*valid choices: auto, cpu"),
])
def test_bad_config_values_are_named(change, message):
    import dataclasses

    with pytest.raises(ValueError, match=message):
        dataclasses.replace(TINY, **change)


def test_profiles():
    quick, medium, full = (getattr(ScoreboardConfig, p)(seed=0, device="cpu") for p in ("quick", "medium", "full"))
    assert {"dv", "infonce", "nwj"} <= set(quick.bounds) and len(quick.seeds) == 2 and 4 <= len(quick.tasks) <= 6
    assert quick.n_runs == 42
    assert len(medium.tasks) == 40 and len(medium.bounds) == 6 and medium.seeds == (0, 1, 2)
    assert (medium.n, medium.steps, medium.sizes) == (5000, 10_000, (1000, 2500, 10_000))
    assert medium.n_runs == 40 * 6 * 3 + 6 * 3 * 6 * 3 == 1044
    assert full.seeds == tuple(range(10)) and (full.n, full.steps) == (5000, 10_000)
    assert full.n_runs == 40 * 6 * 10 + 6 * 3 * 6 * 10 == 3480


# ------------------------------------------------------------------------------------------------- rendering
def test_tables_name_every_task_and_bound(cached):
    _, metrics = cached
    table = scoreboard_markdown(metrics, "tab-bmi-scoreboard", "a tiny test run")
    assert table.startswith(":::{table}") and ":name: tab-bmi-scoreboard" in table and table.endswith(":::")
    assert ":class: compact" in table  # nine columns: smaller type (book/_static/rrbook.css)
    body = [line for line in table.splitlines() if line.startswith("| ")]
    assert len(body) == 1 + len(TINY.tasks)  # header + one row per task
    for task_id in TINY.tasks:
        assert sum(get_task(task_id).task_name in line for line in body) == 1
    for bound in TINY.bounds:
        assert BOUND_TITLES[bound] in body[0]
    summary = summary_markdown(metrics, "tab-bmi-summary", "a tiny test run")
    assert ":name: tab-bmi-summary" in summary
    assert [line.split(" | ")[0] for line in summary.splitlines() if line.startswith("| ")][1:] == [
        f"| {BOUND_TITLES[b]}" for b in TINY.bounds]
    needed = samples_needed_markdown(metrics, "tab-bmi-needed", "a tiny test run")
    assert get_task("1v1-normal-0.75").task_name in needed and "520" in needed


def test_failures_are_marked(cached):
    _, metrics = cached
    changed = copy.deepcopy(metrics)
    cell = changed["scores"]["1v1-normal-0.75"]["dv"]
    cell.update(n_failed=2, mean_estimate=None, ln_ratio=None, ln_ratio_of_mean=None, within=False)
    other = changed["scores"]["multinormal-dense-2-2-0.5"]["infonce"]
    other.update(n_failed=1, mean_estimate=0.25, ln_ratio=-0.5, within=False)
    table = scoreboard_markdown(changed, "t", "s")
    assert f"| – {FAIL_MARK}2 |" in table and f"0.25 (−0.50) {FAIL_MARK}1" in table
    ln_ratio_figure(changed)  # an all-failed cell is drawn (grey), not an error


def test_ln_ratio_figure(cached):
    from matplotlib.figure import Figure

    from rrlib.plotting.checks import clipped_artists

    _, metrics = cached
    fig = ln_ratio_figure(metrics)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == [BOUND_TITLES[b] for b in TINY.bounds]
    assert len(ax.get_yticklabels()) == len(TINY.tasks)
    image = ax.get_images()[0]
    assert image.get_clim() == (-1.0, 1.0)  # centred at 0
    assert fig.axes[1].get_ylabel() == "mean ln(estimate / true MI)"
    assert not clipped_artists(fig)


# ------------------------------------------------------------------------------------------------- command line
@pytest.mark.parametrize(("argv", "message"), [
    (["--profile", "huge"], "--profile 'huge': unknown profile; valid choices: quick, medium, full"),
    (["--profile", "quick", "--seed", "x"], "--seed 'x': must be an integer >= 0"),
    (["--profile", "quick", "--seed", "-1"], "seed -1: must be an integer >= 0"),
    (["--profile", "quick", "--device", "tpu"], "device 'tpu'"),
    (["--profile", "quick", "--bogus"], "unrecognized arguments: --bogus"),
])
def test_command_line_refuses_bad_flags(argv, message, tmp_path, capsys):
    try:
        code = bmi_scoreboard.main([*argv, "--out", str(tmp_path / "out.json")])
    except SystemExit as stop:
        code = stop.code
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1 and message in err
    assert not (tmp_path / "out.json").exists()


def test_command_line_never_writes_over_a_result(tmp_path, capsys):
    out = tmp_path / "out.json"
    out.write_text("{}\n")
    assert bmi_scoreboard.main(["--profile", "quick", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: --out {out} exists") and err.count("\n") == 1
    assert out.read_text() == "{}\n" and not (tmp_path / "out.json.partial").exists()


def test_summary_splits_by_the_papers_regime_only_when_both_occur(cached):
    _, metrics = cached
    both = summary_markdown(metrics, "t", "s")  # both tiny tasks are within 2 nats: no split columns
    assert "MI > 1.74" not in both and "every one within the paper's regime" in both
    changed = copy.deepcopy(metrics)
    changed["tasks"]["multinormal-dense-2-2-0.5"]["paper_regime"] = False
    split = summary_markdown(changed, "t", "s")
    header = next(line for line in split.splitlines() if line.startswith("| bound"))
    assert "within 1.5×, MI ≤ 1.74" in header and "within 1.5×, MI > 1.74" in header
    dv = next(line for line in split.splitlines() if line.startswith("| DV"))
    within = [metrics["scores"][t]["dv"]["within"] for t in TINY.tasks]
    assert dv.split(" | ")[1:4] == [f"{int(within[0])} / 1", f"{int(within[1])} / 1", f"{sum(within)} / 2"]


def test_trust_and_cost_sentences_state_the_runs_numbers():
    from rrlib.rendering.bmi_scoreboard import cost_markdown, trust_markdown

    def score(within, ln_ratio, failed=0):
        return {"within": within, "ln_ratio": ln_ratio, "n_failed": failed, "n_runs": 3}

    metrics = {
        "tasks": {"a": {"name": "Task A", "true_mi": 0.41, "paper_regime": True},
                  "b": {"name": "Task B", "true_mi": 0.22, "paper_regime": True},
                  "c": {"name": "Task C", "true_mi": 1.02, "paper_regime": True}},
        "scores": {"a": {"dv": score(True, -0.05)}, "b": {"dv": score(False, None, 3)},
                   "c": {"dv": score(False, -0.62, 1)}},
        # three runs: 2 + 4 + 6 = 12 s; 1,000 + 2,000 + 10,000 steps of a 10,000-step budget
        "runs": [{"steps": 1000}, {"steps": 2000}, {"steps": 10_000}],
        "timing": {"runs": 3, "total_seconds": 12.0, "seconds_per_run": 4.0, "seconds_per_1000_steps": 1.0},
        "config": {"steps": 10_000}}
    text = trust_markdown(metrics, "dv", "a test run")
    assert text.startswith("In a test run, DV is within a factor 1.5 of the true MI on 1 of the 3 tasks.")
    assert "It misses on 2: Task B (0.22 nats: every run failed); Task C (1.02 nats: ln ratio −0.62, 1 of 3 runs " \
           "failed)." in text
    cost = cost_markdown(metrics, 3480, 10_000, "a test run", threads=1)
    assert "took 0.00 hours in all on 1 torch thread, 4.0 s per run" in cost and "shared" not in cost
    assert "on 2 torch threads of a machine that other runs shared" in cost_markdown(
        metrics, 3480, 10_000, "a test run", threads=2, shared=True)
    assert "4.0 s per run and 1.0 s per 1,000 critic steps; 2 of them stopped early" in cost
    assert "full profile's 3,480 runs (bmi's protocol: 10 seeds) would take 3.9 hours" in cost  # 3480 * 4 / 3600
    assert "do not measure its cost" in cost_markdown(metrics, 3480, 20_000, "a test run", threads=1)
