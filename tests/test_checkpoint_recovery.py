"""A damaged checkpoint never ends in a raw ``torch.load`` traceback, and a resume falls back to the previous one.

Real files: a checkpoint written by ``train-model`` is truncated (half its bytes) or overwritten with garbage, as a
full disk or a bad copy would leave it.
"""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from rrlib.cli import main
from rrlib.train.checkpoint import (
    CheckpointError,
    CheckpointFallbackWarning,
    previous_path,
    read_checkpoint,
    save_checkpoint,
)
from rrlib.train.supervised import TIMING_KEYS

TRAIN = ["train-model", "--dataset", "digits", "--width", "0.125", "--batch-size", "64", "--lr", "0.003",
         "--train-subset", "256", "--test-subset", "128", "--no-adv-eval", "--device", "cpu", "--no-progress"]


def _final(out) -> dict:
    return json.loads((out / "metrics.json").read_text())["final"]


def _truncate(path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    """Three epochs in one go: the reference numbers."""
    out = tmp_path_factory.mktemp("straight")
    assert main([*TRAIN, "--epochs", "3", "--out", str(out)]) == 0
    return _final(out)


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_resume_falls_back_to_the_previous_checkpoint(tmp_path, straight, capsys, damage):
    out = tmp_path / "run"
    # stopped after 2 of 3 epochs (4 steps each): checkpoint.pt holds the stop, .prev the one before
    assert main([*TRAIN, "--epochs", "3", "--max-steps", "8", "--out", str(out)]) == 0
    ckpt = out / "checkpoint.pt"
    assert previous_path(ckpt).is_file()
    if damage == "truncated":
        _truncate(ckpt)
    else:
        ckpt.write_bytes(b"this is not a torch file" * 100)
    capsys.readouterr()
    assert main([*TRAIN, "--epochs", "3", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    warning_lines = [line for line in err.splitlines() if line.startswith("warning:")]
    assert len(warning_lines) == 1 and str(ckpt) in warning_lines[0] and "checkpoint.pt.prev" in warning_lines[0]
    assert "corrupt or truncated" in warning_lines[0]
    assert "Traceback" not in err
    # resumed from the previous checkpoint: the numbers of the straight run (resume is exact on the CPU)
    ours = {k: v for k, v in _final(out).items() if k not in TIMING_KEYS}
    assert ours == {k: v for k, v in straight.items() if k not in TIMING_KEYS}


def test_both_checkpoints_damaged_is_one_clear_line(tmp_path, capsys):
    out = tmp_path / "run"
    assert main([*TRAIN, "--epochs", "3", "--max-steps", "8", "--out", str(out)]) == 0
    ckpt = out / "checkpoint.pt"
    _truncate(ckpt)
    _truncate(previous_path(ckpt))
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    capsys.readouterr()
    assert main([*TRAIN, "--epochs", "3", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:"), err
    assert "corrupt or truncated" in err[0] and str(ckpt) in err[0] and "remove" in err[0]
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # nothing overwritten


def test_read_checkpoint_errors_and_fallback(tmp_path):
    path = tmp_path / "c.pt"
    with pytest.raises(CheckpointError, match="no checkpoint at"):
        read_checkpoint(path, kind=None, remedy="train it")
    save_checkpoint(path, {"kind": "k", "step": 1})
    save_checkpoint(path, {"kind": "k", "step": 2})
    assert read_checkpoint(path, kind="k", remedy="r")["step"] == 2
    with pytest.raises(CheckpointError, match="not a checkpoint of kind 'other'"):
        read_checkpoint(path, kind="other", remedy="r", fallback=False)
    _truncate(path)
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        read_checkpoint(path, kind="k", remedy="r", fallback=False)
    with pytest.warns(CheckpointFallbackWarning, match="previous checkpoint"):
        assert read_checkpoint(path, kind="k", remedy="r")["step"] == 1
    # a crash between the two renames of save_checkpoint leaves only .prev: still resumable
    path.unlink()
    with pytest.warns(CheckpointFallbackWarning):
        assert read_checkpoint(path, kind="k", remedy="r")["step"] == 1
    torch.save([1, 2], previous_path(path))
    shutil.copy(previous_path(path), path)
    with pytest.raises(CheckpointError, match="not a training checkpoint"):
        read_checkpoint(path, kind=None, remedy="r", fallback=False)
