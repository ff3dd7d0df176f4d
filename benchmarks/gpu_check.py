"""The prepared GPU check: everything a lent GPU should run, in one call, inside a time budget it enforces itself.

A GPU is lent now and then, by chance, for 15 minutes of device time in all, on a bare machine (Python 3.12,
torch, no papermill, no data). ``make gpu-prepare`` (here) puts what it lacks into the ignored folder ``.gpu/``
(wheels, Fashion-MNIST, the commit); then one ``device`` call runs this script there (the exact call is in
``book/how_to_run.md``, "The GPU check"). Stages, in order of value; each runs in its own process with a deadline
taken from the remaining budget (later stages keep a floor), and the results file is rewritten after every stage,
so a stage that hangs or crashes loses only itself:

1. ``environment`` — torch, CUDA, the card, the commit;
2. ``cuda_tests`` — ``pytest -m cuda`` (every test that needs a GPU, skipped in CI);
3. ``consistency`` — every experiment's smoke-shrunk full configuration (:mod:`rrlib.smoke`) end to end on the
   device and on the CPU, on tiny datasets in their true on-disk formats, metrics compared leaf by leaf;
4. ``chapter`` — one chapter executed by papermill through :func:`rrlib.book.run_chapters` on the device;
5. ``ddp`` — ``torchrun --nproc_per_node 1`` with ``RRBOOK_DISTRIBUTED=1`` on one training cell (NCCL on a GPU,
   Gloo on the CPU) against the same cell in a plain process;
6. ``benchmarks`` — the staircase sequential vs ``--batched-critics``; encoder steps (normal and worst-case) at
   the paper's widths (encoder 1, critic 2048, batch 128) in fp32, TF32 and bf16 autocast; PGD overhead over bare
   passes; AutoAttack on 1,000 Fashion-MNIST test images;
7. ``projection`` — every distinct step of the ``full`` profile timed on the device (:mod:`rrlib.projection`),
   and from those times the wall time of every chapter and of each cell of Tables 1, 3, 4 and 5 (1 trial and 4).

Writes into ``--out`` (``$OUT`` on the lent machine; at most 8 files come back): ``gpu_check.log`` (everything
printed), ``gpu_check.json`` (every stage's status, seconds and results) and ``projection.md``. Exit status 0 when
every stage finished ``ok``, 3 otherwise (the JSON says which and why).

The CPU dry run, ``--device cpu --tiny`` (``tests/test_gpu_check.py``), runs every stage at toy sizes on this
machine's Python, so the script never rots between loans::

    python benchmarks/gpu_check.py --device cpu --tiny --out /tmp/gpu-check --budget-s 300
    python3 benchmarks/gpu_check.py --out "$OUT"          # on the lent GPU (defaults: cuda, 540 s)
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import math
import os
import platform
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if __package__ in (None, ""):  # run as a script: make the repository and the tests' writers importable
    sys.path.insert(0, str(ROOT))

#: Stages in order of value, with the seconds each may take on the GPU (``cap``) and the least it is guaranteed
#: when earlier stages overrun (``floor``). The caps sum to about the default budget.
STAGES: dict[str, tuple[float, float]] = {
    "environment": (20, 10),
    "cuda_tests": (50, 30),
    "consistency": (150, 60),
    "chapter": (70, 40),
    "ddp": (40, 20),
    "benchmarks": (90, 45),
    "projection": (110, 60),
}
#: Keys whose values legitimately differ between runs or devices (timings, the device's own name, paths).
#: Matched against the last key of a path, and against the whole path (``cost.ratio`` is a ratio of wall times).
VOLATILE = re.compile(r"(second|wall|time|_s$|^s$|elapsed|device|path|root|finished_at|machine|cache|out_root|"
                      r"^cost\.ratio$)")
#: Experiments of the consistency stage at ``--tiny`` (CPU dry run): the cheapest NumPy and torch ones.
TINY_EXPERIMENTS = ("theorem_3_4", "robust_encoders")
DEFAULT_CHAPTER, TINY_CHAPTER = "07_robust_encoders", "03_theorem_3_4"
EXIT_INCOMPLETE = 3
#: Seconds of the whole check by default: inside one 600 s ``device`` call with the pip install before it.
STAGE_BUDGET_DEFAULT = 540.0
#: The one ``device`` call that runs the check on a lent GPU, after ``make gpu-prepare`` here (book/how_to_run.md
#: shows it; tests/test_gpu_check.py holds the page to it and to the tool's limits: 2,000 characters, 8 carried
#: paths, 600 s). The budget leaves the pip install and the start-up inside the call's 600 s.
DEVICE_CALL = {
    "command": "python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site "
               ".gpu/wheels/*.whl && export PYTHONPATH=/tmp/site RRBOOK_DATA=$PWD/.gpu/data && "
               "python3 benchmarks/gpu_check.py --out $OUT --budget-s 540",
    "carry": [".gpu"],
    "timeout_s": 600,
}


# ------------------------------------------------------------------------------------------------ comparing
def compare_metrics(a: Any, b: Any, path: str = "") -> dict[str, Any]:
    """Leaf-by-leaf comparison of two metric trees (plain JSON) from two devices.

    Structure (keys, list lengths, leaf types) and non-float leaves must be equal, except keys matching
    :data:`VOLATILE`; float leaves are compared by absolute and relative difference. Returns ``structure_equal``,
    ``mismatches`` (paths with unequal structure or non-float values), ``n_floats``, ``n_equal`` (bit-identical
    floats), ``max_abs``, ``max_rel`` (relative to ``max(|a|, |b|, 1e-12)``) and the five ``largest`` relative
    differences with their paths.
    """
    out: dict[str, Any] = {"mismatches": [], "n_floats": 0, "n_equal": 0, "max_abs": 0.0, "max_rel": 0.0,
                           "largest": []}
    _walk(a, b, path, out)
    out["largest"] = sorted(out["largest"], key=lambda r: -r[1])[:5]
    out["structure_equal"] = not out["mismatches"]
    out["mismatches"] = out["mismatches"][:20]
    return out


def _walk(a: Any, b: Any, path: str, out: dict[str, Any]) -> None:
    key = path.rsplit(".", 1)[-1]
    if VOLATILE.search(key) or VOLATILE.search(path):
        return
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            out["mismatches"].append(f"{path or '<root>'}: keys differ {sorted(set(a) ^ set(b))[:5]}")
        for k in sorted(set(a) & set(b)):
            _walk(a[k], b[k], f"{path}.{k}" if path else str(k), out)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            out["mismatches"].append(f"{path}: lengths {len(a)} vs {len(b)}")
        for i, (x, y) in enumerate(zip(a, b, strict=False)):
            _walk(x, y, f"{path}[{i}]", out)
    elif isinstance(a, float) and isinstance(b, (int, float)) and not isinstance(b, bool):
        out["n_floats"] += 1
        if a == b or (math.isnan(a) and math.isnan(b)):
            out["n_equal"] += 1
            return
        diff = abs(a - b)
        rel = diff / max(abs(a), abs(b), 1e-12)
        out["max_abs"], out["max_rel"] = max(out["max_abs"], diff), max(out["max_rel"], rel)
        out["largest"].append((path, rel, a, b))
    elif a != b:
        out["mismatches"].append(f"{path}: {a!r:.40} vs {b!r:.40}")


# ------------------------------------------------------------------------------------------------ the stages
@dataclasses.dataclass
class Context:
    """What every stage gets: the device, toy sizes or not, a work folder, its deadline and a way to report."""

    device: str
    tiny: bool
    work: Path
    deadline: float
    result_path: Path
    partial: dict[str, Any] = dataclasses.field(default_factory=dict)

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def emit(self, **values: Any) -> None:
        """Record partial results now (atomically), so that a stage killed at its deadline keeps them."""
        self.partial.update(values)
        tmp = self.result_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(_plain(self.partial), indent=1, allow_nan=False))
        os.replace(tmp, self.result_path)


def _finite_or_none(value: Any) -> Any:
    """``value`` as plain JSON with every NaN or infinity (a failed measurement) as ``null`` and anything else that is
    not JSON as its ``str``; strings are kept as they are, even ones that contain "NaN"."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _finite_or_none(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite_or_none(v) for v in value]
    if value is None or isinstance(value, (bool, int, str)):
        return value
    return str(value)


