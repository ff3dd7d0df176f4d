"""Verdicts on the paper's §6.1 claims from chapter 06's numbers: each claim's numbers and the rule that judges it
(supported / not supported), in one place. :func:`rrlib.rendering.claims_markdown` turns them into a table, and the
reproduction report (:mod:`rrlib.report`) judges the chapter's *recorded* metrics by the same rules.

The rules read an :class:`Evidence`: per model a :class:`ModelEvidence` and per neuron result a
:class:`NeuronEvidence`, built either from a live result (:meth:`Evidence.from_result`) or from the JSON the chapter
recorded (:meth:`Evidence.from_metrics`); both give the same numbers.

Rules (z-scores are differences over their combined standard errors, ``sqrt(SE_a² + SE_b²)``). An impossible raw
estimate (negative worst-case MI, RV above the normal MI; :func:`rrlib.mi.plausibility.check_estimates`) is no
measurement: a claim that reads the worst-case MI or RV of a model whose pair is impossible is
``cannot judge: …`` (naming the models), never supported or not supported on a clipped value. The evidence still
records the raw value, its flag and the clipped ("valid") value, for the tables. Every threshold is a constant of
:mod:`rrlib.stats` (in brackets: its value today).

* ``rv_tracks_gap`` (Fig. 1): over the zoo's models whose estimates are possible (the unit of replication is the
  trained model; a model with an impossible estimate is left out, named, and never ranked by a clipped value),
  Spearman's ρ of RV with the natural − adversarial gap is positive at one-sided exact permutation
  p < 1 − ``CLAIM_LEVEL`` [0.05] (:func:`rrlib.stats.spearman_p`); too few to judge when even a perfect ordering
  could not reach that p (n! ≤ 20, i.e. three models or fewer). Leaving a model out cannot create an ordering
  among the others; it only makes the test weaker.
* ``standard_worst_zero`` (Fig. 2): the standard model's worst-case MI < ``ZERO_WORST_MI_NATS`` [0.1 nats]
  and adversarial accuracy < ``ZERO_ADVERSARIAL_ACCURACY`` [0.1, i.e. 10 %]; cannot judge when its estimate is
  impossible (a negative estimate clipped to 0 would pass the first test by construction).
* ``robust_keeps_worst`` (Fig. 2): robust − standard worst-case MI > ``KEPT_WORST_MI_NATS`` [0.2 nats]; cannot
  judge when either estimate is impossible.
* ``robust_more_normal`` (§6.1 text): robust − standard normal MI > ``MI_CLAIM_Z`` SE [3].
* ``ceiling_holds`` (Thm 3.4): no model's adversarial accuracy above the ceiling of its worst-case MI, over the
  models whose estimates are possible (the others are left out and named); cannot judge when no possible model
  violates it and fewer than ``MIN_REPLICATES`` [3] models are possible.
* ``training_works``: robust − standard adversarial accuracy > ``ACCURACY_CLAIM_Z`` SE [5].
* ``neurons_less_vulnerable`` (Fig. 3): standard − robust mean per-neuron vulnerability > ``MI_CLAIM_Z`` SE [3].
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from rrlib.analysis import correlations
from rrlib.mi.plausibility import check_estimates, clip_to_valid
from rrlib.stats import (
    ACCURACY_CLAIM_Z,
    CANNOT_JUDGE,
    CLAIM_LEVEL,
    KEPT_WORST_MI_NATS,
    MI_CLAIM_Z,
    MIN_REPLICATES,
    TOO_FEW,
    ZERO_ADVERSARIAL_ACCURACY,
    ZERO_WORST_MI_NATS,
    combined_se,
    exceeds,
    spearman_p,
)

if TYPE_CHECKING:  # pragma: no cover
    from rrlib.experiments.vulnerability import Result

__all__ = ["Claim", "Evidence", "ModelEvidence", "NeuronEvidence", "cannot_judge", "section_6_1"]


@dataclass(frozen=True)
class ModelEvidence:
    """What the rules read of one zoo member. Accuracies and gap are fractions, MI in nats; ``*_se`` standard errors;
    ``bound`` Theorem 3.4's ceiling from the valid worst-case MI; ``impossible`` whether the raw pair breaks
    ``0 ≤ I_worst ≤ I`` (the valid values come from :func:`rrlib.mi.plausibility.clip_to_valid`)."""

    name: str
    kind: str
    architecture: str
    gap: float
    adversarial_accuracy: float
    adversarial_accuracy_strong: float
    accuracy_se: float
    normal_mi: float
    normal_mi_se: float
    worst_mi: float
    worst_mi_valid: float
    rv_valid: float
    rv_se: float
    bound: float
    impossible: bool

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> ModelEvidence:
        """From one recorded model (an item of chapter 06's ``metrics()["models"]``, or an object with the same
        attributes); the valid values are recomputed from the raw estimates."""
        get = record.get if isinstance(record, Mapping) else lambda key: getattr(record, key)
        normal, worst = get("normal_mi"), get("worst_mi")
        _, worst_valid, rv_valid = clip_to_valid(normal, worst)
        return cls(name=get("name"), kind=get("kind"), architecture=get("architecture"), gap=get("gap"),
                   adversarial_accuracy=get("adversarial_accuracy"),
                   adversarial_accuracy_strong=get("adversarial_accuracy_strong"), accuracy_se=get("accuracy_se"),
                   normal_mi=normal, normal_mi_se=get("normal_mi_se"), worst_mi=worst, worst_mi_valid=worst_valid,
                   rv_valid=rv_valid, rv_se=get("rv_se"), bound=get("bound"),
                   impossible=check_estimates(normal, worst).impossible)


@dataclass(frozen=True, eq=False)
class NeuronEvidence:
    """What the rules read of one model's per-neuron MI: the vulnerability of every neuron (nats, shape ``(K,)``, in
    the dtype it was measured in) and the standard error of its mean."""

    kind: str
    vulnerability: np.ndarray
    mean_vulnerability_se: float

    @property
    def n_neurons(self) -> int:
        return int(self.vulnerability.size)


@dataclass(frozen=True)
class Evidence:
    """Chapter 06's numbers as the §6.1 rules read them."""

    models: tuple[ModelEvidence, ...]
    neurons: tuple[NeuronEvidence, ...] = ()

    @classmethod
    def from_result(cls, result: Result) -> Evidence:
        """From a chapter-06 :class:`rrlib.experiments.vulnerability.Result`."""
        models = tuple(ModelEvidence.from_record(m) for m in result.models)
        neurons = tuple(NeuronEvidence(n.kind, n.vulnerability, n.mean_vulnerability_se) for n in result.neurons)
        return cls(models, neurons)

    @classmethod
    def from_metrics(cls, metrics: Mapping[str, Any]) -> Evidence:
        """From chapter 06's recorded metrics (``_build/metrics/06_vulnerability_robustness.json``): its models, and
        the standard and robust neuron results whose standard error it recorded (``std_`` / ``rob_neuron_vuln_se``)."""
        models = tuple(ModelEvidence.from_record(x) for x in metrics["models"])
        neurons = []
        for n in metrics.get("neurons", []):
            prefix = {"standard": "std", "robust": "rob"}.get(n["kind"])
            se = None if prefix is None else metrics.get(f"{prefix}_neuron_vuln_se")
            if se is None:
                continue
            neurons.append(NeuronEvidence(n["kind"], np.asarray(n["vulnerability"], dtype=float), se))
        return cls(models, tuple(neurons))

    def model(self, kind: str, architecture: str = "baseline_h") -> ModelEvidence:
        """The model of ``kind`` and ``architecture``."""
        return _pick(self.models, kind, architecture)

    def neuron(self, kind: str) -> NeuronEvidence:
        """The neuron result of ``kind``."""
        return _pick(self.neurons, kind)


