"""The task interface: a named joint distribution of (X, Y) with a known mutual information (in nats).

A task mirrors bmi's ``Task`` (``src/bmi/benchmark/task.py``): ``task_id``, ``task_name``, ``dim_x``, ``dim_y``,
``mutual_information`` and ``sample(n, seed)``. Samples are float64 numpy arrays drawn with numpy's PCG64 generator
seeded by ``seed``: the same distribution as bmi's, not the same random stream (bmi draws with JAX or SciPy).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from rrlib.mi.bmi_tasks.transforms import Transform


class Task(ABC):
    """A joint distribution of ``X`` (``dim_x`` columns) and ``Y`` (``dim_y`` columns) with closed-form MI in nats."""

    def __init__(self, task_id: str, task_name: str, dim_x: int, dim_y: int, params: dict[str, Any] | None = None):
        self.task_id = task_id
        self.task_name = task_name
        self.dim_x = int(dim_x)
        self.dim_y = int(dim_y)
        self.params: dict[str, Any] = dict(params or {})

    @property
    @abstractmethod
    def mutual_information(self) -> float:
        """True ``I(X; Y)`` in nats, from a closed form (as bmi computes it)."""

    @abstractmethod
    def _draw(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Draw ``n`` pairs with ``rng`` (no argument checks)."""

    def sample(self, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """``n`` independent draws of (X, Y): arrays of shapes ``(n, dim_x)`` and ``(n, dim_y)``, float64.

        The same ``(n, seed)`` always gives the same arrays; ``seed`` is a non-negative integer.
        """
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
            raise ValueError(f"n must be a positive integer, got {n!r}")
        if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        x, y = self._draw(int(n), np.random.default_rng(int(seed)))
        x = np.ascontiguousarray(x, dtype=np.float64)
        y = np.ascontiguousarray(y, dtype=np.float64)
        assert x.shape == (n, self.dim_x) and y.shape == (n, self.dim_y), (x.shape, y.shape)
        return x, y

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.task_id!r}, dim_x={self.dim_x}, dim_y={self.dim_y}, "
            f"mi={self.mutual_information:.6f} nats)"
        )


class TransformedTask(Task):
    """``(f(X), g(Y))`` for a base task's ``(X, Y)`` and injective maps ``f``, ``g``: the MI is the base task's.

    bmi: ``TransformedSampler`` in ``src/bmi/samplers/_transformed.py``, whose ``mutual_information`` is the base
    sampler's. The id is ``f"{prefix}-{base.task_id}"`` as in bmi's ``transform_*_task`` helpers.
    """

    def __init__(
        self,
        base: Task,
        transform_x: Transform | None,
        transform_y: Transform | None,
        task_id: str,
        task_name: str,
        params: dict[str, Any] | None = None,
    ):
        dim_x = transform_x.output_dim(base.dim_x) if transform_x is not None else base.dim_x
        dim_y = transform_y.output_dim(base.dim_y) if transform_y is not None else base.dim_y
        super().__init__(task_id, task_name, dim_x, dim_y, {**base.params, **(params or {})})
        self.base = base
        self.transform_x = transform_x
        self.transform_y = transform_y

    @property
    def mutual_information(self) -> float:
        return self.base.mutual_information

    def apply(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Push base samples through the two maps."""
        fx = self.transform_x.forward(x) if self.transform_x is not None else np.asarray(x, dtype=np.float64)
        gy = self.transform_y.forward(y) if self.transform_y is not None else np.asarray(y, dtype=np.float64)
        return fx, gy

    def _draw(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        return self.apply(*self.base._draw(n, rng))
