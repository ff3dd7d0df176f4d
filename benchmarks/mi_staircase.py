"""Benchmark: the MI "staircase" protocol (Poole et al. 2019; Song & Ermon 2020) for chosen estimators/critics.

Correlated Gaussians in d = 20, batch 64, true MI 2 → 4 → 6 → 8 → 10 nats, Adam 5e-4, critics with hidden 256 and
embedding 32. Prints the bias / variance / MSE table per level (over the last half of each level's steps) and the
wall time of every run, and optionally writes everything as JSON with machine information.

``--batched-critics`` trains the estimators of one critic family together, their critics stacked into one network
(:mod:`rrlib.mi.batched`; same numbers up to float32 rounding); each run's wall time is then the group's share.

``--peer PATH`` also times Song & Ermon's own SMILE estimator (their ``smile-mi-estimator`` code at ``PATH``,
imported from there, never copied) against ours on the same work, in the same process: the same separable or
concat critic (depth ``layers + 1`` hidden layers, width, embedding), batch, Adam step, SMILE with the same τ,
torch threads and device; ``--peer-steps`` steps each, timed in interleaved blocks (``rrlib.timing``); printed as a
table of milliseconds per step and the ratio ours/theirs. ``--peer-only`` skips the staircase runs. With
``--batched-critics`` the table adds our stacked step (all ``--estimators`` at once), per critic-step.

Examples (from the repository root)::

    python benchmarks/mi_staircase.py --estimators dv --critics separable --steps-per-level 4000 \
        --json benchmarks/results/mi_staircase_separable_dv_20k.json
    python benchmarks/mi_staircase.py --estimators dv,nwj,infonce,js,smile,mine --critics separable,concat
    python benchmarks/mi_staircase.py --peer /path/to/smile-mi-estimator --peer-only --peer-steps 300 --threads 1
    python benchmarks/mi_staircase.py --estimators dv,nwj,infonce,js,smile,mine --batched-critics --device cuda \
        --peer /path/to/smile-mi-estimator --peer-only
"""

from __future__ import annotations

import argparse
import datetime as _dt
import importlib.util
import json
import os
import platform
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from rrlib.mi.batched import StackedCritics, run_staircase_batched, train_steps_batched  # noqa: E402
from rrlib.mi.bounds import BOUND_NAMES, make_bound  # noqa: E402
from rrlib.mi.estimator import (  # noqa: E402
    CRITIC_NAMES,
    StaircaseConfig,
    build_critic,
    limit_threads,
    run_staircase,
    train_steps,  # the very loop run_staircase runs
)
from rrlib.runtime import select_device, torch_generator  # noqa: E402
from rrlib.synthetic import CorrelatedGaussian  # noqa: E402
from rrlib.timing import interleaved_medians  # noqa: E402

PEER_FILES = ("estimators.py", "utils.py")
PEER_BLOCK = 25  # steps per timed call: long enough to dwarf the timer, short enough for many interleaved calls


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


def load_peer(path: Path, device: torch.device) -> tuple[ModuleType, ModuleType]:
    """Song & Ermon's ``estimators`` and ``utils`` modules, imported from ``path`` (a smile-mi-estimator checkout).

    Their ``logmeanexp_nodiag`` moves a constant to ``device='cuda'`` by default, which SMILE relies on; the only
    change made (to this imported copy, not to their files) is that default, set to ``device``.
    """
    path = Path(path)
    missing = [name for name in PEER_FILES if not (path / name).is_file()]
    if missing:
        raise ValueError(f"--peer {str(path)!r} is not a smile-mi-estimator checkout (missing {', '.join(missing)}); "
                         "give the folder holding estimators.py and utils.py")
    modules = []
    for name in PEER_FILES:
        spec = importlib.util.spec_from_file_location(f"_peer_smile_{name[:-3]}", path / name)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        modules.append(module)
    estimators, utils = modules
    estimators.logmeanexp_nodiag.__defaults__ = (None, str(device))
    return estimators, utils


