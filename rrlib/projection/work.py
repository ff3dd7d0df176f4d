"""The work of the ``full`` profile, counted from the real configurations: :class:`Unit` (a timed primitive),
:class:`WorkItem` (how often a chapter runs it) and the per-chapter counting (:func:`full_profile_work`,
:func:`table_work`)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from rrlib.data import dataset_threat_model, get_spec

TABLE_NAMES = {"cifar10": "Table 1", "mnist": "Table 3", "fashion-mnist": "Table 4", "svhn": "Table 5"}
EVAL_BATCH = 500  # evaluate_classifier / supervised.evaluate batch size (their default)
AA_IMAGES = 64  # images AutoAttack is timed on (seconds per image = total / images)
AA_NOTE = ("AutoAttack timed on an untrained model labelled with its own predictions; it attacks only points not "
           "yet broken, so a robust head costs several times more per image: a lower estimate")
CPU_EXPERIMENTS = {"01_preliminaries": "preliminaries", "02_theorem_3_2": "theorem_3_2",
                   "03_theorem_3_4": "theorem_3_4"}


@dataclass(frozen=True)
class Unit:
    """One timed primitive: ``kind`` (see :func:`time_unit`) and its shape-determining parameters (hashable)."""

    kind: str
    params: tuple[tuple[str, Any], ...]

    def get(self, key: str, default: Any = None) -> Any:
        return dict(self.params).get(key, default)

    def label(self) -> str:
        """``kind(k=v, ...)``: a readable, unique name."""
        return f"{self.kind}({', '.join(f'{k}={v}' for k, v in self.params)})"


def unit(kind: str, **params: Any) -> Unit:
    """A :class:`Unit` with its parameters sorted by name (so equal parameters make equal units)."""
    return Unit(kind, tuple(sorted(params.items())))


@dataclass(frozen=True)
class WorkItem:
    """``count`` calls of ``unit`` in ``chapter``'s full profile (per trial/seed when ``per_trial``)."""

    chapter: str
    part: str
    unit: Unit
    count: int
    per_trial: bool
    note: str = ""


# ------------------------------------------------------------------------------------------------------ counting
def _n_train(dataset: str, n: int | None) -> int:
    return get_spec(dataset).sizes["train"] if n is None else n


def _n_evals(epochs: int, every: int) -> int:
    """Evaluated epochs of a loop that evaluates every ``every`` epochs and at the last."""
    return epochs // every + (epochs % every != 0)


