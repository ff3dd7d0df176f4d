"""Chapter 09: saliency maps of learned representations and classifiers (paper Figures 4–6) and their alignment
with the image (Etmann et al. 2019).

Models (one seed of a finished downstream-table run, exported by
:func:`rrlib.experiments.downstream_tables.export_weights`): the DIM and the worst-case encoder with their critics,
a standard MLP head on each, and the fully-supervised standard and robust Baseline-H. Maps
(:mod:`rrlib.saliency`):

* **MI loss** of an encoder, ``∇_x −Î_DV(x; g(x))`` over a batch (Figures 4 and 6 e, g);
* **cross-entropy** of a classifier (Figure 6 b, c: supervised; d, f: a standard head on each encoder);
* **kernel**: the spatial mean of one second-layer channel (Figure 5), for the channels with the largest mean
  activation on the shown images: of the fully supervised standard and robust Baseline-H (the paper's Figure 5,
  supplement D.2) and, as an addition, of the DIM and worst-case encoders (:data:`KERNEL_MODELS`).

The paper judges the maps by eye ("less noisy"); here every map also gets an alignment score, the absolute cosine
``|⟨x, ∇⟩| / (‖x‖ ‖∇‖)`` between the image and the map, per image, reported as mean ± standard error over
``n_images`` test images. Etmann et al. (2019) define alignment with the gradient of the predicted class's logit;
ours uses the gradient each figure draws (a loss or a channel mean), so it is their formula on other gradients.
The images are draws within one trained model, not replicates of training.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from rrlib import stats
from rrlib.data import canonical_name, get_spec, load_dataset, subset
from rrlib.grid.committed import MEDIUM_COMMAND, REPO_ROOT, WEIGHT_FILES, load_exported_models
from rrlib.jsonable import to_jsonable
from rrlib.runtime import select_device
from rrlib.saliency import alignment, ce_saliency, display_scale, dv_saliency, kernel_saliency
from rrlib.validation import check_int

__all__ = ["KERNEL_MODELS", "MAPS", "Config", "Result", "run"]

#: The models whose second-layer channels Figure 5 shows: key -> label. The paper's Figure 5 is the supervised
#: standard and robust Baseline-H; the encoders are this book's addition.
KERNEL_MODELS = {"standard": "supervised standard", "robust": "supervised robust (PGD)", "normal": "DIM encoder",
                 "worst": "worst-case encoder (ours)"}

#: The maps of Figure 6 in the paper's order: key -> (label, model, loss).
MAPS = {
    "supervised_standard_ce": ("supervised standard (CE)", "standard", "ce"),
    "supervised_robust_ce": ("supervised robust (CE)", "robust", "ce"),
    "dim_head_ce": ("DIM + head (CE)", "head_normal", "ce"),
    "dim_mi": ("DIM (MI)", "normal", "mi"),
    "ours_head_ce": ("ours + head (CE)", "head_worst", "ce"),
    "ours_mi": ("ours (MI)", "worst", "mi"),
}


@dataclass(frozen=True)
class Config:
    """``weights``: a folder of :func:`export_weights` files, relative to the repository unless absolute.
    ``n_images`` test images (class-stratified, ``seed``) for the alignment numbers; the first ``n_show`` are
    drawn; ``n_kernels`` second-layer channels per encoder for Figure 5; ``dv_batch`` images per DV batch."""

    dataset: str = "fashion-mnist"
    weights: str = "results/weights_medium"
    n_images: int = 500
    n_show: int = 8
    n_kernels: int = 4
    dv_batch: int = 100
    seed: int = 0
    device: str = "auto"
    data_root: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "dataset", canonical_name(self.dataset))
        check_int("n_images", self.n_images, 2)
        check_int("n_show", self.n_show, 1)
        check_int("n_kernels", self.n_kernels, 1)
        check_int("dv_batch", self.dv_batch, 2, what="an integer >= 2 (the DV estimate needs negatives)")
        check_int("seed", self.seed, 0)
        if self.n_show > self.n_images:
            raise ValueError(f"n_show={self.n_show} exceeds n_images={self.n_images}")

    @classmethod
    def quick(cls, seed: int = 0, device: str = "auto") -> Config:
        """The committed medium run's weights, 200 test images (seconds on a CPU)."""
        return cls(n_images=200, seed=seed, device=device)

    @classmethod
    def full(cls, seed: int = 0, device: str = "auto") -> Config:
        """The weights of a full-profile run (export them to ``results/weights_full``), 1,000 test images."""
        return cls(weights="results/weights_full", n_images=1000, seed=seed, device=device)


