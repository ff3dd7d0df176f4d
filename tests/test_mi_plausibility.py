"""Validity flags for MI estimates: limits from Definition 3.1 (0 <= worst <= normal)."""

import pytest

from rrlib.mi.plausibility import check_estimates, clip_to_valid


@pytest.mark.parametrize(
    ("normal", "worst", "codes"),
    [
        (0.83, 0.10, ()),
        (0.83, 0.83, ()),  # no vulnerability at all is valid
        (0.83, 0.0, ()),
        (0.83, -0.134, ("negative_worst", "rv_above_normal")),  # chapter 6's standard model before the fix
        (0.5, 0.7, ("negative_rv",)),
        (-0.1, -0.2, ("negative_normal", "negative_worst")),
        (-0.1, 0.2, ("negative_normal", "negative_rv")),
    ],
)
def test_flags(normal, worst, codes):
    flags = check_estimates(normal, worst)
    assert flags.codes == codes
    assert flags.impossible == bool(codes)
    assert len(flags.explanations) == len(codes)


def test_tolerance_forgives_rounding_only():
    assert not check_estimates(0.5, -1e-9, tolerance=1e-6).impossible
    assert check_estimates(0.5, -1e-3, tolerance=1e-6).impossible


def test_clip_to_valid():
    assert clip_to_valid(0.83, -0.134) == (0.83, 0.0, 0.83)
    assert clip_to_valid(0.5, 0.7) == (0.5, 0.5, 0.0)
    assert clip_to_valid(-0.1, -0.2) == (0.0, 0.0, 0.0)
    assert clip_to_valid(0.9, 0.4) == (0.9, 0.4, pytest.approx(0.5))


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), "0.3", True])
def test_bad_input(bad):
    with pytest.raises(ValueError, match="finite number of nats"):
        check_estimates(bad, 0.1)
    with pytest.raises(ValueError, match="tolerance must be >= 0"):
        check_estimates(0.2, 0.1, tolerance=-1.0)
