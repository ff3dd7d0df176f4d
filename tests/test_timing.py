"""rrlib.timing: the benchmarks' shared timer (it measures; nothing here asserts a speed)."""

import pytest
import torch

from rrlib.timing import interleaved_medians


def test_every_candidate_is_called_once_to_warm_up_then_once_per_repeat_in_turn():
    calls: list[str] = []
    medians = interleaved_medians({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, 3,
                                  torch.device("cpu"))
    assert calls == ["a", "b"] * 4
    assert set(medians) == {"a", "b"} and all(t >= 0.0 for t in medians.values())


def test_repeats_below_one_is_refused_with_the_value():
    with pytest.raises(ValueError, match="repeats must be a positive integer, got 0"):
        interleaved_medians({"a": lambda: None}, 0, torch.device("cpu"))
