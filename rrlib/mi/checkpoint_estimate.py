"""MI of a trained checkpoint's representation: the run behind ``rrbook estimate-mi`` (the paper's ``--task
estimate-mi``).

:class:`EstimateMIRequest` holds what the command line gives (its fields are the flags, see
:mod:`rrlib.cli_flags`); :func:`prepare_estimate` checks it all, loads the checkpoint and the data and decides the
run's :class:`EstimateMIConfig` (the paper's defaults: :data:`PAPER_CRITIC_EPOCHS`, :data:`PAPER_CRITIC_LR`, the
dataset's threat model), raising one ``ValueError``/``FileNotFoundError`` naming a flag before any long work;
:func:`run_estimate` trains the critics (:func:`rrlib.mi.runs.estimate_runs`), reports each run through ``log`` and
writes the JSON result. A result file holding the same estimate is reloaded, not recomputed; one holding another
estimate is refused (:func:`rrlib.train.run_folder.previous_result`).

What is estimated: the normal MI ``I(X; z)``, the worst-case MI ``inf_{μ' ∈ B_W∞(μ, ε)} I(X'; z')`` and
``RV_ε = normal − worst`` (Definition 3.1, Eq. 4.1; nats). ``z`` is the logit layer (10-d, the paper's Figures 1–2;
``--representation logits``) or ``model.representation(x)`` (``z``: the 64-d Baseline-H code). The critic is the
encode-and-dot-product network on raw pixels (:class:`rrlib.mi.critics.EncodeAndDotCritic`, hidden 2048 as the
paper), trained by Algorithm 2 with the DV bound; the worst case perturbs each batch by Algorithm 1 (ℓ∞ PGD with the
dataset's ε, steps and step size, :func:`rrlib.data.resolve_threat`, unless ``--eps/--steps/--step-size`` say
otherwise). ``--estimator-loss both`` runs a normal and a worst-case critic from the same
initialisation for every seed, as the official code's two separate runs.
"""

from __future__ import annotations

import json
import math
import pickle
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rrlib.attacks import ThreatModel
from rrlib.data import get_spec, load_dataset, resolve_threat, subset
from rrlib.mi.critics import encode_and_dot_critics
from rrlib.mi.runs import MIRun, estimate_runs
from rrlib.mi.worst_case import EstimatorConfig
from rrlib.models.representations import representation_module
from rrlib.validation import check_int, check_radius

#: Critic training length when neither ``--iterations`` nor ``--epochs`` is given (supplement D.1: 300 epochs).
PAPER_CRITIC_EPOCHS = 300
#: Learning rate of the critic's Adam (supplement D.1: a fixed 1e-4, as Hjelm et al.).
PAPER_CRITIC_LR = 1e-4

__all__ = ["PAPER_CRITIC_EPOCHS", "PAPER_CRITIC_LR", "EstimateMIConfig", "EstimateMIRequest", "EstimatePlan",
           "checkpoint_file", "estimate_settings", "prepare_estimate", "run_estimate"]


@dataclass(frozen=True)
class EstimateMIConfig:
    """Every setting of an ``estimate-mi`` run besides the checkpoint (stored in the JSON, hashed for its name).

    Attributes:
        representation: ``"logits"`` (the model's output, 10-d) or ``"z"`` (``model.representation``).
        critic_hidden: width of :class:`rrlib.mi.critics.EncodeAndDotCritic` (the paper: 2048).
        estimator_loss: ``"normal"`` (``I(X; z)``), ``"worst"`` (worst-case MI) or ``"both"``.
        threat: Algorithm 1's adversary (``None`` for ``"normal"``).
        estimator: Algorithm 2's settings (iterations ``T``, batch ``B``, lr, test batches ``K``, selection, the
            adversary's gradient path).
        seeds: one critic initialisation and one batch order per seed.
        train_subset, test_subset: class-stratified subsets (seed 0) of the training and test sets; ``None``: all.
    """

    representation: str
    critic_hidden: int
    estimator_loss: str
    threat: ThreatModel | None
    estimator: EstimatorConfig
    seeds: tuple[int, ...]
    train_subset: int | None
    test_subset: int | None


@dataclass(frozen=True)
class EstimateMIRequest:
    """What ``estimate-mi`` is asked (one field per flag; ``None``: the paper's or the dataset's default)."""

    checkpoint: Path
    representation: str = "logits"
    critic_hidden: int = 2048
    estimator_loss: str = "both"
    eps: float | None = None
    steps: int | None = None
    step_size: float | None = None
    norm: str | None = None
    gradient: str = "representation"
    iterations: int | None = None
    epochs: float | None = None
    batch_size: int = 128
    lr: float = PAPER_CRITIC_LR
    test_batches: int | None = None
    select: str = "best"
    train_subset: int | None = None
    test_subset: int | None = None
    seeds: tuple[int, ...] = (0,)
    threads: int | None = None
    data_root: Path | None = None
    out: Path | None = None


