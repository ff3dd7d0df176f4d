"""The 40 tasks of the bmi benchmark (version 1), built as bmi builds them, in bmi's order.

bmi: ``src/bmi/benchmark/task_list.py`` (``BENCHMARK_TASKS_LIST``, exposed as ``bmi.benchmark.BENCHMARK_TASKS``)
and the task helpers in ``src/bmi/benchmark/tasks/``. Ids and names are spelled exactly as bmi's f-strings spell
them (floats as Python prints them: ``0.1``, ``0.75``, ``2.0``).
"""

from __future__ import annotations

import numpy as np

from rrlib.mi.bmi_tasks import transforms as tr
from rrlib.mi.bmi_tasks.distributions import (
    AdditiveUniformTask,
    BivariateNormalTask,
    MultinormalTask,
    StudentTTask,
    dense_covariance,
    sparse_correlation,
)
from rrlib.mi.bmi_tasks.task import Task, TransformedTask

#: Correlation of the 1 x 1 Gaussian behind most one-dimensional tasks (bmi's ``GAUSSIAN_CORRELATION``).
GAUSSIAN_CORRELATION = 0.75


# --- base families (bmi: tasks/bivariate_normal.py, additive_noise.py, multinormal.py, student.py) -------------------


def bivariate_normal(gaussian_correlation: float = GAUSSIAN_CORRELATION) -> Task:
    """``1v1-normal-{rho}``: standard bivariate normal with correlation rho."""
    return BivariateNormalTask(f"1v1-normal-{gaussian_correlation}", "Bivariate normal 1 × 1", gaussian_correlation)


def additive_noise(epsilon: float) -> Task:
    """``1v1-additive-{eps}``: ``Y = X + N``, ``X ~ U(0, 1)``, ``N ~ U(-eps, eps)``."""
    return AdditiveUniformTask(f"1v1-additive-{epsilon}", f"Uniform 1 × 1 (additive noise={epsilon})", epsilon)


def multinormal_dense(dim_x: int, dim_y: int, off_diag: float = 0.5) -> Task:
    """``multinormal-dense-{dx}-{dy}-{c}``: all correlations equal to c."""
    return MultinormalTask(
        f"multinormal-dense-{dim_x}-{dim_y}-{off_diag}",
        f"Multinormal {dim_x} × {dim_y} (dense)",
        dim_x,
        dim_y,
        dense_covariance(dim_x, dim_y, off_diag),
        {"off_diag": off_diag},
    )


def multinormal_2pair(dim_x: int, dim_y: int, strength: float = 2.0) -> Task:
    """``multinormal-sparse-{dx}-{dy}-2-{s}``: two correlated pairs (X_1, Y_1), (X_2, Y_2), the rest independent."""
    n_interacting = 2
    return MultinormalTask(
        f"multinormal-sparse-{dim_x}-{dim_y}-{n_interacting}-{strength}",
        f"Multinormal {dim_x} × {dim_y} (2-pair)",
        dim_x,
        dim_y,
        sparse_correlation(dim_x, dim_y, n_interacting, strength),
        {"n_interacting": n_interacting, "strength": strength},
    )


def student_identity(dim_x: int, dim_y: int, df: int) -> Task:
    """``student-identity-{dx}-{dy}-{df}``: Student-t with identity dispersion."""
    return StudentTTask(
        f"student-identity-{dim_x}-{dim_y}-{df}",
        f"Student-t {dim_x} × {dim_y} (dof={df})",
        dim_x,
        dim_y,
        df,
        np.eye(dim_x + dim_y),
    )


# --- MI-preserving transforms (bmi: tasks/normal_cdf.py, half_cube.py, asinh.py, wiggly.py, spiral.py, ...) ----------


def normal_cdfise(base: Task) -> Task:
    """``normal_cdf-{base}``: Phi on every coordinate of X and Y (Gaussian marginals become uniform)."""
    return TransformedTask(
        base, tr.normal_cdf(), tr.normal_cdf(), f"normal_cdf-{base.task_id}", f"Normal CDF @ {base.task_name}"
    )