def _plain(value: Any) -> Any:
    """A stage's record as plain JSON (:func:`rrlib.jsonable.to_jsonable` where it can, then
    :func:`_finite_or_none`), so that one odd value never loses the record."""
    from rrlib.jsonable import to_jsonable

    try:
        value = to_jsonable(value)
    except (TypeError, ValueError):
        pass
    return _finite_or_none(value)


def stage_environment(ctx: Context) -> None:
    import torch

    info: dict[str, Any] = {
        "python": platform.python_version(), "platform": platform.platform(), "cpu_count": os.cpu_count(),
        "torch": torch.__version__, "torch_cuda": torch.version.cuda, "cuda_available": torch.cuda.is_available(),
        "tf32_matmul_default": torch.backends.cuda.matmul.allow_tf32,
        "tf32_cudnn_default": torch.backends.cudnn.allow_tf32,
    }
    commit = ROOT / ".gpu" / "COMMIT"
    info["commit"] = commit.read_text().strip() if commit.exists() else _git_commit()
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        info.update(gpu=props.name, capability=f"{props.major}.{props.minor}",
                    gpu_memory_gib=props.total_memory / 2**30, multiprocessors=props.multi_processor_count,
                    cudnn=torch.backends.cudnn.version())
        smi = _run(["nvidia-smi", "--query-gpu=name,driver_version,clocks.sm,power.limit",
                    "--format=csv,noheader"], 20)
        info["nvidia_smi"] = smi.stdout.strip() if smi.returncode == 0 else smi.stderr.strip()[:200]
    ctx.emit(**info)


