"""The 40 tasks of the bmi benchmark (Czyż et al., "Beyond Normal", NeurIPS 2023), re-implemented in numpy.

Each task is a joint distribution of (X, Y) whose mutual information is known in closed form, in **nats**:

* 1 x 1 tasks: a bivariate normal (correlation 0.75) and its pushforwards (normal CDF, wiggly, half-cube,
  bimodal marginals), additive uniform noise (``Y = X + U(-eps, eps)``), a bivariate Student-t (1 degree of
  freedom) and its ``arcsinh``;
* a Swiss-roll embedding of the uniform 1 x 1 task (X becomes 2-dimensional);
* Gaussians with dense (all correlations 0.5) or 2-pair (two correlated coordinate pairs) covariance, up to 50 x 50;
* Student-t with identity dispersion (dependence only through the shared scale);
* the 2-pair Gaussians and Student-t pushed through normal CDF, half-cube, spiral and ``arcsinh`` maps.

Usage::

    from rrlib.mi.bmi_tasks import TASKS, get_task
    task = get_task("1v1-normal-0.75")
    x, y = task.sample(5000, seed=0)   # float64 arrays (5000, 1), (5000, 1)
    task.mutual_information            # 0.4133... nats

Ids, dimensions and true MI follow bmi (github.com/cbg-ethz/bmi, ``src/bmi/benchmark/task_list.py``); sampling
follows bmi's generative definitions with numpy's generator (same distributions, not the same random streams).
"""

from __future__ import annotations

from rrlib.mi.bmi_tasks.catalog import build_tasks
from rrlib.mi.bmi_tasks.task import Task, TransformedTask

#: The 40 tasks by id, in bmi's order.
TASKS: dict[str, Task] = {task.task_id: task for task in build_tasks()}


def get_task(task_id: str) -> Task:
    """The task with id ``task_id``; a ``ValueError`` naming it and listing the valid ids if there is none."""
    try:
        return TASKS[task_id]
    except (KeyError, TypeError):
        valid = ", ".join(TASKS)
        raise ValueError(f"unknown bmi task id {task_id!r}; valid ids ({len(TASKS)}): {valid}") from None


__all__ = ["TASKS", "Task", "TransformedTask", "get_task"]
