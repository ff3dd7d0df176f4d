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

from rrlib.projection.table import project, projection_markdown
from rrlib.projection.timing import time_unit, time_units
from rrlib.projection.work import Unit, WorkItem, full_profile_work, table_work, unit

__all__ = ["Unit", "WorkItem", "full_profile_work", "project", "projection_markdown", "table_work", "time_unit",
           "time_units", "unit"]
