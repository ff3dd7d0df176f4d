"""rrlib's encoder step against the authors' own code on the same work (prints a table, never asserts).

The authors' code (``schzhu/learning-adversarially-robust-representations``) is *not* part of this repository:
``--official PATH`` names a local checkout of it (the folder holding ``robust_representations/``, or that folder
itself), and its modules are imported from there at run time. Their code imports ``dill`` and ``cox`` (for
checkpoints and logging, unused here); where those are not installed, empty stand-ins are written to a
temporary folder for the run. On the CPU their ``.cuda()`` calls return the tensor unchanged while their step
runs (nothing in their files changes), and their ``tqdm`` progress bar is replaced by a silent one.

Both sides do the same work: the same Fashion-MNIST images (``--batch-size``, default 128, the paper's), the same
Baseline-H encoder (3,085,248 parameters) and encode-and-dot critic of width ``--widths`` (theirs has no bias in
the two image convolutions, which BN follows; ours are set to zero), the SAME weights (copied across by name),
ℓ∞ PGD ε = 0.1, 10 steps of 0.02, keep-best, no random start, Adam 1e-4 on encoder and critic:

* ``normal`` — one DV step (DIM): theirs is ``train_unsup._model_loop(…, task="train-encoder",
  estimator_loss="normal")`` on one batch, ours :func:`rrlib.train.encoder.encoder_step` with ``threat=None``;
* ``worst`` — Algorithm 1 in eval mode, then the DV step on the attacked batch.

Before the times it prints the equivalence checks: the critic's features and the clean DV value on the same
weights and batch (theirs puts ``exp(0) = 1`` in place of each masked diagonal score, our ``dv(…, dim_filler=True)``;
the tolerance is derived from the float32 rounding of the score product and the reductions and printed), the
attacked batch of both on the same weights, the fraction of subnormal entries of ∂DV/∂scores (torch's own gradient,
and rrlib's after :func:`rrlib.runtime.flush_subnormal_grad`, which sets them to zero), and the number of
encoder/critic forward and backward passes per step. Then ms per step, medians over ``--repeats`` pairs timed
A-B, B-A, A-B, … after one warm-up call each (the widest worst-case step last: 20–35 s each on a 2-core CPU).

Usage (from the repository root)::

    python benchmarks/official_critic.py --official /tmp/official [--widths 64 2048] [--repeats 3]
        [--threads 1] [--batch-size 128] [--flush-denormal] [--no-save]

Writes ``benchmarks/results/official_critic.{json,md}`` (unless ``--no-save``).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import functools
import importlib
import json
import math
import platform
import subprocess
import sys
import tempfile
import time
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from rrlib.data import dataset_threat_model, load_dataset, subset  # noqa: E402
from rrlib.mi import worst_case  # noqa: E402
from rrlib.mi.bounds import dv  # noqa: E402
from rrlib.runtime import atomic_write_text  # noqa: E402
from rrlib.train.encoder import PixelCritic, PixelEncoder, encoder_step  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
OFFICIAL_MODULES = ("unsup_models", "train_unsup", "robustness.attacker", "robustness.mnist_models",
                    "models.discriminators", "models.encoder_wrapper", "functions.dim_losses")
STEPS = ("normal", "worst")
U32 = 2.0 ** -24  # unit roundoff of float32


# ------------------------------------------------------------------------------------------- their code, loaded
def official_root(path: Path) -> Path:
    """The folder of their checkout that holds ``train_unsup.py`` (``PATH`` or ``PATH/robust_representations``)."""
    path = Path(path).resolve()
    for root in (path, path / "robust_representations"):
        if (root / "train_unsup.py").is_file() and (root / "functions" / "dim_losses.py").is_file():
            return root
    raise ValueError(f"--official {str(path)!r} is not a checkout of schzhu/learning-adversarially-robust-"
                     "representations (no robust_representations/train_unsup.py)")


def _write_stand_ins(folder: Path) -> list[str]:
    """Empty ``dill`` and ``cox`` modules for their imports (checkpointing and logging, never called here),
    written only where the real package is missing. Returns the names written."""
    written = []
    if importlib.util.find_spec("dill") is None:
        (folder / "dill.py").write_text('"""Stand-in for the benchmark: their code imports dill, never uses it."""\n')
        written.append("dill")
    if importlib.util.find_spec("cox") is None:
        (folder / "cox").mkdir()
        attr = "def __getattr__(name):\n    return name\n"
        (folder / "cox" / "__init__.py").write_text(
            '"""Stand-in for the benchmark (their constants name cox.store\'s column types)."""\n'
            "from . import store, utils  # noqa: F401\n")
        (folder / "cox" / "store.py").write_text(attr)
        (folder / "cox" / "utils.py").write_text(attr)
        written.append("cox")
    return written