def compare_with_peer(peer: Path, config: StaircaseConfig, critic: str, *, steps: int, seed: int, tau: float,
                      device: str, batched_bounds: list[str] | None = None) -> dict:
    """Per-step wall time of our SMILE step and Song & Ermon's on the same work (see the module docstring).

    Both train a fresh critic of the same architecture with Adam at the staircase's learning rate on batches of
    ``config.batch`` pairs from the first level's correlated Gaussian; ``steps`` steps each, in interleaved blocks
    of :data:`PEER_BLOCK` (after one warm-up block each). Ours is the loop of ``run_staircase``; theirs is the
    ``train_step`` of their demo (sample on the CPU, move to the device, critic, ``smile_lower_bound``,
    ``-mi.backward()``, Adam, ``mi.detach().cpu()``), written out here because their ``estimate_mutual_information``
    calls ``.cuda()``. ``batched_bounds``: also time our stacked step for these bounds (per critic-step).
    """
    dev = select_device(device)
    estimators, utils = load_peer(peer, dev)
    level = float(config.levels[0])
    dist = CorrelatedGaussian.from_mi(level, config.dim, cubic=config.cubic)

    ours = build_critic(critic, config.dim, config.dim, hidden=config.hidden, embed=config.embed,
                        layers=config.layers, seed=seed).to(dev)
    ours_opt = torch.optim.Adam(ours.parameters(), lr=config.lr)
    ours_bound = make_bound("smile", tau=tau)
    generator = torch_generator(seed, dev)

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if critic == "separable":
            theirs = utils.SeparableCritic(config.dim, config.hidden, config.embed, config.layers, "relu")
        else:
            theirs = utils.ConcatCritic(config.dim, config.hidden, config.layers, "relu")
    theirs = theirs.to(dev)
    theirs_opt = torch.optim.Adam(theirs.parameters(), lr=config.lr)
    rho = float(utils.mi_to_rho(config.dim, level))

    def ours_block() -> None:
        train_steps(ours, ours_bound, ours_opt, dist.sample, generator, PEER_BLOCK, config.batch, iter(()))

    def theirs_block() -> None:
        for _ in range(PEER_BLOCK):
            theirs_opt.zero_grad()
            x, y = utils.sample_correlated_gaussian(rho=rho, dim=config.dim, batch_size=config.batch)
            x, y = x.to(dev), y.to(dev)
            mi = estimators.smile_lower_bound(theirs(x, y), clip=tau)
            (-mi).backward()
            theirs_opt.step()
            mi.detach().cpu().numpy()

    blocks: dict[str, Callable[[], object]] = {"ours": ours_block, "theirs": theirs_block}
    if batched_bounds:
        stacked = StackedCritics([build_critic(critic, config.dim, config.dim, hidden=config.hidden,
                                               embed=config.embed, layers=config.layers, seed=seed)
                                  for _ in batched_bounds]).to(dev)
        stacked_opt = torch.optim.Adam(stacked.parameters(), lr=config.lr)
        stacked_bounds = [make_bound(b, **({"tau": tau} if b == "smile" else {})) for b in batched_bounds]
        stacked_gen = torch_generator(seed, dev)

        def batched_block() -> None:
            active = [True] * len(batched_bounds)
            train_steps_batched(stacked, stacked_bounds, stacked_opt, dist.sample, stacked_gen, PEER_BLOCK,
                                config.batch, active)

        blocks["ours, stacked"] = batched_block
    repeats = max(1, -(-steps // PEER_BLOCK))
    medians = interleaved_medians(blocks, repeats, dev)
    ms = {name: 1000 * t / PEER_BLOCK for name, t in medians.items()}
    if "ours, stacked" in ms:
        ms["ours, stacked"] /= len(batched_bounds or [1])
    return {"critic": critic, "estimator": "smile", "tau": tau, "hidden": config.hidden, "embed": config.embed,
            "hidden_layers": config.layers + 1, "batch": config.batch, "steps_each": repeats * PEER_BLOCK,
            "block": PEER_BLOCK, "device": str(dev), "torch_threads": torch.get_num_threads(),
            "ms_per_step": ms, "stacked_bounds": list(batched_bounds or []),
            "ratio_ours_theirs": ms["ours"] / ms["theirs"]}


def format_peer_table(rows: list[dict]) -> str:
    """The comparison as a markdown table (ms per step, medians of interleaved blocks; ours/theirs)."""
    stacked = any("ours, stacked" in r["ms_per_step"] for r in rows)
    head = "| critic | hidden layers × width[, embed] | batch | steps each | threads | device | ours ms/step | " \
           "theirs ms/step | ours/theirs |" + (" ours stacked ms/critic-step |" if stacked else "")
    lines = [head, "|---" * (9 + stacked) + "|"]
    for r in rows:
        ms = r["ms_per_step"]
        shape = f"{r['hidden_layers']} × {r['hidden']}" + (f", {r['embed']}" if r["critic"] == "separable" else "")
        cells = [r["critic"], shape, str(r["batch"]),
                 str(r["steps_each"]), str(r["torch_threads"]), r["device"], f"{ms['ours']:.3f}",
                 f"{ms['theirs']:.3f}", f"{r['ratio_ours_theirs']:.2f}"]
        if stacked:
            cells.append(f"{ms['ours, stacked']:.3f} ({len(r['stacked_bounds'])} critics)"
                         if "ours, stacked" in ms else "–")
        lines.append("| " + " | ".join(cells) + " |")
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
    parser.add_argument("--batched-critics", action="store_true",
                        help="train the estimators of each critic family together, critics stacked (rrlib.mi.batched)")
    parser.add_argument("--peer", type=Path, default=None, metavar="PATH",
                        help="also time Song & Ermon's SMILE from their smile-mi-estimator code at PATH")
    parser.add_argument("--peer-steps", type=int, default=300,
                        help=f"steps per side in the --peer comparison (default 300, in blocks of {PEER_BLOCK})")
    parser.add_argument("--peer-only", action="store_true", help="with --peer: skip the staircase runs")
    args = parser.parse_args(argv)
    if args.steps_per_level < 1 or args.batch < 2:
        parser.error("--steps-per-level must be >= 1 and --batch >= 2")
    if args.peer_steps < 1:
        parser.error(f"--peer-steps must be >= 1, got {args.peer_steps}")
    if args.peer_only and args.peer is None:
        parser.error("--peer-only needs --peer PATH")

    threads = None if args.threads == 0 else args.threads
    info = machine_info(threads)
    config = StaircaseConfig(steps_per_level=args.steps_per_level, batch=args.batch)
    runs, peer_rows = [], []
    smile_kwargs = {"smile": {"tau": args.smile_tau}}
    try:
        with limit_threads(threads):
            if args.peer is not None:
                for critic in args.critics:
                    row = compare_with_peer(args.peer, config, critic, steps=args.peer_steps, seed=args.seed,
                                            tau=args.smile_tau, device=args.device,
                                            batched_bounds=args.estimators if args.batched_critics else None)
                    peer_rows.append(row)
                    print(f"{critic}/smile: ours {row['ms_per_step']['ours']:.3f} ms/step, theirs "
                          f"{row['ms_per_step']['theirs']:.3f} ms/step, ours/theirs "
                          f"{row['ratio_ours_theirs']:.2f}", flush=True)
            for critic in ([] if args.peer_only else args.critics):
                if args.batched_critics:
                    results = run_staircase_batched(config, args.estimators, critic, seed=args.seed,
                                                    device=args.device, bound_kwargs=smile_kwargs,
                                                    show_progress=not args.quiet)
                else:
                    results = [run_staircase(config, bound, critic, seed=args.seed, device=args.device,
                                             bound_kwargs=smile_kwargs.get(bound), show_progress=not args.quiet)
                               for bound in args.estimators]
                for result in results:
                    runs.append(result.to_dict())
                    print(f"{critic}/{result.bound}: {result.config.total_steps} steps in {result.wall_s:.1f} s "
                          f"({1000 * result.wall_s / result.config.total_steps:.2f} ms/step"
                          f"{', share of the stacked run' if args.batched_critics else ''})", flush=True)
    except ValueError as error:
        parser.error(str(error))
    info["load_average_end"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    table = format_table(runs) if runs else ""
    if peer_rows:
        table = (table + "\n\n" if table else "") + format_peer_table(peer_rows)
    print(table)
    payload = {"protocol": {"dim": config.dim, "batch": config.batch, "levels": list(config.levels),
                            "steps_per_level": config.steps_per_level, "lr": config.lr, "hidden": config.hidden,
                            "embed": config.embed, "layers": config.layers, "tail_fraction": config.tail_fraction,
                            "seed": args.seed, "device": args.device, "batched_critics": args.batched_critics},
               "machine": info, "runs": runs, "peer_comparison": peer_rows}
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(payload, indent=2, allow_nan=False) + "\n")
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(table + "\n")
    print(json.dumps({"wall_s": {f"{r['critic']}/{r['bound']}": r["wall_s"] for r in runs},
                      "peer_ratio_ours_theirs": {r["critic"]: r["ratio_ours_theirs"] for r in peer_rows},
                      "machine": info}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