def _pick(items: Sequence[Any], kind: str, architecture: str | None = None) -> Any:
    for item in items:
        if item.kind == kind and (architecture is None or item.architecture == architecture):
            return item
    raise KeyError(f"no {kind!r}" + ("" if architecture is None else f" {architecture!r}") + " model")


@dataclass(frozen=True)
class Claim:
    """One claim: a key (see the module docstring), the verdict and the numbers it rests on."""

    key: str
    verdict: str
    evidence: dict[str, Any] = field(default_factory=dict)


def _verdict(ok: bool, yes: str = "supported", no: str = "not supported") -> str:
    return yes if ok else no


def _rank_verdict(n_judged: int, rank_p: float, left_out: Sequence[str]) -> str:
    """``rv_tracks_gap``: the permutation test over the ``n_judged`` models with possible estimates."""
    if math.factorial(n_judged) * (1 - CLAIM_LEVEL) <= 1:  # even a perfect ordering could not reach p < 1 − level
        return f"{TOO_FEW} ({n_judged} models with possible estimates)"
    verdict = _verdict(rank_p < 1 - CLAIM_LEVEL)
    return verdict + (f" (over {n_judged} models; impossible estimates left out: {', '.join(left_out)})"
                      if left_out else "")


def cannot_judge(names: Sequence[str]) -> str:
    """The verdict of a claim that would rest on impossible estimates of the models ``names``."""
    return f"{CANNOT_JUDGE}: impossible estimate ({', '.join(names)})"


