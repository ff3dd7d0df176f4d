"""What subnormal floats cost on this CPU, and what rrlib's flush saves (prints tables, never asserts).

Two measurements, each interleaved A-B / B-A after one warm-up call, medians of ``--repeats`` (the timing and
flush-bypass helpers are ``benchmarks/official_critic.py``'s):

1. **The product.** The critic's largest product at the paper's width, ``(2048 × 6272) @ (6272 × 128)`` (float32, the
   encode-and-dot critic's image features against the DV score gradient), once with a normal right-hand side and
   once with ``--fraction`` (default 8.4 %, measured at width 2048 by ``benchmarks/official_critic.py``) of its
   entries replaced by subnormal values (±1e-39). A CPU without a subnormal penalty shows a ratio near 1.
2. **The worst-case step** (Algorithm 1 + the DV step, :func:`rrlib.train.encoder.encoder_step`) of the
   Baseline-H encoder with a critic of width ``--width`` on ``--batch-size`` Fashion-MNIST images: with rrlib's
   flush (:func:`rrlib.runtime.flush_subnormal_grad`, what every bound does) and without it (the flush bypassed:
   torch's own gradient, what the code did before). Skipped with ``--skip-step``.

Usage (from the repository root)::

    python benchmarks/subnormals.py [--width 2048] [--repeats 3] [--threads 1] [--fraction 0.084]
        [--skip-step] [--no-save]

Writes ``benchmarks/results/subnormals.{json,md}`` (unless ``--no-save``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository and the sibling benchmark importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402
from official_critic import abba_medians, machine_info, unflushed  # noqa: E402

from rrlib.runtime import atomic_write_text  # noqa: E402

CPU = torch.device("cpu")

RESULTS = Path(__file__).resolve().parent / "results"
TINY32 = torch.finfo(torch.float32).tiny


def product(fraction: float, repeats: int) -> dict:
    """The critic-sized product with a normal and with a partly subnormal right-hand side."""
    g = torch.Generator().manual_seed(0)
    a = torch.randn(2048, 6272, generator=g)
    b = torch.randn(6272, 128, generator=g)
    mask = torch.rand(b.shape, generator=g) < fraction
    signs = torch.where(torch.rand(b.shape, generator=g) < 0.5, -1.0, 1.0)
    b_sub = torch.where(mask, signs * 1e-39, b)
    share = float(((b_sub != 0) & (b_sub.abs() < TINY32)).double().mean())
    times = abba_medians({"normal": lambda: a @ b, "subnormal": lambda: a @ b_sub}, repeats, CPU)
    med = {k: statistics.median(v) for k, v in times.items()}
    return {"shape": "(2048 x 6272) @ (6272 x 128)", "subnormal_share": share, "normal_ms": 1e3 * med["normal"],
            "subnormal_ms": 1e3 * med["subnormal"], "ratio": med["subnormal"] / med["normal"], "seconds": times}


def worst_step(width: int, batch: int, repeats: int) -> dict:
    """The worst-case encoder step with and without the flush, on copies of the same weights and batch."""
    import copy

    from rrlib.data import dataset_threat_model, load_dataset, subset
    from rrlib.train.encoder import PixelCritic, PixelEncoder, encoder_step

    x = subset(load_dataset("fashion-mnist", "train"), batch, 0).tensors()[0]
    threat = dataset_threat_model("fashion-mnist")
    torch.manual_seed(0)
    g, t = PixelEncoder("fashion-mnist"), PixelCritic("fashion-mnist", hidden=width)
    sides = {}
    for name in ("flushed", "unflushed"):
        g2, t2 = copy.deepcopy(g), copy.deepcopy(t)
        opt = torch.optim.Adam([*g2.parameters(), *t2.parameters()], lr=1e-4)
        sides[name] = (g2, t2, opt)

    def step(name: str) -> None:
        g2, t2, opt = sides[name]
        if name == "flushed":
            encoder_step(g2, t2, opt, x, threat)
        else:
            with unflushed():
                encoder_step(g2, t2, opt, x, threat)

    times = abba_medians({name: (lambda name=name: step(name)) for name in sides}, repeats, CPU)
    med = {k: statistics.median(v) for k, v in times.items()}
    return {"width": width, "batch_size": batch, "flushed_ms": 1e3 * med["flushed"],
            "unflushed_ms": 1e3 * med["unflushed"], "speedup": med["unflushed"] / med["flushed"], "seconds": times}


def markdown(result: dict) -> str:
    m, p = result["machine"], result["product"]
    lines = [f"# Subnormal floats on this CPU ({m['cpu']}, torch {m['torch']}, {m['threads']} thread(s))", "",
             f"Medians of {result['repeats']} interleaved calls after one warm-up each.", "",
             "| measurement | normal operands / rrlib (flushed) | subnormal operands / flush bypassed | right / left |",
             "|---|---|---|---|",
             f"| product {p['shape']}, {p['subnormal_share']:.1%} subnormal | {p['normal_ms']:,.1f} ms | "
             f"{p['subnormal_ms']:,.1f} ms | {p['ratio']:.2f} |"]
    s = result.get("worst_step")
    if s is not None:
        lines.append(f"| worst-case encoder step, critic width {s['width']}, batch {s['batch_size']}: rrlib "
                     f"(flushed) vs the flush bypassed | {s['flushed_ms']:,.0f} ms | {s['unflushed_ms']:,.0f} ms | "
                     f"{s['speedup']:.2f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=2048, help="critic width of the step (default 2048, the paper's)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (0: leave torch's default)")
    parser.add_argument("--fraction", type=float, default=0.084, help="share of subnormal entries in the product")
    parser.add_argument("--skip-step", action="store_true", help="measure the product only")
    parser.add_argument("--no-save", action="store_true")
    args = parser.parse_args(argv)
    if args.repeats < 1 or not 0.0 < args.fraction < 1.0 or args.width < 1:
        parser.error("--repeats and --width must be >= 1 and --fraction in (0, 1)")
    if args.threads:
        torch.set_num_threads(args.threads)
    result = {"repeats": args.repeats, "machine": machine_info(args.threads),
              "product": product(args.fraction, args.repeats)}
    print(f"product: normal {result['product']['normal_ms']:.1f} ms, subnormal {result['product']['subnormal_ms']:.1f}"
          f" ms, ratio {result['product']['ratio']:.2f}", flush=True)
    if not args.skip_step:
        result["worst_step"] = worst_step(args.width, args.batch_size, args.repeats)
        s = result["worst_step"]
        print(f"worst-case step: flushed {s['flushed_ms']:.0f} ms, unflushed {s['unflushed_ms']:.0f} ms, "
              f"speedup {s['speedup']:.2f}", flush=True)
    print(markdown(result))
    if not args.no_save:
        atomic_write_text(RESULTS / "subnormals.json", json.dumps(result, indent=2) + "\n")
        atomic_write_text(RESULTS / "subnormals.md", markdown(result))
    return result


if __name__ == "__main__":
    main()
