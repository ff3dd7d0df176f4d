"""The temperature sweep of the adversarial contrastive baseline (rrlib.grid.temperature_sweep): one
grid-shaped folder per τ, the encoder's τ the only change, the heads scored as Table 4 scores them, and a finished
sweep reloaded, not retrained."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
import torch

from rrlib.grid import temperature_sweep as ct
from rrlib.grid.cells import cells
from rrlib.grid.config import TablesConfig
from rrlib.train.encoder import load_encoder

TINY = replace(TablesConfig.quick(0, "cpu"), heads=("linear",), autoattack_n=4, test_subset=40, head_epochs=1,
               encoder_train_subset=128, head_train_subset=160, val_size=32)


def test_only_the_encoders_temperature_changes():
    grid = {c.name: c for c in cells(replace(TINY, rows=ct.ROWS))}
    swept = {c.name: c for c in ct.sweep_cells(replace(TINY, rows=ct.ROWS), 0.2)}
    assert swept.keys() == grid.keys()
    for name, cell in swept.items():
        if cell.kind == "encoder":
            assert cell.config == replace(grid[name].config, temperature=0.2)
            assert cell.path != grid[name].path and cell.path.startswith(f"encoders/adv-contrastive-seed{cell.seed}-")
        else:
            assert cell == grid[name]
    # at the default τ the cells are the grid's own, folder names included (a committed run's cells can be reused)
    assert ct.sweep_cells(replace(TINY, rows=ct.ROWS), 0.5) == list(grid.values())


def test_sweep_trains_scores_and_resumes(tmp_path):
    torch.set_num_threads(1)
    config = ct.SweepConfig(TINY, temperatures=(0.2, 1.0), seeds=(0,))
    metrics = ct.run(config, tmp_path, log=None)
    assert metrics["temperatures"] == [0.2, 1.0] and metrics["seeds"] == [0]
    for tau in ("0.2", "1.0"):
        enc = next((tmp_path / f"tau{tau}" / "encoders").iterdir())
        assert load_encoder(enc).config.temperature == float(tau)
        for row in ct.ROWS:
            cell = metrics["table"][tau][row]["linear"]
            assert all(len(cell[col]) == 1 and 0 <= cell[col][0] <= 100 for col in ("natural", "adversarial"))
            assert cell["autoattack"][0] <= cell["adversarial"][0] + 100 / 4  # AA on 4 images, one image = 25 pp
    # the two temperatures train different encoders from the same seed
    w = [load_encoder(next((tmp_path / f"tau{t}" / "encoders").iterdir())).encoder.state_dict() for t in ("0.2", "1.0")]
    assert any(not torch.equal(w[0][k], w[1][k]) for k in w[0])
    # a second run loads every cell and its cached scores: the same metrics, no checkpoint rewritten
    stamps = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("checkpoint.pt")}
    assert ct.run(config, tmp_path, log=None) == metrics
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("checkpoint.pt")} == stamps


def test_bad_temperature_is_one_clear_error(tmp_path, capsys):
    with pytest.raises(ValueError, match="temperature must be a finite number > 0, got -0.5"):
        ct.SweepConfig(TINY, temperatures=(-0.5,))
    out = tmp_path / "x.json"
    out.write_text("{}")
    assert ct.main(["--out-root", str(tmp_path), "--out", str(out)]) == 2
    assert "--out" in capsys.readouterr().err and json.loads(out.read_text()) == {}
