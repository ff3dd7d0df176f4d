"""Models: the paper's Baseline-H classifier (encoder g + head h) and CIFAR classifiers, all taking pixels.

Every model built here starts with :class:`InputNormalize`, so it takes images in [0, 1] and attacks work in
pixel space. Common interface: ``model(x)`` → logits (B, n_classes); ``model.representation(x)`` → the
representation (Baseline-H: the 64-d z = g(x); CIFAR nets: the pooled penultimate features).
Baseline-H also gives ``model.features(x)`` (all intermediate activations, including the second conv layer).

>>> model = build_model("baseline_h", "fashion-mnist", head="linear", width=0.25)
>>> tuple(model(torch.rand(2, 1, 28, 28)).shape), tuple(model.representation(torch.rand(2, 1, 28, 28)).shape)
((2, 10), (2, 64))
"""

from __future__ import annotations

import torch
from torch import nn

from rrlib.data import DatasetSpec, get_spec
from rrlib.models.baseline_h import CONV2_PATCH, BaselineHEncoder, EncoderOutputs, PixelBaselineH, conv_side, scaled
from rrlib.models.cifar import CIFAR_NETS
from rrlib.models.heads import HEADS, LinearHead, MLPHead, build_head
from rrlib.models.normalize import InputNormalize

__all__ = [
    "CONV2_PATCH",
    "HEADS",
    "MODELS",
    "BaselineH",
    "BaselineHEncoder",
    "EncoderOutputs",
    "InputNormalize",
    "LinearHead",
    "MLPHead",
    "NormalizedNet",
    "PixelBaselineH",
    "build_head",
    "build_model",
    "conv_side",
    "scaled",
]

#: The architectures :func:`build_model` builds, by name (Baseline-H and the CIFAR networks).
MODELS = ("baseline_h", *CIFAR_NETS)


class BaselineH(PixelBaselineH):
    """Baseline-H classifier h∘g: :class:`InputNormalize` → :class:`BaselineHEncoder` → head (mlp or linear).

    The "Fully-Supervised" rows of Tables 1, 3–5 train this end-to-end (the official ``baseline_mlp`` /
    ``baseline_linear``). ``representation``, ``features`` and ``conv2`` come from :class:`PixelBaselineH`.
    """

    def __init__(
        self, spec: DatasetSpec, *, head: str = "mlp", width: float = 1.0, rep_dim: int = 64
    ) -> None:
        super().__init__(spec, width=width, rep_dim=rep_dim)
        self.head = build_head(head, rep_dim, spec.n_classes)
        self.head_name = head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.representation(x))


class NormalizedNet(nn.Module):
    """:class:`InputNormalize` followed by a network with ``features(x)`` and ``forward(x)`` (CIFAR nets)."""

    def __init__(self, spec: DatasetSpec, net: nn.Module) -> None:
        super().__init__()
        self.normalize = InputNormalize(spec.mean, spec.std)
        self.net = net

    def representation(self, x: torch.Tensor) -> torch.Tensor:
        """The pooled penultimate features (B, d)."""
        return self.net.features(self.normalize(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(self.normalize(x))


def build_model(name: str, dataset: str, *, head: str | None = None, width: float | None = None) -> nn.Module:
    """The model ``name`` (one of :data:`MODELS`) for ``dataset``'s shape, classes and normalisation.

    ``head`` (default ``"mlp"``) and ``width`` (default 1) apply to ``baseline_h`` only; passing them for a
    CIFAR net is an error.
    CIFAR nets need 32×32 inputs (CIFAR-10, SVHN).
    """
    if not isinstance(name, str) or name.strip().lower().replace("-", "_") not in MODELS:
        raise ValueError(f"unknown model {name!r}; valid choices: {MODELS}")
    key = name.strip().lower().replace("-", "_")
    spec = get_spec(dataset)
    if key == "baseline_h":
        head = "mlp" if head is None else head
        if head not in HEADS:
            raise ValueError(f"unknown head {head!r}; valid choices: {HEADS}")
        return BaselineH(spec, head=head, width=1.0 if width is None else width)
    if head is not None or width is not None:
        raise ValueError(f"model {name!r} takes no head or width (got head={head!r}, width={width!r})")
    if spec.image_size != 32:
        raise ValueError(
            f"model {name!r} is a CIFAR network for 32×32 inputs; dataset {dataset!r} has "
            f"{spec.image_size}×{spec.image_size}. Use 'baseline_h', or a 32×32 dataset (cifar10, svhn)"
        )
    return NormalizedNet(spec, CIFAR_NETS[key](spec.channels, spec.n_classes))