def load_official(path: Path) -> tuple[dict[str, types.ModuleType], dict]:
    """Their modules imported from ``path`` (their package layout needs their folder on ``sys.path``)."""
    root = official_root(path)
    shims = Path(tempfile.mkdtemp(prefix="rrbook_official_shims_"))
    written = _write_stand_ins(shims)
    clash = [m for m in ("models", "functions", "robustness") if m in sys.modules]
    if clash:
        raise RuntimeError(f"modules {clash} are already imported; run this benchmark as its own process")
    sys.path[:0] = [str(root), str(shims)]
    modules = {name: importlib.import_module(name) for name in OFFICIAL_MODULES}
    for name, module in modules.items():
        if not Path(module.__file__).resolve().is_relative_to(root):
            raise RuntimeError(f"{name} was imported from {module.__file__}, not from {root}")
    commit = None
    with contextlib.suppress(Exception):
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                                check=True).stdout.strip() or None
    return modules, {"root": str(root), "commit": commit, "stand_ins": written}


class _SilentBar:
    """Their ``tqdm`` bar without output (the loop calls ``set_description`` and ``refresh`` every batch)."""

    def __init__(self, iterable, **_):
        self.iterable = iterable

    def __iter__(self):
        return iter(self.iterable)

    def set_description(self, *_):
        pass

    def refresh(self):
        pass


@contextlib.contextmanager
def cpu_cuda(device: torch.device) -> Iterator[None]:
    """On the CPU, their ``tensor.cuda()`` returns the tensor itself while the block runs (restored after)."""
    if device.type == "cuda":
        yield
        return
    saved = torch.Tensor.cuda
    torch.Tensor.cuda = lambda self, *a, **k: self
    try:
        yield
    finally:
        torch.Tensor.cuda = saved


@contextlib.contextmanager
def byte_masks() -> Iterator[None]:
    """Their initialisation calls ``masked_fill_`` with a uint8 mask, which torch ≥ 1.2 rejects: while their
    modules are built, such a mask is read as bool (the weights are overwritten by ours anyway)."""
    saved = torch.Tensor.masked_fill_

    def masked_fill_(self, mask, value):
        return saved(self, mask.bool() if mask.dtype == torch.uint8 else mask, value)

    torch.Tensor.masked_fill_ = masked_fill_
    try:
        yield
    finally:
        torch.Tensor.masked_fill_ = saved


def official_model(mods: dict, width: int, device: torch.device):
    """Their ``AttackerModel(BigEncoder(basic_encoder, Estimator, MI1x1ConvNet))`` as ``unsup_models`` builds it
    for ``--task train-encoder --arch basic_encoder --va-mode dv`` on Fashion-MNIST (mean 0, std 1)."""
    with byte_masks():
        return _official_model(mods, width, device)


def _official_model(mods: dict, width: int, device: torch.device):
    mnist = mods["robustness.mnist_models"]
    args = types.SimpleNamespace(arch="basic_encoder", task="train-encoder", va_hsize=width, share_arch=False,
                                 va_fd_measure="JSD", va_mode="dv")
    dataset = types.SimpleNamespace(mean=torch.tensor([0.0]), std=torch.tensor([1.0]), num_classes=10,
                                    get_model=lambda arch, pretrained: mnist.__dict__[arch](num_classes=10),
                                    get_module=lambda arch: mnist.__dict__[arch])
    encoder = mods["models.encoder_wrapper"].WrappedEncoder(args, dataset)
    local = dataset.get_module("Estimator")(width)
    glob = mods["models.discriminators"].MI1x1ConvNet(encoder.z_size, width)
    big = mods["unsup_models"].BigEncoder(encoder, local, glob, None, args)
    return mods["robustness.attacker"].AttackerModel(big, dataset).to(device)


