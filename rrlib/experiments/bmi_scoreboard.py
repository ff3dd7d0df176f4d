"""The bmi scoreboard: rrlib's six variational bounds on the 40 tasks of the bmi benchmark (Czyż et al., NeurIPS
2023), scored by bmi's own rules (:mod:`rrlib.mi.bmi_scoring`). MI in nats.

A *run* is one (task, bound, seed, sample size ``n``): draw ``task.sample(n, seed)``
(:mod:`rrlib.mi.bmi_tasks`) and estimate I(X; Y) with :func:`rrlib.mi.external.estimate_from_arrays` under
``SampleOptions(bound=..., seed=seed, steps=config.steps, device=...)``; every other option is bmi's default
(batch 256, a 50/50 train/test split, early stopping every 250 steps, standardised columns; see
:mod:`rrlib.mi.external`). Each run records its estimate, the Adam steps it took and its wall seconds. The cells of
the scoreboard are (task, bound) at the main sample size ``config.n`` over the seeds: the mean estimate over the
non-failed runs, bmi's ln ratio and the number of failed runs; for the tasks in ``config.size_tasks`` the runs at
``config.sizes`` too give bmi's "samples needed" (the smallest ``n`` from which on the cell stays within a factor
1.5 of the truth).

Profiles (timed on this project's 2-core AMD EPYC machine, one torch thread per run, while two training jobs shared
the cores; the runs still got 90-99 % of a core, CPU time over wall time):

* :meth:`ScoreboardConfig.quick` — 5 tasks (the 1 x 1 normal, its half-cube transform, the 1 x 1 Student-t, a dense
  and a 2-pair 5 x 5 Gaussian) x DV, InfoNCE, NWJ x 2 seeds at ``n`` = 2,000 with at most 500 steps, and ``n`` in
  {1,000, 4,000} on the 1 x 1 normal: 42 runs, measured 101 s (99 s of CPU time).
* :meth:`ScoreboardConfig.medium` — all 40 tasks x all 6 bounds x 3 seeds at ``n`` = 5,000 (bmi's benchmark size,
  ``N_SAMPLES = [5_000]`` in bmi's ``workflows/benchmark/v1/config.py`` and ``v2/config.py``) with bmi's
  10,000-step budget, plus ``n`` in {1,000, 2,500, 10,000} on 6 tasks: 720 + 324 = 1,044 runs. Twelve such runs
  timed here (9 at ``n`` = 5,000, 2 at 10,000, 1 at 1,000; five bounds; 1 x 1 to 50 x 50) took 3.0-7.6 s each,
  4.97 s on average: early stopping ended every one after 750-1,750 of the 10,000 steps (4.0-6.7 s per 1,000
  steps). Projected: 1,044 x 4.97 s = 1.4 h on one thread.
* :meth:`ScoreboardConfig.full` — bmi's protocol: 40 tasks x 10 seeds (``SEEDS = list(range(10))``, same files) x
  all 6 bounds at ``n`` = 5,000 and 10,000 steps, plus the same three sizes on the same 6 tasks: 2,400 + 1,080 =
  3,480 runs, projected 3,480 x 4.97 s = 4.8 h on one thread.

The metrics record every run's seconds and ``seconds_per_1000_steps``, so a finished run states its own cost.

With ``cache_dir`` every finished run is written there (atomically) as one small JSON file and reloaded instead of
rerun, so an interrupted run resumes with identical numbers. Command line::

    python -m rrlib.experiments.bmi_scoreboard --profile medium --out results/bmi_scoreboard_medium.json

(the output, never written over an existing file, holds ``{"metrics": ScoreboardResult.metrics(), "provenance"}``;
finished runs are cached in the locked run folder ``<out>.partial/``, so a rerun of the same command resumes).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rrlib.grid.committed import REPO_ROOT
from rrlib.jsonable import to_jsonable
from rrlib.mi.bmi_scoring import FAIL_FRACTION, WITHIN_LN_RATIO, samples_needed, score_cell
from rrlib.mi.bmi_tasks import TASKS, get_task
from rrlib.mi.bounds import BOUND_NAMES
from rrlib.mi.external import SampleOptions, check_sizes, estimate_from_arrays
from rrlib.paper import PAPER_MI_RANGE
from rrlib.runtime import DEVICE_CHOICES, atomic_write_text, progress, select_device

__all__ = ["MEDIUM_SIZE_TASKS", "PAPER_REGIME_NATS", "PROFILES", "QUICK_TASKS", "RESULT_PATH", "ScoreboardConfig",
           "ScoreboardResult", "load_result", "main", "run", "run_key"]

#: The paper's (Zhu, Zhang, Evans, ICML 2020) Figures 2-3 measure MI of 0-1.74 nats; a task with true MI at most
#: this many nats is in the paper's regime. (All 40 bmi tasks are: their true MI is 0.18-1.71 nats.)
PAPER_REGIME_NATS = PAPER_MI_RANGE[1]

#: The quick profile's tasks: the 1 x 1 normal, a transform of it, the 1 x 1 Student-t, a dense and a 2-pair 5 x 5
#: Gaussian.
QUICK_TASKS = ("1v1-normal-0.75", "half_cube-1v1-normal-0.75", "student-identity-1-1-1",
               "multinormal-dense-5-5-0.5", "multinormal-sparse-5-5-2-2.0")

#: The tasks whose runs at several sample sizes give "samples needed" (medium and full): 1 x 1 normal and
#: Student-t, dense 5 x 5 and 25 x 25 Gaussians, the 2-pair 5 x 5 Gaussian and its half-cube transform.
MEDIUM_SIZE_TASKS = ("1v1-normal-0.75", "student-identity-1-1-1", "multinormal-dense-5-5-0.5",
                     "multinormal-dense-25-25-0.5", "multinormal-sparse-5-5-2-2.0",
                     "half_cube-multinormal-sparse-5-5-2-2.0")

#: The committed medium run (its command is in the module docstring).
RESULT_PATH = REPO_ROOT / "results" / "bmi_scoreboard_medium.json"

#: The profiles :func:`main` accepts.
PROFILES = ("quick", "medium", "full")

#: bmi's benchmark sample size (``workflows/benchmark/v1/config.py``: ``N_SAMPLES = [5_000]``).
BMI_N = 5_000
#: bmi's neural estimators' step budget (``_DEFAULT_N_STEPS`` in ``src/bmi/estimators/neural/_estimators.py``).
BMI_STEPS = 10_000
#: The extra sample sizes of medium and full (for "samples needed").
MEDIUM_SIZES = (1_000, 2_500, 10_000)


def _names(values: Sequence[Any], valid: Sequence[str], what: str) -> None:
    if isinstance(values, str) or not isinstance(values, tuple) or not values:
        raise ValueError(f"{what} must be a non-empty tuple of names, got {values!r}; valid choices: "
                         f"{', '.join(valid)}")
    for value in values:
        if value not in valid:
            raise ValueError(f"{what}: unknown name {value!r}; valid choices: {', '.join(valid)}")
    if len(set(values)) != len(values):
        raise ValueError(f"{what} {values!r}: a name appears twice")


def _count(value: Any, what: str, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{what} {value!r}: must be an integer >= {low}")


@dataclass(frozen=True)
class ScoreboardConfig:
    """Which runs make the scoreboard (see the module docstring).

    Attributes:
        tasks: bmi task ids (:data:`rrlib.mi.bmi_tasks.TASKS`), shown in bmi's order.
        bounds: names in :data:`rrlib.mi.bounds.BOUND_NAMES` ("dv" is the paper's).
        seeds: one run per seed (it seeds the sample and the estimator).
        n: the main sample size: the scoreboard's cells.
        size_tasks: tasks (among ``tasks``) also run at ``sizes``, for "samples needed".
        sizes: the further sample sizes of ``size_tasks``.
        steps: the step budget of every run (early stopping usually ends it sooner).
        device: where the critics train (:func:`rrlib.runtime.select_device`).
    """

    tasks: tuple[str, ...] = QUICK_TASKS
    bounds: tuple[str, ...] = ("dv", "infonce", "nwj")
    seeds: tuple[int, ...] = (0, 1)
    n: int = 2_000
    size_tasks: tuple[str, ...] = ("1v1-normal-0.75",)
    sizes: tuple[int, ...] = (1_000, 4_000)
    steps: int = 500
    device: str = "auto"

    def __post_init__(self) -> None:
        _names(self.tasks, tuple(TASKS), "tasks")
        _names(self.bounds, BOUND_NAMES, "bounds")
        if not isinstance(self.seeds, tuple) or not self.seeds:
            raise ValueError(f"seeds must be a non-empty tuple of integers >= 0, got {self.seeds!r}")
        for seed in self.seeds:
            _count(seed, "seeds: seed", 0)
        if len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"seeds {self.seeds!r}: a seed appears twice")
        _count(self.steps, "steps", 1)
        if not isinstance(self.size_tasks, tuple) or isinstance(self.size_tasks, str):
            raise ValueError(f"size_tasks must be a tuple of task ids, got {self.size_tasks!r}")
        for task in self.size_tasks:
            if task not in self.tasks:
                raise ValueError(f"size_tasks: {task!r} is not among the tasks; valid choices: "
                                 f"{', '.join(self.tasks)}")
        if not isinstance(self.sizes, tuple):
            raise ValueError(f"sizes must be a tuple of sample sizes, got {self.sizes!r}")
        for what, value in [("n", self.n)] + [("sizes: size", s) for s in self.sizes]:
            _count(value, what, 1)
            try:
                check_sizes(value, SampleOptions())
            except ValueError as err:
                raise ValueError(f"{what} {value!r}: too small for bmi's batch of 256 ({err})") from None
        if self.n in self.sizes or len(set(self.sizes)) != len(self.sizes):
            raise ValueError(f"sizes {self.sizes!r}: sizes must differ from each other and from n = {self.n}")
        if self.size_tasks and not self.sizes:
            raise ValueError(f"size_tasks {self.size_tasks!r} need at least one further size in sizes")
        try:
            select_device(self.device)
        except (ValueError, RuntimeError, TypeError) as err:
            raise ValueError(f"device {self.device!r}: {err}; valid choices: {', '.join(DEVICE_CHOICES)}") from None

    @property
    def seed(self) -> int:
        """The first seed (the profiles' ``seed`` argument)."""
        return self.seeds[0]

    def sizes_of(self, task: str) -> tuple[int, ...]:
        """The sample sizes ``task`` is run at, ascending."""
        return tuple(sorted({self.n, *self.sizes})) if task in self.size_tasks else (self.n,)

    def runs(self) -> list[tuple[str, str, int, int]]:
        """Every run ``(task, bound, n, seed)`` in the order :func:`run` does them."""
        return [(task, bound, n, seed) for task in self.tasks for n in self.sizes_of(task)
                for bound in self.bounds for seed in self.seeds]

    @property
    def n_runs(self) -> int:
        """How many runs the configuration makes (``len(self.runs())``)."""
        return sum(len(self.sizes_of(t)) for t in self.tasks) * len(self.bounds) * len(self.seeds)

    @classmethod
    def quick(cls, seed: int = 0, device: str = "auto") -> ScoreboardConfig:
        """5 tasks x DV, InfoNCE, NWJ x 2 seeds at ``n`` = 2,000, at most 500 steps, and ``n`` in {1,000, 4,000} on
        the 1 x 1 normal: 42 runs, 101 s measured on one CPU thread (see the module docstring)."""
        return cls(seeds=(seed, seed + 1), device=device)

    @classmethod
    def medium(cls, seed: int = 0, device: str = "auto") -> ScoreboardConfig:
        """All 40 tasks x all 6 bounds x 3 seeds at bmi's ``n`` = 5,000 and 10,000-step budget, plus ``n`` in
        {1,000, 2,500, 10,000} on 6 tasks: 1,044 runs, about 1.4 h on one CPU thread (projected from twelve timed
        runs; see the module docstring)."""
        return cls(tasks=tuple(TASKS), bounds=BOUND_NAMES, seeds=tuple(range(seed, seed + 3)), n=BMI_N,
                   size_tasks=MEDIUM_SIZE_TASKS, sizes=MEDIUM_SIZES, steps=BMI_STEPS, device=device)

    @classmethod
    def full(cls, seed: int = 0, device: str = "auto") -> ScoreboardConfig:
        """bmi's protocol: 40 tasks x 10 seeds x all 6 bounds at ``n`` = 5,000 with 10,000 steps, plus the medium
        profile's sizes on its 6 tasks: 3,480 runs, about 4.8 h on one CPU thread (projected)."""
        return cls(tasks=tuple(TASKS), bounds=BOUND_NAMES, seeds=tuple(range(seed, seed + 10)), n=BMI_N,
                   size_tasks=MEDIUM_SIZE_TASKS, sizes=MEDIUM_SIZES, steps=BMI_STEPS, device=device)


def _finite(value: float) -> float | None:
    """``value``, or ``None`` where it is not finite (JSON has no NaN)."""
    return float(value) if math.isfinite(value) else None


def _options(config: ScoreboardConfig, bound: str, seed: int) -> SampleOptions:
    return SampleOptions(bound=bound, seed=seed, steps=config.steps, device=config.device)


def run_key(config: ScoreboardConfig, task: str, bound: str, n: int, seed: int) -> str:
    """The cache file name of a run: its coordinates and a hash of everything that determines its numbers (the
    estimator's options but the thread count, and the device type the run resolves to)."""
    options = asdict(_options(config, bound, seed))
    options.pop("threads")
    options["device"] = select_device(config.device).type
    digest = hashlib.sha256(json.dumps({"task": task, "n": n, "options": options}, sort_keys=True).encode())
    return f"{task}__{bound}__n{n}__seed{seed}__{digest.hexdigest()[:12]}.json"


def _one_run(config: ScoreboardConfig, task_id: str, bound: str, n: int, seed: int) -> dict[str, Any]:
    task = get_task(task_id)
    x, y = task.sample(n, seed)
    start = time.perf_counter()
    estimate = estimate_from_arrays(x, y, _options(config, bound, seed))
    seconds = time.perf_counter() - start
    return {"task": task_id, "bound": bound, "n": n, "seed": seed, "estimate": _finite(estimate.value),
            "steps": int(estimate.steps), "seconds": seconds, "diverged": bool(estimate.diverged),
            "device": select_device(config.device).type}


def _cached(path: Path | None) -> dict[str, Any] | None:
    if path is None or not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):  # unreadable: rerun and overwrite
        return None


@dataclass
class ScoreboardResult:
    """Every run's record (``task``, ``bound``, ``n``, ``seed``, ``estimate`` in nats or ``None`` when the run
    diverged, ``steps``, ``seconds``, ``diverged``, ``device``); :meth:`metrics` scores them."""

    config: ScoreboardConfig
    records: list[dict[str, Any]]

    def _estimates(self, task: str, bound: str, n: int) -> list[float]:
        return [math.nan if r["estimate"] is None else r["estimate"] for r in self.records
                if (r["task"], r["bound"], r["n"]) == (task, bound, n)]

    def metrics(self) -> dict[str, Any]:
        """Plain JSON (nats):

        * ``tasks``: per task id, ``name``, ``true_mi``, ``dim_x``, ``dim_y`` and ``paper_regime`` (true MI
          <= :data:`PAPER_REGIME_NATS`);
        * ``scores``: ``[task][bound]`` at the main ``n``: ``n_runs``, ``n_failed``, ``mean_estimate``,
          ``ln_ratio`` (bmi's), ``ln_ratio_of_mean``, ``within`` (:class:`rrlib.mi.bmi_scoring.CellScore`; ``None``
          for a value that does not exist, e.g. every run failed);
        * ``samples_needed``: ``[task][bound]`` for the tasks run at several sizes: ``sizes``, ``ln_ratio_by_n``,
          ``n_failed_by_n`` (keys: the sizes as strings) and ``needed`` (a size, or ``None``: not within a factor
          1.5 at the largest size);
        * ``runs``: every run's record; ``timing``: ``runs``, ``total_steps``, ``total_seconds`` (summed over the
          runs), ``seconds_per_run`` and ``seconds_per_1000_steps``;
        * ``rules``: bmi's thresholds; ``main_n``, ``units`` and the ``config``.
        """
        config = self.config
        tasks = {}
        for task_id in config.tasks:
            task = get_task(task_id)
            tasks[task_id] = {"name": task.task_name, "true_mi": task.mutual_information, "dim_x": task.dim_x,
                              "dim_y": task.dim_y, "paper_regime": task.mutual_information <= PAPER_REGIME_NATS}
        scores: dict[str, dict[str, Any]] = {}
        needed: dict[str, dict[str, Any]] = {}
        for task_id in config.tasks:
            true_mi = tasks[task_id]["true_mi"]
            scores[task_id], by_size = {}, {}
            for bound in config.bounds:
                cells = {n: score_cell(self._estimates(task_id, bound, n), true_mi)
                         for n in config.sizes_of(task_id)}
                main = cells[config.n]
                scores[task_id][bound] = {
                    "n_runs": main.n_runs, "n_failed": main.n_failed, "mean_estimate": _finite(main.mean_estimate),
                    "ln_ratio": _finite(main.ln_ratio), "ln_ratio_of_mean": _finite(main.ln_ratio_of_mean),
                    "within": main.within}
                if len(cells) > 1:
                    by_size[bound] = {
                        "sizes": list(cells), "ln_ratio_by_n": {str(n): _finite(c.ln_ratio) for n, c in cells.items()},
                        "n_failed_by_n": {str(n): c.n_failed for n, c in cells.items()},
                        "needed": samples_needed({n: c.ln_ratio for n, c in cells.items()})}
            if by_size:
                needed[task_id] = by_size
        total_seconds = sum(r["seconds"] for r in self.records)
        total_steps = sum(r["steps"] for r in self.records)
        timing = {"runs": len(self.records), "total_steps": total_steps, "total_seconds": total_seconds,
                  "seconds_per_run": total_seconds / len(self.records) if self.records else None,
                  "seconds_per_1000_steps": 1000 * total_seconds / total_steps if total_steps else None}
        return to_jsonable({
            "units": "nats", "main_n": config.n, "tasks": tasks, "scores": scores, "samples_needed": needed,
            "runs": self.records, "timing": timing,
            "rules": {"fail_fraction": FAIL_FRACTION, "within_ln_ratio": WITHIN_LN_RATIO,
                      "paper_regime_nats": PAPER_REGIME_NATS},
            "config": asdict(config)})


def run(config: ScoreboardConfig, *, show_progress: bool = False, cache_dir: str | Path | None = None
        ) -> ScoreboardResult:
    """Make every run of ``config`` (:meth:`ScoreboardConfig.runs`), reloading those already in ``cache_dir``.

    With ``cache_dir`` each finished run is written there as ``<task>__<bound>__n<n>__seed<s>__<hash>.json`` (a
    temporary file moved into place with ``os.replace``); a run whose file exists is read back, not rerun, so the
    metrics of a resumed run equal those of an uninterrupted one. The hash (:func:`run_key`) covers the step
    budget, the estimator's options and the device type, so a changed configuration never reuses a stale run.
    """
    folder = None if cache_dir is None else Path(cache_dir)
    todo = config.runs()
    bar_options = {} if show_progress else {"disable": True}
    records = []
    for task_id, bound, n, seed in progress(todo, desc="bmi scoreboard", total=len(todo), **bar_options):
        path = None if folder is None else folder / run_key(config, task_id, bound, n, seed)
        record = _cached(path)
        if record is None:
            record = _one_run(config, task_id, bound, n, seed)
            if path is not None:
                atomic_write_text(path, json.dumps(record) + "\n")
        records.append(record)
    return ScoreboardResult(config, records)


# ------------------------------------------------------------------------------------------------ command line
def load_result(path: str | Path = RESULT_PATH) -> dict[str, Any] | None:
    """The committed medium run (``{"metrics", "provenance"}``), or ``None`` while it has not been made."""
    path = Path(path)
    return json.loads(path.read_text()) if path.is_file() else None


def _profile(name: str, seed: int, device: str) -> ScoreboardConfig:
    if name not in PROFILES:
        raise ValueError(f"--profile {name!r}: unknown profile; valid choices: {', '.join(PROFILES)}")
    return getattr(ScoreboardConfig, name)(seed=seed, device=device)


def main(argv: list[str] | None = None) -> int:
    """``python -m rrlib.experiments.bmi_scoreboard --profile P --out FILE``: run the profile, write its metrics and
    provenance to ``FILE`` (never over an existing one). Finished runs are cached in ``FILE.partial/``, a locked run
    folder (:func:`rrlib.train.run_folder.claim_run_folder`: a second invocation on it, or one of another
    configuration, is refused), so an interrupted invocation resumes there. Bad flags give one ``error:`` line and
    exit status 2, before any run."""
    from rrlib.console import error_line
    from rrlib.provenance import provenance
    from rrlib.train.run_folder import RunFolderError, claim_run_folder

    parser = argparse.ArgumentParser(prog="python -m rrlib.experiments.bmi_scoreboard",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", default="quick", help=f"one of {', '.join(PROFILES)} (default quick)")
    parser.add_argument("--out", required=True, help="the JSON to write (must not exist); finished runs are cached "
                                                     "in <out>.partial/")
    parser.add_argument("--seed", default="0", help="the first seed (default 0)")
    parser.add_argument("--device", default="cpu", help=f"one of {', '.join(DEVICE_CHOICES)} (default cpu)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def one_line_error(message: str) -> None:
        raise SystemExit(error_line(ValueError(message)))

    parser.error = one_line_error  # type: ignore[method-assign]
    args = parser.parse_args(argv)
    out = Path(args.out)
    try:
        try:
            seed = int(args.seed)
        except ValueError:
            raise ValueError(f"--seed {args.seed!r}: must be an integer >= 0") from None
        config = _profile(args.profile, seed, args.device)
        if out.exists():
            raise ValueError(f"--out {out} exists: finished results are never overwritten; move it away or give "
                             "another --out")
        start = time.perf_counter()
        with claim_run_folder(out.with_name(out.name + ".partial"), "bmi-scoreboard", config) as folder:
            folder.accept()
            result = run(config, show_progress=not args.no_progress, cache_dir=folder.path)
    except (ValueError, RunFolderError) as err:
        return error_line(err)
    metrics = result.metrics()
    prov = provenance(config, total_seconds=time.perf_counter() - start, device=select_device(config.device))
    prov["note"] = ("wall_seconds_total counts this invocation only; every run's own seconds are in runs[].seconds "
                    "(runs reloaded from the .partial cache keep the seconds of the invocation that made them)")
    atomic_write_text(out, json.dumps({"metrics": metrics, "provenance": prov}, indent=1) + "\n")
    timing = metrics["timing"]
    print(f"wrote {out}: {timing['runs']} runs, {timing['total_seconds']:.0f} s in runs "
          f"({timing['seconds_per_1000_steps']:.2f} s per 1,000 steps)")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