def _git_commit() -> str | None:
    done = _run(["git", "-C", str(ROOT), "describe", "--always", "--dirty"], 10)
    return done.stdout.strip() if done.returncode == 0 else None


def stage_cuda_tests(ctx: Context) -> None:
    files = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tests").glob("test_*.py")
                   if "pytest.mark.cuda" in p.read_text())
    ctx.emit(files=files)
    done = _run([sys.executable, "-m", "pytest", "-q", "-m", "cuda", "-p", "no:cacheprovider", "-rfEs",
                 "--timeout", str(max(10, int(ctx.remaining() - 5))), *files], max(5.0, ctx.remaining() - 2),
                cwd=ROOT)
    print(done.stdout[-6000:], done.stderr[-2000:], sep="\n")
    counts = {k: int(n) for n, k in re.findall(r"(\d+) (passed|failed|skipped|error|errors|deselected)", done.stdout)}
    failures = [line for line in done.stdout.splitlines() if line.startswith(("FAILED", "ERROR"))]
    ctx.emit(returncode=done.returncode, counts=counts, failures=failures[:20])
    if done.returncode not in (0, 5) or counts.get("failed") or counts.get("error") or counts.get("errors"):
        raise RuntimeError(f"pytest -m cuda: {counts or done.returncode}")


#: Keyword arguments of an experiment's ``run`` besides its configuration (``{cache}``: the leg's own cache folder).
RUN_OPTIONS = {"mine": {"show_progress": False}, "robust_encoders": {"cache_root": "{cache}"},
               "vulnerability": {"cache_root": "{cache}", "show_progress": False}}


def _experiments(tiny: bool) -> dict[str, Callable[[str, Path], dict]]:
    """Runners of every experiment's smoke-shrunk full configuration (:func:`rrlib.smoke.full_configs`) on a
    device: name -> f(device, folder). Chapter 09 reads weights exported from a smoke-sized Table 4 run."""
    import importlib

    from rrlib.experiments import downstream_tables
    from rrlib.smoke import full_configs, smoke

    def runner(name: str) -> Callable[[str, Path], dict]:
        def go(device: str, folder: Path) -> dict:
            config = smoke(full_configs(0, device)[name])
            if name.startswith("downstream_tables"):
                return downstream_tables.run(dataclasses.replace(config, out_root=str(folder / "tables"))).metrics()
            if name == "contrastive_comparison":  # chapter 11's grid, in the leg's own folder like the tables'
                config = dataclasses.replace(config, tables=dataclasses.replace(
                    config.tables, out_root=str(folder / "comparison")))
            if name == "saliency_maps":
                tables = smoke(full_configs(0, device)["downstream_tables[fashion-mnist]"])
                downstream_tables.run(dataclasses.replace(tables, out_root=str(folder / "tables")))
                downstream_tables.export_weights(tables, folder / "tables", folder / "weights", seed=tables.seed)
                config = dataclasses.replace(config, weights=str(folder / "weights"))
            options = {k: folder / "cache" if v == "{cache}" else v for k, v in RUN_OPTIONS.get(name, {}).items()}
            return importlib.import_module(f"rrlib.experiments.{name}").run(config, **options).metrics()
        return go

    names = list(full_configs(0, "cpu"))
    names.append(names.pop(names.index("vulnerability")))  # the slowest last: the others finish inside the budget
    return {name: runner(name) for name in (TINY_EXPERIMENTS if tiny else names)}