# ------------------------------------------------------------------------------------------- same weights
def _encoder_names() -> dict[str, str]:
    ours = {"block1": "layer0", "block2": "layer1", "block3": "layer2", "fc1": "layer4"}
    out = {}
    for a, b in ours.items():
        for i in (0, 1):
            out[f"encoder.{a}.{i}"] = f"enc.{b}.{i}"
    out["encoder.fc2"] = "enc.layer5"
    return out


def _block_names(ours: str, theirs: str) -> dict[str, str]:
    return {f"{ours}.nonlinear.{i}": f"{theirs}block_nonlinear.{i}" for i in (0, 1, 3)} | {
        f"{ours}.shortcut": f"{theirs}linear_shortcut", f"{ours}.norm": f"{theirs}block_ln.1"}


def copy_weights(g: torch.nn.Module, t: torch.nn.Module, atm: torch.nn.Module) -> dict[str, int]:
    """Zero our two image-branch conv biases (theirs have none), then copy every parameter and buffer of ours
    into theirs by name; every tensor on either side must be matched exactly once. Returns parameter counts."""
    with torch.no_grad():
        for i in (0, 3):
            t.critic.image_branch[i].bias.zero_()
    big = atm.attacker.model
    pairs = [(g, big.encoder, _encoder_names()),
             (t, big.dim_local, {"critic.image_branch.0": "layer0.0", "critic.image_branch.1": "layer0.1",
                                 "critic.image_branch.3": "layer1.0", "critic.image_branch.4": "layer1.1"}
              | _block_names("critic.image_branch.6", "")),
             (t, big.dim_global, _block_names("critic.code_branch", ""))]
    used = set()
    for ours, theirs, names in pairs:
        src = ours.state_dict()
        dst = theirs.state_dict()
        for key in dst:
            prefix, leaf = key.rsplit(".", 1)
            mine = next(a for a, b in names.items() if b == prefix) + "." + leaf
            if src[mine].shape != dst[key].shape:
                raise RuntimeError(f"shape mismatch {mine} {tuple(src[mine].shape)} vs {key} {tuple(dst[key].shape)}")
            dst[key].copy_(src[mine])
            used.add((id(ours), mine))
        theirs.load_state_dict(dst)
    left = [k for m in (g, t) for k, v in m.state_dict().items()
            if (id(m), k) not in used and not k.startswith("normalize.")
            and not (k.endswith("bias") and k.startswith("critic.image_branch.") and k.split(".")[2] in "03")]
    if left:
        raise RuntimeError(f"tensors of ours without a counterpart: {left}")
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    return {"encoder_rrlib": count(g), "encoder_official": count(big.encoder),
            "critic_rrlib": count(t), "critic_official": count(big.dim_local) + count(big.dim_global)}


# ------------------------------------------------------------------------------------------- the two steps
def make_steps(g, t, atm, mods, x, y, threat, device) -> dict[str, Callable[[str], float]]:
    """``{"rrlib": step(kind), "official": step(kind)}`` with ``kind`` in ``STEPS``; each owns its Adam."""
    opt = torch.optim.Adam([*g.parameters(), *t.parameters()], lr=1e-4)
    big = atm.attacker.model
    opts = [torch.optim.Adam(m.parameters(), lr=1e-4) for m in (big.encoder, big.dim_local, big.dim_global)]
    train_unsup = mods["train_unsup"]
    train_unsup.tqdm = _SilentBar
    args = types.SimpleNamespace(task="train-encoder", estimator_loss="normal", constraint="inf", eps=threat.eps,
                                 attack_lr=threat.step_size, attack_steps=threat.steps, use_best=1,
                                 eps_fadein_epochs=0, random_restarts=0)
    loader = [(x, y)]

    def ours(kind: str) -> float:
        return encoder_step(g, t, opt, x, threat if kind == "worst" else None)

    def theirs(kind: str) -> float:
        args.estimator_loss = kind
        with cpu_cuda(device):
            _, loss = train_unsup._model_loop(args, "train", loader, atm, [*opts, None], 0, (None,), None)
        return -loss

    return {"rrlib": ours, "official": theirs}


