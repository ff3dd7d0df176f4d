"""Seconds per call of each :class:`~rrlib.projection.work.Unit`: the library's own steps on random inputs of the unit's
shape, timed with :func:`rrlib.timing.interleaved_medians` (CUDA-synchronised)."""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

import numpy as np
import torch

from rrlib.data import ImageDataset, dataset_threat_model, get_spec
from rrlib.projection.work import AA_IMAGES, Unit
from rrlib.timing import interleaved_medians, synchronize


# ------------------------------------------------------------------------------------------------------ timing
def _threat(dataset: str, steps: int, **extra: Any) -> Any:
    """The dataset's ℓ∞ PGD with ``steps`` steps (ε = 0.1 on a dataset without one: PGD's cost is ε-free)."""
    spec = get_spec(dataset)
    from rrlib.attacks import ThreatModel

    base = spec.threat if spec.threat is not None else ThreatModel("linf", 0.1, 1, 0.025)
    return replace(base, steps=steps, **extra)


def _images(dataset: str, n: int, device: torch.device) -> torch.Tensor:
    return torch.rand(n, *get_spec(dataset).shape, device=device)


def _dataset(dataset: str, n: int) -> ImageDataset:
    g = torch.Generator().manual_seed(0)
    spec = get_spec(dataset)
    return ImageDataset(torch.randint(0, 256, (n, *spec.shape), dtype=torch.uint8, generator=g),
                        torch.randint(0, spec.n_classes, (n,), generator=g), name=f"random {dataset}")


def _shrunk(u: Unit, shrink: bool) -> dict[str, Any]:
    """The unit's parameters; with ``shrink`` tiny widths, batches, critics, at most 2 attack steps, and Baseline-H
    (width 0.125) in place of the CIFAR-10 zoo's networks (VGG/ResNet/DenseNet take seconds per pass on a CPU)."""
    p = dict(u.params)
    if shrink:
        for key, small in (("batch", 4), ("critic_hidden", 16), ("hidden", 16), ("embed", 8), ("code_hidden", 8),
                           ("images", 4)):
            if key in p:
                p[key] = min(p[key], small)
        for key in ("attack_steps", "steps"):
            if key in p:
                p[key] = min(p[key], 2)
        if "width" in p and (p["width"] is not None or p.get("model") == "baseline_h"):
            p["width"] = min(p["width"] or 1.0, 0.125)
        if "restarts" in p:
            p["restarts"] = min(p["restarts"], 1)
        if p.get("model") not in (None, "baseline_h"):  # the zoo's networks have no width knob: Baseline-H stands in
            p.update(model="baseline_h", head="mlp", width=0.125)
    return p


def _encoder_step(objective: str, g: torch.nn.Module, t: torch.nn.Module, opt: torch.optim.Optimizer,
                  x: torch.Tensor, threat: Any, device: torch.device) -> Callable[[], object]:
    """One training step of an encoder objective (``dv``: DIM or Eq. 5.4; ``infonce``: Eq. 5.4 with InfoNCE;
    ``contrastive``: the RoCL-style step with its two views, adversary and projection head)."""
    from rrlib.mi.bounds import infonce
    from rrlib.train import contrastive
    from rrlib.train.encoder import ContrastiveConfig, encoder_step

    if objective == "dv":
        return lambda: encoder_step(g, t, opt, x, threat)
    if objective == "infonce":
        return lambda: encoder_step(g, t, opt, x, threat, bound=infonce)
    c = ContrastiveConfig(dataset="fashion-mnist")
    head = contrastive.ProjectionHead(g.rep_dim, c.projection_dim).to(device)
    optimizer = torch.optim.Adam([*g.parameters(), *head.parameters()], lr=1e-4)

    return lambda: contrastive.training_step(g, head, optimizer, x, threat, c.temperature, c.adv_weight, 0, 0, 0)