@contextlib.contextmanager
def _tiny_datasets(folder: Path) -> Iterator[Path]:
    """Tiny MNIST, Fashion-MNIST, CIFAR-10 and SVHN in their true on-disk formats (the smoke tests' writers),
    read by torchvision's own classes: ``RRBOOK_DATA`` points there for the block."""
    sys.path.insert(0, str(ROOT / "tests"))
    from _tiny_formats import honest_classes, write_all

    from rrlib.data import DATASETS

    root = write_all(folder, 30, 8)
    saved = {k: DATASETS[k] for k in DATASETS}
    before = os.environ.get("RRBOOK_DATA")
    os.environ["RRBOOK_DATA"] = str(root)
    for key, cls in honest_classes(root).items():
        DATASETS[key] = dataclasses.replace(DATASETS[key], torchvision_class=cls)
    try:
        yield root
    finally:
        DATASETS.update(saved)
        if before is None:
            os.environ.pop("RRBOOK_DATA", None)
        else:
            os.environ["RRBOOK_DATA"] = before


def run_leg(device: str, tiny: bool, folder: Path, deadline: float) -> None:
    """Every experiment of the consistency stage on ``device``, in order; each one's metrics (or its error) written
    to ``folder/<name>.json`` as soon as it ends, so that the other leg can be compared with what finished."""
    import torch

    folder.mkdir(parents=True, exist_ok=True)
    with _tiny_datasets(folder / "data"):
        for name, runner in _experiments(tiny).items():
            if deadline - time.monotonic() < 3:
                break
            work = folder / re.sub(r"\W", "_", name)
            os.environ["RRBOOK_CACHE"] = str(work / "cache")  # a fresh cache: nothing is reloaded
            torch.manual_seed(0)
            start = time.perf_counter()
            try:
                record = {"metrics": _plain(runner(device, work))}
            except Exception as error:  # recorded, and the next experiment still runs
                record = {"error": f"{type(error).__name__}: {str(error)[:300]}"}
            record["seconds"] = round(time.perf_counter() - start, 2)
            (folder / f"{name}.json").write_text(json.dumps(record, allow_nan=False))
            print(f"  {device} leg: {name} in {record['seconds']} s{' (error)' if 'error' in record else ''}",
                  flush=True)


def stage_consistency(ctx: Context) -> None:
    """Each experiment on the device and on the CPU, in two processes at once, each in a fresh cache; metrics
    compared leaf by leaf (:func:`compare_metrics`).

    NumPy-only chapters ignore the device and must agree bit for bit; torch chapters agree to rounding where
    nothing random is drawn on the device, and are reported as measured otherwise (training magnifies
    summation-order differences: that is a number to read, not a failure). The CPU dry run runs the CPU twice, so
    the comparison checks the comparator and the determinism of every experiment."""
    cpu_folder, device_folder = ctx.work / "leg-cpu", ctx.work / f"leg-{ctx.device}"
    cmd = [sys.executable, str(Path(__file__).resolve()), "--leg", "cpu", "--work", str(cpu_folder),
           "--stage-seconds", str(max(1.0, ctx.remaining() - 3)), *(["--tiny"] if ctx.tiny else [])]
    with open(ctx.work / "leg-cpu.log", "w") as log:
        cpu = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True)
        try:
            run_leg(ctx.device, ctx.tiny, device_folder, ctx.deadline - 3)
            cpu.wait(timeout=max(1.0, ctx.remaining() - 2))
        except subprocess.TimeoutExpired:
            pass
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(cpu.pid, signal.SIGKILL)
    print((ctx.work / "leg-cpu.log").read_text()[-3000:], flush=True)
    rows: dict[str, Any] = {}
    for name in _experiments(ctx.tiny):
        legs = [json.loads(p.read_text()) if p.exists() else None
                for p in (device_folder / f"{name}.json", cpu_folder / f"{name}.json")]
        row: dict[str, Any] = {f"seconds_{leg}": r.get("seconds") for leg, r in zip((ctx.device, "cpu"), legs,
                                                                                    strict=True) if r}
        errors = {leg: r["error"] for leg, r in zip((ctx.device, "cpu"), legs, strict=True) if r and "error" in r}
        if errors:
            row.update(status="failed", errors=errors)
        elif None in legs:
            row["status"] = "not run: out of time"
        else:
            row["comparison"] = compare_metrics(legs[0]["metrics"], legs[1]["metrics"])
            row["status"] = "ok" if row["comparison"]["structure_equal"] else "failed"
        rows[name] = row
        comparison = row.get("comparison", {})
        print(f"consistency {name}: {row['status']}, {comparison.get('n_equal')} of {comparison.get('n_floats')} "
              f"floats identical, max rel {comparison.get('max_rel')}", flush=True)
    ctx.emit(experiments=rows)
    failed = [k for k, v in rows.items() if v.get("status") != "ok"]
    if failed:
        raise RuntimeError(f"consistency failed or incomplete for {failed}")