def half_cube(base: Task) -> Task:
    """``half_cube-{base}``: ``x |x|^(1/2)`` on every coordinate."""
    return TransformedTask(
        base, tr.half_cube(), tr.half_cube(), f"half_cube-{base.task_id}", f"Half-cube @ {base.task_name}"
    )


def asinh(base: Task) -> Task:
    """``asinh-{base}``: ``arcsinh`` on every coordinate."""
    return TransformedTask(base, tr.asinh(), tr.asinh(), f"asinh-{base.task_id}", f"Asinh @ {base.task_name}")


def wigglify(base: Task) -> Task:
    """``wiggly-{base}``: bmi's ``wiggly_x`` on X and ``wiggly_y`` on Y."""
    return TransformedTask(base, tr.wiggly_x(), tr.wiggly_y(), f"wiggly-{base.task_id}", f"Wiggly @ {base.task_name}")


def spiralise(base: Task, speed: float = 1.0) -> Task:
    """``spiral-{base}``: bmi's spiral (normalised speed ``speed / dim``) on X (plane 0-1) and Y (plane 1-2)."""
    spiral_x, spiral_y = tr.spiral_pair(base.dim_x, base.dim_y, speed)
    return TransformedTask(
        base,
        spiral_x,
        spiral_y,
        f"spiral-{base.task_id}",
        f"Spiral @ {base.task_name}",
        {"speed": speed, "normalize_speed": True},
    )


def bimodal_gaussians(gaussian_correlation: float = GAUSSIAN_CORRELATION) -> Task:
    """``1v1-bimodal-{rho}``: the Gaussian copula of :func:`bivariate_normal` with bimodal marginals.

    X ~ ``0.3 N(0, 1) + 0.7 N(5, 1)`` and Y ~ ``0.5 N(-1, 1) + 0.5 N(3, 1)``, each a strictly increasing function of
    the corresponding Gaussian coordinate, so the MI is the bivariate normal's.
    """
    base = bivariate_normal(gaussian_correlation)
    return TransformedTask(base, tr.bimodal_x(), tr.bimodal_y(), f"1v1-bimodal-{gaussian_correlation}", "Bimodal 1 × 1")


def swissroll_x(base: Task, task_name: str) -> Task:
    """``swissroll_x-{base}``: X (in [0, 1]) embedded in the plane as a Swiss roll; Y unchanged. dim_x becomes 2."""
    if base.dim_x != 1:
        raise ValueError(f"the Swiss roll needs dim_x == 1, got {base.dim_x}")
    return TransformedTask(base, tr.SwissRoll(), None, f"swissroll_x-{base.task_id}", task_name)


# --- the list (bmi: task_list.py) -------------------------------------------------------------------------------------


def build_tasks() -> list[Task]:
    """The 40 tasks in bmi's ``BENCHMARK_TASKS_LIST`` order (1 x 1, embedding, Gaussian, Student-t, transformed)."""
    binormal = bivariate_normal()
    uniform = normal_cdfise(binormal)
    bistudent = student_identity(1, 1, 1)

    one_dim = [
        binormal,
        uniform,
        additive_noise(0.1),
        additive_noise(0.75),
        bimodal_gaussians(),
        wigglify(binormal),
        half_cube(binormal),
        bistudent,
        asinh(bistudent),
    ]
    embeddings = [swissroll_x(uniform, task_name="Swiss roll 2 × 1")]
    multinormal = [multinormal_dense(d, d) for d in (2, 3, 5, 25, 50)]
    multinormal += [multinormal_2pair(d, d) for d in (2, 3, 5, 25)]
    student = [student_identity(d, d, df) for d, df in ((2, 1), (2, 2), (3, 2), (3, 3), (5, 2), (5, 3))]

    pairs = [multinormal_2pair(d, d) for d in (3, 5, 25)]
    transformed = (
        [normal_cdfise(t) for t in pairs]
        + [half_cube(t) for t in pairs]
        + [spiralise(t) for t in pairs]
        + [spiralise(normal_cdfise(t)) for t in pairs]
        + [asinh(student_identity(d, d, df)) for d, df in ((2, 1), (3, 2), (5, 2))]
    )
    return one_dim + embeddings + multinormal + student + transformed
