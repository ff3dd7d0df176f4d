from __future__ import annotations

import numpy as np
import pytest
import torch

from rrlib.profiles import PROFILES, for_profile, get_profile
from rrlib.runtime import numpy_rng, seed_everything, select_device, torch_generator


def test_auto_device_matches_cuda_availability():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert select_device("auto").type == expected
    assert select_device("cpu") == torch.device("cpu")
    assert select_device(torch.device("cpu")) == torch.device("cpu")


@pytest.mark.parametrize("bad", ["gpu", "tpu", "cuda:x", ""])
def test_unknown_device_names_the_choices(bad):
    if bad.startswith("cuda") and not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA is not available"):
            select_device(bad)
        return
    with pytest.raises(ValueError, match="valid choices"):
        select_device(bad)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error on a machine without CUDA")
def test_cuda_without_gpu_is_a_clear_error():
    with pytest.raises(RuntimeError, match="'cuda'.*not available"):
        select_device("cuda")


def test_seeding_is_reproducible():
    seed_everything(3)
    a = (np.random.rand(3), torch.rand(3))
    seed_everything(3)
    b = (np.random.rand(3), torch.rand(3))
    assert np.array_equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert torch.equal(torch.rand(4, generator=torch_generator(5)), torch.rand(4, generator=torch_generator(5)))
    assert numpy_rng(1).normal() == numpy_rng(1).normal()
    with pytest.raises(ValueError, match="non-negative integer"):
        seed_everything(-1)


def test_profiles_registry_and_errors():
    assert set(PROFILES) == {"quick", "medium", "full"}
    assert get_profile("quick").name == "quick" and not get_profile("medium").requires_cuda
    with pytest.raises(ValueError, match=r"unknown profile 'fast'.*\['full', 'medium', 'quick'\]"):
        get_profile("fast")
    with pytest.raises(RuntimeError, match="needs a CUDA GPU"):
        get_profile("full", cuda_available=False)
    assert get_profile("full", cuda_available=False, force=True).requires_cuda
    assert for_profile("full", quick=1, full=2) == 2
    with pytest.raises(ValueError, match=r"no 'medium' profile; valid choices: \['full', 'quick'\]"):
        for_profile("medium", quick=1, full=2)
    assert for_profile("medium", quick=1, medium=3, full=2) == 3
    with pytest.raises(ValueError, match=r"no configuration given for profiles \['full'\]"):
        for_profile("quick", quick=1)


def test_seeded_builds_identically_and_leaves_the_global_stream_alone():
    from rrlib.runtime import seeded

    torch.manual_seed(11)
    expected_next = torch.rand(3)
    torch.manual_seed(11)
    a = seeded(lambda: torch.nn.Linear(4, 2), seed=5)
    b = seeded(lambda: torch.nn.Linear(4, 2), seed=5)
    assert torch.equal(a.weight, b.weight)
    assert not torch.equal(a.weight, seeded(lambda: torch.nn.Linear(4, 2), seed=6).weight)
    assert torch.equal(torch.rand(3), expected_next)