def stage_chapter(ctx: Context, chapter: str) -> None:
    from rrlib.book import load_metrics, run_chapters

    start = time.perf_counter()
    runs = run_chapters("quick", only=[chapter], seed=0, device=ctx.device, output_dir=ctx.work / "executed",
                        metrics_directory=ctx.work / "metrics", log=lambda *a, **k: print(*a, flush=True))
    metrics = load_metrics(chapter, ctx.work / "metrics")
    ctx.emit(chapter=chapter, device=ctx.device, wall_s=round(time.perf_counter() - start, 2),
             chapter_wall_s=runs[0].wall_s, metrics=metrics)


def stage_ddp(ctx: Context) -> None:
    """One training cell (a DIM encoder) under ``torchrun --nproc_per_node 1`` in a process group of one (NCCL on
    a GPU, Gloo on the CPU) and in a plain process: the same steps, so the same DV history up to rounding (an
    all-reduce over one rank is the identity). The ``normal`` loss draws no random numbers during training; a
    worst-case cell would not compare number for number, because a distributed run reseeds torch's generator
    every step (:func:`rrlib.distributed.seed_step`) and PGD's random start then differs from a plain run's."""
    sys.path.insert(0, str(ROOT / "tests"))
    from _tiny_fmnist import write_fmnist

    data = write_fmnist(ctx.work / "ddp-data", 64, 32)
    args = ["train-encoder", "--dataset", "fashion-mnist", "--estimator-loss", "normal", "--epochs", "2",
            "--train-subset", "64", "--width", "0.125", "--critic-hidden", "16", "--batch-size", "16", "--lr", "1e-3",
            "--device", ctx.device, "--no-progress", "--data-root", str(data)]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "RRBOOK_DISTRIBUTED": "1",
           "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    launcher = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "1", "--master_port", str(port)]
    group = _run([*launcher, "-m", "rrlib.cli", *args, "--out", str(ctx.work / "ddp-group")],
                 max(5.0, ctx.remaining() / 2), cwd=ROOT, env=env)
    print(group.stderr[-3000:], flush=True)
    backend = re.search(r"rrlib\.distributed: (\d+) process\(es\), backend (\w+)", group.stderr)
    ctx.emit(returncode=group.returncode, backend=backend.group(2) if backend else None,
             world_size=int(backend.group(1)) if backend else None)
    if group.returncode != 0 or not backend:
        raise RuntimeError(f"torchrun --nproc_per_node 1 failed (rc {group.returncode}): {group.stderr[-500:]}")
    plain_env = {k: v for k, v in env.items() if k != "RRBOOK_DISTRIBUTED"}
    plain = _run([sys.executable, "-m", "rrlib.cli", *args, "--out", str(ctx.work / "ddp-plain")],
                 max(5.0, ctx.remaining() - 1), cwd=ROOT, env=plain_env)
    if plain.returncode != 0:
        raise RuntimeError(f"the plain run failed: {plain.stderr[-500:]}")
    import torch

    one = torch.load(ctx.work / "ddp-group" / "checkpoint.pt", weights_only=True, map_location="cpu")
    two = torch.load(ctx.work / "ddp-plain" / "checkpoint.pt", weights_only=True, map_location="cpu")
    h1, h2 = [r["train_dv"] for r in one["history"]], [r["train_dv"] for r in two["history"]]
    # T steps of a batch of B: float32 sums reordered, at most T·B·u relative (as tests/test_distributed.py)
    steps, batch = 2 * 64 // 16, 16
    tolerance = steps * batch * 2.0 ** -24 * max(1.0, *map(abs, h2))
    worst = max(abs(a - b) for a, b in zip(h1, h2, strict=True))
    ctx.emit(train_dv_group=h1, train_dv_plain=h2, max_abs_train_dv=worst, tolerance=tolerance)
    if worst > tolerance:
        raise RuntimeError(f"a one-process group differs from a plain run by {worst:.2e} > T·B·u = {tolerance:.2e}")


