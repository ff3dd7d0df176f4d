"""Tables of chapter 05 (worst-case mutual information, Algorithms 1–2): the three numbers of the Gaussian mixture,
the gradient-masking demonstration, the digits experiment and the cost of an iteration. MI in nats, as mean and
sample sd over seeds (:func:`rrlib.stats.mean_sd`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rrlib.rendering.tables import table_or_captioned as _mi_table
from rrlib.stats import mean_sd

if TYPE_CHECKING:  # pragma: no cover
    from rrlib.experiments.worst_case_mi import CostRow, DigitsRow, GaussianSetting, MaskingDemo

__all__ = ["cost_markdown", "digits_markdown", "masking_markdown", "three_number_markdown"]


def three_number_markdown(settings: list[GaussianSetting], columns: tuple[str, ...] = ("eps",), *,
                          caption: str | None = None, name: str | None = None) -> str:
    """A table, one number per cell: setting, estimate, true MI of the attacked data, exact worst case and the two
    errors (``est. error``: the estimation error), each as mean and standard deviation over seeds (nats); captioned
    when ``caption`` is given. Ten columns fit the book's text column with the estimation error's header shortened."""
    labels = {"eps": "ε", "sharpness": "k", "steps": "S", "iterations": "T", "gradient": "gradient"}
    head = [labels[c] for c in columns] + ["$\\hat I_{\\mathrm{worst}}$", "sd", "I(X′; Z′)", "sd", "exact J₂",
                                          "est. error", "sd", "search error", "sd"]
    rows = []
    for s in settings:
        row = [f"{getattr(s, c):g}" if not isinstance(getattr(s, c), str) else getattr(s, c) for c in columns]
        for arr in (s.estimate, s.attacked_true):
            m, sd = mean_sd(arr, of_one=0.0)
            row += [f"{m:.3f}", f"{sd:.3f}"]
        row.append(f"{s.exact:.3f}")
        for arr in (s.estimation_error, s.search_error):
            m, sd = mean_sd(arr, of_one=0.0)
            row += [f"{m:+.3f}", f"{sd:.3f}"]
        rows.append(row)
    return _mi_table(head, rows, caption, name)


def masking_markdown(demo: MaskingDemo, *, caption: str | None = None, name: str | None = None) -> str:
    """A table of the gradient-masking demonstration, one row per variant ("backward pass of g / adversary's
    gradient", e.g. ``tanh k=3 / full``): the last PGD iterate (fraction of points moved, its DV value ``J``) and the
    kept (best) iterate (fraction moved, ``V1``, ``P̂[Z′ = 1]``, true MI); one number per cell, eight columns, narrow
    enough for the book's text column."""
    head = ["backward pass of g / adversary's gradient", "‖∇ₓJ‖", "moved (last)", "J (last)", "moved (kept)",
            "V1 (kept)", "P̂[Z′ = 1]", "true MI of the kept batch"]
    rows = [[f"{r.representation} / {r.gradient}", f"{r.grad_norm:.3g}", f"{100 * r.moved:.0f}%",
             f"{r.last_estimate:.3f}", f"{100 * r.best_moved:.0f}%", f"{r.estimate:.3f}", f"{r.positive:.3f}",
             f"{r.true_mi:.3f}"]
            for r in demo.rows]
    return _mi_table(head, rows, caption, name)


def digits_markdown(rows: list[DigitsRow], *, caption: str | None = None, name: str | None = None) -> str:
    """A table of the digits experiment (MI in nats as mean and standard deviation over seeds, accuracies in %)."""
    head = ["model", "ε", "normal MI", "sd", "worst-case MI", "sd", "RV", "sd", "natural acc. (%)", "PGD acc. (%)"]
    body = []
    for r in rows:
        cells = [r.model, f"{r.eps:g}"]
        for arr in (r.normal, r.worst, r.rv):
            m, sd = mean_sd(arr, of_one=0.0)
            cells += [f"{m:.3f}", f"{sd:.3f}"]
        cells += [f"{100 * r.nat_acc:.1f}", f"{100 * r.adv_acc:.1f}"]
        body.append(cells)
    return _mi_table(head, body, caption, name)


def cost_markdown(rows: list[CostRow], *, caption: str | None = None, name: str | None = None) -> str:
    """A table of the measured cost of one iteration (one number per cell)."""
    head = ["S", "plain step (ms)", "worst-case step (ms)", "ratio", "S + 1", "passes of g: plain",
            "passes of g: worst case", "of which with ∇ₓ"]
    body = [[f"{r.steps}", f"{1e3 * r.plain_seconds:.2f}", f"{1e3 * r.worst_seconds:.2f}", f"{r.ratio:.2f}",
             f"{r.steps + 1}", f"{r.plain_forward}", f"{r.worst_forward}", f"{r.worst_input_backward}"]
            for r in rows]
    return _mi_table(head, body, caption, name)
