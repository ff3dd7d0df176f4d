"""The configuration of one reproduction of a downstream table (Tables 1, 3, 4, 5 of Section 6.2) and its profiles.

Rows (``ROWS``; the paper's labels in ``ROW_LABELS``, as in :data:`rrlib.paper.TABLE_ROWS`):

* ``hjelm/standard``, ``hjelm/robust`` — a head on the DIM encoder (``estimator_loss="normal"``);
* ``ours/standard``, ``ours/standard_es``, ``ours/robust`` — a head on the worst-case encoder (Eq. 5.4); E.S. is
  the *same* standard head run, early-stopped at its best adversarial accuracy on a held-out validation split;
* ``supervised/standard``, ``supervised/robust`` — Baseline-H with that head trained end to end
  (:mod:`rrlib.train.supervised`, the encoder's width).

Rows beyond the paper (``BEYOND_ROWS``, issue 20; ``ROW_SETS`` names the choices of ``--rows``), the same three
heads on two more encoders of the same architecture, data and threat model:

* ``infonce/standard``, ``infonce/standard_es``, ``infonce/robust`` — the worst-case InfoNCE encoder (Eq. 5.4 with
  InfoNCE in place of DV; ``estimator_loss="worst-infonce"``);
* ``contrastive/standard``, ``contrastive/standard_es``, ``contrastive/robust`` — the adversarial contrastive
  encoder (RoCL-style, :mod:`rrlib.train.contrastive`; ``estimator_loss="adv-contrastive"``).

× heads ``mlp`` / ``linear`` × columns ``natural``, ``adversarial`` (the paper's PGD) and ``autoattack``.
The profiles are those of :mod:`rrlib.profiles`: ``quick`` (CI), ``medium`` (CPU hours; the committed run in
``results/``) and ``full`` (the paper's protocol).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from rrlib.data import canonical_name, dataset_threat_model
from rrlib.paper import TABLE_ROWS, TABLES
from rrlib.profiles import PROFILES
from rrlib.train.downstream import ClassifierConfig
from rrlib.train.encoder import EncoderConfig, config_of
from rrlib.train.supervised import TrainConfig

__all__ = ["ALL_ROWS", "BEYOND_ROWS", "COLUMNS", "ENCODER_LOSS", "HEADS", "ROWS", "ROW_LABELS", "ROW_SETS",
           "TablesConfig", "tables_config"]

#: The paper's rows (Tables 1, 3, 4, 5).
ROWS = ("hjelm/standard", "hjelm/robust", "ours/standard", "ours/standard_es", "ours/robust",
        "supervised/standard", "supervised/robust")
#: Rows beyond the paper: two more unsupervised objectives on the same protocol (issue 20).
BEYOND_ROWS = ("infonce/standard", "infonce/standard_es", "infonce/robust",
               "contrastive/standard", "contrastive/standard_es", "contrastive/robust")
ALL_ROWS = ROWS + BEYOND_ROWS
#: What ``--rows`` of ``sweep`` and ``tables run`` selects.
ROW_SETS = {"paper": ROWS, "beyond": BEYOND_ROWS, "all": ALL_ROWS}
ROW_LABELS = {**dict(zip(ROWS, TABLE_ROWS, strict=True)),
              "infonce/standard": ("Worst-case InfoNCE", "Standard"),
              "infonce/standard_es": ("Worst-case InfoNCE", "Standard (E.S.)"),
              "infonce/robust": ("Worst-case InfoNCE", "Robust"),
              "contrastive/standard": ("Adversarial contrastive", "Standard"),
              "contrastive/standard_es": ("Adversarial contrastive", "Standard (E.S.)"),
              "contrastive/robust": ("Adversarial contrastive", "Robust")}
HEADS = ("mlp", "linear")
COLUMNS = ("natural", "adversarial", "autoattack")
#: The encoder objective under each representation row: DIM (Hjelm et al.), the paper's worst-case MI, and the two
#: objectives beyond the paper.
ENCODER_LOSS = {"hjelm": "normal", "ours": "worst", "infonce": "worst-infonce", "contrastive": "adv-contrastive"}


@dataclass(frozen=True)
class TablesConfig:
    """Sizes of one reproduction of a downstream table (see the module docstring). ``device``, ``data_root`` and
    ``out_root`` (the folder of the cells; None: the results cache's entry of this configuration) do not change
    the numbers' identity: cells are keyed by their own configurations."""

    dataset: str = "fashion-mnist"
    seeds: tuple[int, ...] = (0, 1, 2, 3)
    rows: tuple[str, ...] = ROWS
    heads: tuple[str, ...] = HEADS
    # encoders g (both losses)
    encoder_train_subset: int | None = None
    width: float = 1.0
    critic_hidden: int = 2048
    encoder_epochs: int = 300
    encoder_batch: int = 128
    encoder_lr: float = 1e-4
    # heads h
    head_epochs: int = 500
    head_batch: int = 128
    head_lr: float = 1e-4
    head_train_subset: int | None = None
    val_size: int = 5000
    test_subset: int | None = None
    eval_every: int = 5
    # fully supervised Baseline-H (same width as the encoder)
    supervised_epochs: int = 300
    supervised_batch: int = 128
    supervised_lr: float = 1e-4
    supervised_train_subset: int | None = None
    # AutoAttack on this many test images (class-stratified, seed 0); 0 = skip the column
    autoattack_n: int = 1000
    autoattack_version: str = "standard"
    device: str = "auto"
    data_root: str | None = None
    out_root: str | None = None

    def __post_init__(self) -> None:
        key = canonical_name(self.dataset)
        if key not in TABLES:
            raise ValueError(f"dataset {self.dataset!r} has no downstream table in the paper; valid choices: "
                             f"{sorted(TABLES)}")
        object.__setattr__(self, "dataset", key)
        for name, valid in (("rows", ALL_ROWS), ("heads", HEADS)):
            values = tuple(getattr(self, name))
            bad = [v for v in values if v not in valid]
            if bad or not values or len(set(values)) != len(values):
                raise ValueError(f"{name} must be distinct names from {valid}, got {values!r}"
                                 + (f" (unknown: {bad})" if bad else ""))
            object.__setattr__(self, name, values)
        seeds = tuple(self.seeds)
        if not seeds or len(set(seeds)) != len(seeds) or not all(isinstance(s, int) and s >= 0 for s in seeds):
            raise ValueError(f"seeds must be distinct non-negative integers, got {seeds!r}")
        object.__setattr__(self, "seeds", seeds)
        if not isinstance(self.autoattack_n, int) or self.autoattack_n < 0:
            raise ValueError(f"autoattack_n must be a non-negative integer, got {self.autoattack_n!r}")
        self._configs(seeds[0])  # fail now on bad sizes, not after an hour of training

    @classmethod
    def from_recorded(cls, recorded: dict[str, Any]) -> TablesConfig:
        """The configuration back from its recorded JSON (``metrics()["config"]``: lists where fields are tuples)."""
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in recorded.items()})

    @property
    def seed(self) -> int:
        """The first seed (the profiles' ``seed`` argument); the table averages over all of ``seeds``."""
        return self.seeds[0]

    @classmethod
    def quick(cls, seed: int = 0, device: str = "auto") -> TablesConfig:
        """Tiny (≈1–2 min on one CPU core): 2 seeds, 512 images, 1–2 epochs, AutoAttack on 20 images."""
        return cls(seeds=(seed, seed + 1), encoder_train_subset=512, width=0.125, critic_hidden=16,
                   encoder_epochs=1, encoder_batch=64, encoder_lr=1e-3, head_epochs=2, head_batch=64, head_lr=1e-3,
                   head_train_subset=640, val_size=128, test_subset=200, eval_every=1, supervised_epochs=1,
                   supervised_batch=64, supervised_lr=1e-3, supervised_train_subset=512, autoattack_n=20,
                   device=device)

    @classmethod
    def medium(cls, seed: int = 0, device: str = "auto") -> TablesConfig:
        """All of Table 4 in about 60–75 min on one CPU core. Pilot (one thread, 2-core machine shared with other
        work): at width 0.25 / critic 128 / batch 128 one ``worst`` encoder epoch on 12,000 images takes ~78 s
        (~154 img/s, held-out estimates included), a ``normal`` one ~15 s, a robust MLP head epoch on 5,000 images
        with its PGD evaluation ~9 s, a robust Baseline-H epoch on 5,500 ~8 s, AutoAttack ~0.45 s per image that
        survives it. Deviations from the paper, all for time: 12,000 encoder images × 10 epochs, 5,500
        head/supervised images (500 of them validation for heads) × 8 epochs, larger learning rates (5e-4
        encoders, 1e-3 heads and supervised), 1,000 test images, AutoAttack on 200."""
        return cls(seeds=(seed, seed + 1), encoder_train_subset=12000, width=0.25, critic_hidden=128,
                   encoder_epochs=10, encoder_batch=128, encoder_lr=5e-4, head_epochs=8, head_batch=128,
                   head_lr=1e-3, head_train_subset=5500, val_size=500, test_subset=1000, eval_every=2,
                   supervised_epochs=8, supervised_batch=128, supervised_lr=1e-3, supervised_train_subset=5500,
                   autoattack_n=200, device=device)

    @classmethod
    def full(cls, seed: int = 0, device: str = "auto", dataset: str = "fashion-mnist") -> TablesConfig:
        """The paper's protocol (REFERENCE.md §5.3, §7): all data, width 1, critic 2048, 300 encoder and
        supervised epochs, 500 head epochs (README), Adam 1e-4, batch 128, 4 trials; AutoAttack on 1,000 images."""
        return cls(dataset=dataset, seeds=tuple(range(seed, seed + 4)), device=device)

    def encoder_config(self, loss: str, seed: int) -> EncoderConfig:
        """The encoder of objective ``loss`` (:data:`ENCODER_LOSS`'s values) for ``seed``; an ``adv-contrastive``
        one is a :class:`~rrlib.train.encoder.ContrastiveConfig` with its own fields at their defaults."""
        return config_of(dataset=self.dataset, train_subset=self.encoder_train_subset, width=self.width,
                         critic_hidden=self.critic_hidden, epochs=self.encoder_epochs,
                         batch_size=self.encoder_batch, lr=self.encoder_lr, estimator_loss=loss, seed=seed)

    def head_config(self, head: str, loss: str, seed: int) -> ClassifierConfig:
        return ClassifierConfig(dataset=self.dataset, head=head, classifier_loss=loss, epochs=self.head_epochs,
                                batch_size=self.head_batch, lr=self.head_lr, train_subset=self.head_train_subset,
                                val_size=self.val_size, test_subset=self.test_subset, eval_every=self.eval_every,
                                seed=seed)

    def supervised_config(self, head: str, loss: str, seed: int) -> TrainConfig:
        eps = dataset_threat_model(self.dataset).eps if loss == "robust" else None
        return TrainConfig(dataset=self.dataset, model="baseline_h", head=head, width=self.width,
                           epochs=self.supervised_epochs, batch_size=self.supervised_batch, lr=self.supervised_lr,
                           adversarial=loss == "robust", eps=eps, eval_every=self.supervised_epochs,
                           train_subset=self.supervised_train_subset, test_subset=self.test_subset, seed=seed)

    def _configs(self, seed: int) -> dict[str, Any]:
        return {"encoder": self.encoder_config("worst", seed), "head": self.head_config("mlp", "robust", seed),
                "supervised": self.supervised_config("mlp", "robust", seed)}


def tables_config(profile: str, dataset: str, *, seed: int = 0, device: str = "auto",
                  data_root: str | None = None, rows: str = "paper") -> TablesConfig:
    """The :class:`TablesConfig` of ``profile`` (one of :data:`rrlib.profiles.PROFILES`) for ``dataset`` (a dataset
    with a downstream table in the paper), with the rows of ``rows`` (a key of :data:`ROW_SETS`). Bad names raise
    ``ValueError`` naming the value (as its flag) and the valid choices."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; valid choices: {list(PROFILES)}")
    if rows not in ROW_SETS:
        raise ValueError(f"--rows {rows!r} is not a set of rows; valid choices: {list(ROW_SETS)}")
    try:
        key = canonical_name(dataset)
    except (TypeError, ValueError):
        key = None
    if key not in TABLES:
        raise ValueError(f"dataset {dataset!r} has no downstream table in the paper; valid choices: {sorted(TABLES)}")
    if profile == "full":
        return replace(TablesConfig.full(seed=seed, device=device, dataset=key), data_root=data_root,
                       rows=ROW_SETS[rows])
    return replace(getattr(TablesConfig, profile)(seed=seed, device=device), dataset=key, data_root=data_root,
                   rows=ROW_SETS[rows])