def abba_medians(fns: dict[str, Callable[[], object]], repeats: int, device: torch.device) -> dict[str, list[float]]:
    """Seconds per call of two functions, one warm-up call each, then ``repeats`` pairs in the order A-B, B-A, …"""
    from rrlib.timing import synchronize

    names = list(fns)
    for fn in fns.values():
        fn()
    times: dict[str, list[float]] = {n: [] for n in names}
    for r in range(repeats):
        for name in (names if r % 2 == 0 else names[::-1]):
            synchronize(device)
            t0 = time.perf_counter()
            fns[name]()
            synchronize(device)
            times[name].append(time.perf_counter() - t0)
    return times


def paired_ratio(ours: list[float], theirs: list[float]) -> dict[str, Any]:
    """The ratio ours/theirs judged per pair (each pair ran back to back, so what the machine did meanwhile hits
    both): the geometric mean of the per-pair ratios and its 95 % Student-t interval (on the log ratios, df = pairs
    − 1; the unit of replication is one pair). NaN interval for a single pair."""
    from rrlib.stats import paired_difference

    d = paired_difference(np.log(ours), np.log(theirs))
    lo, hi = d.interval(0.95)
    return {"paired_ratio": math.exp(d.mean), "paired_ratio_ci95": [math.exp(lo), math.exp(hi)], "pairs": d.n}


# ------------------------------------------------------------------------------------------- equivalence checks
def _official_dv(big, x_norm: torch.Tensor) -> torch.Tensor:
    """Their DV (``-donsker_varadhan_loss``) on a normalised batch, as their attack's loss computes it."""
    return -big.custom_loss_func(big, x_norm, None, loss_type="dim")[0][0]


def dv_tolerance(phi: torch.Tensor, psi: torch.Tensor, scores: torch.Tensor) -> dict[str, float]:
    """A float32 error bound for comparing two DV values computed from the same features in different orders.

    Each score is a dot product of ``C`` terms: ``|Δs| ≤ γ_C Σ_c |φ_c ψ_c|`` (``γ_k = k u / (1 − k u)``,
    ``u = 2⁻²⁴``), twice over (either side rounds). DV is 1-Lipschitz in the max-norm of the scores (a mean of the
    diagonal minus a log-mean-exp, whose weights sum to at most 1), so that bound carries over; the reductions add
    ``γ_n max|s|`` (the diagonal mean over ``n``), ``γ_{n²} + γ_{L}`` relative to 1 (the log of a sum of ``n²``
    positive terms; the mean over ``L`` locations) and a few ``u`` for ``exp``/``log``.
    """
    gamma = lambda k: k * U32 / (1 - k * U32)  # noqa: E731
    n_loc, n, _ = scores.shape
    c = phi.shape[1]
    abs_dot = torch.einsum("icl,jc->lij", phi.abs().double(), psi.abs().double())
    smax = float(scores.abs().max())
    product = 2 * gamma(c) * float(abs_dot.max())
    reductions = 2 * (gamma(n) * smax + gamma(n * n) + gamma(n_loc) * smax + 4 * U32 * (1 + smax))
    return {"product": product, "reductions": reductions, "total": product + reductions,
            "max_abs_score": smax, "max_abs_dot": float(abs_dot.max())}


def subnormal_fraction(t: torch.Tensor) -> float:
    """Fraction of entries that are non-zero and below float32's smallest normal number."""
    tiny = torch.finfo(t.dtype).tiny
    return float(((t != 0) & (t.abs() < tiny)).double().mean())


@contextlib.contextmanager
def unflushed() -> Iterator[None]:
    """rrlib's bounds without :func:`rrlib.runtime.flush_subnormal_grad`: torch's own gradient (what the authors'
    code computes), to count the subnormal entries that the flush removes."""
    import rrlib.mi.bounds as bounds

    saved = bounds.flush_subnormal_grad
    bounds.flush_subnormal_grad = lambda x: x
    try:
        yield
    finally:
        bounds.flush_subnormal_grad = saved


class PassCounter:
    """Counts forward calls of a module and the backward passes that reach its output."""

    def __init__(self, module: torch.nn.Module) -> None:
        self.forward = self.backward = 0
        module.register_forward_hook(self._hook)

    def _hook(self, _module, _inputs, output) -> None:
        self.forward += 1
        if isinstance(output, torch.Tensor) and output.requires_grad:
            output.register_hook(self._count_backward)

    def _count_backward(self, grad):
        self.backward += 1


