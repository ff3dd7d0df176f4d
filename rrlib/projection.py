"""How long the ``full`` profile takes: count its timed primitives from the real configs, time each, multiply.

:func:`full_profile_work` walks every chapter's ``Config.full(...)`` (and :class:`TablesConfig.full` for each
paper table of :data:`rrlib.paper.TABLES`) and lists :class:`WorkItem` s: a :class:`Unit` (one training step, one
attack batch, one Algorithm-2 iteration, ...) and how often the profile runs it, derived from the configuration
(epochs × batches per epoch from :func:`rrlib.data.get_spec`'s split sizes, iterations + test batches, ...),
never typed in. :func:`time_units` measures seconds per call of the *library's own* step on random tensors of the
right shape (:func:`rrlib.timing.interleaved_medians`: CUDA-synchronised, interleaved medians); :func:`project`
multiplies and sums per chapter and per table cell; :func:`projection_markdown` prints the table.

What is counted is the dominant loops; each item's ``note`` says what it leaves out (data loading before the
first step, checkpoint writes, prediction shares, plots). Counts are exact for the loops listed; the projected
hours are the measured step time × count, so they are as good as the step timing is representative
(AutoAttack is the exception: its cost grows with the model's robustness, see :data:`AA_NOTE`).
Chapters 01–03 are NumPy on the CPU whatever the device: their unit is the whole full-profile run, timed once.
Chapter 10 only reads results (nothing to count).
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch

from rrlib.data import ImageDataset, dataset_threat_model, get_spec
from rrlib.timing import interleaved_medians, synchronize

__all__ = ["Unit", "WorkItem", "full_profile_work", "project", "projection_markdown", "table_work", "time_unit",
           "time_units"]

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


def table_work(config: Any, chapter: str | None = None) -> list[WorkItem]:
    """The work of one seed of a downstream table (``per_trial=True``): every cell of
    :func:`rrlib.experiments.downstream_tables.cells` for the first seed, with its evaluation."""
    from rrlib.experiments.downstream_tables import _needed, cells

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
            add(part, unit("encoder_step", dataset=ds, width=c.width, critic_hidden=c.critic_hidden,
                           batch=c.batch_size, attack_steps=s if c.estimator_loss == "worst" else 0),
                c.epochs * (n // c.batch_size), "epochs × ⌊N/batch⌋ (drop_last)")
            add(part, unit("encoder_heldout", dataset=ds, width=c.width, critic_hidden=c.critic_hidden,
                           batch=c.batch_size, attack_steps=s),
                c.epochs * min(c.heldout_batches, get_spec(ds).sizes["test"] // c.batch_size),
                "per-epoch held-out normal + worst DV batches")
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
                add(part, aa, config.autoattack_n * len(_needed(cell, config)), AA_NOTE)
        else:
            robust = c.adv_eps is not None
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
    from rrlib.experiments.worst_case_mi.gaussian import _settings

    cfg = Config.full()
    g, d = cfg.gaussian, cfg.digits
    ch, out = "05_worst_case_mi", []
    crit = {"dim": g.dim, "hidden": g.critic_hidden, "embed": g.critic_embed}
    counts: dict[Unit, int] = {}
    normal, worst, oracle = set(), set(), set()  # the experiment's caches, per seed
    for sweep, eps, k, steps, iters, grad in _settings(g):
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
    from rrlib.experiments.downstream_tables import TablesConfig
    from rrlib.experiments.saliency_maps import MAPS, Config

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
    from rrlib.experiments.downstream_tables import TablesConfig
    from rrlib.paper import TABLES

    out = [WorkItem(ch, "whole experiment (NumPy, CPU)", unit("cpu_chapter", experiment=mod, profile="full"), 1,
                    False, "device-independent; timed by running it once on the CPU")
           for ch, mod in CPU_EXPERIMENTS.items()]
    out += _chapter_04() + _chapter_05() + _chapter_06() + _chapter_07()
    for ds in sorted(TABLES, key=lambda d: TABLE_NAMES[d]):
        out += table_work(TablesConfig.full(dataset=ds))
    out += _chapter_09()
    out.append(WorkItem("10_reproduction_report", "reads results", unit("none"), 0, False, "no computation"))
    return out


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


def _callable(u: Unit, device: torch.device, shrink: bool) -> tuple[Callable[[], object], int]:
    """``(fn, calls)``: calling ``fn`` once runs the unit ``calls`` times (seconds per unit = time / calls)."""
    from rrlib.models import build_model
    from rrlib.models.heads import build_head
    from rrlib.train.downstream import FrozenEncoderClassifier, evaluate_classifier, head_step
    from rrlib.train.encoder import PixelCritic, PixelEncoder, encoder_step, heldout_mi

    p = _shrunk(u, shrink)
    k = u.kind
    if k in ("encoder_step", "encoder_heldout"):
        g = PixelEncoder(p["dataset"], width=p["width"]).to(device)
        t = PixelCritic(p["dataset"], hidden=p["critic_hidden"]).to(device)
        opt = torch.optim.Adam([*g.parameters(), *t.parameters()], lr=1e-4)
        x = _images(p["dataset"], p["batch"], device)
        th = _threat(p["dataset"], p["attack_steps"]) if p["attack_steps"] else None
        if k == "encoder_step":
            return (lambda: encoder_step(g, t, opt, x, th)), 1
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
        from rrlib.mi.estimator import _train_steps, build_critic
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
        return (lambda: _train_steps(net, bound, opt, sampler, gen, steps, p["batch"], iter(()))), steps
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
                      adv_eps=None if th is None else th.eps, adv_steps=None if th is None else th.steps,
                      adv_step_size=None if th is None else th.step_size, eval_adversarial=False)
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


# ------------------------------------------------------------------------------------------------------ projection
def project(items: Iterable[WorkItem], seconds: dict[Unit, float], trials: tuple[int, ...] = (1, 4)
            ) -> list[dict[str, Any]]:
    """Rows ``{"chapter", "part", "hours": {t: h or None}, "per_trial", "missing"}``: per chapter a total
    (``part = "total"``), then each of its parts (a table cell is a part). Hours for ``t`` trials are
    ``(fixed + t × per-trial seconds) / 3600``; a row any of whose units is not in ``seconds`` has ``None`` hours
    and names the units in ``missing``."""
    groups: dict[str, dict[str, list[WorkItem]]] = {}
    for it in items:
        groups.setdefault(it.chapter, {}).setdefault(it.part, []).append(it)

    def row(chapter: str, part: str, work: list[WorkItem]) -> dict[str, Any]:
        missing = sorted({w.unit.label() for w in work if w.count and w.unit not in seconds})
        fixed = sum(w.count * seconds.get(w.unit, 0.0) for w in work if not w.per_trial)
        each = sum(w.count * seconds.get(w.unit, 0.0) for w in work if w.per_trial)
        hours = {t: None if missing else (fixed + t * each) / 3600 for t in trials}
        return {"chapter": chapter, "part": part, "hours": hours, "per_trial": any(w.per_trial for w in work),
                "missing": missing}

    rows = []
    for chapter, parts in groups.items():
        rows.append(row(chapter, "total", [w for work in parts.values() for w in work]))
        rows += [row(chapter, part, work) for part, work in parts.items()]
    return rows


def _fmt(hours: float | None) -> str:
    if hours is None:
        return "not measured"
    if hours >= 48:
        return f"{hours / 24:.1f} d"
    return f"{hours:.2f} h" if hours >= 0.1 else f"{hours * 60:.1f} min"


def projection_markdown(rows: list[dict[str, Any]], device: str = "") -> str:
    """A Markdown table of :func:`project`'s rows (hours, or days from 48 h), with a caption saying what counts."""
    trials = list(rows[0]["hours"]) if rows else [1, 4]
    head = "| chapter | part | " + " | ".join(f"{t} trial{'s' * (t > 1)}" for t in trials) + " |"
    lines = [f"Projected wall time of the `full` profile{f' on {device}' if device else ''}: measured seconds per "
             "step × the number of steps the full configs run (training steps, attack and estimator iterations, "
             "periodic evaluations, AutoAttack per image). Not counted: data loading, checkpoints, plots. Trials "
             "multiply only the table cells (one seed each); other chapters do not depend on them.", "",
             head, "|---|---|" + "---|" * len(trials)]
    for r in rows:
        chapter = f"**{r['chapter']}**" if r["part"] == "total" else ""
        lines.append(f"| {chapter} | {r['part']} | " + " | ".join(_fmt(r["hours"][t]) for t in trials) + " |")
    return "\n".join(lines) + "\n"
