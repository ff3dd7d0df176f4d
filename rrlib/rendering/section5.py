"""Markdown tables and sentences of chapters 07–09 (Section 5: robust encoders, downstream Tables 1/3/4/5, saliency).

Every function takes recorded metrics (plain JSON, as :func:`rrlib.book.publish` writes them) and returns a MyST
table with a numbered caption; an impossible MI estimate is marked with † and explained in the caption. A
difference between models is judged by :mod:`rrlib.stats`'s rule, the one the report uses: the Student-t interval at
:data:`rrlib.stats.CLAIM_LEVEL` of the per-seed differences, paired where the design pairs, and "too few to judge"
below :data:`rrlib.stats.MIN_REPLICATES` trained models.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rrlib.data import get_spec
from rrlib.experiments.downstream_tables import GAP_POINTS
from rrlib.paper import TABLE_NUMBERS
from rrlib.rendering.tables import IMPOSSIBLE_MARK, captioned_table
from rrlib.stats import (
    CLAIM_LEVEL,
    CONTRADICTED,
    MIN_REPLICATES,
    SUPPORTED,
    TOO_FEW,
    combined_se,
    paired_verdict,
)

__all__ = ["CONSTANT_MARK", "GAP_MARK", "HEAD_NAMES", "HEAD_TITLES", "alignment_findings", "alignment_markdown",
           "downstream_findings", "downstream_markdown", "encoder_cost_markdown", "encoder_rv_markdown",
           "heldout_paragraph", "ladder_markdown", "ladder_sentence", "medium_fresh_critic_markdown",
           "medium_note_markdown", "paper_table_markdown",
           "rv_sentence", "scale_markdown"]

ENCODER_LABELS = {"normal": "DIM (normal MI, Hjelm et al.)", "worst": "worst-case MI (ours, Eq. 5.4)"}


def _pm(summary: Mapping[str, Any], digits: int = 3) -> str:
    return f"{summary['mean']:.{digits}f} ± {summary['std']:.{digits}f}"


def encoder_rv_markdown(metrics: Mapping[str, Any]) -> str:
    """Table ``tab-encoder-rv``: per encoder, the held-out estimates with its own critic and the fresh-critic
    normal MI, worst-case MI and RV (mean ± sample std over critic seeds, nats)."""
    rows = []
    for loss, enc in metrics["encoders"].items():
        own = f"{enc['heldout_normal']:.3f} / {enc['heldout_worst']:.3f}"
        if enc["heldout_impossible"]:
            own += f" {IMPOSSIBLE_MARK}"
        mark = f" {IMPOSSIBLE_MARK}" if enc["impossible"] else ""
        rows.append([ENCODER_LABELS[loss], f"{enc['epochs']}", own, _pm(enc["normal"]), _pm(enc["worst"]) + mark,
                     _pm(enc["rv"])])
    n_seeds = len(metrics["config"]["rv_seeds"])
    caption = (f"The learned representations of {metrics['dataset_title']} (nats). Own critic: the held-out normal / "
               "worst-case DV estimates of the final epoch with the critic trained jointly with the encoder. Fresh "
               f"critic: Algorithm 2 with a new critic trained on the frozen encoder, mean ± sample std over "
               f"{n_seeds} critic seeds; RV = normal − worst-case MI (Definition 3.1). {IMPOSSIBLE_MARK}: below zero, "
               "which no mutual information can be (the adversary fooled the critic; see the text).")
    header = ["encoder", "epochs", "own critic: normal / worst", "fresh critic: normal MI", "worst-case MI", "RV"]
    return captioned_table(caption, "tab-encoder-rv", header, rows)


def encoder_cost_markdown(costs: Sequence[tuple[str, Mapping[str, Any]]]) -> str:
    """Table ``tab-encoder-cost``: wall time of one training step of each objective (median of interleaved
    repeats) and their ratio, against the ``S + 1`` passes of a worst step, for each ``(label, cost)``."""
    rows = []
    for label, c in costs:
        rows.append([label, f"{c['batch_size']}", f"{1000 * c['normal_step_seconds']:.1f}",
                     f"{1000 * c['worst_step_seconds']:.1f}", f"{c['ratio']:.1f}×", f"{c['passes_ratio']}×"])
    caption = ("Cost of one encoder training step (the run's own device and threads; this page's run: median wall "
               "time of interleaved repeats on one batch, the medium run: median epoch time over batches per "
               "epoch): the worst-case step first runs Algorithm 1's S-step PGD, so it does S + 1 forward–backward "
               "passes where the DIM step does one.")
    header = ["run", "batch", "DIM step [ms]", "worst-case step [ms]", "ratio", "S + 1"]
    return captioned_table(caption, "tab-encoder-cost", header, rows)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _seed_list(names: Sequence[str]) -> str:
    """``["seed0", "seed2"]`` → ``"seeds 0 and 2"`` (the run folders' keys as the reader says them)."""
    numbers = [name.removeprefix("seed") for name in names]
    if len(numbers) == 1:
        return f"seed {numbers[0]}"
    return "seeds " + ", ".join(numbers[:-1]) + " and " + numbers[-1]


def heldout_paragraph(medium: Mapping[str, Any]) -> str:
    """What the committed run's final held-out estimates say, with every impossible value called out (nats)."""
    enc = medium["encoders"]
    n = len(enc["normal"]["seeds"])
    text = (f"In the medium run the DIM encoder ends with a held-out normal estimate of "
            f"{enc['normal']['heldout_normal']['mean']:.2f} nats and a worst-case estimate of "
            f"{enc['normal']['heldout_worst']['mean']:.2f}, the worst-case encoder with "
            f"{enc['worst']['heldout_normal']['mean']:.2f} and {enc['worst']['heldout_worst']['mean']:.2f} nats "
            f"(means over {_count(n, 'seed')}).")
    for loss, name in (("normal", "DIM"), ("worst", "worst-case")):
        bad = enc[loss]["impossible_seeds"]
        if bad:
            text += (f" {IMPOSSIBLE_MARK} The {name} encoder's final worst-case estimate is below zero for "
                     f"{_count(len(bad), 'seed')} ({_seed_list(bad)}). That is not a measurement of the "
                     "representation (mutual information is never negative): the adversary fooled the critic that "
                     "was trained alongside the encoder" + (", which never sees an attacked batch during DIM "
                                                           "training." if loss == "normal" else "."))
    if not any(enc[loss]["impossible_seeds"] for loss in enc):
        text += " Every final estimate of the medium run is a possible value (0 ≤ worst-case ≤ normal)."
    return text


def rv_sentence(metrics: Mapping[str, Any]) -> str:
    """The fresh-critic RV and normal MI of this run's two encoders, as measured. One encoder per objective is one
    replicate of training (its critic seeds repeat the *estimate*, not the training), so the sentence reports the
    numbers and says that a claim about the objectives needs more seeds; an impossible estimate is named, never
    clipped into a comparison."""
    enc = metrics["encoders"]
    rv_n, rv_w = enc["normal"]["rv"], enc["worst"]["rv"]
    mi_n, mi_w = enc["normal"]["normal"], enc["worst"]["normal"]
    text = ""
    bad = [ENCODER_LABELS[loss] for loss, e in enc.items() if e["impossible"]]
    if bad:
        text += (f"{IMPOSSIBLE_MARK} The fresh-critic estimates of {' and '.join(bad)} include an impossible value "
                 "(a negative worst-case MI or an RV above the normal MI): the adversary fooled the critic (chapter 05 "
                 "measures this estimation error), and such a value measures nothing. ")
    text += (f"With fresh critics the worst-case encoder's RV is {rv_w['mean']:.3f} ± {rv_w['std']:.3f} nats "
             f"against {rv_n['mean']:.3f} ± {rv_n['std']:.3f} for the DIM encoder, and its normal MI "
             f"{mi_w['mean']:.3f} against {mi_n['mean']:.3f} (mean ± sample std over "
             f"{len(rv_n['values'])} critic seeds of one encoder each). The spread is the estimator's, not "
             f"training's: one encoder per objective is {TOO_FEW} whether the objective lowers RV (the book asks "
             f"for {MIN_REPLICATES} or more trained seeds); the committed medium run's four seeds are judged in "
             "the reproduction report.")
    return text


def medium_fresh_critic_markdown(fresh: Mapping[str, Any] | None) -> str:
    """Table ``tab-encoder-rv-medium``: the fresh-critic normal MI, worst-case MI and RV of every encoder of the
    committed medium run (:mod:`rrlib.report.encoder_rv`'s JSON; per encoder the mean over its critic seeds, nats),
    one row per seed; or, while it has not been measured, the sentence that says so and how to measure it."""
    if fresh is None:
        return ("The fresh-critic RV of the committed medium run's eight encoders (4 seeds × DIM / worst-case) is "
                "not yet measured: `python -m rrlib.report.encoder_rv --encoders <run>/encoders` writes "
                "`results/encoders_medium_fresh_critic.json`, and the reproduction report judges §5's claim on it "
                "(never on the jointly trained critics).")
    by = {(r["loss"], r["seed"]): r for r in fresh["encoders"]}
    rows = []
    for seed in sorted({s for _, s in by}):
        line = [str(seed)]
        for loss in ("normal", "worst"):
            r = by.get((loss, seed))
            if r is None:
                line += ["–", "–"]
                continue
            mark = f" {IMPOSSIBLE_MARK}" if any(r["impossible"]) else ""
            mean = {q: sum(r[q]) / len(r[q]) for q in ("normal", "worst", "rv")}
            line += [f"{mean['normal']:.3f} / {mean['worst']:.3f}{mark}", f"{mean['rv']:.3f}"]
        rows.append(line)
    st = fresh.get("settings", {})
    caption = ("Fresh-critic estimates of the committed medium run's encoders (nats): for each, a new critic trained "
               f"on the frozen encoder for {st.get('iterations', '?')} steps of batch {st.get('batch_size', '?')} "
               "(Algorithm 2, best held-out iterate), once on clean and once on attacked batches, every encoder on "
               f"the same {_thousands(st.get('rv_train'))} training and {_thousands(st.get('rv_test'))} test images. "
               f"{IMPOSSIBLE_MARK}: an impossible estimate (below zero, or RV above the normal MI).")
    header = ["seed", "DIM: normal / worst", "DIM: RV", "ours: normal / worst", "ours: RV"]
    return captioned_table(caption, "tab-encoder-rv-medium", header, rows) + "\n\n" + _fresh_critic_sentence(by)


def _thousands(value: Any) -> str:
    """An image count with thousands separators (``10,000``), ``?`` when not recorded."""
    return f"{value:,}" if isinstance(value, int) else "?"


def _fresh_critic_sentence(by: Mapping[tuple[str, int], Mapping[str, Any]]) -> str:
    """What the table says about §5's claim: the paired per-seed difference of RV (DIM − ours) with its t interval,
    or which estimates are impossible (no comparison is then made: an impossible value is never evidence)."""
    seeds = sorted(s for (loss, s) in by if loss == "normal" and ("worst", s) in by)
    impossible = [f"{'DIM' if loss == 'normal' else 'ours'}, seed {s}" for s in seeds for loss in ("normal", "worst")
                  if any(by[(loss, s)]["impossible"])]
    if impossible:
        return (f"{len(impossible)} of the {2 * len(seeds)} encoders have an impossible estimate "
                f"({'; '.join(impossible)}), so their RV is not compared.")
    if len(seeds) < MIN_REPLICATES:
        return (f"{len(seeds)} seed(s) of each encoder: {TOO_FEW} whether the objective lowers RV (the book asks "
                f"for {MIN_REPLICATES} or more).")
    rv = {loss: [sum(by[(loss, s)]["rv"]) / len(by[(loss, s)]["rv"]) for s in seeds] for loss in ("normal", "worst")}
    verdict, d = paired_verdict(rv["normal"], rv["worst"])
    low, high = d.interval(CLAIM_LEVEL)
    return (f"Paired by seed, the DIM encoder's RV minus the worst-case encoder's is {d.mean:+.3f} nats "
            f"({CLAIM_LEVEL:.0%} Student-t interval over {d.n} seeds: [{low:+.3f}, {high:+.3f}]); "
            f"the claim that the worst-case objective lowers RV is {verdict} by that interval, "
            "as the reproduction report records.")


# ----------------------------------------------------------------------------------------------------- chapter 08
#: Marks of the downstream tables: a constant predictor, and PGD above AutoAttack by more than ``GAP_POINTS``.
CONSTANT_MARK = "‡"
GAP_MARK = "§"
#: The heads of the downstream tables: long titles (table captions) and short names (the report's rows).
HEAD_TITLES = {"mlp": "MLP h (FC 200 → FC 10)", "linear": "linear h (FC 10)"}
HEAD_NAMES = {"mlp": "MLP", "linear": "linear"}


def _cell(c: Mapping[str, Any] | None) -> str:
    return "–" if c is None else f"{c['mean']:.1f} ± {c['std']:.1f}"


def _paper(c: Sequence[float]) -> str:
    return f"{c[0]:.2f} ± {c[1]:.2f}"


def downstream_markdown(metrics: Mapping[str, Any], head: str, *, scale: str, name: str,
                        paper: bool = True) -> str:
    """Table ``name``: every row of the downstream table for ``head`` — the paper's natural / adversarial accuracy
    (if ``paper``) beside ours: natural, the paper's PGD and AutoAttack (%, mean ± sample std over seeds)."""
    rows = []
    for row, by_head in metrics["table"].items():
        cell = by_head.get(head)
        if cell is None:
            continue
        rep, loss = metrics["row_labels"][row]
        constant = f" {CONSTANT_MARK}" if cell["constant_predictor"] else ""
        gap = f" {GAP_MARK}" if cell.get("pgd_minus_autoattack_same_images", 0.0) > GAP_POINTS else ""
        line = [rep, loss]
        if paper:
            line += [_paper(cell["paper"]["natural"]), _paper(cell["paper"]["adversarial"])]
        line += [_cell(cell["natural"]) + constant, _cell(cell["adversarial"]) + gap, _cell(cell["autoattack"])]
        rows.append(line)
    n = len(metrics["seeds"])
    header = ["g", "h"] + (["paper: natural", "paper: PGD"] if paper else []) + ["natural", "PGD", "AutoAttack"]
    number = TABLE_NUMBERS.get(metrics["dataset"])
    caption = (f"{HEAD_TITLES[head]} on {get_spec(metrics['dataset']).title} — {scale}: accuracy (%) on clean test "
               "images, under the paper's PGD and under AutoAttack "
               f"(standard version, on a class-stratified sample of {metrics['config']['autoattack_n']} test images "
               "drawn with seed 0, the same for every model), mean ± sample std "
               f"over {n} seeds"
               + (f"; the paper's Table {number} (4 trials) beside it" if paper and number else "")
               + f". {CONSTANT_MARK}: a constant predictor (one class for ≥ 99% of test images in every seed); "
               f"{GAP_MARK}: PGD above AutoAttack by more than {GAP_POINTS:g} points on the same images.")
    return captioned_table(caption, name, header, rows)


def medium_note_markdown(medium_run: Mapping[str, Any]) -> str:
    """The committed medium run's provenance in one collapsed box: commit, command, machine, the training runs'
    wall times and how the run was made (its recorded note)."""
    machine = medium_run.get("machine") or {}
    lines = [f"* commit: `{medium_run['git_commit']}`", f"* command: `{medium_run['command']}`",
             f"* machine: {machine.get('platform', '?')}, {machine.get('cpu_count', '?')} CPUs, torch "
             f"{machine.get('torch', '?')}, {machine.get('torch_threads', '?')} thread(s)"]
    if medium_run.get("runs"):
        lines.append(f"* training runs' wall time: {medium_run['runs']}")
    if medium_run.get("note"):
        lines.append(f"* how it was made: {medium_run['note']}")
    return (":::{admonition} Provenance of the committed medium run\n:class: dropdown\n\n" + "\n".join(lines)
            + "\n:::")


def paper_table_markdown(dataset: str, name: str, command: str) -> str:
    """Table ``name``: the paper's downstream table for ``dataset`` (not run here), with the command that runs it."""
    from rrlib.paper import TABLE_COLUMNS, TABLES

    rows = [[rep, loss] + [_paper(cells[c]) for c in TABLE_COLUMNS] for (rep, loss), cells in TABLES[dataset].items()]
    header = ["g", "h", "MLP: natural", "MLP: PGD", "linear: natural", "linear: PGD"]
    caption = (f"The paper's Table {TABLE_NUMBERS[dataset]} ({dataset}; accuracy %, mean ± std over 4 trials). "
               f"Not run here; the full profile runs it with `{command}`.")
    return captioned_table(caption, name, header, rows)


def _mean(metrics: Mapping[str, Any], row: str, head: str, column: str) -> float | None:
    cell = metrics["table"].get(row, {}).get(head)
    return None if cell is None or cell[column] is None else cell[column]["mean"]


def downstream_findings(metrics: Mapping[str, Any], scale: str) -> str:
    """A bullet list comparing the rows as the paper does: per head, the paired per-seed difference of PGD accuracy
    (the same seed's models share their training data, order and initialisation; E.S. and the final head are one
    run) with its Student-t interval and verdict, AutoAttack's beside it, and the paper's difference; then every
    flagged cell with the size of the flag."""
    out = []
    level = f"{CLAIM_LEVEL:.0%}"
    for head in ("mlp", "linear"):
        if not any(head in by_head for by_head in metrics["table"].values()):
            continue
        pairs = (("ours/robust", "hjelm/robust", "a robust h on our representation against one on DIM's"),
                 ("ours/standard", "hjelm/standard", "a standard h on our representation against one on DIM's"),
                 ("ours/standard_es", "ours/standard", "early stopping (E.S.) against the final standard h"))
        for a, b, what in pairs:
            ca, cb = (metrics["table"].get(r, {}).get(head) for r in (a, b))
            if ca is None or cb is None or ca["adversarial"] is None or cb["adversarial"] is None:
                continue
            pa = ca["paper"]["adversarial"][0] - cb["paper"]["adversarial"][0]
            verdict, d = paired_verdict(ca["adversarial"]["values"], cb["adversarial"]["values"])
            low, high = d.interval(CLAIM_LEVEL)
            text = (f"**{HEAD_TITLES[head]}, {what}**: PGD accuracy {d.mean:+.1f} points ({level} interval "
                    f"{low:+.1f} to {high:+.1f}, paired over {d.n} seeds)")
            if ca.get("autoattack") is not None and cb.get("autoattack") is not None:
                aa = paired_verdict(ca["autoattack"]["values"], cb["autoattack"]["values"])[1]
                text += f", AutoAttack {aa.mean:+.1f}"
            text += f" ({scale}); the paper: {pa:+.1f} points under its PGD."
            if verdict == TOO_FEW:
                text += f" {d.n} seeds are too few to judge."
            elif verdict not in (SUPPORTED, CONTRADICTED):
                text += " The interval contains zero: this run cannot tell the two apart."
            else:
                same = (d.mean > 0) == (pa > 0)
                text += " Same direction as the paper." if same else " **Opposite direction to the paper.**"
            out.append(text)
    for key, label in (("constant_predictor", f"{CONSTANT_MARK} constant predictors"),
                       ("pgd_exceeds_autoattack_by_5_points",
                        f"{GAP_MARK} PGD above AutoAttack by > {GAP_POINTS:g} points")):
        flagged = metrics["flags"][key]
        if not flagged:
            out.append(f"{label}: none.")
            continue
        parts = []
        for name in flagged:
            row, head = name.rsplit("/", 1)
            cell = metrics["table"][row][head]
            rep, loss = metrics["row_labels"][row]
            detail = (f"gap {cell['pgd_minus_autoattack_same_images']:.1f} points" if key.startswith("pgd") else
                      f"majority share {min(cell['majority_share']):.2f}–{max(cell['majority_share']):.2f}")
            parts.append(f"{rep} {loss} / {head} ({detail})")
        out.append(f"{label}: " + "; ".join(parts) + ".")
    return "\n".join(f"* {line}" for line in out)


_SCALE_FIELDS = (
    ("encoder training images", "encoder_train_subset"), ("encoder width", "width"),
    ("critic width", "critic_hidden"), ("encoder epochs", "encoder_epochs"), ("encoder learning rate", "encoder_lr"),
    ("head / supervised training images", "head_train_subset"), ("of which validation (best, E.S.)", "val_size"),
    ("head epochs", "head_epochs"), ("supervised epochs", "supervised_epochs"), ("head learning rate", "head_lr"),
    ("test images", "test_subset"), ("AutoAttack images", "autoattack_n"), ("seeds", "seeds"),
)


def scale_markdown(configs: Sequence[tuple[str, Mapping[str, Any]]], name: str = "tab-downstream-scale") -> str:
    """Table ``name``: the sizes of each downstream-table run (``(label, asdict(TablesConfig))``) side by side;
    ``all`` where a subset is None."""
    def show(value: Any) -> str:
        if value is None:
            return "all"
        if isinstance(value, (list, tuple)):
            return f"{len(value)} ({', '.join(str(v) for v in value)})"
        return f"{value:,}" if isinstance(value, int) else f"{value:g}"

    rows = [[label] + [show(c[key]) for _, c in configs] for label, key in _SCALE_FIELDS]
    caption = ("Sizes of the downstream runs: quick (this page's run), the committed medium run and the full profile "
               "(the paper's protocol). Batch 128 everywhere except quick (64); Adam throughout.")
    return captioned_table(caption, name, ["", *[label for label, _ in configs]], rows)


# ----------------------------------------------------------------------------------------------------- chapter 09
def alignment_markdown(metrics: Mapping[str, Any]) -> str:
    """Table ``tab-saliency-alignment``: the alignment (absolute cosine) of every saliency map with its image, mean
    ± standard error over test images (and, for the kernel maps, over images × chosen channels)."""
    rows = [[metrics["labels"][key], f"{a['mean']:.3f} ± {a['se']:.3f}", f"{a['n']}"]
            for key, a in metrics["alignment"].items()]
    labels = metrics.get("kernel_labels", {"normal": "DIM encoder", "worst": "worst-case encoder (ours)"})
    for key, a in metrics["kernel_alignment"].items():
        rows.append([f"{labels[key]}: channels {', '.join(map(str, metrics['kernels'][key]))} (Fig. 5)",
                     f"{a['mean']:.3f} ± {a['se']:.3f}", f"{a['n']}"])
    caption = ("Alignment |⟨x, ∇⟩| / (‖x‖ ‖∇‖) of each saliency map with its image (1: the map is a multiple of the "
               "image; 0: orthogonal), mean ± standard error over n maps of one trained model (the images and "
               "channels are not replicates of training); a map of zero norm has no direction and is left out of n.")
    return captioned_table(caption, "tab-saliency-alignment", ["saliency map (model, loss)", "alignment", "n"], rows)


def alignment_findings(metrics: Mapping[str, Any]) -> str:
    """The comparisons the paper makes by eye, as measured differences in alignment between two trained models,
    with the standard error over images. The images describe these two models only: with one trained model per
    kind, whether the training causes the difference is too few to judge (:data:`rrlib.stats.MIN_REPLICATES`)."""
    a, k = metrics["alignment"], metrics["kernel_alignment"]
    pairs = [(a, "ours_mi", "dim_mi", "MI-loss maps of our representation against DIM's (Fig. 4)"),
             (a, "ours_head_ce", "dim_head_ce", "cross-entropy maps of a standard head on each representation"),
             (a, "supervised_robust_ce", "supervised_standard_ce", "robust against standard supervised model")]
    if "robust" in k and "standard" in k:
        pairs.append((k, "robust", "standard", "second-layer channel maps (Fig. 5), robust against standard "
                                               "supervised model"))
    pairs.append((k, "worst", "normal", "second-layer channel maps, our encoder against DIM's (an addition)"))
    out = []
    for table, x, y, what in pairs:
        d = table[x]["mean"] - table[y]["mean"]
        se = combined_se(table[x]["se"], table[y]["se"])
        out.append(f"{what}: {table[x]['mean']:.3f} against {table[y]['mean']:.3f} ({d:+.3f}, standard error over "
                   f"images {se:.3f}).")
    out.append(f"Each comparison is of one trained model per kind (seed 0): the images measure these models, not "
               f"the training that made them, so whether an objective raises alignment is {TOO_FEW} here "
               f"({MIN_REPLICATES} or more trained seeds per kind are needed).")
    return "\n".join(f"* {line}" for line in out)


#: Labels of the models attacked in chapter 08's ladder.
LADDER_MODELS = {"supervised_robust": "supervised robust, MLP h", "ours_standard_head": "ours + standard MLP h"}


def ladder_markdown(ladders: Mapping[str, Mapping[str, float]], n: int) -> str:
    """Table ``tab-attack-ladder``: accuracy (%) of each model under ever stronger attacks on the same ``n`` test
    images (:func:`rrlib.robustness_eval.attack_ladder`)."""
    columns = ["natural", "paper PGD", "PGD, 10× steps", "+ random start, 5 runs", "AutoAttack"]
    keys = ("natural", "paper_pgd", "longer_pgd", "longer_pgd_restarts", "autoattack")
    rows = [[LADDER_MODELS.get(name, name)] + [f"{100 * ladder[k]:.1f}" for k in keys]
            for name, ladder in ladders.items()]
    caption = (f"Accuracy (%) on the same {n} test images under ever stronger attacks at the paper's ε: the paper's "
               "PGD, ten times as many steps of a quarter of the size, that with a random start and 4 restarts, "
               f"and AutoAttack (standard). Models of the committed medium run, seed 0 (one image = {100 / n:.1f} "
               "points).")
    return captioned_table(caption, "tab-attack-ladder", ["model", *columns], rows)


def ladder_sentence(ladders: Mapping[str, Mapping[str, float]]) -> str:
    """What the ladder shows, model by model: whether more PGD steps alone, a random start, or only AutoAttack
    close the gap between the paper's PGD and AutoAttack."""
    out = []
    for key, lad in ladders.items():
        name = LADDER_MODELS.get(key, key)
        paper, longer, restarts, aa = (lad[k] for k in ("paper_pgd", "longer_pgd", "longer_pgd_restarts",
                                                          "autoattack"))
        gap = paper - aa
        if gap <= GAP_POINTS / 100:
            out.append(f"{name}: the paper's PGD is within {GAP_POINTS:g} points of AutoAttack ({100 * gap:.1f}).")
            continue
        text = (f"{name}: the paper's PGD leaves {100 * gap:.1f} points above AutoAttack; ten times the steps from "
                f"the clean image remove {100 * (paper - longer):.1f} of them, a random start with restarts "
                f"{100 * (paper - restarts):.1f}.")
        if (paper - longer) < 0.25 * gap and (paper - restarts) > (paper - longer):
            text += (" Longer PGD from the clean point does not help while random starts do: the cross-entropy "
                     "gradient at the clean image points nowhere useful (gradient masking), not an attack that "
                     "merely stopped early.")
        out.append(text)
    return "\n".join(f"* {line}" for line in out)
