"""Algorithm 2's shared pieces (batching, best-critic selection), the estimate-mi engine's statistics, the
representation adapters and the shared argument checks. Expected values are computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from rrlib.mi.algorithm2 import PerUnitBest, ScalarBest, alternate, full_batches
from rrlib.mi.runs import MIRuns, summarize, training_curve
from rrlib.models import build_model
from rrlib.models.representations import representation_module
from rrlib.runtime import atomic_write_text
from rrlib.validation import check_bool, check_int, check_nonnegative_float, check_optional_int, check_positive_float


def test_full_batches_cut_a_permutation_into_whole_batches():
    order = full_batches(10, 3, torch.Generator().manual_seed(0))
    assert tuple(order.shape) == (3, 3)  # 10 // 3 full batches; one index is left out
    assert len(set(order.flatten().tolist())) == 9 and set(order.flatten().tolist()) <= set(range(10))


def test_scalar_best_keeps_the_state_of_the_largest_value():
    lin = nn.Linear(1, 1, bias=False)
    best = ScalarBest(lin)
    for t, (w, value) in enumerate([(1.0, 0.5), (2.0, 0.9), (3.0, 0.7)]):
        with torch.no_grad():
            lin.weight.fill_(w)
        best.offer(value, t)
    assert best.restore() == 1 and float(lin.weight.detach()) == 2.0


def test_per_unit_best_keeps_each_units_own_best_iteration():
    class TwoUnits(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = nn.Parameter(torch.zeros(2, 1))

    m = TwoUnits()
    best = PerUnitBest(m, torch.device("cpu"))
    # unit 0 peaks at t = 0, unit 1 at t = 2; the parameters at t are (t, 10 t)
    for t, values in enumerate([(3.0, 1.0), (2.0, 2.0), (1.0, 5.0)]):
        with torch.no_grad():
            m.w.copy_(torch.tensor([[float(t)], [10.0 * t]]))
        best.offer(torch.tensor(values), t)
    assert best.restore().tolist() == [0, 2]
    assert m.w.detach().flatten().tolist() == [0.0, 20.0]


def test_alternate_calls_the_phases_in_order_and_checks_test_batches():
    calls = []
    run = alternate(n_train=8, n_test=8, iterations=5, batch_size=4, test_batches=2, select="last",
                    generator=torch.Generator().manual_seed(0), draw_train=lambda idx: ("train", idx.numel()),
                    draw_test=lambda idx: ("test", idx.numel()),
                    train_step=lambda t, b, offer: calls.append((t, b, offer)) or float(t),
                    test_step=lambda b: b, selector=ScalarBest(nn.Linear(1, 1)))
    assert [c[0] for c in calls] == [0, 1, 2, 3, 4] and all(c[2] is None for c in calls)  # "last": no offers
    assert run.train_values.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0] and run.best_iteration == 4
    assert run.tests == [("test", 4), ("test", 4)]
    with pytest.raises(ValueError, match="test_batches=3 but x_test holds only 2 full batches of 4"):
        alternate(n_train=8, n_test=8, iterations=1, batch_size=4, test_batches=3, select="last",
                  generator=torch.Generator(), draw_train=lambda i: i, draw_test=lambda i: i,
                  train_step=lambda t, b, o: 0.0, test_step=lambda b: b, selector=ScalarBest(nn.Linear(1, 1)))


def test_training_curve_and_summary_by_hand():
    curve = training_curve(np.arange(10.0), points=4)  # blocks of ceil(10 / 4) = 3: (0,1,2) (3,4,5) (6,7,8) (9)
    assert curve == {"iterations_per_point": 3, "values": [1.0, 4.0, 7.0, 9.0]}
    s = summarize([1.0, 2.0, 3.0])
    assert s == {"mean": 2.0, "std": 1.0, "per_seed": [1.0, 2.0, 3.0]}
    assert summarize([5.0])["std"] == 0.0
    assert MIRuns().summary() == {"normal": None, "worst": None, "rv": None}


def test_representation_module_reads_the_dimension_and_restores_modes():
    model = build_model("baseline_h", "fashion-mnist", head="linear", width=0.25).train()
    model.encoder.eval()  # a mixed state must survive
    before = [m.training for m in model.modules()]
    logits, dim_logits = representation_module(model, "logits", (1, 28, 28))
    _, dim_z = representation_module(model, "z", (1, 28, 28))
    assert logits is model and (dim_logits, dim_z) == (10, 64)
    assert [m.training for m in model.modules()] == before
    with pytest.raises(ValueError, match=r"unknown representation 'pixels'; valid choices: \('logits', 'z'\)"):
        representation_module(model, "pixels", (1, 28, 28))


def test_shared_argument_checks_name_the_value():
    assert check_int("n", 3) == 3
    with pytest.raises(ValueError, match=r"^n must be an integer >= 2, got True$"):
        check_int("n", True, 2)
    with pytest.raises(ValueError, match=r"^seed must be a non-negative integer, got -1$"):
        check_int("seed", -1, 0, what="a non-negative integer")
    with pytest.raises(ValueError, match=r"^k must be a positive integer or None, got 0$"):
        check_int("k", 0, 1, what="a positive integer", allow_none=True)
    assert check_optional_int("t", None) is None
    with pytest.raises(ValueError, match=r"^t must be None or an integer >= 1, got 0$"):
        check_optional_int("t", 0)
    with pytest.raises(TypeError, match=r"^flag must be a bool, got 1$"):
        check_bool("flag", 1)
    assert check_positive_float("lr", 1) == 1.0
    for bad in (0, -1.0, math.inf, math.nan, True, "1"):
        with pytest.raises(ValueError, match="lr must be a finite number > 0"):
            check_positive_float("lr", bad)
    assert check_nonnegative_float("eps", 0) == 0.0
    with pytest.raises(ValueError, match=r"^eps must be a finite number >= 0, got -0.5$"):
        check_nonnegative_float("eps", -0.5)


def test_atomic_text_write_replaces_the_whole_file(tmp_path):
    path = tmp_path / "sub" / "m.json"
    atomic_write_text(path, "old\n")
    atomic_write_text(path, "new\n")
    assert path.read_text() == "new\n" and [p.name for p in path.parent.iterdir()] == ["m.json"]
