"""Chapter 09 (quick profile): alignment numbers of the saliency maps."""

from __future__ import annotations

import pytest

from rrlib.experiments.saliency_maps import MAPS

CHAPTER = "09_saliency"


@pytest.mark.slow
def test_every_map_scored_on_every_image(chapter_metrics):
    m = chapter_metrics(CHAPTER)
    assert set(m["alignment"]) == set(MAPS) and m["labels"] == {k: v[0] for k, v in MAPS.items()}
    for a in m["alignment"].values():
        assert 0.0 <= a["mean"] <= 1.0 and a["n"] == m["config"]["n_images"] and a["se"] > 0
    for loss, a in m["kernel_alignment"].items():
        chosen = m["kernels"][loss]
        assert len(set(chosen)) == len(chosen) == m["config"]["n_kernels"]
        # zero-norm maps (a channel silent on an image) are left out, so n is at most images × channels
        assert 0 < a["n"] <= m["config"]["n_images"] * len(chosen) and 0.0 <= a["mean"] <= 1.0
    assert m["sources"]["weights"] == "results/weights_medium"
