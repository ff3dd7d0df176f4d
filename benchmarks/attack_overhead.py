"""Overhead of rrlib's generic PGD and of a worst-case MI iteration (chapter 05).

Two tables, printed and written as JSON to ``benchmarks/results/attack_overhead[_<device>].json``:

1. **PGD vs bare forward+backward.** :func:`rrlib.attacks.adversarial_examples` with ``S`` steps against the bare
   cost of the same ``S`` forward+backward passes with respect to the input (no projection, no bookkeeping, no
   final scoring pass), for several models and batch sizes. Target (reported, not asserted): overhead ≤ 10%.
   PGD adds one forward pass to score the last iterate (the ``value`` of the returned ``AttackResult``), i.e.
   ``1/(3S)`` of the bare cost for a backward pass that costs about two forward passes; ``keep_best=False`` (the
   last iterate instead of the best) is timed too.
2. **Worst-case MI iteration vs plain MI iteration.** One iteration of Algorithm 2 (Algorithm 1 with ``S`` PGD
   steps, then one critic step) against one plain MINE iteration (:func:`rrlib.mi.worst_case.critic_step`), on a
   Baseline-H representation and a separable critic. Target (reported, not asserted): ≤ (S + 1)× a plain step.

Timings are medians over repeats after a warm-up, interleaving the two variants so that machine load affects both
alike. Usage::

    python benchmarks/attack_overhead.py [--device cpu|cuda|auto] [--repeats 15] [--quick] [--no-save]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from functools import partial
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from rrlib.attacks import ThreatModel, adversarial_examples  # noqa: E402
from rrlib.mi.critics import FlatCritic, SeparableCritic  # noqa: E402
from rrlib.mi.worst_case import critic_step, worst_case_batch  # noqa: E402
from rrlib.models import build_model  # noqa: E402
from rrlib.runtime import select_device  # noqa: E402
from rrlib.timing import interleaved_medians  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def _bare_passes(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int) -> torch.Tensor:
    """``steps`` forward+backward passes with respect to the input and a sign step: the floor PGD cannot beat."""
    xa = x
    for _ in range(steps):
        xr = xa.detach().requires_grad_(True)
        loss = F.cross_entropy(model(xr), y, reduction="none")
        (grad,) = torch.autograd.grad(loss.sum(), xr)
        xa = xr.detach() + 0.01 * grad.sign()
    return xa


def _pgd(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int, keep_best: bool = True) -> torch.Tensor:
    return adversarial_examples(model, x, y, ThreatModel("linf", 8 / 255, steps, 2.5 * 8 / 255 / steps),
                                keep_best=keep_best)


def _worst_step(critic: torch.nn.Module, optimizer: torch.optim.Optimizer, model: torch.nn.Module, x: torch.Tensor,
                attack: ThreatModel) -> None:
    x_adv, _ = worst_case_batch(critic, model, x, attack)
    critic_step(critic, optimizer, model, x_adv)


def _models(quick: bool) -> list[tuple[str, str, float, tuple[int, int, int]]]:
    out = [("Baseline-H ×0.25, 8×8 digits", "digits", 0.25, (1, 8, 8)),
           ("Baseline-H ×0.25, 28×28", "fashion-mnist", 0.25, (1, 28, 28))]
    if not quick:
        out += [("Baseline-H ×1, 28×28", "fashion-mnist", 1.0, (1, 28, 28)),
                ("Baseline-H ×1, 32×32×3", "cifar10", 1.0, (3, 32, 32))]
    return out


def pgd_table(device: torch.device, repeats: int, quick: bool) -> list[dict]:
    rows = []
    steps_values = (10,) if quick else (7, 10, 20)
    batch_values = (32, 128) if quick else (32, 128, 512)
    for label, dataset, width, shape in _models(quick):
        torch.manual_seed(0)
        model = build_model("baseline_h", dataset, head="mlp", width=width).to(device).eval()
        params = sum(p.numel() for p in model.parameters())
        for batch in batch_values:
            x = torch.rand(batch, *shape, device=device)
            y = torch.randint(0, 10, (batch,), device=device)
            for steps in steps_values:
                bare = partial(_bare_passes, model, x, y, steps)
                attack = partial(_pgd, model, x, y, steps)
                last = partial(_pgd, model, x, y, steps, False)
                t = interleaved_medians({"bare": bare, "pgd": attack, "last": last}, repeats, device)
                rows.append({"model": label, "parameters": params, "batch": batch, "steps": steps,
                             "bare_ms": 1e3 * t["bare"], "pgd_ms": 1e3 * t["pgd"], "pgd_last_ms": 1e3 * t["last"],
                             "overhead": t["pgd"] / t["bare"] - 1.0, "overhead_last": t["last"] / t["bare"] - 1.0})
    return rows


def worst_case_table(device: torch.device, repeats: int, quick: bool) -> list[dict]:
    rows = []
    steps_values = (1, 5, 10) if quick else (1, 5, 7, 10, 20)
    for label, dataset, width, shape in _models(quick):
        torch.manual_seed(0)
        model = build_model("baseline_h", dataset, head="mlp", width=width).to(device).eval()
        x_dim = int(np.prod(shape))
        critic = FlatCritic(SeparableCritic(x_dim, 10, hidden=256, embed=32)).to(device)
        optimizer = torch.optim.Adam(critic.parameters(), lr=1e-4)
        x = torch.rand(128, *shape, device=device)
        for steps in steps_values:
            attack = ThreatModel("linf", 8 / 255, steps, min(8 / 255, 2.5 * 8 / 255 / steps))

            plain = partial(critic_step, critic, optimizer, model, x)
            worst = partial(_worst_step, critic, optimizer, model, x, attack)
            t = interleaved_medians({"plain": plain, "worst": worst}, repeats, device)
            rows.append({"model": label, "steps": steps, "plain_ms": 1e3 * t["plain"], "worst_ms": 1e3 * t["worst"],
                         "ratio": t["worst"] / t["plain"], "target": steps + 1})
    return rows


def _print_tables(pgd_rows: list[dict], wc_rows: list[dict]) -> None:
    print("PGD (rrlib.attacks.adversarial_examples) vs bare forward+backward passes; target overhead <= 10%")
    print("  pgd: best iterate kept (one extra forward pass to score the last iterate); last: keep_best=False")
    print(f"{'model':32s} {'batch':>5s} {'S':>3s} {'bare ms':>9s} {'pgd ms':>9s} {'overhead':>9s} "
          f"{'last ms':>9s} {'overhead':>9s}")
    for r in pgd_rows:
        print(f"{r['model']:32s} {r['batch']:5d} {r['steps']:3d} {r['bare_ms']:9.2f} {r['pgd_ms']:9.2f} "
              f"{100 * r['overhead']:8.1f}% {r['pgd_last_ms']:9.2f} {100 * r['overhead_last']:8.1f}%")
    print()
    print("Worst-case MI iteration (Alg. 1 + critic step) vs plain MI iteration; target ratio <= S + 1")
    print(f"{'model':32s} {'S':>3s} {'plain ms':>9s} {'worst ms':>9s} {'ratio':>7s} {'S + 1':>6s}")
    for r in wc_rows:
        print(f"{r['model']:32s} {r['steps']:3d} {r['plain_ms']:9.2f} {r['worst_ms']:9.2f} {r['ratio']:7.2f} "
              f"{r['target']:6d}")


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--quick", action="store_true", help="fewer models, batch sizes and step counts")
    parser.add_argument("--no-save", action="store_true", help="print only, do not write the JSON file")
    args = parser.parse_args(argv)
    device = select_device(args.device)
    pgd_rows = pgd_table(device, args.repeats, args.quick)
    wc_rows = worst_case_table(device, args.repeats, args.quick)
    _print_tables(pgd_rows, wc_rows)
    payload = {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu",
        "device_type": device.type, "torch": torch.__version__, "threads": torch.get_num_threads(),
        "repeats": args.repeats, "quick": args.quick, "pgd": pgd_rows, "worst_case": wc_rows,
    }
    if not args.no_save:
        RESULTS.mkdir(parents=True, exist_ok=True)
        suffix = "" if device.type == "cpu" else f"_{device.type}"
        path = RESULTS / f"attack_overhead{suffix}.json"
        path.write_text(json.dumps(payload, indent=2) + "\n")
        print(f"\nwritten {path}")
    return payload


if __name__ == "__main__":
    main()
