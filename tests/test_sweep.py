"""``sweep``: the cells of Tables 1/3-5 listed with their states, missing and partial ones trained, finished ones
never recomputed, a folder of another configuration refused; clear one-line errors for bad names (CLI).

The grid is shrunk to one seed, two rows and the linear head on the tiny Fashion-MNIST fixture (64 training and 32
test images): 1 encoder, 1 head and 1 supervised model, a few seconds on one CPU thread.
"""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from rrlib.cli import main
from rrlib.grid import TablesConfig, cell_states, sweep
from rrlib.train.encoder import train_encoder

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def tiny(tiny_fmnist_root) -> TablesConfig:
    return TablesConfig(seeds=(0,), rows=("hjelm/standard", "supervised/standard"), heads=("linear",),
                        encoder_train_subset=32, width=0.125, critic_hidden=8, encoder_epochs=2, encoder_batch=16,
                        encoder_lr=1e-3, head_epochs=1, head_batch=16, head_lr=1e-3, head_train_subset=48,
                        val_size=16, test_subset=32, eval_every=1, supervised_epochs=1, supervised_batch=16,
                        supervised_lr=1e-3, supervised_train_subset=32, autoattack_n=0, device="cpu",
                        data_root=str(tiny_fmnist_root))


def test_missing_and_partial_cells_run_and_finished_ones_never_again(tiny, tmp_path):
    states = cell_states(tiny, tmp_path)
    assert [s.cell.kind for s in states] == ["encoder", "head", "supervised"]
    assert {s.state for s in states} == {"missing"}
    encoder = states[0]
    train_encoder(encoder.cell.config, encoder.folder, stop_after_epochs=1, device="cpu",
                  data_root=tiny.data_root, show_progress=False)  # a stopped run: partial
    assert [s.state for s in cell_states(tiny, tmp_path)] == ["partial", "missing", "missing"]
    assert sweep(tiny, tmp_path, dry_run=True, log=None) == [
        (encoder.cell.name, "partial"), (states[1].cell.name, "missing"), (states[2].cell.name, "missing")]
    assert [s.state for s in cell_states(tiny, tmp_path)] == ["partial", "missing", "missing"]  # dry run: nothing
    ran = sweep(tiny, tmp_path, log=None)
    assert [name for name, _ in ran] == [s.cell.name for s in states]
    assert {s.state for s in cell_states(tiny, tmp_path)} == {"finished"}
    stamps = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*") if p.is_file()}
    assert sweep(tiny, tmp_path, log=None) == []
    assert sweep(tiny, tmp_path, cell=states[1].cell.name, log=None) == []
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*") if p.is_file()} == stamps  # nothing rewritten


def test_one_cell_and_its_encoder_dependency(tiny, tmp_path):
    states = cell_states(tiny, tmp_path)
    head, supervised = states[1].cell.name, states[2].cell.name
    with pytest.raises(ValueError, match=f"cell {head} needs the encoder cell {states[0].cell.name}, which is missing"):
        sweep(tiny, tmp_path, cell=head, log=None)
    assert sweep(tiny, tmp_path, cell=supervised, log=None) == [(supervised, "missing")]
    assert [s.state for s in cell_states(tiny, tmp_path)] == ["missing", "missing", "finished"]
    with pytest.raises(ValueError, match=r"unknown cell 'head/nope' .*; valid choices: \['encoder/normal/seed0'"):
        sweep(tiny, tmp_path, cell="head/nope", log=None)


def test_a_folder_of_another_configuration_is_refused_and_kept(tiny, tmp_path):
    supervised = cell_states(tiny, tmp_path)[2]
    sweep(tiny, tmp_path, cell=supervised.cell.name, log=None)
    stored = json.loads((supervised.folder / "config.json").read_text())
    stored["config"]["lr"] = 0.5
    (supervised.folder / "config.json").write_text(json.dumps(stored))
    before = {p: p.read_bytes() for p in supervised.folder.iterdir()}
    with pytest.raises(ValueError) as err:
        sweep(tiny, tmp_path, log=None)
    message = str(err.value)
    assert "\n" not in message and supervised.cell.name in message and "lr is 0.5 there but 0.001 is asked" in message
    assert {p: p.read_bytes() for p in supervised.folder.iterdir()} == before
    assert cell_states(tiny, tmp_path)[0].state == "missing"  # checked before anything trained
    # a folder without config.json is checked against its checkpoint's configuration
    (supervised.folder / "config.json").unlink()
    other = replace(tiny, supervised_lr=0.002)
    moved = cell_states(other, tmp_path)[2].folder
    supervised.folder.rename(moved)
    with pytest.raises(ValueError, match="lr is 0.001 there but 0.002 is asked"):
        sweep(other, tmp_path, log=None)


def test_cli_list_dry_run_and_bad_names(tmp_path, capsys):
    assert main(["sweep", "--profile", "quick", "--dataset", "fmnist", "--out-root", str(tmp_path), "--list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 * (2 + 4 * 2 + 2 * 2) and all(" missing " in line for line in lines)
    name = lines[0].split()[0]
    assert main(["sweep", "--profile", "quick", "--out-root", str(tmp_path), "--cell", name, "--dry-run"]) == 0
    assert f"{name} (missing) would run" in capsys.readouterr().out
    assert not any(tmp_path.iterdir())
    for flags, bad, valid in ((["--profile", "huge"], "'huge'", "['quick', 'medium', 'full']"),
                              (["--profile", "quick", "--dataset", "digits"], "'digits'",
                               "['cifar10', 'fashion-mnist'"),
                              (["--profile", "quick", "--cell", "x/y"], "'x/y'", "['encoder/normal/seed0'")):
        assert main(["sweep", *flags, "--out-root", str(tmp_path)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and bad in err[0] and valid in err[0], err