def stage_benchmarks(ctx: Context) -> None:
    import importlib.util

    def load(name: str):
        spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "benchmarks" / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    tiny = ctx.tiny
    # 1. the staircase: every estimator one after another, then stacked into one network
    staircase = load("mi_staircase")
    rows = {}
    for label, extra in (("sequential", []), ("batched", ["--batched-critics"])):
        path = ctx.work / f"staircase_{label}.json"
        staircase.main(["--device", ctx.device, "--estimators", "dv,nwj,infonce,js,smile,mine", "--critics",
                        "separable,concat", "--steps-per-level", "4" if tiny else "200", "--quiet",
                        "--threads", "0", "--json", str(path), *extra])
        runs = json.loads(path.read_text())["runs"]
        rows[label] = {"wall_s": sum(r["wall_s"] for r in runs), "steps": sum(r["steps"] for r in runs)}
    rows["batched_speedup"] = rows["sequential"]["wall_s"] / rows["batched"]["wall_s"]
    ctx.emit(staircase=rows)
    # 2. encoder and head steps at the paper's widths, fp32 / TF32 / bf16 autocast
    throughput = load("encoder_throughput")
    width, critic, batch = ("0.125", "16", "8") if tiny else ("1.0", "2048", "128")
    encoder: dict[str, Any] = {}
    for precision in ("fp32", "tf32", "bf16"):
        try:
            out = throughput.main(["--device", ctx.device, "--width", width, "--critic-hidden", critic,
                                   "--batch-size", batch, "--repeats", "2" if tiny else "5", "--aa-images", "0",
                                   "--threads", "0", "--precision", precision, "--no-save"])
            encoder[precision] = {"encoder": out["encoder"], "head": out["head"]}
        except Exception as error:  # bf16 may not be allowed by the code: that is a finding, recorded
            encoder[precision] = {"error": f"{type(error).__name__}: {str(error)[:300]}"}
        ctx.emit(steps=encoder)
    # 3. PGD overhead over bare forward+backward passes
    overhead = load("attack_overhead")
    ctx.emit(pgd_overhead=overhead.main(["--device", ctx.device, "--repeats", "2" if tiny else "7", "--quick",
                                         "--no-save"]))
    # 4. AutoAttack (torchattacks' standard version) on Fashion-MNIST test images
    try:
        out = throughput.main(["--device", ctx.device, "--width", width, "--critic-hidden", critic, "--batch-size",
                               batch, "--repeats", "1", "--aa-images", "20" if tiny else "1000", "--threads", "0",
                               "--no-save"])
        ctx.emit(autoattack=out.get("autoattack") or out.get("autoattack_skipped"))
    except FileNotFoundError as error:  # no Fashion-MNIST here: say so
        ctx.emit(autoattack=f"not run: {str(error).splitlines()[0]}")


#: Chapters whose units the projection times first (the table cells are what a reader plans a GPU around);
#: the NumPy chapters' whole-run units (``cpu_chapter``, the CPU whatever the device) come last.
PROJECTION_ORDER = ("08_downstream", "07_robust_encoders", "04_mine", "05_worst_case_mi", "06_vulnerability",
                    "09_saliency")


def projection_units(items: list[Any], tiny: bool) -> list[Any]:
    """The distinct units of ``items`` in the order they are timed; ``tiny``: one unit of each kind."""
    def rank(item: Any) -> tuple[int, int]:
        first = next((i for i, c in enumerate(PROJECTION_ORDER) if item.chapter.startswith(c)), len(PROJECTION_ORDER))
        return (item.unit.kind == "cpu_chapter", first)

    units = list(dict.fromkeys(item.unit for item in sorted(items, key=rank)))
    if tiny:
        units = list({u.kind: u for u in reversed(units)}.values())[::-1]
    return units


def stage_projection(ctx: Context) -> None:
    import torch

    from rrlib import projection

    items = projection.full_profile_work()
    units = projection_units(items, ctx.tiny)
    ctx.emit(n_units=len(units), n_units_in_profile=len({item.unit for item in items}))
    errors: dict[Any, str] = {}
    seconds = projection.time_units(units, torch.device(ctx.device), repeats=2 if ctx.tiny else 3, shrink=ctx.tiny,
                                    deadline=ctx.deadline - 3, errors=errors)
    rows = projection.project(items, seconds)
    device = ctx.device if ctx.device == "cpu" else torch.cuda.get_device_name(0)
    text = projection.projection_markdown(rows, device + (" (tiny sizes: the numbers mean nothing)" if ctx.tiny
                                                          else ""))
    print(text, flush=True)
    ctx.emit(unit_seconds={u.label(): s for u, s in seconds.items()}, errors={u.label(): e for u, e in errors.items()},
             rows=rows, markdown=text, n_measured=len(seconds))