@dataclass
class Result:
    config: Config
    images: torch.Tensor  # (n_show, C, H, W) in [0, 1]
    labels: torch.Tensor
    maps: dict[str, torch.Tensor]  # MAPS key -> (n_show, C, H, W) display-scaled
    kernel_maps: dict[str, torch.Tensor]  # KERNEL_MODELS key -> (n_kernels, C, H, W) display-scaled, first image
    kernels: dict[str, list[int]]
    alignments: dict[str, dict[str, float]]
    kernel_alignments: dict[str, dict[str, float]]
    sources: dict[str, Any]

    def metrics(self) -> dict[str, Any]:
        """Alignment mean ± standard error per map (and per encoder for the kernel maps), the models' sources."""
        return {"dataset": self.config.dataset, "dataset_title": get_spec(self.config.dataset).title,
                "config": to_jsonable(asdict(self.config)), "alignment": self.alignments,
                "kernel_alignment": self.kernel_alignments, "kernels": self.kernels, "sources": self.sources,
                "labels": {key: label for key, (label, _, _) in MAPS.items()}, "kernel_labels": dict(KERNEL_MODELS)}


def _weights_dir(config: Config) -> Path:
    path = Path(config.weights)
    path = path if path.is_absolute() else REPO_ROOT / path
    missing = [f for f in WEIGHT_FILES.values() if not (path / f).is_file()]
    if missing:
        raise FileNotFoundError(f"{path} lacks {missing}; export them from a finished run with: "
                                + MEDIUM_COMMAND.format(dest="results/<name>.json"))
    return path


def _saliency(models: dict[str, Any], key: str, loss: str, x: torch.Tensor, y: torch.Tensor,
              dv_batch: int) -> torch.Tensor:
    if loss == "ce":
        return ce_saliency(models[key], x, y)
    encoder, critic = models[key]
    return torch.cat([dv_saliency(encoder, critic, x[i:i + dv_batch]) for i in range(0, x.shape[0], dv_batch)])


def _summary(values: torch.Tensor) -> dict[str, float]:
    """``{"mean", "se" (s/√n, ddof=1; NaN for one value), "n"}`` of the finite values (a NaN alignment is a map
    without direction and is left out)."""
    s = stats.summarize(values, finite_only=True)
    return {"mean": s.mean, "se": s.se, "n": s.n}


def run(config: Config) -> Result:
    """Load the models, compute every map on ``n_images`` test images and the kernel maps, and score them."""
    device = select_device(config.device)
    path = _weights_dir(config)
    models = load_exported_models(path, device)
    test = load_dataset(config.dataset, "test", root=config.data_root)
    x, y = (t.to(device) for t in subset(test, config.n_images, config.seed).tensors())
    maps, aligns = {}, {}
    for name, (_, key, loss) in MAPS.items():
        grad = _saliency(models, key, loss, x, y, config.dv_batch)
        aligns[name] = _summary(alignment(x, grad))
        maps[name] = display_scale(grad[: config.n_show]).cpu()
    kernel_maps, kernels, kernel_aligns = {}, {}, {}
    for key in KERNEL_MODELS:
        model = models[key][0] if key in ("normal", "worst") else models[key]
        with torch.no_grad():
            activation = model.conv2(x[: config.n_show]).mean(dim=(0, 2, 3))
        chosen = activation.argsort(descending=True)[: config.n_kernels].tolist()
        kernels[key] = chosen
        first = [kernel_saliency(model, x[:1], c) for c in chosen]
        kernel_maps[key] = display_scale(torch.cat(first)).cpu()
        scores = torch.cat([alignment(x, kernel_saliency(model, x, c)) for c in chosen])
        kernel_aligns[key] = _summary(scores)
    sources = {"weights": os.path.relpath(path, REPO_ROOT) if path.is_relative_to(REPO_ROOT) else str(path),
               "configs": models["_configs"]}
    return Result(config, x[: config.n_show].cpu(), y[: config.n_show].cpu(), maps, kernel_maps, kernels, aligns,
                  kernel_aligns, sources)