def _callable(u: Unit, device: torch.device, shrink: bool) -> tuple[Callable[[], object], int]:
    """``(fn, calls)``: calling ``fn`` once runs the unit ``calls`` times (seconds per unit = time / calls)."""
    from rrlib.models import build_model
    from rrlib.models.heads import build_head
    from rrlib.train.downstream import FrozenEncoderClassifier, evaluate_classifier, head_step
    from rrlib.train.encoder import PixelCritic, PixelEncoder, heldout_mi

    p = _shrunk(u, shrink)
    k = u.kind
    if k in ("encoder_step", "encoder_heldout"):
        g = PixelEncoder(p["dataset"], width=p["width"]).to(device)
        t = PixelCritic(p["dataset"], hidden=p["critic_hidden"]).to(device)
        opt = torch.optim.Adam([*g.parameters(), *t.parameters()], lr=1e-4)
        x = _images(p["dataset"], p["batch"], device)
        th = _threat(p["dataset"], p["attack_steps"]) if p["attack_steps"] else None
        if k == "encoder_step":
            return _encoder_step(p.get("objective", "dv"), g, t, opt, x, th, device), 1
        return (lambda: heldout_mi(g, t, [x], _threat(p["dataset"], p["attack_steps"]))), 1
    if k in ("head_step", "head_eval_batch"):
        spec = get_spec(p["dataset"])
        model = FrozenEncoderClassifier(PixelEncoder(p["dataset"], width=p["width"]),
                                        build_head(p["head"], 64, spec.n_classes)).to(device)
        opt = torch.optim.Adam(model.head.parameters(), lr=1e-4)
        n = min(p["batch"], 8) if shrink else p["batch"]
        x, y = _images(p["dataset"], n, device), torch.randint(0, spec.n_classes, (n,), device=device)
        th = _threat(p["dataset"], p["attack_steps"]) if p["attack_steps"] else None
        if k == "head_step":
            return (lambda: head_step(model, opt, x, y, th)), 1
        return (lambda: evaluate_classifier(model, x, y, th, batch_size=n)), 1
    if k == "supervised_eval_batch":
        from rrlib.train.supervised import evaluate

        model = build_model(p["model"], p["dataset"], head=p["head"], width=p["width"]).to(device)
        data = _dataset(p["dataset"], min(p["batch"], 8) if shrink else p["batch"])
        th = _threat(p["dataset"], p["attack_steps"]) if p["attack_steps"] else None
        return (lambda: evaluate(model, data, threat=th, device=device, batch_size=len(data), amp=p["amp"])), 1
    if k == "pgd_batch":
        from rrlib.attacks import adversarial_examples

        model = build_model(p["model"], p["dataset"], head=p["head"], width=p["width"]).to(device).eval()
        x = _images(p["dataset"], p["batch"], device)
        y = torch.randint(0, get_spec(p["dataset"]).n_classes, (p["batch"],), device=device)
        eps = _threat(p["dataset"], 1).eps
        th = _threat(p["dataset"], p["steps"], step_size=2.5 * eps / p["steps"], random_start=p["restarts"] > 0,
                     restarts=p["restarts"]) if p["restarts"] else _threat(p["dataset"], p["steps"])
        return (lambda: adversarial_examples(model, x, y, th)), 1
    if k == "staircase_step":
        from rrlib.mi.bounds import make_bound
        from rrlib.mi.estimator import build_critic, train_steps
        from rrlib.runtime import torch_generator
        from rrlib.synthetic import CorrelatedGaussian, DeterministicCode

        if p["data"] == "gaussian":
            sampler, z_dim = CorrelatedGaussian.from_mi(2.0, p["dim"]).sample, p["dim"]
        else:
            code = DeterministicCode(p["dim"])
            sampler, z_dim = code.sample, code.z_dim
        net = build_critic(p["critic"], p["dim"], z_dim, hidden=p["hidden"], embed=p["embed"],
                           layers=p["layers"]).to(device)
        bound = make_bound(p["bound"], **({"tau": 5.0} if p["bound"] == "smile" else {}))
        opt = torch.optim.Adam(net.parameters(), lr=5e-4)
        gen, steps = torch_generator(0, device), 2 if shrink else 20
        return (lambda: train_steps(net, bound, opt, sampler, gen, steps, p["batch"], iter(()))), steps
    if k == "image_critic_step":
        from rrlib.mi.bounds import make_bound
        from rrlib.mi.estimator import build_critic, train_steps
        from rrlib.runtime import torch_generator

        bits = p["bits"]
        if p["critic"] == "encode_and_dot":
            net = PixelCritic("fashion-mnist", z_dim=bits, hidden=p["hidden"]).to(device)
            flat = False
        else:
            net, flat = build_critic("separable", 28 * 28, bits).to(device), True

        def images(n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
            """Random pixels and bits of the shapes BitTileImages gives (its tiles need Fashion-MNIST on disk)."""
            x = torch.rand(n, 1, 28, 28, generator=generator, device=generator.device)
            z = torch.randint(0, 2, (n, bits), generator=generator, device=generator.device).float()
            return (x.flatten(1) if flat else x), z

        opt = torch.optim.Adam(net.parameters(), lr=5e-4)
        gen, steps = torch_generator(0, device), 2 if shrink else 20
        return (lambda: train_steps(net, make_bound("dv"), opt, images, gen, steps, p["batch"], iter(()))), steps
    if k == "oracle_trial":
        from rrlib.experiments.mine import oracle_experiment

        trials = 2 if shrink else 100
        return (lambda: oracle_experiment((6.0,), (p["batch"],), trials, dim=p["dim"])), trials
    if k in ("alg2_iteration", "neuron_iteration"):
        return _alg2_callable(k, p, device, shrink)
    if k == "autoattack_image":
        from rrlib.robustness_eval import robustness_report

        spec = get_spec(p["dataset"])
        model = FrozenEncoderClassifier(PixelEncoder(p["dataset"], width=p["width"]),
                                        build_head("mlp", 64, spec.n_classes)).to(device).eval()
        n = 2 if shrink else AA_IMAGES
        x = _images(p["dataset"], n, device)
        with torch.no_grad():
            y = model(x).argmax(1)  # every point starts correct, so every attack runs
        # shrunk: ε = 1 (the whole box) breaks every point in APGD-CE's first steps, so the later attacks skip them
        threat = replace(dataset_threat_model(p["dataset"]), eps=1.0) if shrink else dataset_threat_model(p["dataset"])
        return (lambda: robustness_report(model, x, y, threat, n_classes=spec.n_classes, seed=0,
                                          version=p["version"])), n
    if k in ("ce_saliency", "dv_saliency", "kernel_saliency"):
        from rrlib.saliency import ce_saliency, dv_saliency, kernel_saliency

        spec = get_spec(p["dataset"])
        g = PixelEncoder(p["dataset"], width=p["width"]).to(device).eval()
        n = p.get("images", p.get("batch"))
        x, y = _images(p["dataset"], n, device), torch.randint(0, spec.n_classes, (n,), device=device)
        if k == "ce_saliency":
            model = build_model("baseline_h", p["dataset"], head="mlp", width=p["width"]).to(device).eval()
            return (lambda: ce_saliency(model, x, y)), 1
        if k == "dv_saliency":
            t = PixelCritic(p["dataset"], hidden=p["critic_hidden"]).to(device).eval()
            return (lambda: dv_saliency(g, t, x)), 1
        return (lambda: kernel_saliency(g, x, 0)), 1
    raise ValueError(f"no timing for unit kind {k!r}")


def _alg2_callable(kind: str, p: dict[str, Any], device: torch.device, shrink: bool
                   ) -> tuple[Callable[[], object], int]:
    """One run of the real estimator with ``T`` iterations and one test batch: ``T + 1`` Algorithm-2 iterations."""
    from rrlib.mi.worst_case import EstimatorConfig, estimate_mutual_information

    iters, b = (2 if shrink else 10), p["batch"]
    gen = torch.Generator().manual_seed(0)
    if kind == "neuron_iteration":
        from rrlib.mi.neurons import PerNeuronCritic, estimate_neuron_mi
        from rrlib.models import CONV2_PATCH, build_model
        from rrlib.models.surrogates import Conv2Units

        spec = get_spec(p["dataset"])
        model = build_model("baseline_h", p["dataset"], head=p["head"], width=p["width"]).to(device).eval()
        critic = PerNeuronCritic(model.encoder.conv2_channels, spec.channels * CONV2_PATCH[0] ** 2, p["hidden"],
                                 p["embed"], p["code_hidden"])
        x_tr, x_te = _images(p["dataset"], 2 * b, device), _images(p["dataset"], b, device)
        th = _threat(p["dataset"], p["attack_steps"]) if p["attack_steps"] else None
        cfg = EstimatorConfig(iterations=iters, batch_size=b, lr=1e-3, test_batches=1)
        return (lambda: estimate_neuron_mi(Conv2Units(model), critic, x_tr, x_te, threat=th, config=cfg,
                                           generator=gen)), iters + 1
    rep = p["representation"]
    if rep == "gaussian_sign":
        from rrlib.experiments.worst_case_mi.common import separable_factory
        from rrlib.models.surrogates import SignRepresentation

        w = np.ones(p["dim"]) / math.sqrt(p["dim"])
        model = SignRepresentation(w, 3.0).to(device)
        critic = separable_factory(p["dim"], 1, p["hidden"], p["embed"])()
        x_tr, x_te = torch.randn(2 * b, p["dim"], device=device), torch.randn(b, p["dim"], device=device)
        th = _threat("digits", p["attack_steps"], box=None) if p["attack_steps"] else None
    else:
        from rrlib.models import build_model

        if rep == "digits":
            from rrlib.experiments.worst_case_mi.common import separable_factory

            ds = "digits"
            model = build_model("baseline_h", ds, head="linear", width=p["width"])
            critic = separable_factory(64, 10, p["hidden"], p["embed"], flat=True)()
        elif rep == "cifar_logits":
            from rrlib.mi.critics import EncodeAndDotCritic

            ds = "cifar10"
            model = build_model(p["model"], ds, head=p["head"], width=p["width"])
            critic = EncodeAndDotCritic(3, 10, p["hidden"], detach_x=p["gradient"] == "representation")
        else:  # pixel_encoder
            from rrlib.train.encoder import PixelCritic, PixelEncoder

            ds = p["dataset"]
            model, critic = PixelEncoder(ds, width=p["width"]), PixelCritic(ds, hidden=p["hidden"])
        model = model.to(device).eval()
        x_tr, x_te = _images(ds, 2 * b, device), _images(ds, b, device)
        th = _threat(ds, p["attack_steps"]) if p["attack_steps"] else None
    cfg = EstimatorConfig(iterations=iters, batch_size=b, lr=1e-4, test_batches=1, gradient=p["gradient"])
    return (lambda: estimate_mutual_information(model, critic, x_tr, x_te, threat=th, config=cfg,
                                                generator=gen)), iters + 1


def _time_supervised(u: Unit, device: torch.device, repeats: int, shrink: bool) -> float:
    """Median seconds between consecutive optimiser steps of :func:`rrlib.train.train_model` itself (its loader,
    augmentation, PGD, autocast and step; the callback synchronises CUDA), after one warm-up step."""
    from rrlib.train import TrainConfig, train_model

    p = _shrunk(u, shrink)
    th = _threat(p["dataset"], p["attack_steps"]) if p["attack_steps"] else None
    cfg = TrainConfig(dataset=p["dataset"], model=p["model"], head=p["head"], width=p["width"], epochs=1,
                      batch_size=p["batch"], optimizer=p["optimizer"], augment=p["augment"], amp=p["amp"],
                      adversarial=th is not None, eps=None if th is None else th.eps,
                      steps=None if th is None else th.steps, step_size=None if th is None else th.step_size,
                      eval_adversarial=False)
    stamps: list[float] = []

    def tick(_: dict[str, Any]) -> None:
        synchronize(device)
        stamps.append(time.perf_counter())

    steps = repeats + 2
    train_model(cfg, device=device, checkpoint_path=None, checkpoint_seconds=None, max_steps=steps, callback=tick,
                data=(_dataset(p["dataset"], (steps + 1) * p["batch"]), _dataset(p["dataset"], 2)),
                show_progress=False)
    return statistics.median(np.diff(stamps)[1:].tolist())


def _time_cpu_chapter(u: Unit, shrink: bool) -> float:
    """Seconds of the chapter's whole experiment on the CPU (``quick`` with ``shrink``), run once."""
    import importlib

    mod = importlib.import_module(f"rrlib.experiments.{u.get('experiment')}")
    config_cls = next(v for name, v in vars(mod).items() if name.endswith("Config") and hasattr(v, "full")
                      and v.__module__ == mod.__name__)
    config = getattr(config_cls, "quick" if shrink else u.get("profile"))(device="cpu")
    start = time.perf_counter()
    mod.run(config)
    return time.perf_counter() - start


def time_unit(u: Unit, device: torch.device, *, repeats: int = 5, shrink: bool = False) -> float:
    """Median seconds per call of ``u``'s library step on ``device`` (random inputs of the unit's shape).

    ``shrink=True``: tiny widths, batches and attacks (seconds on a CPU; the number is meaningless, the code path is
    exercised). ``cpu_chapter`` units run once on the CPU whatever ``device``; AutoAttack runs once on
    :data:`AA_IMAGES` images (seconds per image); ``none`` costs 0.
    """
    device = torch.device(device)
    if u.kind == "none":
        return 0.0
    if u.kind == "cpu_chapter":
        return _time_cpu_chapter(u, shrink)
    if u.kind == "supervised_step":
        return _time_supervised(u, device, repeats, shrink)
    torch.manual_seed(0)
    fn, calls = _callable(u, device, shrink)
    reps = 1 if u.kind == "autoattack_image" else repeats
    return interleaved_medians({"unit": fn}, reps, device)["unit"] / calls


def time_units(units: Iterable[Unit], device: torch.device, *, repeats: int = 5, shrink: bool = False,
               deadline: float | None = None, errors: dict[Unit, str] | None = None) -> dict[Unit, float]:
    """:func:`time_unit` for each distinct unit in order until ``deadline`` (a ``time.monotonic()`` value) passes.

    A unit whose timing raises is left out (its message goes to ``errors`` when given), so a projection row that
    needs it says "not measured" rather than guessing.
    """
    out: dict[Unit, float] = {}
    for u in dict.fromkeys(units):
        if deadline is not None and time.monotonic() >= deadline:
            break
        try:
            out[u] = time_unit(u, device, repeats=repeats, shrink=shrink)
        except Exception as err:  # noqa: BLE001  (one unit's failure must not lose the others)
            if errors is not None:
                errors[u] = f"{type(err).__name__}: {err}"
    return out

