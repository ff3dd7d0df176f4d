"""Verdicts on the paper's §6.1 claims from a chapter-06 result: each claim's numbers and the rule that judges it
(supported / not supported), in one place. :func:`rrlib.rendering.claims_markdown` turns them into a table.

Rules (z-scores are differences over their combined standard errors, ``sqrt(SE_a² + SE_b²)``). MI and RV enter as
their *valid* values (clipped into ``0 ≤ I_worst ≤ I`` by :func:`rrlib.mi.plausibility.clip_to_valid`): an
impossible raw estimate is no measurement, and the evidence records the raw value and its flag next to the valid one.
Every threshold is a constant of :mod:`rrlib.stats` (in brackets: its value today).

* ``rv_tracks_gap`` (Fig. 1): valid RV is ordered like the natural − adversarial gap and standard − robust valid RV
  > ``MI_CLAIM_Z`` SE [3] (the SE of the raw difference).
* ``standard_worst_zero`` (Fig. 2): the standard model's valid worst-case MI < ``ZERO_WORST_MI_NATS`` [0.1 nats]
  and adversarial accuracy < ``ZERO_ADVERSARIAL_ACCURACY`` [0.1, i.e. 10 %].
* ``robust_keeps_worst`` (Fig. 2): robust − standard valid worst-case MI > ``KEPT_WORST_MI_NATS`` [0.2 nats].
* ``robust_more_normal`` (§6.1 text): robust − standard normal MI > ``MI_CLAIM_Z`` SE [3].
* ``ceiling_holds`` (Thm 3.4): no model's adversarial accuracy above the ceiling of its worst-case MI.
* ``training_works``: robust − standard adversarial accuracy > ``ACCURACY_CLAIM_Z`` SE [5].
* ``neurons_less_vulnerable`` (Fig. 3): standard − robust mean per-neuron vulnerability > ``MI_CLAIM_Z`` SE [3].
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rrlib.analysis import correlations
from rrlib.stats import (
    ACCURACY_CLAIM_Z,
    KEPT_WORST_MI_NATS,
    MI_CLAIM_Z,
    ZERO_ADVERSARIAL_ACCURACY,
    ZERO_WORST_MI_NATS,
    combined_se,
    exceeds,
)

if TYPE_CHECKING:  # pragma: no cover
    from rrlib.experiments.vulnerability import Result

__all__ = ["Claim", "section_6_1"]


@dataclass(frozen=True)
class Claim:
    """One claim: a key (see the module docstring), the verdict and the numbers it rests on."""

    key: str
    verdict: str
    evidence: dict[str, Any] = field(default_factory=dict)


def _verdict(ok: bool, yes: str = "supported", no: str = "not supported") -> str:
    return yes if ok else no


def section_6_1(result: Result) -> list[Claim]:
    """The claims of §6.1 that a chapter-06 result can judge, in the order of the chapter."""
    std, rob = result.model("standard"), result.model("robust")
    n_models = len(result.models)
    corr = correlations([m.rv_valid for m in result.models], [m.gap for m in result.models])
    z_acc = (rob.adversarial_accuracy - std.adversarial_accuracy) / combined_se(rob.accuracy_se, std.accuracy_se)
    z_rv = (std.rv_valid - rob.rv_valid) / combined_se(std.rv_se, rob.rv_se)
    by_gap = sorted(result.models, key=lambda m: -m.gap)
    monotone = all(a.rv_valid > b.rv_valid for a, b in zip(by_gap, by_gap[1:], strict=False))
    normal_diff = rob.normal_mi - std.normal_mi
    normal_se = combined_se(rob.normal_mi_se, std.normal_mi_se)
    violations = [m.name for m in result.models if m.adversarial_accuracy > m.bound]
    strong = [m.name for m in result.models if m.adversarial_accuracy_strong > m.bound]
    if not violations:
        ceiling = "consistent"
    elif not strong:
        ceiling = "violated under the paper's attack only (the attack is too weak; see text)"
    else:
        ceiling = "violated even under the stronger attack: the worst-case MI estimate is too low (see text)"
    claims = [
        Claim("rv_tracks_gap", _verdict(monotone and z_rv > MI_CLAIM_Z, f"supported ({n_models} models only)"),
              {"n_models": n_models, "pearson": corr["pearson"], "spearman": corr["spearman"], "monotone": monotone,
               "rv_diff": std.rv_valid - rob.rv_valid, "z": z_rv}),
        Claim("standard_worst_zero", _verdict(std.worst_mi_valid < ZERO_WORST_MI_NATS
                                                and std.adversarial_accuracy < ZERO_ADVERSARIAL_ACCURACY),
              {"worst_mi": std.worst_mi, "worst_mi_valid": std.worst_mi_valid, "impossible": std.flags.impossible,
               "adversarial_accuracy": std.adversarial_accuracy}),
        Claim("robust_keeps_worst", _verdict(rob.worst_mi_valid - std.worst_mi_valid > KEPT_WORST_MI_NATS),
              {"robust": rob.worst_mi_valid, "standard": std.worst_mi_valid}),
        Claim("robust_more_normal",
              _verdict(exceeds(normal_diff, normal_se, MI_CLAIM_Z), no="not supported at our scale"),
              {"robust": rob.normal_mi, "robust_se": rob.normal_mi_se, "standard": std.normal_mi,
               "standard_se": std.normal_mi_se}),
        Claim("ceiling_holds", ceiling, {"violations": violations, "strong": strong, "n_models": n_models}),
        Claim("training_works", _verdict(z_acc > ACCURACY_CLAIM_Z),
              {"diff": rob.adversarial_accuracy - std.adversarial_accuracy, "z": z_acc}),
    ]
    kinds = {n.kind for n in result.neurons}
    if {"standard", "robust"} <= kinds:
        ns, nr = result.neuron("standard"), result.neuron("robust")
        se = combined_se(ns.mean_vulnerability_se, nr.mean_vulnerability_se)
        diff = float(ns.vulnerability.mean() - nr.vulnerability.mean())
        claims.append(Claim("neurons_less_vulnerable", _verdict(exceeds(diff, se, MI_CLAIM_Z)),
                            {"standard": float(ns.vulnerability.mean()), "robust": float(nr.vulnerability.mean()),
                             "z": diff / se, "n_neurons": int(ns.normal.size)}))
    return claims