# ------------------------------------------------------------------------------------------------ the driver
def _run(cmd: list[str], timeout: float, **kwargs: Any) -> subprocess.CompletedProcess:
    """A subprocess with a hard deadline: its whole process group is killed at ``timeout`` seconds."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            **kwargs)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        err += f"\n[killed at its deadline, {timeout:.0f} s]"
        return subprocess.CompletedProcess(cmd, 124, out, err)
    except FileNotFoundError as error:
        return subprocess.CompletedProcess(cmd, 127, "", str(error))
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def run_stage(name: str, args: argparse.Namespace) -> int:
    """In the child process: run one stage, its results written to ``--result`` as it goes."""
    import torch

    torch.set_num_threads(_threads())
    ctx = Context(args.device, args.tiny, Path(args.work), time.monotonic() + args.stage_seconds, Path(args.result))
    ctx.work.mkdir(parents=True, exist_ok=True)
    try:
        if name == "chapter":
            stage_chapter(ctx, args.chapter or (TINY_CHAPTER if args.tiny else DEFAULT_CHAPTER))
        else:
            globals()[f"stage_{name}"](ctx)
    except Exception as error:
        import traceback

        traceback.print_exc()
        ctx.emit(error=f"{type(error).__name__}: {str(error)[:1000]}")
        return 1
    return 0


def _threads() -> int:
    """Torch threads of a stage: ``$RRBOOK_THREADS``, else half the cores (the consistency stage runs two legs)."""
    return int(os.environ.get("RRBOOK_THREADS") or max(1, (os.cpu_count() or 2) // 2))


def _floors_after(name: str, selected: list[str]) -> float:
    return sum(STAGES[n][1] for n in selected[selected.index(name) + 1:])


def _caps_from(name: str, selected: list[str]) -> float:
    return sum(STAGES[n][0] for n in selected[selected.index(name):])


def drive(args: argparse.Namespace) -> int:
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    selected = [s for s in STAGES if not args.only or s in args.only]
    scale = args.budget_s / sum(STAGES[s][0] for s in selected)
    start = time.monotonic()
    deadline = start + args.budget_s
    report: dict[str, Any] = {"device": args.device, "tiny": args.tiny, "budget_s": args.budget_s,
                              "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "stages": {}}
    log = open(out / "gpu_check.log", "a", buffering=1)  # noqa: SIM115 - held for the whole run

    def say(text: str) -> None:
        print(text, flush=True)
        log.write(text + "\n")

    with tempfile.TemporaryDirectory(prefix="gpu-check-") as tmp:
        for name in selected:
            cap = STAGES[name][0] * scale
            remaining = deadline - time.monotonic()
            # its cap plus whatever the budget holds beyond the caps still to come, never a later stage's floor
            surplus = max(0.0, remaining - _caps_from(name, selected) * scale)
            allowed = min(cap + surplus, remaining - _floors_after(name, selected) * scale)
            if allowed < 3:
                report["stages"][name] = {"status": "skipped", "reason": f"out of budget ({remaining:.0f} s left)"}
                say(f"== {name}: skipped, out of budget")
                continue
            say(f"== {name} (up to {allowed:.0f} s)")
            result_path = Path(tmp) / f"{name}.json"
            cmd = [sys.executable, str(Path(__file__).resolve()), "--stage", name, "--device", args.device,
                   "--work", str(Path(tmp) / "work"), "--result", str(result_path),
                   "--stage-seconds", str(allowed - 2), *(["--tiny"] if args.tiny else []),
                   *(["--chapter", args.chapter] if args.chapter else [])]
            t0 = time.monotonic()
            done = _run(cmd, allowed, cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1", "RRBOOK_NO_PROGRESS": "1"})
            seconds = round(time.monotonic() - t0, 2)
            log.write(done.stdout + done.stderr)
            result = json.loads(result_path.read_text()) if result_path.exists() else {}
            status = "timed_out" if done.returncode == 124 else "ok" if done.returncode == 0 else "failed"
            report["stages"][name] = {"status": status, "seconds": seconds, "result": result}
            if status != "ok":
                report["stages"][name]["stderr_tail"] = done.stderr[-2000:]
            error = f" ({result['error']})" if result.get("error") else ""
            say(f"   {name}: {status} in {seconds:.1f} s{error}")
            _write_report(out, report)
    report["wall_s"] = round(time.monotonic() - start, 2)
    _write_report(out, report)
    projection = report["stages"].get("projection", {}).get("result", {}).get("markdown")
    if projection:
        (out / "projection.md").write_text(projection)
    say(summary(report))
    log.close()
    return 0 if all(s["status"] == "ok" for s in report["stages"].values()) else EXIT_INCOMPLETE


def _write_report(out: Path, report: dict[str, Any]) -> None:
    tmp = out / ".gpu_check.json.tmp"
    tmp.write_text(json.dumps(report, indent=1, allow_nan=False) + "\n")
    os.replace(tmp, out / "gpu_check.json")


def _headline(name: str, r: dict[str, Any]) -> str:
    """A stage's headline numbers for the summary table."""
    if name == "environment":
        return f"{r.get('gpu', 'no GPU')}, torch {r.get('torch')}, commit {r.get('commit')}"
    if name == "cuda_tests":
        return str(r.get("counts"))
    if name == "consistency":
        return ", ".join(f"{k}: {v.get('status')} (max rel {v.get('comparison', {}).get('max_rel')})"
                         for k, v in r.get("experiments", {}).items())
    if name == "chapter":
        return f"{r.get('chapter')} in {r.get('chapter_wall_s')} s"
    if name == "ddp":
        return f"backend {r.get('backend')}, max |ΔDV| {r.get('max_abs_train_dv')}"
    if name == "benchmarks":
        return f"staircase batched speedup {r.get('staircase', {}).get('batched_speedup', float('nan')):.2f}×"
    if name == "projection":
        return f"{r.get('n_measured')} of {r.get('n_units')} units timed"
    return ""