def pass_counts(g, t, atm, mods, x, y, threat, device) -> dict[str, dict[str, dict[str, int]]]:
    """Encoder and critic forward/backward passes of one step of each kind, on copies of both sides."""
    out: dict[str, dict[str, dict[str, int]]] = {}
    for kind in STEPS:
        g2, t2, atm2 = copy.deepcopy(g), copy.deepcopy(t), copy.deepcopy(atm)
        big = atm2.attacker.model
        counters = {"rrlib": (PassCounter(g2), PassCounter(t2.critic.code_branch)),
                    "official": (PassCounter(big.encoder), PassCounter(big.dim_global))}
        steps = make_steps(g2, t2, atm2, mods, x, y, threat, device)
        for side, fn in steps.items():
            fn(kind)
            enc, crit = counters[side]
            out.setdefault(kind, {})[side] = {"encoder_forward": enc.forward, "encoder_backward": enc.backward,
                                              "critic_forward": crit.forward, "critic_backward": crit.backward}
    return out


def equivalence(g, t, atm, mods, x, y, threat, device, attack: bool) -> dict:
    """Features, DV, ∂DV/∂scores subnormals and (``attack``) the attacked batch, on copies in eval mode."""
    g2, t2, atm2 = copy.deepcopy(g), copy.deepcopy(t), copy.deepcopy(atm)
    big = atm2.attacker.model
    g2.eval(), t2.eval(), atm2.eval()
    with torch.no_grad():
        z_ours, z_theirs = g2(x), big.encoder(atm2.attacker.normalize(x))
        phi = t2.critic.local_features(t2.normalize(x)).flatten(2)
        psi = t2.critic.code_branch(z_ours[:, :, None, None]).flatten(1)
        loc, glo = big.extract(atm2.attacker.normalize(x), z_theirs, big.dim_local, big.dim_global)
        scores = t2(x, z_ours)
        dv_filler = float(dv(scores, dim_filler=True))
        dv_ours = float(dv(scores))
        dv_theirs = float(_official_dv(big, atm2.attacker.normalize(x)))
    tol = dv_tolerance(phi, psi, scores)
    s = scores.detach().clone().requires_grad_(True)
    dv(s).backward()
    s_theirs = s.detach().clone().requires_grad_(True)
    dv(s_theirs, dim_filler=True).backward()
    s_torch = s.detach().clone().requires_grad_(True)
    with unflushed():
        dv(s_torch).backward()
    row = {"max_abs_diff_z": float((z_ours - z_theirs).abs().max()),
           "max_abs_diff_phi": float((phi - loc).abs().max()),
           "max_abs_diff_psi": float((psi - glo.flatten(1)).abs().max()),
           "dv_official": dv_theirs, "dv_rrlib_dim_filler": dv_filler, "dv_rrlib": dv_ours,
           "abs_diff_dv": abs(dv_theirs - dv_filler), "tolerance": tol,
           "dv_within_tolerance": abs(dv_theirs - dv_filler) <= tol["total"],
           "subnormal_fraction_grad_scores_rrlib": subnormal_fraction(s.grad),
           "subnormal_fraction_grad_scores_torch": subnormal_fraction(s_torch.grad),
           "subnormal_fraction_grad_scores_dim_filler": subnormal_fraction(s_theirs.grad)}
    if attack:
        bound = functools.partial(dv, dim_filler=True)
        x_ours, v_ours = worst_case.worst_case_batch(t2, g2, x, threat, bound=bound)
        with cpu_cuda(device):
            x_theirs = atm2.attacker(x, None, constraint="inf", eps=threat.eps, step_size=threat.step_size,
                                     iterations=threat.steps, random_start=False, random_restarts=0, use_best=True,
                                     custom_loss=functools.partial(big.custom_loss_func, loss_type="dim"))
            with torch.no_grad():
                v_theirs = float(_official_dv(big, atm2.attacker.normalize(x_theirs)))
        row |= {"attack_max_abs_diff_x": float((x_ours - x_theirs).abs().max()),
                "attack_dv_rrlib_dim_filler": float(v_ours), "attack_dv_official": v_theirs}
    return row