def checkpoint_file(path: Path) -> Path:
    """The ``checkpoint.pt`` of ``--checkpoint`` (the file or the folder holding it); ``FileNotFoundError`` if none."""
    from rrlib.train.supervised import CHECKPOINT_FILE

    file = path / CHECKPOINT_FILE if path.is_dir() else path
    if not file.is_file():
        raise FileNotFoundError(
            f"checkpoint not found: {str(path)!r} (give the {CHECKPOINT_FILE} written by `python -m rrlib.cli "
            "train-model`, or the folder holding it)"
        )
    return file


#: The flag of each attack value (messages name flags).
_FLAGS = {"eps": "--eps", "steps": "--steps", "step_size": "--step-size"}


def _threat(request: EstimateMIRequest, dataset: str) -> ThreatModel:
    """The worst case's adversary: the flags given, the rest from the dataset's threat model (supplement D.1), by
    the one resolver :func:`rrlib.data.resolve_threat`."""
    spec = get_spec(dataset)
    values = {"eps": request.eps, "steps": request.steps, "step_size": request.step_size}
    if spec.threat is None and any(v is None for v in values.values()):
        resolve_threat(dataset, **values, names=_FLAGS)  # raises the one message, naming the flags
    if request.eps is not None:
        check_radius("--eps", request.eps, norm=request.norm or "linf", dim=math.prod(spec.shape))
    try:
        return resolve_threat(dataset, **values, norm=request.norm)
    except ValueError as err:  # name the flags, keep the library's explanation
        name = next((k for k in ("steps", "step_size", "eps") if str(err).startswith(k)), "step_size")
        value = values[name] if values[name] is not None else getattr(spec.threat, name)
        raise ValueError(f"{_FLAGS[name]} {value:g}: {err}") from None


