"""The one accuracy evaluator: natural and PGD accuracy of a classifier, as fractions in [0, 1].

Every place that scores a classifier calls :func:`evaluate_accuracy`: the per-epoch evaluation of supervised training
(:func:`rrlib.train.supervised.evaluate`) and of downstream heads (:func:`rrlib.train.downstream.evaluate_classifier`),
:func:`rrlib.attacks.adversarial_accuracy`, the AutoAttack report and attack ladder (:mod:`rrlib.robustness_eval`),
chapter 06's zoo (``experiments/vulnerability/measure``) and chapter 05's digits. It returns an :class:`Accuracy`:
per-point correctness (so a caller can ask "right on the clean *and* on the attacked point"), the counts, the summed
cross-entropies (nats) and, through :meth:`Accuracy.fractions`, one key scheme::

    {"natural_accuracy": k_nat / n, "adversarial_accuracy": k_adv / n}

Callers map these onto the metric keys they have always written (``nat_acc``/``adv_acc`` in training histories,
``natural_accuracy`` in ``metrics.json``); percent appears only when rendering.

Per batch: the clean prediction ``argmax_c f(x)_c`` (no gradient), then, with a ``threat``, PGD on the per-example
cross-entropy (:func:`rrlib.attacks.adversarial_examples`, looked up at call time so tests can spy on it) and the
prediction at the attacked point. The model is in eval mode throughout (``eval_mode=True``) and every sub-module's
train/eval flag is restored afterwards. Batches are those the caller gives (a ``(x, y)`` pair is cut into
``batch_size`` chunks): a caller keeps its batch size, so its numbers are unchanged bit for bit.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from rrlib.attacks.pgd import NonFiniteObjectiveError, _check_labels, _logits
from rrlib.attacks.threat_models import ThreatModel
from rrlib.runtime import managed_modes
from rrlib.validation import check_int

__all__ = ["ACCURACY_KEYS", "Accuracy", "evaluate_accuracy"]

#: The one key scheme of accuracies (fractions in [0, 1]).
ACCURACY_KEYS = ("natural_accuracy", "adversarial_accuracy")

Batches = tuple[torch.Tensor, torch.Tensor] | Iterable[tuple[torch.Tensor, torch.Tensor]]


@dataclass(frozen=True)
class Accuracy:
    """What :func:`evaluate_accuracy` measured on ``n`` points.

    ``natural_correct`` / ``adversarial_correct``: boolean ``(n,)`` (``None`` when not measured); the attacked point
    counts as correct on its own (combine with ``&`` for "robust = right clean and attacked"). ``natural_loss`` /
    ``adversarial_loss``: the summed cross-entropy in nats (``None`` unless ``losses=True``).
    """

    n: int
    natural_correct: torch.Tensor | None
    adversarial_correct: torch.Tensor | None
    natural_loss: float | None = None
    adversarial_loss: float | None = None

    @property
    def natural_count(self) -> int:
        """Number of points classified correctly (clean)."""
        return 0 if self.natural_correct is None else int(self.natural_correct.sum())

    @property
    def adversarial_count(self) -> int:
        """Number of attacked points classified correctly."""
        return 0 if self.adversarial_correct is None else int(self.adversarial_correct.sum())

    def fractions(self) -> dict[str, float]:
        """``{"natural_accuracy", "adversarial_accuracy"}`` (fractions; each only when it was measured)."""
        n = max(self.n, 1)
        out = {}
        if self.natural_correct is not None:
            out["natural_accuracy"] = self.natural_count / n
        if self.adversarial_correct is not None:
            out["adversarial_accuracy"] = self.adversarial_count / n
        return out


def _batches(data: Batches, batch_size: int | None) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    if isinstance(data, tuple) and len(data) == 2 and all(isinstance(t, torch.Tensor) for t in data):
        x, y = data
        _check_labels(x, y)
        chunk = max(x.shape[0], 1) if batch_size is None else batch_size
        for start in range(0, x.shape[0], chunk):
            yield x[start:start + chunk], y[start:start + chunk]
    else:
        yield from data


def _cat(parts: list[torch.Tensor]) -> torch.Tensor:
    return torch.cat(parts) if parts else torch.zeros(0, dtype=torch.bool)


def evaluate_accuracy(
    model: nn.Module,
    data: Batches,
    threat: ThreatModel | None = None,
    *,
    batch_size: int | None = None,
    device: torch.device | str | None = None,
    natural: bool = True,
    losses: bool = False,
    generator: torch.Generator | None = None,
    eval_mode: bool = True,
    autocast: Callable[[], contextlib.AbstractContextManager] | None = None,
) -> Accuracy:
    """Natural and (with ``threat``) PGD accuracy of ``model`` on ``data``; see the module docstring.

    Args:
        data:
            ``(x, y)`` (images in the threat's box, integer labels), cut into ``batch_size`` chunks (``None``: one
            batch), or any iterable of ``(x, y)`` batches (e.g. a :class:`rrlib.data.BatchLoader`).
        device:
            Move every batch there first (``None``: leave it where it is).
        natural:
            Score the clean points (``False``: only the attacked ones, e.g. for a model evaluated in train mode, whose
            clean forward pass would draw dropout noise).
        losses:
            Also sum the cross-entropy (nats) of the clean and attacked predictions.
        generator, eval_mode:
            Passed to :func:`rrlib.attacks.adversarial_examples` (random starts; eval mode during the attack and the
            predictions).
        autocast:
            A factory of the context (e.g. CUDA autocast) that the predictions and the attack run in.
    """
    from rrlib import attacks  # at call time: tests replace rrlib.attacks.adversarial_examples with a spy

    if batch_size is not None:
        check_int("batch_size", batch_size, 1)
    context = autocast if autocast is not None else contextlib.nullcontext
    kwargs: dict = {}  # only what differs from the defaults (a spy may take (model, x, y, threat) alone)
    if generator is not None:
        kwargs["generator"] = generator
    if not eval_mode:
        kwargs["eval_mode"] = False
    nat_parts: list[torch.Tensor] = []
    adv_parts: list[torch.Tensor] = []
    nat_loss = adv_loss = 0.0
    n = 0
    with managed_modes(model, eval_mode):
        for xb, yb in _batches(data, batch_size):
            if device is not None:
                xb, yb = xb.to(device), yb.to(device)
            n += yb.shape[0]
            if natural:
                with torch.no_grad(), context():
                    logits = _logits(model, xb).float()
                nat_parts.append(logits.argmax(1) == yb)
                if losses:
                    nat_loss += float(F.cross_entropy(logits, yb, reduction="sum"))
            if threat is not None:
                with context():
                    x_adv = attacks.adversarial_examples(model, xb, yb, threat, **kwargs)
                with torch.no_grad(), context():
                    logits = _logits(model, x_adv).float()
                if not bool(torch.isfinite(logits).all()):
                    raise NonFiniteObjectiveError("the model returned non-finite outputs (NaN or inf logits)")
                adv_parts.append(logits.argmax(1) == yb)
                if losses:
                    adv_loss += float(F.cross_entropy(logits, yb, reduction="sum"))
    return Accuracy(n, _cat(nat_parts) if natural else None, _cat(adv_parts) if threat is not None else None,
                    nat_loss if losses and natural else None, adv_loss if losses and threat is not None else None)