def section_6_1(evidence: Evidence) -> list[Claim]:
    """The claims of §6.1 that chapter 06's numbers can judge, in the order of the chapter."""
    std, rob = evidence.model("standard"), evidence.model("robust")
    n_models = len(evidence.models)
    impossible = [m.name for m in evidence.models if m.impossible]
    z_acc = (rob.adversarial_accuracy - std.adversarial_accuracy) / combined_se(rob.accuracy_se, std.accuracy_se)
    # Figure 1 ranks the models whose estimates are possible, whose valid RV is the raw one: nothing clipped enters
    possible = [m for m in evidence.models if not m.impossible]
    corr = correlations([m.rv_valid for m in possible], [m.gap for m in possible])
    by_gap = sorted(possible, key=lambda m: -m.gap)
    monotone = all(a.rv_valid > b.rv_valid for a, b in zip(by_gap, by_gap[1:], strict=False))
    rho, rank_p = (spearman_p([m.rv_valid for m in possible], [m.gap for m in possible]) if len(possible) >= 2
                   else (math.nan, math.nan))
    normal_diff = rob.normal_mi - std.normal_mi
    normal_se = combined_se(rob.normal_mi_se, std.normal_mi_se)
    violations = [m.name for m in possible if m.adversarial_accuracy > m.bound]
    strong = [m.name for m in possible if m.adversarial_accuracy_strong > m.bound]
    if not violations and len(possible) < MIN_REPLICATES:
        ceiling = cannot_judge(impossible)
    elif not violations:
        ceiling = "supported" + (f" (over {len(possible)} models; impossible estimates left out: "
                                 f"{', '.join(impossible)})" if impossible else "")
    elif not strong:
        ceiling = "violated under the paper's attack only (the attack is too weak; see text)"
    else:
        ceiling = "violated even under the stronger attack: the worst-case MI estimate is too low (see text)"
    pair_bad = [m.name for m in (std, rob) if m.impossible]
    claims = [
        Claim("rv_tracks_gap", _rank_verdict(len(possible), rank_p, impossible),
              {"n_models": n_models, "n_judged": len(possible), "left_out": impossible, "pearson": corr["pearson"],
               "spearman": rho, "rank_p": rank_p, "monotone": monotone}),
        Claim("standard_worst_zero", cannot_judge([std.name]) if std.impossible else
              _verdict(std.worst_mi < ZERO_WORST_MI_NATS and std.adversarial_accuracy < ZERO_ADVERSARIAL_ACCURACY),
              {"worst_mi": std.worst_mi, "worst_mi_valid": std.worst_mi_valid, "impossible": std.impossible,
               "adversarial_accuracy": std.adversarial_accuracy}),
        Claim("robust_keeps_worst", cannot_judge(pair_bad) if pair_bad else
              _verdict(rob.worst_mi - std.worst_mi > KEPT_WORST_MI_NATS),
              {"robust": rob.worst_mi, "standard": std.worst_mi, "robust_impossible": rob.impossible,
               "standard_impossible": std.impossible}),
        Claim("robust_more_normal",
              _verdict(exceeds(normal_diff, normal_se, MI_CLAIM_Z), no="not supported at our scale"),
              {"robust": rob.normal_mi, "robust_se": rob.normal_mi_se, "standard": std.normal_mi,
               "standard_se": std.normal_mi_se}),
        Claim("ceiling_holds", ceiling, {"violations": violations, "strong": strong, "n_models": n_models,
                                         "impossible": impossible}),
        Claim("training_works", _verdict(z_acc > ACCURACY_CLAIM_Z),
              {"diff": rob.adversarial_accuracy - std.adversarial_accuracy, "z": z_acc}),
    ]
    kinds = {n.kind for n in evidence.neurons}
    if {"standard", "robust"} <= kinds:
        ns, nr = evidence.neuron("standard"), evidence.neuron("robust")
        se = combined_se(ns.mean_vulnerability_se, nr.mean_vulnerability_se)
        diff = float(ns.vulnerability.mean() - nr.vulnerability.mean())
        claims.append(Claim("neurons_less_vulnerable", _verdict(exceeds(diff, se, MI_CLAIM_Z)),
                            {"standard": float(ns.vulnerability.mean()), "robust": float(nr.vulnerability.mean()),
                             "z": diff / se, "n_neurons": ns.n_neurons}))
    return claims
