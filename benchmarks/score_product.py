"""Which orientation of the encode-and-dot critic's score product is fastest here (prints tables, never asserts).

The critic's scores are ``S[l, i, j] = ⟨φ_l(x_i), ψ(z_j)⟩`` for ``L`` locations, ``n`` images and width ``C``
(:class:`rrlib.mi.critics.EncodeAndDotCritic`): from ``phi`` of shape ``(n, C, L)`` (the image branch's output,
flattened) and ``psi`` of shape ``(n, C)``. The same numbers can be computed by several products, whose forward and
backward passes differ in memory layout and in which GEMMs PyTorch calls:

* ``einsum`` — ``torch.einsum("icl,jc->lij", phi, psi)`` (rrlib's form until this benchmark chose another);
* ``matmul`` — ``phi.permute(2, 0, 1) @ psi.T``: a batched ``(L, n, C) @ (C, n)``;
* ``mm rows`` — ``(phi.transpose(1, 2).reshape(n·L, C) @ psi.T)`` viewed as ``(n, L, n)`` and permuted: one GEMM
  with ``n·L`` rows (rrlib's form now, :func:`rrlib.mi.critics.location_scores`, which is what is timed);
* ``official`` — the authors' ``torch.mm(m, l.t())`` with ``l = phi`` laid out ``(n·L, C)`` and ``m = psi``: one
  GEMM ``(n, C) @ (C, n·L)`` viewed as ``(n, n, L)`` and permuted.

Each is timed forward, forward + the gradient to ``psi`` only (the adversary's pass) and forward + both gradients
(the training pass; :data:`MODES`), with a fixed upstream gradient without subnormal entries (rrlib flushes them,
:func:`rrlib.runtime.flush_subnormal_grad`), at each width and batch, on the 49 locations of a 28×28 image; calls are
interleaved round-robin after one warm-up call each, medians of ``--repeats``. The first check is that every form
gives the same scores and gradients as ``einsum`` (max abs difference, float32).

Usage (from the repository root)::

    python benchmarks/score_product.py [--widths 64 512 2048] [--batches 64 128] [--repeats 7] [--threads 1]

Writes ``benchmarks/results/score_product.{json,md}`` (unless ``--no-save``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from rrlib.mi.critics import location_scores  # noqa: E402
from rrlib.runtime import atomic_write_text  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
LOCATIONS = 49  # 7 × 7, a 28 × 28 image after the critic's two stride-2 convolutions


def _einsum(phi: torch.Tensor, psi: torch.Tensor) -> torch.Tensor:
    return torch.einsum("icl,jc->lij", phi, psi)


def _matmul(phi: torch.Tensor, psi: torch.Tensor) -> torch.Tensor:
    return phi.permute(2, 0, 1) @ psi.t()


def _official(phi: torch.Tensor, psi: torch.Tensor) -> torch.Tensor:
    n, c, L = phi.shape
    return torch.mm(psi, phi.transpose(1, 2).reshape(n * L, c).t()).view(n, n, L).permute(2, 1, 0)


FORMS: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "einsum": _einsum, "matmul": _matmul, "mm rows": location_scores, "official": _official}


def _inputs(n: int, width: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    # phi as the critic makes it: a conv output (n, C, 7, 7) flattened, so (n, C, L) contiguous
    phi = torch.randn(n, width, LOCATIONS, generator=g)
    psi = torch.randn(n, width, generator=g)
    upstream = torch.randn(LOCATIONS, n, n, generator=g) / (LOCATIONS * n)
    return phi, psi, upstream


#: What is timed: the scores alone; the scores and the gradient to ``psi`` only (the adversary's pass: the critic
#: detaches its pixel input, so Algorithm 1's gradient reaches the image through ``psi = ψ(g(x))`` alone); the scores
#: and both gradients (the training step's pass).
MODES = {"forward": (False, False), "attack": (False, True), "training": (True, True)}


def _run(form: Callable, phi: torch.Tensor, psi: torch.Tensor, upstream: torch.Tensor,
         mode: str) -> tuple[torch.Tensor, ...]:
    grad_phi, grad_psi = MODES[mode]
    a, b = phi.detach().requires_grad_(grad_phi), psi.detach().requires_grad_(grad_psi)
    s = form(a, b)
    if not grad_psi:
        return (s,)
    s.backward(upstream)
    return (s, b.grad) if not grad_phi else (s, a.grad, b.grad)


def check(n: int, width: int) -> dict[str, float]:
    """Max abs difference of each form's scores and gradients from ``einsum``'s."""
    phi, psi, up = _inputs(n, width)
    ref = _run(_einsum, phi, psi, up, "training")
    return {name: max(float((x - r).detach().abs().max())
                      for x, r in zip(_run(f, phi, psi, up, "training"), ref, strict=True))
            for name, f in FORMS.items()}


def timings(n: int, width: int, repeats: int, mode: str) -> dict[str, float]:
    """Median milliseconds per call of each form (interleaved round-robin, one warm-up call each)."""
    phi, psi, up = _inputs(n, width)
    for f in FORMS.values():
        _run(f, phi, psi, up, mode)
    times: dict[str, list[float]] = {name: [] for name in FORMS}
    names = list(FORMS)
    for r in range(repeats):
        order = names[r % len(names):] + names[:r % len(names)]
        for name in order:
            t0 = time.perf_counter()
            _run(FORMS[name], phi, psi, up, mode)
            times[name].append(1e3 * (time.perf_counter() - t0))
    return {name: statistics.median(v) for name, v in times.items()}


def markdown(result: dict) -> str:
    meta = result["meta"]
    lines = [f"# The score product's orientation ({meta['cpu']}, torch {meta['torch']}, {meta['threads']} thread(s))",
             "", f"S[l, i, j] = <phi_l(x_i), psi(z_j)>, L = {LOCATIONS} locations. Medians of {meta['repeats']} "
             "interleaved calls after one warm-up each; milliseconds.", "",
             "## Equivalence (max abs difference from einsum, scores and both gradients)", "",
             "| width | batch | " + " | ".join(FORMS) + " |", "|---|---|" + "---|" * len(FORMS)]
    for row in result["rows"]:
        lines.append(f"| {row['width']} | {row['batch']} | "
                     + " | ".join(f"{row['max_abs_diff'][f]:.1e}" for f in FORMS) + " |")
    for key, title in (("forward_ms", "forward"), ("attack_ms", "forward + gradient to psi (the adversary's pass)"),
                       ("training_ms", "forward + both gradients (the training pass)")):
        lines += ["", f"## {title} (ms; ratio to einsum)", "", "| width | batch | " + " | ".join(FORMS) + " |",
                  "|---|---|" + "---|" * len(FORMS)]
        for row in result["rows"]:
            base = row[key]["einsum"]
            lines.append(f"| {row['width']} | {row['batch']} | "
                         + " | ".join(f"{row[key][f]:.2f} ({row[key][f] / base:.2f})" for f in FORMS) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--widths", type=int, nargs="+", default=[64, 512, 2048])
    parser.add_argument("--batches", type=int, nargs="+", default=[64, 128])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--no-save", action="store_true")
    args = parser.parse_args(argv)
    if args.repeats < 1 or args.threads < 1:
        parser.error("--repeats and --threads must be >= 1")
    torch.set_num_threads(args.threads)
    import platform

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else ""
    result = {"meta": {"cpu": cpu, "torch": torch.__version__, "threads": args.threads, "repeats": args.repeats},
              "rows": []}
    for width in args.widths:
        for n in args.batches:
            row = {"width": width, "batch": n, "max_abs_diff": check(n, width),
                   **{f"{mode}_ms": timings(n, width, args.repeats, mode) for mode in MODES}}
            result["rows"].append(row)
            print(f"width {width} batch {n}: attack pass " + ", ".join(
                f"{k} {v:.2f} ms" for k, v in row["attack_ms"].items()), flush=True)
    text = markdown(result)
    print(text)
    if not args.no_save:
        RESULTS.mkdir(exist_ok=True)
        atomic_write_text(RESULTS / "score_product.json", json.dumps(result, indent=2) + "\n")
        atomic_write_text(RESULTS / "score_product.md", text)
    return result


if __name__ == "__main__":
    main()
