"""Throughput of Section 5's training and of the AutoAttack evaluation (prints a table, never asserts).

Three measurements, printed and written to ``benchmarks/results/encoder_throughput.{json,md}``:

1. **Encoder training** (:func:`rrlib.train.encoder.encoder_step`): images/s of a ``normal`` (DIM) step and of a
   ``worst`` step (Algorithm 1 with ``S`` PGD steps, then the joint step), and the cost ratio worst/normal next to
   the ``S + 1`` of supplement App. B.
2. **Downstream head** (:func:`rrlib.train.downstream.head_step`): images/s of a standard and of a robust
   (PGD through ``h∘g``) step of an MLP head on a frozen encoder.
3. **AutoAttack** (:mod:`rrlib.robustness_eval`, torchattacks' standard version) on a few hundred Fashion-MNIST
   test images, against the paper's PGD on the same points, for a frozen encoder with a briefly trained head.

Step timings are medians over ``--repeats`` after a warm-up, interleaving the variants so that machine load
affects them alike. Usage (from the repository root)::

    python benchmarks/encoder_throughput.py [--device cpu] [--width 0.25] [--critic-hidden 64] [--batch-size 64]
        [--repeats 5] [--aa-images 200] [--threads 1] [--precision fp32|tf32|bf16] [--no-save]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import platform
import sys
import time
from collections.abc import Iterator
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from rrlib.data import dataset_threat_model, load_dataset, subset  # noqa: E402
from rrlib.models.heads import build_head  # noqa: E402
from rrlib.runtime import atomic_write_text, select_device  # noqa: E402
from rrlib.timing import interleaved_medians  # noqa: E402
from rrlib.train.downstream import FrozenEncoderClassifier, head_step  # noqa: E402
from rrlib.train.encoder import PixelCritic, PixelEncoder, encoder_step  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
PRECISIONS = ("fp32", "tf32", "bf16")


@contextlib.contextmanager
def precision(mode: str, device: torch.device) -> Iterator[None]:
    """``fp32`` (TF32 off), ``tf32`` (TF32 matrix products and convolutions on CUDA) or ``bf16`` (autocast to
    bfloat16 around each step); the previous TF32 flags are restored afterwards."""
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = mode == "tf32"
    try:
        if mode == "bf16":
            with torch.autocast(device.type, dtype=torch.bfloat16):
                yield
        else:
            yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def encoder_rows(args, device, x) -> list[dict]:
    threat = dataset_threat_model("fashion-mnist")
    torch.manual_seed(0)
    g = PixelEncoder("fashion-mnist", width=args.width).to(device)
    t = PixelCritic("fashion-mnist", hidden=args.critic_hidden).to(device)
    opt = torch.optim.Adam([*g.parameters(), *t.parameters()], lr=1e-4)
    med = interleaved_medians({
        "normal": lambda: encoder_step(g, t, opt, x, None),
        "worst": lambda: encoder_step(g, t, opt, x, threat),
    }, args.repeats, device)
    b, steps = x.shape[0], threat.steps
    return [{"objective": name, "pgd_steps": steps if name == "worst" else 0, "seconds_per_step": s,
             "images_per_second": b / s, "cost_vs_normal": s / med["normal"],
             "paper_estimate_S_plus_1": steps + 1 if name == "worst" else 1} for name, s in med.items()]


def head_rows(args, device, x, y) -> list[dict]:
    threat = dataset_threat_model("fashion-mnist")
    torch.manual_seed(0)
    model = FrozenEncoderClassifier(PixelEncoder("fashion-mnist", width=args.width), build_head("mlp")).to(device)
    opt = torch.optim.Adam(model.head.parameters(), lr=1e-4)
    med = interleaved_medians({
        "standard": lambda: head_step(model, opt, x, y, None),
        "robust": lambda: head_step(model, opt, x, y, threat),
    }, args.repeats, device)
    return [{"classifier_loss": name, "pgd_steps": threat.steps if name == "robust" else 0, "seconds_per_step": s,
             "images_per_second": x.shape[0] / s, "cost_vs_standard": s / med["standard"]} for name, s in med.items()]


def autoattack_row(args, device) -> dict:
    from rrlib.robustness_eval import robustness_report

    threat = dataset_threat_model("fashion-mnist")
    train = subset(load_dataset("fashion-mnist", "train"), 2000, 0)
    test = subset(load_dataset("fashion-mnist", "test"), args.aa_images, 0)
    torch.manual_seed(0)
    model = FrozenEncoderClassifier(PixelEncoder("fashion-mnist", width=args.width), build_head("linear")).to(device)
    opt = torch.optim.Adam(model.head.parameters(), lr=3e-3)
    xt, yt = (v.to(device) for v in train.tensors())
    for _ in range(5):  # a few epochs of a standard linear head on a random frozen encoder: non-trivial accuracy
        for i in range(0, xt.shape[0], 100):
            head_step(model, opt, xt[i:i + 100], yt[i:i + 100], None)
    x, y = (v.to(device) for v in test.tensors())
    t0 = time.perf_counter()
    report = robustness_report(model, x, y, threat, seed=0)
    total = time.perf_counter() - t0
    return {**report.as_dict(), "seconds_total_natural_pgd_autoattack": total,
            "seconds_per_image": total / x.shape[0]}


def markdown(result: dict) -> str:
    meta = result["meta"]
    lines = [f"# Encoder / downstream / AutoAttack throughput ({meta['device']}, {meta['threads']} thread(s))", "",
             f"Encoder width {meta['width']}, critic width {meta['critic_hidden']}, batch {meta['batch_size']}, "
             f"Fashion-MNIST PGD (ε = 0.1, 10 steps of 0.02); medians of {meta['repeats']} interleaved repeats. "
             f"{meta['platform']}, torch {meta['torch']}.", "",
             "| encoder objective | PGD steps S | s/step | images/s | cost vs normal | paper: S + 1 |",
             "|---|---|---|---|---|---|"]
    for r in result["encoder"]:
        lines.append(f"| {r['objective']} | {r['pgd_steps']} | {r['seconds_per_step']:.4f} | "
                     f"{r['images_per_second']:.0f} | {r['cost_vs_normal']:.2f}× | {r['paper_estimate_S_plus_1']}× |")
    lines += ["", "| head (mlp) loss | PGD steps | s/step | images/s | cost vs standard |", "|---|---|---|---|---|"]
    for r in result["head"]:
        lines.append(f"| {r['classifier_loss']} | {r['pgd_steps']} | {r['seconds_per_step']:.4f} | "
                     f"{r['images_per_second']:.0f} | {r['cost_vs_standard']:.2f}× |")
    aa = result.get("autoattack")
    if aa:
        lines += ["", "| images | natural | PGD-10 | AutoAttack (standard) | seconds (all three) | s/image |",
                  "|---|---|---|---|---|---|",
                  f"| {aa['n']} | {aa['natural']:.3f} | {aa['pgd']:.3f} | {aa['autoattack']:.3f} | "
                  f"{aa['seconds_total_natural_pgd_autoattack']:.1f} | {aa['seconds_per_image']:.3f} |"]
    lines += ["", "Notes.",
              "- A `worst` step costs less than S + 1 normal steps: each PGD step is a forward+backward *to the "
              "input* only (no parameter gradients, and the critic's image branch is detached, so only its cheap "
              "code branch is differentiated), while a training step also back-propagates into every parameter "
              "and runs Adam.",
              "- A robust head step is far above S + 1 standard head steps because a standard head step never "
              "differentiates the frozen encoder (z is computed without gradient and the head is tiny), whereas "
              "each PGD step is a full forward+backward through g.",
              "- AutoAttack runs its four attacks only on points not yet broken, so its cost grows with robustness: "
              "here the head is a weak standard one (most points fall to APGD-CE); on a robust head expect several "
              "times more per image (Square's 5000 queries run on every surviving point)."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--width", type=float, default=0.25)
    parser.add_argument("--critic-hidden", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--aa-images", type=int, default=200, help="0 skips the AutoAttack measurement")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (0: leave torch's default)")
    parser.add_argument("--precision", default="fp32", choices=PRECISIONS,
                        help="fp32 (default), tf32 (TF32 matrix units on CUDA) or bf16 (autocast) for the step timings")
    parser.add_argument("--no-save", action="store_true")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = select_device(args.device)
    data = subset(load_dataset("fashion-mnist", "train"), args.batch_size, 1)
    x, y = (v.to(device) for v in data.tensors())
    result = {
        "meta": {"device": str(device), "threads": args.threads, "width": args.width,
                 "critic_hidden": args.critic_hidden, "batch_size": args.batch_size, "repeats": args.repeats,
                 "precision": args.precision, "platform": platform.platform(), "torch": torch.__version__},
    }
    with precision(args.precision, device):
        result["encoder"] = encoder_rows(args, device, x)
        result["head"] = head_rows(args, device, x, y)
    if args.aa_images:
        try:
            result["autoattack"] = autoattack_row(args, device)
        except ImportError as err:
            result["autoattack_skipped"] = str(err)
    text = markdown(result)
    print(text)
    if not args.no_save:
        RESULTS.mkdir(exist_ok=True)
        atomic_write_text(RESULTS / "encoder_throughput.json", json.dumps(result, indent=2) + "\n")
        atomic_write_text(RESULTS / "encoder_throughput.md", text)
    return result


if __name__ == "__main__":
    main()