def _alg2(test_batches: int | None, n_test: int, batch: int, iterations: int) -> int:
    """Algorithm-2 iterations of one estimate: ``T`` training iterations + its test batches (each attacked)."""
    return iterations + (test_batches if test_batches is not None else n_test // batch)


#: The training step each encoder objective is timed with (``encoder_step``'s ``objective``; DV is the default and
#: is left out of the unit, so the units of the paper's objectives are what they were).
ENCODER_OBJECTIVES = {"normal": "dv", "worst": "dv", "worst-infonce": "infonce", "adv-contrastive": "contrastive"}


def table_work(config: Any, chapter: str | None = None) -> list[WorkItem]:
    """The work of one seed of a downstream table (``per_trial=True``): every cell of
    :func:`rrlib.grid.cells.cells` for the first seed, with its evaluation."""
    from rrlib.grid import cells, scored_heads

    ds = config.dataset
    table = TABLE_NAMES[ds]
    chapter = chapter or ("08_downstream" if ds == "fashion-mnist" else f"08_downstream --dataset {ds}")
    n_test = get_spec(ds).sizes["test"] if config.test_subset is None else config.test_subset
    out: list[WorkItem] = []

    def add(part: str, u: Unit, count: int, note: str = "") -> None:
        out.append(WorkItem(chapter, part, u, count, True, note))

    aa = unit("autoattack_image", dataset=ds, width=config.width, version=config.autoattack_version)
    for cell in cells(config):
        if cell.seed != config.seeds[0]:
            continue
        c = cell.config
        part = f"{table} / " + "/".join(cell.name.split("/")[:-1])
        if cell.kind == "encoder":
            s = c.threat().steps
            n = _n_train(ds, c.train_subset)
            objective = ENCODER_OBJECTIVES[c.estimator_loss]
            add(part, unit("encoder_step", dataset=ds, width=c.width, critic_hidden=c.critic_hidden,
                           batch=c.batch_size, attack_steps=0 if c.estimator_loss == "normal" else s,
                           **({} if objective == "dv" else {"objective": objective})),
                c.epochs * (n // c.batch_size), "epochs × ⌊N/batch⌋ (drop_last)")
            add(part, unit("encoder_heldout", dataset=ds, width=c.width, critic_hidden=c.critic_hidden,
                           batch=c.batch_size, attack_steps=s),
                c.epochs * min(c.heldout_batches, get_spec(ds).sizes["test"] // c.batch_size),
                "per-epoch held-out normal + worst DV batches" if objective == "dv" else
                "per-epoch held-out estimates, timed as the DV ones (the same passes)")
        elif cell.kind == "head":
            fit = _n_train(ds, c.train_subset) - c.val_size
            robust = c.classifier_loss == "robust"
            add(part, unit("head_step", dataset=ds, width=config.width, head=c.head, batch=c.batch_size,
                           attack_steps=c.threat().steps if robust else 0), c.epochs * (fit // c.batch_size),
                "epochs × ⌊(N − val)/batch⌋")
            per_eval = math.ceil(c.val_size / EVAL_BATCH) + math.ceil(n_test / EVAL_BATCH)
            add(part, unit("head_eval_batch", dataset=ds, width=config.width, head=c.head, batch=EVAL_BATCH,
                           attack_steps=c.threat().steps), _n_evals(c.epochs, c.eval_every) * per_eval,
                "natural + PGD on validation and test every eval_every epochs (E.S. reuses this run)")
            if config.autoattack_n:
                add(part, aa, config.autoattack_n * len(scored_heads(cell, config)), AA_NOTE)
        else:
            robust = c.adversarial
            add(part, _sup_unit(c, c.train_threat().steps if robust else 0),
                c.epochs * math.ceil(_n_train(ds, c.train_subset) / c.batch_size), "epochs × ⌈N/batch⌉")
            add(part, _sup_eval_unit(c), _n_evals(c.epochs, c.eval_every) * math.ceil(n_test / EVAL_BATCH),
                "natural + PGD on the test split")
            if config.autoattack_n:
                add(part, aa, config.autoattack_n, AA_NOTE + "; timed on h∘g, Baseline-H's shape")
    return out


def _sup_unit(c: Any, attack_steps: int) -> Unit:
    return unit("supervised_step", dataset=c.dataset, model=c.model, head=c.head, width=c.width, batch=c.batch_size,
                optimizer=c.optimizer, attack_steps=attack_steps, augment=c.augment, amp=c.amp)


def _sup_eval_unit(c: Any) -> Unit:
    threat = c.eval_threat()
    return unit("supervised_eval_batch", dataset=c.dataset, model=c.model, head=c.head, width=c.width,
                batch=EVAL_BATCH, attack_steps=0 if threat is None else threat.steps, amp=c.amp)


def _alg2_unit(representation: str, batch: int, attack_steps: int, **params: Any) -> Unit:
    return unit("alg2_iteration", representation=representation, batch=batch, attack_steps=attack_steps, **params)


def _chapter_04() -> list[WorkItem]:
    from rrlib.experiments.mine import MineConfig
    from rrlib.synthetic import DeterministicCode

    cfg = MineConfig.full()
    ch, out = "04_mine", []
    for n in cfg.oracle_batches:
        out.append(WorkItem(ch, "oracle critic", unit("oracle_trial", dim=cfg.dim, batch=n),
                            len(cfg.levels) * cfg.oracle_trials, False, "float64 on the CPU whatever the device"))
    s = cfg.staircase
    for spec in cfg.runs:
        u = unit("staircase_step", data="gaussian", critic=spec.critic, bound=spec.bound, dim=cfg.dim, batch=s.batch,
                 hidden=s.hidden, embed=s.embed, layers=s.layers)
        out.append(WorkItem(ch, f"staircase: {spec.critic}", u, len(cfg.levels) * spec.steps_per_level, False,
                            f"{spec.bound}: levels × steps_per_level; held-out batches per level not counted"))
    code = DeterministicCode(cfg.deterministic_dim)
    for b in cfg.deterministic_bounds:
        u = unit("staircase_step", data="deterministic", critic="separable", bound=b, dim=code.dim, batch=s.batch,
                 hidden=s.hidden, embed=s.embed, layers=s.layers)
        out.append(WorkItem(ch, "deterministic code z = x", u, cfg.deterministic_steps, False, b))
    return out


def _chapter_05() -> list[WorkItem]:
    from rrlib.experiments.worst_case_mi import Config
    from rrlib.experiments.worst_case_mi.gaussian import gaussian_settings

    cfg = Config.full()
    g, d = cfg.gaussian, cfg.digits
    ch, out = "05_worst_case_mi", []
    crit = {"dim": g.dim, "hidden": g.critic_hidden, "embed": g.critic_embed}
    counts: dict[Unit, int] = {}
    normal, worst, oracle = set(), set(), set()  # the experiment's caches, per seed
    for sweep, eps, k, steps, iters, grad in gaussian_settings(g):
        per = _alg2(None, g.n_test, g.batch_size, iters)
        if iters not in normal:
            normal.add(iters)
            u = _alg2_unit("gaussian_sign", g.batch_size, 0, gradient="representation", **crit)
            counts[u] = counts.get(u, 0) + per
        if (eps, k, steps, iters, grad) not in worst:
            worst.add((eps, k, steps, iters, grad))
            u = _alg2_unit("gaussian_sign", g.batch_size, steps, gradient=grad, **crit)
            counts[u] = counts.get(u, 0) + per
        if sweep == "eps" and (eps, iters) not in oracle:
            oracle.add((eps, iters))
            u = _alg2_unit("gaussian_sign", g.batch_size, 0, gradient="representation", **crit)
            counts[u] = counts.get(u, 0) + per
    for u, n in counts.items():
        out.append(WorkItem(ch, "Gaussian sweeps", u, n * g.n_seeds, False,
                            "estimates × (T + test batches) × seeds; PGD-risk check and masking attacks not counted"))
    masking = _alg2_unit("gaussian_sign", g.batch_size, 0, gradient="representation", **crit)
    out.append(WorkItem(ch, "masking demo", masking, g.iterations + 1, False, "its clean critic"))
    n_digits = get_spec("digits").sizes
    for adv in (False, True):
        u = unit("supervised_step", dataset="digits", model="baseline_h", head="linear", width=d.width,
                 batch=d.train_batch_size, optimizer="adam", attack_steps=d.train_steps if adv else 0, augment=None,
                 amp=False)
        out.append(WorkItem(ch, "digits: training", u, d.epochs * math.ceil(n_digits["train"] / d.train_batch_size),
                            False, "standard and PGD-trained Baseline-H"))
    per = _alg2(None, n_digits["test"], d.batch_size, d.iterations)
    dig = {"width": d.width, "hidden": d.critic_hidden, "embed": d.critic_embed, "gradient": "representation"}
    out.append(WorkItem(ch, "digits: MI estimates", _alg2_unit("digits", d.batch_size, 0, **dig),
                        2 * d.n_seeds * per, False, "normal MI of both models"))
    out.append(WorkItem(ch, "digits: MI estimates", _alg2_unit("digits", d.batch_size, d.attack_steps, **dig),
                        2 * len(d.eps_values) * d.n_seeds * per, False, "worst-case MI; PGD accuracy not counted"))
    for s in cfg.cost.steps_values:
        for steps in (0, s):
            out.append(WorkItem(ch, "cost analysis", _alg2_unit("digits", d.batch_size, steps, **dig),
                                cfg.cost.repeats + 2, False, "interleaved timings + the counted call"))
    return out


def _chapter_06() -> list[WorkItem]:
    from rrlib.experiments.vulnerability.config import Config, train_config

    cfg = Config.full()
    ch, out = "06_vulnerability_robustness", []
    spec = get_spec(cfg.dataset)
    threat = dataset_threat_model(cfg.dataset)
    n_eval = cfg.eval_size
    for arch, eps in cfg.members():
        t = train_config(cfg, arch, eps)
        name = f"{arch} ε={eps * 255:.0f}/255"
        n_test = spec.sizes["test"] if t.test_subset is None else t.test_subset
        out.append(WorkItem(ch, f"train {name}", _sup_unit(t, t.train_threat().steps if t.adversarial else 0),
                            t.epochs * math.ceil(_n_train(cfg.dataset, t.train_subset) / t.batch_size), False,
                            "epochs × ⌈N/batch⌉"))
        out.append(WorkItem(ch, f"train {name}", _sup_eval_unit(t),
                            _n_evals(t.epochs, t.eval_every) * math.ceil(n_test / EVAL_BATCH), False,
                            "periodic natural + PGD test evaluation"))
        m = {"dataset": cfg.dataset, "model": arch, "head": t.head, "width": t.width, "batch": 250}
        out.append(WorkItem(ch, f"measure {name}", unit("pgd_batch", steps=threat.steps, restarts=0, **m),
                            math.ceil(n_eval / 250), False, "paper's PGD accuracy"))
        out.append(WorkItem(ch, f"measure {name}", unit("pgd_batch", steps=cfg.strong_steps,
                                                         restarts=cfg.strong_restarts, **m),
                            math.ceil(n_eval / 250), False, "stronger PGD accuracy"))
        mi = cfg.mi
        per = _alg2(mi.test_batches, cfg.mi_test_size, mi.batch_size, mi.iterations)
        kw = {"model": arch, "head": t.head, "width": t.width, "hidden": mi.critic_hidden, "gradient": mi.gradient}
        pre = _alg2(1, cfg.mi_test_size, mi.batch_size, mi.pretrain_iterations) if mi.warm_start else 0
        out.append(WorkItem(ch, f"logit MI {name}", _alg2_unit("cifar_logits", mi.batch_size, 0, **kw), per + pre,
                            False, "normal MI: T + test batches"))
        out.append(WorkItem(ch, f"logit MI {name}", _alg2_unit("cifar_logits", mi.batch_size, threat.steps, **kw),
                            per, False, "worst-case MI: T + test batches"))
        nc = cfg.neurons
        if nc is not None and arch == "baseline_h" and eps in nc.train_eps:
            per = _alg2(nc.test_batches, cfg.mi_test_size, nc.batch_size, nc.iterations)
            kw = {"dataset": cfg.dataset, "head": t.head, "width": t.width, "hidden": nc.hidden, "embed": nc.embed,
                  "code_hidden": nc.code_hidden, "batch": nc.batch_size}
            pre = (nc.pretrain_iterations + 1) if nc.warm_start else 0
            for steps in (0, threat.steps):
                out.append(WorkItem(ch, f"neuron MI {name}", unit("neuron_iteration", attack_steps=steps, **kw),
                                    per + (pre if steps == 0 else 0), False, "per-neuron MI of conv2"))
    return out


def _chapter_07() -> list[WorkItem]:
    from rrlib.experiments.robust_encoders import Config

    cfg = Config.full()
    ch, out = "07_robust_encoders", []
    for loss in ("normal", "worst"):
        ec = cfg.encoder_config(loss)
        s = ec.threat().steps
        enc = {"dataset": ec.dataset, "width": ec.width, "critic_hidden": ec.critic_hidden, "batch": ec.batch_size}
        out.append(WorkItem(ch, f"encoder {loss}", unit("encoder_step", attack_steps=s if loss == "worst" else 0,
                                                         **enc),
                            ec.epochs * (_n_train(ec.dataset, ec.train_subset) // ec.batch_size), False,
                            "its own cache folder: Table 4's seed-0 encoder configuration, trained again"))
        out.append(WorkItem(ch, f"encoder {loss}", unit("encoder_heldout", attack_steps=s, **enc),
                            ec.epochs * ec.heldout_batches, False, "per-epoch held-out estimates"))
        per = _alg2(None, cfg.rv_test, cfg.rv_batch, cfg.rv_iterations)
        kw = {"dataset": ec.dataset, "width": ec.width, "hidden": ec.critic_hidden, "gradient": "representation"}
        for steps in (0, s):
            out.append(WorkItem(ch, f"RV of {loss}", _alg2_unit("pixel_encoder", cfg.rv_batch, steps, **kw),
                                len(cfg.rv_seeds) * per, False, "fresh critics: seeds × (T + test batches)"))
        out.append(WorkItem(ch, "step cost", unit("encoder_step", attack_steps=s if loss == "worst" else 0, **enc),
                            cfg.cost_repeats + 1, False, "interleaved timing"))
    return out


def _chapter_09() -> list[WorkItem]:
    from rrlib.experiments.saliency_maps import MAPS, Config
    from rrlib.grid.config import TablesConfig

    cfg, tab = Config.full(), TablesConfig.full(dataset="fashion-mnist")
    ch, out = "09_saliency", []
    n_ce = sum(1 for _, _, loss in MAPS.values() if loss == "ce")
    n_mi = len(MAPS) - n_ce
    kw = {"dataset": cfg.dataset, "width": tab.width}
    out.append(WorkItem(ch, "saliency maps", unit("ce_saliency", images=cfg.n_images, **kw), n_ce, False,
                        "one input gradient of a Baseline-H-shaped classifier over n_images"))
    out.append(WorkItem(ch, "saliency maps", unit("dv_saliency", critic_hidden=tab.critic_hidden, batch=cfg.dv_batch,
                                                   **kw), n_mi * math.ceil(cfg.n_images / cfg.dv_batch), False,
                        "MI-loss maps per DV batch"))
    out.append(WorkItem(ch, "kernel maps", unit("kernel_saliency", images=cfg.n_images, **kw), 2 * cfg.n_kernels,
                        False, "weights loading and the one-image kernel maps not counted"))
    return out


def full_profile_work() -> list[WorkItem]:
    """Every chapter's full profile and Tables 1, 3, 4, 5 (one seed each, ``per_trial``), from the real configs."""
    from rrlib.grid.config import TablesConfig
    from rrlib.paper import TABLES

    out = [WorkItem("00_your_own_model", "a reader's model", unit("none"), 0, False,
                    "not projected: the page measures whatever model the reader brings")]
    out += [WorkItem(ch, "whole experiment (NumPy, CPU)", unit("cpu_chapter", experiment=mod, profile="full"), 1,
                    False, "device-independent; timed by running it once on the CPU")
           for ch, mod in CPU_EXPERIMENTS.items()]
    out += _chapter_04() + _chapter_05() + _chapter_06() + _chapter_07()
    for ds in sorted(TABLES, key=lambda d: TABLE_NAMES[d]):
        out += table_work(TablesConfig.full(dataset=ds))
    out += _chapter_09()
    out.append(WorkItem("10_reproduction_report", "reads results", unit("none"), 0, False, "no computation"))
    out.append(WorkItem("13_updates_and_corrections", "reads the git history", unit("none"), 0, False,
                        "no computation"))
    out += _chapter_11()
    out += _chapter_12()
    return out


def _chapter_11() -> list[WorkItem]:
    """Chapter 11's own grid (:mod:`rrlib.experiments.contrastive_comparison`): the paper's worst-case encoder and the
    two objectives beyond it, with their heads, one seed (``per_trial``)."""
    from rrlib.experiments.contrastive_comparison import ComparisonConfig

    return table_work(ComparisonConfig.full().tables, chapter="11_beyond_contrastive")




def _chapter_12() -> list[WorkItem]:
    """Chapter 12: the bmi scoreboard (:mod:`rrlib.experiments.bmi_scoreboard`) and known MI on images
    (:mod:`rrlib.experiments.image_mi`), full profiles."""
    from rrlib.experiments.bmi_scoreboard import ScoreboardConfig
    from rrlib.experiments.image_mi import ImageMIConfig
    from rrlib.mi.bmi_tasks import get_task

    ch, out = "12_outside_ground_truth", []
    board = ScoreboardConfig.full()
    runs: dict[int, int] = {}
    for task_id in board.tasks:
        task = get_task(task_id)
        d = max(task.dim_x, task.dim_y)
        runs[d] = runs.get(d, 0) + len(board.sizes_of(task_id)) * len(board.seeds)
    for bound in board.bounds:
        for d, n_runs in sorted(runs.items()):
            u = unit("staircase_step", data="gaussian", critic="separable", bound=bound, dim=d, batch=256, hidden=256,
                     embed=32, layers=1)
            out.append(WorkItem(ch, f"bmi scoreboard: {bound}", u, n_runs * board.steps, False,
                                f"tasks of larger dimension {d}: a {d}×{d} Gaussian step stands in; every run counted "
                                "at its 10,000-step budget (early stopping ends most sooner); test passes not counted"))
    images = ImageMIConfig.full()
    for critic in images.critics:
        for bits, _ in images.levels:
            u = unit("image_critic_step", critic=critic, hidden=images.critic_hidden if critic == "encode_and_dot"
                     else 256, batch=images.batch, bits=bits)
            out.append(WorkItem(ch, f"known MI on images: {critic}", u, images.steps * len(images.seeds), False,
                                "training steps; held-out batches not counted"))
    return out
