"""Accuracy under AutoAttack (Croce & Hein 2020), next to the paper's PGD, for any classifier on [0, 1] pixels.

The paper evaluates with the same weak PGD it trains with (e.g. 10 steps, no random start, no restarts;
REFERENCE.md §11.6). AutoAttack's *standard* version — APGD-CE, APGD-T (targeted DLR), FAB-T and Square, each
run on the points the previous ones did not break — is the accepted stronger check. We use the maintained
implementation in ``torchattacks`` (``torchattacks.AutoAttack``), imported lazily: the rest of ``rrlib`` works
without it.

Installing it. ``torchattacks==3.5.1`` declares ``requests~=2.25.1`` although its code never imports
``requests``; that pin conflicts with the environment's ``requests`` (Jupyter Book's Sphinx needs >= 2.30), so
``pip install -r`` of both cannot resolve. Install it *without dependencies* (its real ones — torch,
torchvision, numpy, scipy, tqdm — are already in the environment)::

    pip install --no-deps torchattacks==3.5.1

Accuracies are fractions in [0, 1] over the given points; a point counts as robust only if the model classifies
the attacked point correctly (points misclassified clean count as broken). The model is put in eval mode during
the attack and its train/eval flags are restored.

Example (Fashion-MNIST's threat model: ε = 0.1, PGD-10 with steps of 0.02)::

    report = robustness_report(model, x, y, dataset_threat_model("fashion-mnist"), seed=0)
    report.natural, report.pgd, report.autoattack
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, replace
from typing import Any

import torch
from torch import nn

from rrlib.attacks import ThreatModel, adversarial_examples, evaluate_accuracy
from rrlib.runtime import managed_modes
from rrlib.validation import check_int, check_nonnegative_float

__all__ = [
    "INSTALL_HINT",
    "RobustnessReport",
    "attack_ladder",
    "autoattack_evaluation",
    "autoattack_accuracy",
    "autoattack_examples",
    "robustness_report",
    "stronger_pgd",
]

TORCHATTACKS_VERSION = "3.5.1"
INSTALL_HINT = f"pip install --no-deps torchattacks=={TORCHATTACKS_VERSION}"
VERSIONS = ("standard", "plus", "rand")
NORMS = {"linf": "Linf", "l2": "L2"}


def _torchattacks():
    try:
        import torchattacks
    except ImportError as err:
        raise ImportError(
            "AutoAttack evaluation needs the optional package torchattacks, which is not installed. Install it "
            f"with `{INSTALL_HINT}` (--no-deps: its metadata pins an old `requests` that it never imports; see "
            "rrlib/robustness_eval.py)"
        ) from err
    return torchattacks


def _check(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, norm: str) -> str:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(x, torch.Tensor) or x.ndim != 4 or not x.is_floating_point():
        raise ValueError(f"x must be a float tensor of shape (N, C, H, W), got {getattr(x, 'shape', type(x))}")
    if float(x.min()) < 0 or float(x.max()) > 1:
        raise ValueError(f"x must hold pixels in [0, 1] (AutoAttack clips to that box), got range "
                         f"[{float(x.min()):.3g}, {float(x.max()):.3g}]")
    if not isinstance(y, torch.Tensor) or y.shape != (x.shape[0],) or y.is_floating_point():
        raise ValueError(f"y must be an integer tensor of shape ({x.shape[0]},), got {getattr(y, 'shape', y)}")
    check_nonnegative_float("eps", eps)
    key = str(norm).lower()
    if key not in NORMS:
        raise ValueError(f"unknown norm {norm!r}; valid choices: {tuple(NORMS)}")
    return NORMS[key]


def autoattack_examples(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, eps: float, norm: str = "linf",
                        n_classes: int = 10, seed: int = 0, version: str = "standard",
                        batch_size: int | None = 256) -> torch.Tensor:
    """AutoAttack's adversarial points for ``(x, y)`` in ``B_norm(x, eps) ∩ [0, 1]`` (same shape, detached).

    The result is checked to lie inside the ball and the box (at ``eps = 0`` it equals ``x``; tested); ``seed``
    fixes the attacks' random starts. The targeted attacks (APGD-T, FAB-T) need ``n_classes ≥ 4`` and a model
    with ``n_classes`` logits.
    """
    ta_norm = _check(model, x, y, eps, norm)
    if version not in VERSIONS:
        raise ValueError(f"unknown AutoAttack version {version!r}; valid choices: {VERSIONS}")
    check_int("n_classes", n_classes, 4,
              what="an integer >= 4 (AutoAttack's targeted DLR loss uses the 4 largest logits)")
    ta = _torchattacks()
    with managed_modes(model):
        with torch.no_grad():
            width = model(x[:1]).shape[-1]
        if width != n_classes:
            raise ValueError(f"the model returns {width} logits but n_classes={n_classes}")
        attack = ta.AutoAttack(model, norm=ta_norm, eps=float(eps), version=version, n_classes=n_classes, seed=seed)
        chunk = x.shape[0] if batch_size is None else batch_size
        out = torch.cat([attack(x[i:i + chunk], y[i:i + chunk]) for i in range(0, x.shape[0], chunk)])
    out = out.detach()
    delta = (out - x).flatten(1)
    size = delta.abs().amax(1) if ta_norm == "Linf" else delta.norm(dim=1)
    if bool((size > eps * (1 + 1e-5) + 1e-6).any()) or float(out.min()) < 0 or float(out.max()) > 1:
        raise RuntimeError(f"AutoAttack returned points outside the ε-ball or the [0, 1] box (max size "
                           f"{float(size.max()):.4g} > eps {eps}); refusing to report an accuracy")
    return out


def _correct(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
    """Per point: does ``model`` (in eval mode, restored afterwards) classify ``x`` as ``y``? Boolean ``(n,)``
    (the one evaluator, :func:`rrlib.attacks.evaluate_accuracy`)."""
    return evaluate_accuracy(model, (x, y), batch_size=batch_size).natural_correct


def _accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 500) -> float:
    return int(_correct(model, x, y, batch_size).sum()) / max(x.shape[0], 1)


def autoattack_accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, eps: float, norm: str = "linf",
                        n_classes: int = 10, seed: int = 0, version: str = "standard",
                        batch_size: int | None = 256) -> float:
    """Fraction of ``(x, y)`` that ``model`` still classifies correctly under AutoAttack at radius ``eps``."""
    x_adv = autoattack_examples(model, x, y, eps=eps, norm=norm, n_classes=n_classes, seed=seed, version=version,
                                batch_size=batch_size)
    return _accuracy(model, x_adv, y)


@dataclass(frozen=True)
class RobustnessReport:
    """Natural, PGD and AutoAttack accuracy (fractions) on the same ``n`` points, with the attacks used
    (``threat``: the PGD's :class:`~rrlib.attacks.ThreatModel`; AutoAttack runs at its ``eps`` and ``norm``)."""

    n: int
    natural: float
    pgd: float
    autoattack: float
    threat: ThreatModel
    autoattack_version: str
    seed: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def robustness_report(model: nn.Module, x: torch.Tensor, y: torch.Tensor, threat: ThreatModel, *,
                      n_classes: int = 10, seed: int = 0, version: str = "standard",
                      batch_size: int | None = 256) -> RobustnessReport:
    """Natural, PGD (``threat``: e.g. the paper's, :func:`rrlib.data.dataset_threat_model`) and AutoAttack
    (radius ``threat.eps`` in ``threat.norm``) accuracy of ``model`` on the same points.

    Expect ``autoattack ≤ pgd ≤ natural``: the gap ``pgd − autoattack`` is how much the paper's PGD overstates
    robustness.
    """
    if not isinstance(threat, ThreatModel):
        raise TypeError(f"threat must be a rrlib.attacks.ThreatModel, got {type(threat).__name__}")
    _check(model, x, y, threat.eps, threat.norm)
    natural = _accuracy(model, x, y)
    x_pgd = x.detach().clone() if threat.eps == 0 else adversarial_examples(model, x, y, threat)
    pgd_acc = _accuracy(model, x_pgd, y)
    aa = autoattack_accuracy(model, x, y, eps=threat.eps, norm=threat.norm, n_classes=n_classes, seed=seed,
                             version=version, batch_size=batch_size)
    return RobustnessReport(x.shape[0], natural, pgd_acc, aa, threat, version, seed)


def stronger_pgd(threat: ThreatModel) -> dict[str, ThreatModel]:
    """A ladder of PGD attacks from ``threat`` (the paper's) up, all at its radius: the paper's; 10× the steps at a
    quarter of the step size; and that with a random start and 4 restarts (5 runs, the best kept per point)."""
    longer = replace(threat, steps=10 * threat.steps, step_size=threat.step_size / 4)
    return {"paper_pgd": threat, "longer_pgd": longer,
            "longer_pgd_restarts": replace(longer, random_start=True, restarts=4)}


def attack_ladder(model: nn.Module, x: torch.Tensor, y: torch.Tensor, threat: ThreatModel, *, n_classes: int = 10,
                  seed: int = 0, version: str = "standard") -> dict[str, float]:
    """Accuracy (fractions) of ``model`` on the same points: ``natural``, under each attack of
    :func:`stronger_pgd` (by its key) and under AutoAttack (``autoattack``). If the stronger PGDs close most of
    the gap to AutoAttack, the paper's PGD was merely too short (under-converged); if longer PGD from the clean
    point stays where the paper's was while random starts or AutoAttack (whose APGD-T uses a targeted margin loss)
    fall, the cross-entropy gradient at the clean point is uninformative: gradient masking."""
    if not isinstance(threat, ThreatModel):
        raise TypeError(f"threat must be a rrlib.attacks.ThreatModel, got {type(threat).__name__}")
    _check(model, x, y, threat.eps, threat.norm)
    clean = _correct(model, x, y)
    out = {"natural": float(clean.double().mean())}
    for name, attack in stronger_pgd(threat).items():  # robust = right on the clean and on the attacked point
        generator = torch.Generator(device=x.device).manual_seed(seed) if attack.random_start else None
        x_adv = adversarial_examples(model, x, y, attack, generator=generator)
        out[name] = float((clean & _correct(model, x_adv, y)).double().mean())
    out["autoattack"] = autoattack_accuracy(model, x, y, eps=threat.eps, norm=threat.norm, n_classes=n_classes,
                                            seed=seed, version=version)
    return out


def autoattack_evaluation(result: Any, n_images: int, *, data_root: str | os.PathLike | None = None,
                          seed: int = 0, version: str = "standard", batch_size: int | None = 256) -> dict[str, Any]:
    """AutoAttack accuracy (torchattacks) of the final and the best (E.S.) head of a
    :class:`rrlib.train.downstream.ClassifierResult` (also importable from :mod:`rrlib.train.downstream`).

    On ``n_images`` test images (class-stratified, seed 0: the same images for every run), at the radius and norm
    of ``result.config.threat()``. Returns ``{"settings": {...}, "final": acc, "best": acc or None}`` (fractions).
    Raises ``ImportError`` with the install line when torchattacks is missing.
    """
    from rrlib.data import get_spec, load_dataset, subset
    from rrlib.models.heads import build_head
    from rrlib.train.downstream import FrozenEncoderClassifier

    check_int("n_images", n_images, 1)
    config = result.config
    test = load_dataset(config.dataset, "test", root=data_root)
    if n_images > len(test):
        raise ValueError(f"n_images={n_images} but the {config.dataset!r} test split holds {len(test)} images")
    device = next(result.model.head.parameters()).device
    x, y = (t.to(device) for t in subset(test, n_images, 0).tensors())
    threat = config.threat()
    spec = get_spec(config.dataset)

    def accuracy(model: nn.Module) -> float:
        return autoattack_accuracy(model, x, y, eps=threat.eps, norm=threat.norm, n_classes=spec.n_classes,
                                   seed=seed, version=version, batch_size=batch_size)

    best = None
    if result.best_head_state is not None:
        head = build_head(config.head, result.model.encoder.rep_dim, spec.n_classes).to(device)
        head.load_state_dict(result.best_head_state)
        best = accuracy(FrozenEncoderClassifier(result.model.encoder, head).eval())
    settings = {"n_images": n_images, "version": version, "seed": seed, "eps": threat.eps, "norm": threat.norm,
                "images": "test split, class-stratified subset with seed 0"}
    return {"settings": settings, "final": accuracy(result.model), "best": best}
