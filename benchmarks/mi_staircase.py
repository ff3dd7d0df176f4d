"""Benchmark: the MI "staircase" protocol (Poole et al. 2019; Song & Ermon 2020) for chosen estimators/critics.

Correlated Gaussians in d = 20, batch 64, true MI 2 → 4 → 6 → 8 → 10 nats, Adam 5e-4, critics with hidden 256 and
embedding 32. Prints the bias / variance / MSE table per level (over the last half of each level's steps) and the
wall time of every run, and optionally writes everything as JSON with machine information.

Examples (from the repository root)::

    python benchmarks/mi_staircase.py --estimators dv --critics separable --steps-per-level 4000 \
        --json benchmarks/results/mi_staircase_separable_dv_20k.json
    python benchmarks/mi_staircase.py --estimators dv,nwj,infonce,js,smile,mine --critics separable,concat
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from rrlib.mi.bounds import BOUND_NAMES  # noqa: E402
from rrlib.mi.estimator import CRITIC_NAMES, StaircaseConfig, limit_threads, run_staircase  # noqa: E402


def _names(text: str, valid: tuple[str, ...], what: str) -> list[str]:
    names = [t for t in text.replace(",", " ").split() if t]
    bad = [n for n in names if n not in valid]
    if bad or not names:
        raise argparse.ArgumentTypeError(f"unknown {what} {bad or text!r}; valid choices: {', '.join(valid)}")
    return names


def machine_info(num_threads: int | None) -> dict:
    """Where and under what load the benchmark ran."""
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "date_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "torch_threads": num_threads if num_threads is not None else torch.get_num_threads(),
        "omp_num_threads_env": os.environ.get("OMP_NUM_THREADS"),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "load_average_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }


def format_table(runs: list[dict]) -> str:
    levels = [lv["true_mi"] for lv in runs[0]["levels"]]
    head = " | ".join(f"I={v:g}: bias, var, MSE" for v in levels)
    lines = [f"| critic / estimator | wall s | ms/step | {head} |", "|---|---|---|" + "---|" * len(levels)]

    def fmt(x):
        return "–" if x is None or x != x else f"{x:.2f}"

    for r in runs:
        cells = [f"{fmt(lv['bias'])}, {fmt(lv['variance'])}, {fmt(lv['mse'])}" for lv in r["levels"]]
        lines.append(f"| {r['critic']} / {r['bound']} | {r['wall_s']:.1f} | {1000 * r['wall_s'] / r['steps']:.2f} | "
                     + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--estimators", default="dv,nwj,infonce,js,smile,mine",
                        type=lambda s: _names(s, BOUND_NAMES, "estimator(s)"),
                        help=f"comma-separated, from {', '.join(BOUND_NAMES)}")
    parser.add_argument("--critics", default="separable", type=lambda s: _names(s, CRITIC_NAMES, "critic(s)"),
                        help=f"comma-separated, from {', '.join(CRITIC_NAMES)}")
    parser.add_argument("--steps-per-level", type=int, default=4000)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--smile-tau", type=float, default=5.0)
    parser.add_argument("--device", default="cpu", help="cpu, cuda, auto (default cpu)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads during training (default 1; 0 = leave torch's default)")
    parser.add_argument("--json", type=Path, default=None, help="write results and machine info here")
    parser.add_argument("--markdown", type=Path, default=None, help="also write the table as markdown here")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    if args.steps_per_level < 1 or args.batch < 2:
        parser.error("--steps-per-level must be >= 1 and --batch >= 2")

    threads = None if args.threads == 0 else args.threads
    info = machine_info(threads)
    config = StaircaseConfig(steps_per_level=args.steps_per_level, batch=args.batch)
    runs = []
    with limit_threads(threads):
        for critic in args.critics:
            for bound in args.estimators:
                result = run_staircase(config, bound, critic, seed=args.seed, device=args.device,
                                       bound_kwargs={"tau": args.smile_tau} if bound == "smile" else None,
                                       show_progress=not args.quiet)
                runs.append(result.to_dict())
                print(f"{critic}/{bound}: {result.config.total_steps} steps in {result.wall_s:.1f} s "
                      f"({1000 * result.wall_s / result.config.total_steps:.2f} ms/step)", flush=True)
    info["load_average_end"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    table = format_table(runs)
    print(table)
    payload = {"protocol": {"dim": config.dim, "batch": config.batch, "levels": list(config.levels),
                            "steps_per_level": config.steps_per_level, "lr": config.lr, "hidden": config.hidden,
                            "embed": config.embed, "tail_fraction": config.tail_fraction, "seed": args.seed,
                            "device": args.device},
               "machine": info, "runs": runs}
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(payload, indent=2, allow_nan=False) + "\n")
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(table + "\n")
    print(json.dumps({"wall_s": {f"{r['critic']}/{r['bound']}": r["wall_s"] for r in runs}, "machine": info}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