def estimate_settings(request: EstimateMIRequest, dataset: str, n_train: int) -> EstimateMIConfig:
    """The run's settings from the request and the dataset's threat model; ``ValueError`` naming the flag."""
    threat = _threat(request, dataset) if request.estimator_loss != "normal" else None
    check_int("--critic-hidden", request.critic_hidden, 1)
    if request.iterations is not None:
        iterations = request.iterations
    else:
        epochs = PAPER_CRITIC_EPOCHS if request.epochs is None else request.epochs
        if not epochs > 0:
            raise ValueError(f"--epochs must be > 0, got {epochs:g}")
        iterations = max(1, round(epochs * (n_train // max(request.batch_size, 1))))
    estimator = EstimatorConfig(iterations=iterations, batch_size=request.batch_size, lr=request.lr,
                                test_batches=request.test_batches, select=request.select,
                                gradient=request.gradient if threat is not None else "representation")
    return EstimateMIConfig(representation=request.representation, critic_hidden=request.critic_hidden,
                            estimator_loss=request.estimator_loss, threat=threat, estimator=estimator,
                            seeds=tuple(request.seeds), train_subset=request.train_subset,
                            test_subset=request.test_subset)


@dataclass
class EstimatePlan:
    """A checked ``estimate-mi`` run: everything loaded and decided, nothing computed yet.

    ``previous`` is the result already in ``out`` for the same checkpoint and settings (reloaded, not recomputed).
    """

    request: EstimateMIRequest
    file: Path
    device: Any
    trained: Any
    train: Any
    test: Any
    settings: EstimateMIConfig
    digest: str
    out: Path
    model_record: dict[str, Any]
    previous: dict[str, Any] | None


def prepare_estimate(request: EstimateMIRequest, device: Any) -> EstimatePlan:
    """Check the request, load the checkpoint and the data, and check ``--out`` before anything is computed.

    Raises ``FileNotFoundError`` / ``ValueError`` / ``RuntimeError`` with one line naming the flag.
    """
    from rrlib.train.cache import config_hash
    from rrlib.train.run_folder import previous_result
    from rrlib.train.supervised import load_trained

    file = checkpoint_file(request.checkpoint)
    try:
        trained = load_trained(file, device=device)
    except (KeyError, TypeError, pickle.UnpicklingError) as err:
        raise ValueError(f"{str(file)!r} is not a checkpoint written by train-model ({err!r})") from None
    dataset = trained.config.dataset
    train = subset(load_dataset(dataset, "train", root=request.data_root), request.train_subset, 0)
    test = subset(load_dataset(dataset, "test", root=request.data_root), request.test_subset, 0)
    settings = estimate_settings(request, dataset, len(train))
    b = settings.estimator.batch_size
    for name, ds in (("training", train), ("test", test)):
        if len(ds) < b:
            raise ValueError(f"the {name} set holds {len(ds)} images, fewer than one batch of --batch-size {b}")
    k = settings.estimator.test_batches
    if k is not None and k > len(test) // b:
        raise ValueError(f"--test-batches {k} but the test set holds only {len(test) // b} full batches of {b}")
    if request.threads is not None and request.threads < 1:
        raise ValueError(f"--threads must be an integer >= 1, got {request.threads}")
    digest = config_hash(settings)
    out = request.out if request.out is not None else file.parent / (
        f"estimate-mi-{settings.representation}-{settings.estimator_loss}-{digest[:12]}.json")
    model_record = {"config": asdict(trained.config), "finished": trained.finished,
                    "global_step": trained.global_step, "final": trained.final}
    # before computing: a writable --out, and no other estimate in it (the same one is reloaded)
    previous = previous_result(out, {"checkpoint": str(file), "config": asdict(settings), "model": model_record})
    return EstimatePlan(request, file, device, trained, train, test, settings, digest, out, model_record, previous)


def _describe_attack(threat: ThreatModel, gradient: str) -> str:
    return (f"{threat.norm} PGD-{threat.steps}, eps {threat.eps:.4g}, step {threat.step_size:.4g}, "
            f"gradient through {'z only' if gradient == 'representation' else 'both critic inputs'}")


def _run_line(run: MIRun) -> str:
    se = run.estimate.standard_error
    line = f"[seed {run.seed}] {run.kind} MI {run.estimate.estimate:.4f}"
    line += f" ± {se:.4f}" if se is not None else ""
    line += f" nats (s.e. over test batches; critic of iteration {run.estimate.best_iteration}"
    if run.kind == "worst":
        line += f"; the same critic on clean test data: {run.clean_estimate:.4f}"
    return line + ")"


def run_estimate(plan: EstimatePlan, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Train the critics of ``plan`` (one line per run through ``log``) and write its JSON result; returns it."""
    from rrlib.mi.estimator import limit_threads
    from rrlib.runtime import atomic_write_text

    settings, trained, device, est = plan.settings, plan.trained, plan.device, plan.settings.estimator
    dataset = trained.config.dataset
    spec = get_spec(dataset)
    representation, z_dim = representation_module(trained.model, settings.representation, spec.shape, device)
    x_train = plan.train.tensors()[0].to(device)
    x_test = plan.test.tensors()[0].to(device)
    log(f"estimate-mi: {trained.config.model} on {spec.title} from {plan.file}"
        f"{'' if trained.finished else f' (UNFINISHED training, step {trained.global_step})'}, device {device}")
    log(f"representation {settings.representation} ({z_dim}-d); critic encode-and-dot, hidden "
        f"{settings.critic_hidden}; {est.iterations} iterations of batch {est.batch_size}, lr {est.lr:g}, select "
        f"{est.select}; {len(plan.train)} training / {len(plan.test)} test images")
    if settings.threat is not None:
        log(f"attack: {_describe_attack(settings.threat, est.gradient)}")
    start = time.perf_counter()

    def started(seed: int, loss: str) -> None:
        what = "a normal and a worst-case critic" if loss == "both" else f"a {loss}-case critic"
        log(f"[seed {seed}] training {what} ...")

    with limit_threads(plan.request.threads if device.type == "cpu" else None):
        runs = estimate_runs(
            representation, encode_and_dot_critics(spec.channels, z_dim, settings.critic_hidden,
                                                   gradient=est.gradient),
            x_train, x_test, loss=settings.estimator_loss, threat=settings.threat, config=est, seeds=settings.seeds,
            on_start=started, on_run=lambda run: log(_run_line(run)),
            on_seed_done=lambda seed, seconds: log(f"[seed {seed}] {seconds:.1f} s"))
    seconds = time.perf_counter() - start
    result: dict[str, Any] = {
        "command": "estimate-mi", "units": "nats", "checkpoint": str(plan.file), "device": str(device),
        "model": plan.model_record,
        "config": asdict(settings), "config_hash": plan.digest, "dataset": dataset, "z_dim": z_dim,
        "n_train": len(plan.train), "n_test": len(plan.test), "seconds": seconds,
        **runs.summary(), "runs": [run.record() for run in runs.runs],
    }
    many = len(settings.seeds) > 1
    parts = [f"{name} {result[key]['mean']:.4f}" + (f" ± {result[key]['std']:.4f}" if many else "")
             for key, name in (("normal", "normal MI"), ("worst", "worst-case MI"), ("rv", "RV"))
             if result[key] is not None]
    over = f" (mean ± std over {len(settings.seeds)} seeds)" if many else ""
    log(f"result: {' | '.join(parts)} nats{over}; {seconds:.1f} s")
    plan.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(plan.out, json.dumps(result, indent=2) + "\n")
    log(f"wrote {plan.out}")
    return result