# ------------------------------------------------------------------------------------------- report
def machine_info(threads: int) -> dict:
    cpu = None
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {"cpu": cpu or platform.processor(), "logical_cpus": __import__("os").cpu_count(),
            "platform": platform.platform(), "python": platform.python_version(), "torch": torch.__version__,
            "threads": torch.get_num_threads(), "threads_requested": threads}


def markdown(result: dict) -> str:
    meta, m = result["meta"], result["machine"]
    lines = [f"# rrlib vs the authors' code: encoder step ({meta['device']}, {m['threads']} thread(s))", "",
             f"{m['cpu']}, torch {m['torch']}; official code {meta['official_commit'] or '(commit unknown)'}. "
             f"Batch {meta['batch_size']} Fashion-MNIST images, Baseline-H encoder, encode-and-dot critic, the "
             f"same weights on both sides; ℓ∞ PGD ε = {meta['eps']}, {meta['steps']} steps of "
             f"{meta['step_size']}, keep-best; Adam 1e-4. Flush denormals: {meta['flush_denormal']}.", "",
             "## Equivalence checks", "",
             "| critic width | max abs Δ z, φ, ψ | DV official | DV rrlib (dim filler) | abs Δ | tolerance | "
             "rrlib DV (own convention) | subnormal ∂DV/∂s: torch's / rrlib's | attacked batch max abs Δ |",
             "|---|---|---|---|---|---|---|---|---|"]
    for w in result["widths"]:
        e = w["equivalence"]
        att = e.get("attack_max_abs_diff_x")
        lines.append(
            f"| {w['width']} | {e['max_abs_diff_z']:.1e}, {e['max_abs_diff_phi']:.1e}, {e['max_abs_diff_psi']:.1e} | "
            f"{e['dv_official']:.6f} | {e['dv_rrlib_dim_filler']:.6f} | {e['abs_diff_dv']:.1e} | "
            f"{e['tolerance']['total']:.1e} ({'ok' if e['dv_within_tolerance'] else 'EXCEEDED'}) | "
            f"{e['dv_rrlib']:.6f} | {e.get('subnormal_fraction_grad_scores_torch', float('nan')):.2%} / "
            f"{e['subnormal_fraction_grad_scores_rrlib']:.2%} | "
            f"{'–' if att is None else f'{att:.1e}'} |")
    lines += ["", "Passes per step (encoder forward/backward, critic code branch forward/backward):", "",
              "| step | rrlib | official |", "|---|---|---|"]
    for kind, sides in result["passes"].items():
        cell = lambda p: (f"{p['encoder_forward']}/{p['encoder_backward']}, "  # noqa: E731
                          f"{p['critic_forward']}/{p['critic_backward']}")
        lines.append(f"| {kind} | {cell(sides['rrlib'])} | {cell(sides['official'])} |")
    lines += ["", "## ms per step (median; pairs interleaved A-B / B-A)", "",
              "| critic width | step | rrlib | official | ratio rrlib/official | per pair: geometric mean "
              "[95 % t] |", "|---|---|---|---|---|---|"]
    for w in result["widths"]:
        for kind in STEPS:
            t = w["timing"].get(kind)
            if t:
                lo, hi = t["paired_ratio_ci95"]
                lines.append(f"| {w['width']} | {kind} | {t['rrlib_ms']:,.0f} | {t['official_ms']:,.0f} | "
                             f"{t['ratio']:.2f} | {t['paired_ratio']:.3f} [{lo:.3f}, {hi:.3f}] |")
    lines += ["", f"Medians of {meta['repeats']} pairs after one warm-up call each; the last column judges the "
              "ratio pair by pair (each pair ran back to back), a 95 % Student-t interval of the mean log ratio "
              "over pairs, exponentiated; all times in "
              "`official_critic.json`. The DV conventions differ (theirs counts exp(0) = 1 for each masked "
              "diagonal score, ours leaves the diagonal out); the checks compare theirs with our `dim_filler=True`, "
              "the timed steps each use their own (the same work). The tolerance bounds the float32 rounding of the "
              "score product and the reductions (see `dv_tolerance`)."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--official", type=Path, required=True, metavar="PATH",
                        help="a local checkout of schzhu/learning-adversarially-robust-representations")
    parser.add_argument("--widths", type=int, nargs="+", default=[64, 2048])
    parser.add_argument("--steps", nargs="+", default=list(STEPS), choices=STEPS)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (0: leave torch's default)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--flush-denormal", action="store_true", help="torch.set_flush_denormal(True) for the run")
    parser.add_argument("--no-attack-check", action="store_true", help="skip the attacked-batch comparison")
    parser.add_argument("--no-save", action="store_true")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be >= 1")
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    flushed = torch.set_flush_denormal(True) if args.flush_denormal else False
    mods, official = load_official(args.official)
    data = subset(load_dataset("fashion-mnist", "train"), args.batch_size, 0)
    x, y = (v.to(device) for v in data.tensors())
    threat = dataset_threat_model("fashion-mnist")
    result = {"meta": {"device": str(device), "batch_size": args.batch_size, "repeats": args.repeats,
                       "eps": threat.eps, "steps": threat.steps, "step_size": threat.step_size,
                       "flush_denormal": bool(flushed), "official_root": official["root"],
                       "official_commit": official["commit"], "stand_ins": official["stand_ins"]},
              "machine": machine_info(args.threads), "widths": []}
    widths = sorted(args.widths)
    built = []
    for i, width in enumerate(widths):
        torch.manual_seed(0)
        g = PixelEncoder("fashion-mnist").to(device)
        t = PixelCritic("fashion-mnist", hidden=width).to(device)
        atm = official_model(mods, width, device)
        counts = copy_weights(g, t, atm)
        eq = equivalence(g, t, atm, mods, x, y, threat, device, attack=i == 0 and not args.no_attack_check)
        if i == 0:
            result["passes"] = pass_counts(g, t, atm, mods, x, y, threat, device)
        result["widths"].append({"width": width, "parameters": counts, "equivalence": eq, "timing": {}})
        built.append((g, t, atm))
        print(f"width {width}: parameters {counts}; "
              f"DV official {eq['dv_official']:.6f}, rrlib (dim filler) {eq['dv_rrlib_dim_filler']:.6f}, "
              f"|Δ| {eq['abs_diff_dv']:.2e} ≤ tol {eq['tolerance']['total']:.2e}: {eq['dv_within_tolerance']}; "
              f"max |Δ| z {eq['max_abs_diff_z']:.1e} φ {eq['max_abs_diff_phi']:.1e} ψ {eq['max_abs_diff_psi']:.1e}; "
              f"subnormal ∂DV/∂s torch's {eq['subnormal_fraction_grad_scores_torch']:.3%}, rrlib's "
              f"{eq['subnormal_fraction_grad_scores_rrlib']:.3%}"
              + (f"; attacked batch max |Δ| {eq['attack_max_abs_diff_x']:.1e}" if "attack_max_abs_diff_x" in eq
                 else ""), flush=True)
    print(f"passes per step: {json.dumps(result['passes'])}", flush=True)
    for kind in [k for k in STEPS if k in args.steps]:  # all normal steps first: the widest worst step last
        for (g, t, atm), row in zip(built, result["widths"], strict=True):
            steps = make_steps(g, t, atm, mods, x, y, threat, device)
            times = abba_medians({side: functools.partial(fn, kind) for side, fn in steps.items()},
                                 args.repeats, device)
            med = {side: float(np.median(v)) for side, v in times.items()}
            paired = paired_ratio(times["rrlib"], times["official"])
            row["timing"][kind] = {"rrlib_ms": 1e3 * med["rrlib"], "official_ms": 1e3 * med["official"],
                                   "ratio": med["rrlib"] / med["official"], **paired, "seconds": times}
            lo, hi = paired["paired_ratio_ci95"]
            print(f"width {row['width']} {kind}: rrlib {1e3 * med['rrlib']:.0f} ms, official "
                  f"{1e3 * med['official']:.0f} ms, ratio {med['rrlib'] / med['official']:.2f}; paired "
                  f"{paired['paired_ratio']:.3f} [{lo:.3f}, {hi:.3f}]", flush=True)
    if flushed:
        torch.set_flush_denormal(False)
    text = markdown(result)
    print(text)
    if not args.no_save:
        RESULTS.mkdir(exist_ok=True)
        atomic_write_text(RESULTS / "official_critic.json", json.dumps(result, indent=2) + "\n")
        atomic_write_text(RESULTS / "official_critic.md", text)
    return result


if __name__ == "__main__":
    main()
