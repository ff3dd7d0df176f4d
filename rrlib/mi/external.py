"""``estimate-samples``: rrlib's MI estimators as an *external estimator* of the bmi benchmark (nats).

The bmi benchmark (Czyż et al., "Beyond Normal", NeurIPS 2023; github.com/cbg-ethz/bmi) runs a program outside
Python through its ``ExternalEstimator`` class (``src/bmi/estimators/external/external_estimator.py``):

* ``estimate_with_info(x, y)`` writes the sample with ``bmi.utils.save_sample`` to a ``tempfile.NamedTemporaryFile``
  (a path **without** a ``.csv`` suffix): ``pandas.DataFrame(np.hstack([x, y]), columns=[X0..X{dx-1},
  Y0..Y{dy-1}]).to_csv(path, index=False)`` — one header line, then one row per sample point, **no index column**
  and no other columns;
* ``estimate_with_info_from_path(path)`` reads the dimensions back (``bmi.utils.read_sample_dims``), builds the
  command with the subclass's ``_build_command(path, dim_x, dim_y)`` (by convention ``PROGRAM SAMPLE DIM_X DIM_Y
  [options]``) and runs it with ``_run_command_and_read_mi``: ``subprocess.check_output(args,
  stderr=subprocess.STDOUT).decode().strip()`` parsed by ``float(...)``. Standard output and standard error are
  captured **together** and the whole text must be one float; a non-zero exit status raises
  ``CalledProcessError``.

So on success the command prints exactly one number (``f"{value:.6f}"``, or ``nan``) and nothing else: no progress
bar, no warning, no log line. Bad input is one ``error: ...`` line naming the argument or flag and its valid values,
exit status 2, before any training (:func:`rrlib.console.error_line`).

What it computes (:func:`estimate_from_arrays`): standardise every column over the whole sample (bmi's neural
estimators do, ``ProductSpace(x, y, standardize=True)`` before their split; ``--no-standardize`` skips it), split the
rows at random into a training part (``floor(train_fraction * n)`` rows, as ``sklearn``'s ``train_test_split``
rounds) and a test part, and train a critic (:func:`rrlib.mi.estimator.build_critic`) with Adam and the chosen bound
(:func:`rrlib.mi.bounds.make_bound`) by :func:`rrlib.mi.estimator.train_steps`, the training loop of
:func:`rrlib.mi.estimator.fit_critic`, on batches drawn without replacement from the training part (as bmi's
``get_batch``). The held-out estimate is the bound's reported value on the test part the way Algorithm 2's test phase
computes it (:func:`rrlib.mi.algorithm2.full_batches`): one random permutation of the test rows cut into full batches
of ``batch_size`` (the same batches at every evaluation), the value per batch, averaged.

Early stopping, as bmi's ``basic_training`` and ``TrainingLog`` (``src/bmi/estimators/neural/_basic_training.py``,
``_training_log.py``): evaluate on the test part every ``test_every`` = 250 steps (and after the last step), stop
once two evaluations in a row have not beaten the best one, and report the best. ``fit_critic`` itself cannot pause
for these evaluations (it starts a fresh optimiser and data stream per call), hence ``train_steps`` in chunks with
one optimiser and one generator. Like bmi's, the reported value is a maximum over evaluations on the same test rows,
so it leans slightly high. Without early stopping (``--no-early-stopping``) the critic trains all ``--steps`` and the
final one is evaluated once. The stopping rule matters: with the defaults on 5,000 points (2,500 training rows) the
separable critic overfits long before 10,000 steps. Measured on bmi tasks (true MI; seeds 0-2, one thread):
``1v1-normal-0.75`` (0.413 nats) 0.411, 0.399, 0.422 with early stopping (1,000-1,250 steps) but 0.365, 0.378 after
all 10,000 steps; ``multinormal-dense-2-2-0.5`` (0.294) 0.266, 0.272, 0.259 (750 steps) against -0.33 and -0.48
after 10,000; ``multinormal-dense-5-5-0.5`` (0.593) 0.522, 0.503, 0.505.

A training run that diverges (non-finite scores, e.g. NWJ's ``exp`` overflowing) before any finite evaluation reports
``nan`` with exit status 0, as bmi's own neural estimators return NaN when they cannot estimate.

Defaults and where they come from:

====================  =============  =====================================================================
option                default        source
====================  =============  =====================================================================
``--bound``           ``dv``         the paper's (Donsker–Varadhan, §4)
``--steps``           10,000         bmi's ``_DEFAULT_N_STEPS`` (``src/bmi/estimators/neural/_estimators.py``)
``--batch-size``      256            bmi's ``_DEFAULT_BATCH_SIZE`` (same file)
``--train-fraction``  0.5            bmi's ``_DEFAULT_TRAIN_TEST_SPLIT`` (same file)
``--test-every``      250            bmi's ``_DEFAULT_TEST_EVERY_N`` (same file)
early stopping        on             bmi's ``basic_training(early_stopping=True)``
standardisation       on             bmi's ``_DEFAULT_STANDARDIZE`` (same file)
``--critic``          ``separable``  rrlib's benchmark critic (:mod:`rrlib.mi.estimator`, Poole et al. 2019)
``--hidden``          256            :func:`rrlib.mi.estimator.build_critic` (``--embed`` 32, 1 extra layer)
``--lr``              5e-4           :func:`rrlib.mi.estimator.fit_critic` (Adam; bmi's own MLP uses 0.1)
``--seed``            0              data split, batches, critic initialisation and test permutation
``--device``          ``cpu``        any of :data:`rrlib.runtime.DEVICE_CHOICES`
``--threads``         1              ``RRBOOK_THREADS`` when set (tiny critics run fastest on one thread)
====================  =============  =====================================================================

bmi's own critic is an MLP on the concatenated pair with hidden layers (16, 8) and its default seed 42; those are not
taken over: the critic is rrlib's.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import math
import os
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from rrlib.mi.algorithm2 import full_batches
from rrlib.mi.bounds import BOUND_NAMES, make_bound
from rrlib.mi.estimator import CRITIC_NAMES, build_critic, limit_threads, train_steps
from rrlib.runtime import DEVICE_CHOICES, managed_modes, select_device, torch_generator

__all__ = [
    "DEFAULTS",
    "SampleEstimate",
    "SampleOptions",
    "add_arguments",
    "check_sizes",
    "estimate_from_arrays",
    "estimate_samples",
    "options_of",
    "read_sample",
    "run_command",
    "split_sample",
]


@dataclass(frozen=True)
class SampleOptions:
    """The estimator's settings (see the module docstring for where each default comes from).

    Attributes:
        bound: a name in :data:`rrlib.mi.bounds.BOUND_NAMES`.
        critic: a name in :data:`rrlib.mi.estimator.CRITIC_NAMES`.
        steps: Adam steps, one training batch each.
        batch_size: rows per training and per test batch (the bound's ``n``; ``n(n-1)`` negatives per batch).
        hidden, embed: critic width and (separable critic) embedding size.
        lr: Adam learning rate.
        seed: seeds the split, the training batches, the critic's initial weights and the test permutation.
        train_fraction: share of rows trained on (``floor(train_fraction * n)`` rows); the rest are the test part.
        standardize: centre and scale every column to unit variance over the whole sample first (as bmi does).
        early_stopping: bmi's rule: evaluate on the test part every ``test_every`` steps (and after the last), stop
            once two evaluations in a row fail to beat the best, report the best; ``False``: train all ``steps``
            and report the final critic's test value.
        test_every: steps between test evaluations (early stopping only).
        device: where the critic trains (:func:`rrlib.runtime.select_device`).
        threads: torch CPU threads while estimating.
    """

    bound: str = "dv"
    critic: str = "separable"
    steps: int = 10_000
    batch_size: int = 256
    hidden: int = 256
    embed: int = 32
    lr: float = 5e-4
    seed: int = 0
    train_fraction: float = 0.5
    standardize: bool = True
    early_stopping: bool = True
    test_every: int = 250
    device: str = "cpu"
    threads: int = 1

    def check(self) -> None:
        """Raise ``ValueError`` naming the flag and its valid values for the first bad setting."""
        if self.bound not in BOUND_NAMES:
            raise ValueError(f"--bound {self.bound!r}: unknown bound; valid choices: {', '.join(BOUND_NAMES)}")
        if self.critic not in CRITIC_NAMES:
            raise ValueError(f"--critic {self.critic!r}: unknown critic; valid choices: {', '.join(CRITIC_NAMES)}")
        for flag, value, low in (("--steps", self.steps, 1), ("--batch-size", self.batch_size, 2),
                                 ("--hidden", self.hidden, 1), ("--embed", self.embed, 1), ("--seed", self.seed, 0),
                                 ("--threads", self.threads, 1), ("--test-every", self.test_every, 1)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{flag} {value!r}: must be an integer >= {low}")
        if self.seed >= 2**63:
            raise ValueError(f"--seed {self.seed!r}: must be an integer in [0, 2**63) (a torch seed)")
        if isinstance(self.lr, bool) or not isinstance(self.lr, (int, float)) or not (math.isfinite(self.lr)
                                                                                      and self.lr > 0):
            raise ValueError(f"--lr {self.lr!r}: must be a finite number > 0")
        f = self.train_fraction
        if isinstance(f, bool) or not isinstance(f, (int, float)) or not 0.0 < f < 1.0:
            raise ValueError(f"--train-fraction {f!r}: must be a number in (0, 1) (bmi's default 0.5)")
        try:
            select_device(self.device)
        except (ValueError, RuntimeError, TypeError) as err:
            raise ValueError(f"--device {self.device!r}: {err}") from None


#: The defaults, in one place (the ``--help`` text and the module docstring show them).
DEFAULTS = SampleOptions()


@dataclass(frozen=True)
class SampleEstimate:
    """What :func:`estimate_from_arrays` returns.

    Attributes:
        value: the held-out estimate, nats (the mean of ``test_values``); NaN when there is none (training diverged
            before a finite evaluation).
        test_values: the bound's reported value on each full test batch of the reported evaluation, nats.
        history: ``(steps trained, held-out estimate)`` of every test evaluation.
        steps: Adam steps taken.
        n_train, n_test: rows in the training and the test part.
        diverged: whether training stopped on a non-finite score or value.
    """

    value: float
    test_values: np.ndarray
    history: tuple[tuple[int, float], ...]
    steps: int
    n_train: int
    n_test: int
    diverged: bool


# ------------------------------------------------------------------------------------------------ the sample file
def _positive_int(name: str, text: str) -> int:
    """``DIM_X``/``DIM_Y`` given as text: a positive integer, else a ``ValueError`` naming the argument."""
    try:
        value = int(text, 10)
    except (TypeError, ValueError):
        value = 0
    if value < 1:
        raise ValueError(f"{name} {text!r}: must be a positive integer (the number of "
                         f"{name[-1]} columns of the sample, {name[-1]}0..{name[-1]}{{{name}-1}})")
    return value


def _expected_header(dim_x: int, dim_y: int) -> list[str]:
    return [f"X{i}" for i in range(dim_x)] + [f"Y{i}" for i in range(dim_y)]


def read_sample(path: str | Path, dim_x: int, dim_y: int) -> tuple[np.ndarray, np.ndarray]:
    """The sample of a file written by ``bmi.utils.save_sample``: arrays ``x`` ``(n, dim_x)`` and ``y``
    ``(n, dim_y)``, float64.

    The file must be a CSV whose header is exactly ``X0,...,X{dim_x-1},Y0,...,Y{dim_y-1}`` (no index column) and
    whose every row holds ``dim_x + dim_y`` finite numbers. Anything else raises ``ValueError`` naming ``SAMPLE``,
    the row and the column (``pandas`` writes a NaN as an empty field).
    """
    path = Path(path)
    where = f"SAMPLE {str(path)!r}"
    if not path.exists():
        raise ValueError(f"{where}: no such file (a CSV written by bmi.utils.save_sample)")
    if not path.is_file():
        raise ValueError(f"{where}: not a file (a CSV written by bmi.utils.save_sample)")
    expected = _expected_header(dim_x, dim_y)
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            rows = [row for row in csv.reader(handle) if row]
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise ValueError(f"{where}: cannot be read as a CSV text file ({err})") from None
    if not rows:
        raise ValueError(f"{where}: empty file; expected the header {','.join(expected)!r} and one row per point")
    header = [name.strip() for name in rows[0]]
    if header != expected:
        shown = ",".join(header)
        hint = " (an index column? bmi's save_sample writes none)" if header[:1] in ([""], ["Unnamed: 0"]) else ""
        raise ValueError(f"{where}: header {shown[:200]!r} ({len(header)} columns) does not match DIM_X {dim_x} and "
                         f"DIM_Y {dim_y}: expected {','.join(expected)[:200]!r} ({len(expected)} columns){hint}")
    width = len(expected)
    values = np.empty((len(rows) - 1, width), dtype=np.float64)
    for r, row in enumerate(rows[1:]):
        if len(row) != width:
            raise ValueError(f"{where}: data row {r + 1} has {len(row)} fields, the header {width}")
        for c, cell in enumerate(row):
            try:
                number = float(cell)
            except ValueError:
                shown = repr(cell) if cell.strip() else "an empty field (pandas' NaN)"
                raise ValueError(f"{where}: data row {r + 1}, column {expected[c]}: {shown} is not a number") from None
            if not math.isfinite(number):
                raise ValueError(f"{where}: data row {r + 1}, column {expected[c]}: {cell.strip()!r} is not a finite "
                                 "number")
            values[r, c] = number
    return values[:, :dim_x], values[:, dim_x:]


def split_sample(n: int, train_fraction: float, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Generator]:
    """Row indices of the training part (``floor(train_fraction * n)`` rows) and the test part (the rest), drawn
    by one permutation of a CPU generator seeded with ``seed``; the generator is returned to draw the test
    permutation from."""
    generator = torch_generator(seed)
    order = torch.randperm(n, generator=generator)
    n_train = int(math.floor(train_fraction * n))
    return order[:n_train], order[n_train:], generator


def _standardized(a: np.ndarray) -> np.ndarray:
    """Columns centred and scaled to unit (population) variance; a constant column is only centred."""
    std = a.std(axis=0)
    return (a - a.mean(axis=0)) / np.where(std > 0, std, 1.0)


def check_sizes(n: int, options: SampleOptions) -> tuple[int, int]:
    """``(n_train, n_test)`` for ``n`` rows; a ``ValueError`` naming ``--batch-size`` unless both parts hold at least
    one full batch."""
    n_train = int(math.floor(options.train_fraction * n))
    n_test = n - n_train
    if min(n_train, n_test) < options.batch_size:
        raise ValueError(f"--batch-size {options.batch_size}: the sample's {n} rows split into {n_train} training and "
                         f"{n_test} test rows (--train-fraction {options.train_fraction:g}); both must hold at least "
                         f"one batch: use a --batch-size of at most {max(min(n_train, n_test), 0)} (and >= 2) "
                         "or a larger sample")
    return n_train, n_test


# ------------------------------------------------------------------------------------------------- the estimate
def estimate_from_arrays(x: np.ndarray, y: np.ndarray, options: SampleOptions = DEFAULTS) -> SampleEstimate:
    """Held-out estimate of I(X; Y) in nats from paired samples ``x`` ``(n, dx)`` and ``y`` ``(n, dy)``.

    See the module docstring for the procedure. Raises ``ValueError`` for bad options or too few rows.
    """
    options.check()
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.ndim != 2 or y.ndim != 2 or x.shape[0] != y.shape[0]:
        raise ValueError(f"x and y must be paired 2-d arrays (n, dx) and (n, dy), got {x.shape} and {y.shape}")
    n_train, n_test = check_sizes(x.shape[0], options)
    if options.standardize:
        x, y = _standardized(x), _standardized(y)
    device = select_device(options.device)
    train_idx, test_idx, split_generator = split_sample(x.shape[0], options.train_fraction, options.seed)
    xs = torch.as_tensor(x, dtype=torch.float32)
    ys = torch.as_tensor(y, dtype=torch.float32)
    x_train, y_train = xs[train_idx].to(device), ys[train_idx].to(device)
    x_test, y_test = xs[test_idx].to(device), ys[test_idx].to(device)

    def sampler(batch: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """A batch of training rows drawn without replacement (as bmi's ``get_batch``)."""
        rows = torch.randperm(n_train, generator=generator, device=generator.device)[:batch]
        return x_train[rows], y_train[rows]

    bound = make_bound(options.bound)
    critic_kwargs = {"embed": options.embed} if options.critic == "separable" else {}
    critic = build_critic(options.critic, x.shape[1], y.shape[1], hidden=options.hidden, seed=options.seed,
                          **critic_kwargs).to(device)
    test_order = full_batches(n_test, options.batch_size, split_generator).to(device)  # the same batches each time

    @torch.no_grad()
    def held_out() -> np.ndarray:
        """The bound's reported value on each full test batch (NaN for a batch with a non-finite score)."""
        values = []
        with managed_modes(critic):
            for rows in test_order:
                scores = critic(x_test[rows], y_test[rows])
                values.append(float(bound.value(scores)) if bool(torch.isfinite(scores).all()) else math.nan)
        return np.asarray(values, dtype=np.float64)

    optimizer = torch.optim.Adam(critic.parameters(), lr=options.lr)
    generator = torch_generator(options.seed, device)
    every = options.test_every if options.early_stopping else options.steps
    history: list[tuple[int, float]] = []
    best, best_values, since_best, done, diverged = -math.inf, np.full(0, math.nan), 0, 0, False
    with limit_threads(options.threads):
        while done < options.steps:
            k = min(every, options.steps - done)
            _, diverged = train_steps(critic, bound, optimizer, sampler, generator, k, options.batch_size, iter(()))
            if diverged:
                break
            done += k
            values = held_out()
            history.append((done, float(np.mean(values))))
            if history[-1][1] > best:  # a NaN never improves
                best, best_values, since_best = history[-1][1], values, 0
            else:
                since_best += 1
            if options.early_stopping and since_best > 1:  # bmi's TrainingLog.early_stop: two evaluations worse
                break
    if options.early_stopping:
        value = best if math.isfinite(best) else math.nan
    else:
        value, best_values = (math.nan, np.full(0, math.nan)) if diverged else (history[-1][1], values)
    return SampleEstimate(value, best_values, tuple(history), done, n_train, n_test, diverged)


def estimate_samples(path: str | Path, dim_x: int, dim_y: int, options: SampleOptions = DEFAULTS) -> SampleEstimate:
    """:func:`estimate_from_arrays` of the sample in ``path`` (bmi's ``save_sample`` format, :func:`read_sample`).
    The options and the sample's size are checked before the file's rows are parsed."""
    options.check()
    x, y = read_sample(path, dim_x, dim_y)
    check_sizes(x.shape[0], options)
    return estimate_from_arrays(x, y, options)


# ---------------------------------------------------------------------------------------------- the command line
_DESCRIPTION = """\
Estimate I(X; Y) in nats from a sample file and print only the number: rrlib's MI estimators as an
external estimator of the bmi benchmark (Czyz et al., NeurIPS 2023). SAMPLE is a CSV written by
bmi.utils.save_sample (header X0..X{DIM_X-1},Y0..Y{DIM_Y-1}, no index column); bmi's ExternalEstimator
captures stdout and stderr together and parses them as one float."""
_EPILOG = f"""\
procedure: standardise every column (as bmi does; --no-standardize skips it), split the rows at random
into a training part (--train-fraction) and a test part, train the critic with Adam on --batch-size rows
drawn from the training part per step; the held-out estimate is the bound's value averaged over full
--batch-size batches of the test part (rrlib's held-out protocol, Algorithm 2's test phase). Early stopping
(bmi's rule): evaluate every --test-every steps, stop after two evaluations in a row that do not beat the
best, print the best. Output: "%.6f" nats, or "nan" if training diverged before any finite evaluation.

defaults: --steps {DEFAULTS.steps}, --batch-size {DEFAULTS.batch_size}, --train-fraction {DEFAULTS.train_fraction}, \
--test-every {DEFAULTS.test_every}, early stopping and
standardisation are bmi's neural-estimator defaults (_DEFAULT_N_STEPS, _DEFAULT_BATCH_SIZE,
_DEFAULT_TRAIN_TEST_SPLIT, _DEFAULT_TEST_EVERY_N, _DEFAULT_STANDARDIZE in
src/bmi/estimators/neural/_estimators.py; early_stopping=True in _basic_training.py); --bound \
{DEFAULTS.bound} is the paper's
(Donsker-Varadhan); --critic {DEFAULTS.critic} --hidden {DEFAULTS.hidden} --embed {DEFAULTS.embed} \
--lr {DEFAULTS.lr:g} are rrlib's (build_critic, fit_critic).

bad input: one "error: ..." line naming the argument, exit status 2, before any training.

example: python -m rrlib.cli estimate-samples sample.csv 2 2 --bound dv --steps 10000 --seed 0
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    """estimate-samples' arguments (values are checked by :func:`run_command`, so that every bad value is one
    ``error:`` line naming it)."""
    p.description = _DESCRIPTION
    p.epilog = _EPILOG
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument("sample", metavar="SAMPLE", help="CSV file in bmi's save_sample format (any name, no .csv needed)")
    p.add_argument("dim_x", metavar="DIM_X", help="number of X columns (X0..X{DIM_X-1}), a positive integer")
    p.add_argument("dim_y", metavar="DIM_Y", help="number of Y columns (Y0..Y{DIM_Y-1}), a positive integer")
    p.add_argument("--bound", default=DEFAULTS.bound, metavar="NAME",
                   help=f"one of {', '.join(BOUND_NAMES)} (default {DEFAULTS.bound}, the paper's)")
    p.add_argument("--steps", default=str(DEFAULTS.steps), metavar="N",
                   help=f"Adam steps on the critic (default {DEFAULTS.steps}, bmi's)")
    p.add_argument("--batch-size", default=str(DEFAULTS.batch_size), metavar="B",
                   help=f"rows per training and test batch, >= 2 (default {DEFAULTS.batch_size}, bmi's)")
    p.add_argument("--seed", default=str(DEFAULTS.seed), metavar="S",
                   help=f"seeds the split, batches, critic and test permutation (default {DEFAULTS.seed})")
    p.add_argument("--critic", default=DEFAULTS.critic, metavar="NAME",
                   help=f"one of {', '.join(CRITIC_NAMES)} (default {DEFAULTS.critic}, rrlib's; concat costs "
                        "batch-size times more)")
    p.add_argument("--hidden", default=str(DEFAULTS.hidden), metavar="W",
                   help=f"critic MLP width (default {DEFAULTS.hidden})")
    p.add_argument("--embed", default=str(DEFAULTS.embed), metavar="E",
                   help=f"separable critic's embedding size (default {DEFAULTS.embed})")
    p.add_argument("--lr", default=str(DEFAULTS.lr), metavar="LR", help=f"Adam learning rate (default {DEFAULTS.lr:g})")
    p.add_argument("--train-fraction", default=str(DEFAULTS.train_fraction), metavar="F",
                   help=f"share of rows trained on, in (0, 1) (default {DEFAULTS.train_fraction}, bmi's); the rest "
                        "give the estimate")
    p.add_argument("--no-standardize", action="store_true",
                   help="use the columns as they are (default: standardised, as bmi's neural estimators do)")
    p.add_argument("--test-every", default=str(DEFAULTS.test_every), metavar="N",
                   help=f"steps between test evaluations for early stopping (default {DEFAULTS.test_every}, bmi's)")
    p.add_argument("--no-early-stopping", action="store_true",
                   help="train all --steps and report the final critic (default: bmi's early stopping, see below)")
    p.add_argument("--device", default=DEFAULTS.device,
                   help=f"one of {', '.join(DEVICE_CHOICES)} (default {DEFAULTS.device})")
    p.add_argument("--threads", default=None, metavar="N",
                   help=f"torch CPU threads (default: RRBOOK_THREADS if set, else {DEFAULTS.threads})")

    def one_line_error(message: str) -> None:  # argparse's own refusals (a missing DIM_Y, ...) as one line too
        from rrlib.console import error_line

        raise SystemExit(error_line(ValueError(message)))

    p.error = one_line_error  # type: ignore[method-assign]


def _number(flag: str, text: str, kind: type) -> int | float:
    try:
        return kind(text)
    except (TypeError, ValueError):
        what = "an integer" if kind is int else "a number"
        raise ValueError(f"{flag} {text!r}: must be {what}") from None


def options_of(args: argparse.Namespace) -> SampleOptions:
    """The checked :class:`SampleOptions` of parsed arguments (``ValueError`` naming the flag otherwise)."""
    threads = args.threads if args.threads is not None else os.environ.get("RRBOOK_THREADS", str(DEFAULTS.threads))
    options = SampleOptions(
        bound=args.bound, critic=args.critic, steps=int(_number("--steps", args.steps, int)),
        batch_size=int(_number("--batch-size", args.batch_size, int)),
        hidden=int(_number("--hidden", args.hidden, int)),
        embed=int(_number("--embed", args.embed, int)), lr=float(_number("--lr", args.lr, float)),
        seed=int(_number("--seed", args.seed, int)),
        train_fraction=float(_number("--train-fraction", args.train_fraction, float)),
        standardize=not args.no_standardize, early_stopping=not args.no_early_stopping,
        test_every=int(_number("--test-every", args.test_every, int)), device=args.device,
        threads=int(_number("--threads" if args.threads is not None else "RRBOOK_THREADS", threads, int)))
    options.check()
    return options


@contextlib.contextmanager
def _silent() -> Iterator[None]:
    """No warnings and no progress bars: bmi parses everything the command prints as one float."""
    saved = os.environ.get("RRBOOK_NO_PROGRESS")
    os.environ["RRBOOK_NO_PROGRESS"] = "1"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        if saved is None:
            os.environ.pop("RRBOOK_NO_PROGRESS", None)
        else:
            os.environ["RRBOOK_NO_PROGRESS"] = saved


def run_command(args: argparse.Namespace) -> int:
    """``estimate-samples``: print the estimate (nats) alone and return 0, or one ``error:`` line and return 2."""
    from rrlib.console import error_line

    with _silent():
        try:
            dim_x = _positive_int("DIM_X", args.dim_x)
            dim_y = _positive_int("DIM_Y", args.dim_y)
            options = options_of(args)
            x, y = read_sample(args.sample, dim_x, dim_y)
            check_sizes(x.shape[0], options)
        except ValueError as err:
            return error_line(err)
        result = estimate_from_arrays(x, y, options)
    print(f"{result.value:.6f}" if math.isfinite(result.value) else "nan")
    sys.stdout.flush()
    return 0