def summary(report: dict[str, Any]) -> str:
    """The last lines printed: one row per stage, its status, seconds and headline numbers."""
    lines = [f"GPU check on {report['device']} ({'tiny' if report['tiny'] else 'full'} sizes), "
             f"{report.get('wall_s', 0):.0f} s of a {report['budget_s']:.0f} s budget", "",
             "| stage | status | s | headline |", "|---|---|---|---|"]
    for name, stage in report["stages"].items():
        try:
            text = _headline(name, stage.get("result", {}))
        except (TypeError, ValueError, AttributeError, KeyError):
            text = ""
        lines.append(f"| {name} | {stage['status']} | {stage.get('seconds', 0):.0f} | {text[:300]} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default=os.environ.get("GPU_CHECK_DEVICE", "cuda"), choices=["cuda", "cpu"])
    parser.add_argument("--out", default=os.environ.get("GPU_CHECK_OUT") or os.environ.get("OUT"),
                        help="folder for gpu_check.{log,json} and projection.md ($OUT on the lent machine)")
    parser.add_argument("--budget-s", type=float,
                        default=float(os.environ.get("GPU_CHECK_BUDGET", STAGE_BUDGET_DEFAULT)),
                        help="wall-clock budget of the whole check, seconds (default 540: inside one 600 s call)")
    parser.add_argument("--tiny", action="store_true", help="toy sizes: the CPU dry run")
    parser.add_argument("--only", nargs="+", choices=list(STAGES), metavar="STAGE", help=f"a subset of {list(STAGES)}")
    parser.add_argument("--chapter", default=None, help=f"chapter for papermill (default {DEFAULT_CHAPTER})")
    parser.add_argument("--stage", choices=list(STAGES), help=argparse.SUPPRESS)
    parser.add_argument("--leg", choices=["cpu"], help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    parser.add_argument("--stage-seconds", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.leg:  # the consistency stage's CPU leg, in its own process
        import torch

        torch.set_num_threads(_threads())
        run_leg(args.leg, args.tiny, Path(args.work), time.monotonic() + args.stage_seconds)
        return 0
    if args.stage:
        return run_stage(args.stage, args)
    if not args.out:
        parser.error("give --out DIR (or set OUT / GPU_CHECK_OUT)")
    if not args.budget_s > 0:
        parser.error(f"--budget-s must be positive, got {args.budget_s}")
    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            parser.error("--device cuda but torch sees no GPU; valid here: --device cpu (the dry run, with --tiny)")
    return drive(args)


if __name__ == "__main__":
    raise SystemExit(main())
