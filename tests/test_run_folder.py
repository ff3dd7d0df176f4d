"""The run folder around every training loop, tried as a hostile user would (issue 18, "What the one loop must
guarantee"): one run per folder (a real second process holds the lock), a refused run changes no byte, finished
work is never redone or overwritten (also with its checkpoints deleted; an empty ``metrics.json`` is not finished;
``estimate-mi`` neither overwrites another estimate nor recomputes the same one), and a bad output path is found
before anything is computed.

Everything runs through the command line (``rrlib.cli.main``) at toy sizes: a width-0.125 Baseline-H on 256
digits (one epoch, about a second), the tiny Fashion-MNIST folder for the encoder and the sweep.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from rrlib.cli import main
from rrlib.grid import TablesConfig, cell_states, sweep

ROOT = Path(__file__).resolve().parents[1]
TRAIN = ["train-model", "--dataset", "digits", "--width", "0.125", "--batch-size", "64", "--lr", "0.003",
         "--train-subset", "256", "--test-subset", "128", "--no-adv-eval", "--device", "cpu", "--no-progress",
         "--epochs", "1"]
ESTIMATE = ["--critic-hidden", "8", "--iterations", "5", "--batch-size", "32", "--test-batches", "2",
            "--train-subset", "128", "--test-subset", "64", "--device", "cpu", "--threads", "1",
            "--estimator-loss", "normal"]

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def digest(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (relative path) with the sha256 of its bytes."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def run(capsys, argv) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    return lines[0]


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A finished one-epoch train-model folder (copied by the tests that change it)."""
    out = tmp_path_factory.mktemp("model") / "run"
    assert main([*TRAIN, "--out", str(out)]) == 0
    return out


def copy_of(folder: Path, dest: Path) -> Path:
    import shutil

    shutil.copytree(folder, dest)
    return dest


# ------------------------------------------------------------------------------------------ one run per folder
HOLDER = textwrap.dedent("""
    import sys, time
    from rrlib.train.run_folder import claim_run_folder
    from rrlib.train.supervised import TrainConfig

    with claim_run_folder(sys.argv[1], "supervised", TrainConfig(dataset="digits", eval_adversarial=False)):
        print("holding", flush=True)
        time.sleep(120)
""")


def test_a_second_run_on_a_held_folder_is_refused_naming_the_holder(tmp_path, capsys):
    out = tmp_path / "run"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(out)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        before = digest(out)
        code, stdout, err = run(capsys, [*TRAIN, "--out", str(out)])
        assert code == 2, stdout
        line = one_error_line(err)
        assert f"{out} is in use by another run (pid {holder.pid} on " in line and "-c" in line
        assert "use another --out" in line and "epoch 1/1" not in stdout  # refused before training
        assert digest(out) == before  # nothing changed
    finally:
        holder.send_signal(signal.SIGKILL)  # the kernel drops the lock with the process: no stale marker
        holder.wait()
    code, stdout, _ = run(capsys, [*TRAIN, "--out", str(out)])
    assert code == 0 and "epoch 1/1" in stdout
    assert (out / "run.lock").read_bytes() == b""  # released


def test_two_train_model_processes_on_one_out(tmp_path, capsys):
    """The issue's case: a second ``train-model`` on the ``--out`` of a running one is refused (it used to train
    too, and one of the two died on a raw ``[Errno 2] ... checkpoint.pt.new``); killed, the first leaves no lock."""
    import time

    out = tmp_path / "run"
    argv = [*TRAIN, "--out", str(out)]
    argv[argv.index("--epochs") + 1] = "100000"  # runs until killed
    first = subprocess.Popen([sys.executable, "-m", "rrlib.cli", *argv], cwd=ROOT, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, env={**os.environ, "RRBOOK_THREADS": "1"})
    try:
        deadline = time.monotonic() + 60
        while not (out / "checkpoint.pt").is_file():  # it is training
            assert first.poll() is None and time.monotonic() < deadline, "the first run did not start"
            time.sleep(0.1)
        second = subprocess.run([sys.executable, "-m", "rrlib.cli", *argv], cwd=ROOT, capture_output=True,
                                text=True, timeout=120, env={**os.environ, "RRBOOK_THREADS": "1"})
        assert second.returncode == 2 and "epoch 1/" not in second.stdout
        line = one_error_line(second.stderr)
        assert f"is in use by another run (pid {first.pid} on " in line and "train-model" in line
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    code, stdout, err = run(capsys, [*argv, "--max-steps", "1"])  # the lock died with the process: it resumes
    assert code == 0 and "stopped at step" in stdout, err


# ------------------------------------------------------------------------------------------ refused: no change
def test_train_model_of_another_configuration_changes_nothing(trained, tmp_path, capsys):
    out = copy_of(trained, tmp_path / "run")
    before = digest(out)
    argv = [*TRAIN, "--out", str(out)]
    argv[argv.index("--lr") + 1] = "0.01"
    code, _, err = run(capsys, argv)
    assert code == 2
    assert "another configuration" in one_error_line(err)
    assert digest(out) == before


@pytest.fixture(scope="module")
def encoder_folder(tiny_fmnist_root, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("enc") / "g"
    assert main(["train-encoder", "--dataset", "fmnist", "--estimator-loss", "normal", "--out", str(out),
                 "--epochs", "1", "--width", "0.125", "--critic-hidden", "8", "--batch-size", "16",
                 "--train-subset", "32", "--data-root", str(tiny_fmnist_root), "--device", "cpu",
                 "--no-progress"]) == 0
    return out


@pytest.mark.parametrize("legacy", [False, True], ids=["with-config-json", "checkpoint-only"])
def test_train_model_into_an_encoder_folder_changes_nothing(encoder_folder, tmp_path, capsys, legacy):
    out = copy_of(encoder_folder, tmp_path / "g")
    if legacy:  # a folder written before run folders: no config.json, no lock file (the checkpoint refuses it)
        (out / "config.json").unlink(missing_ok=True)
        (out / "run.lock").unlink(missing_ok=True)
        (out / "metrics.json").unlink()
    before = digest(out)
    code, _, err = run(capsys, [*TRAIN, "--out", str(out)])
    assert code == 2
    line = one_error_line(err)
    assert str(out) in line
    assert digest(out) == before


@pytest.fixture
def tiny_tables(tiny_fmnist_root) -> TablesConfig:
    return TablesConfig(seeds=(0,), rows=("supervised/standard",), heads=("linear",), encoder_train_subset=32,
                        width=0.125, critic_hidden=8, encoder_epochs=1, encoder_batch=16, head_epochs=1,
                        head_batch=16, head_train_subset=48, val_size=16, test_subset=32, supervised_epochs=1,
                        supervised_batch=16, supervised_lr=1e-3, supervised_train_subset=32, autoattack_n=0,
                        device="cpu", data_root=str(tiny_fmnist_root))


def test_a_refused_run_in_a_sweep_cell_leaves_the_cell_usable(tiny_tables, tmp_path, capsys):
    (cell,) = cell_states(tiny_tables, tmp_path)
    sweep(tiny_tables, tmp_path, log=None)
    before = digest(cell.folder)
    code, _, err = run(capsys, ["train-model", "--dataset", "fmnist", "--width", "0.125", "--epochs", "1",
                                "--train-subset", "32", "--no-adv-eval", "--device", "cpu", "--no-progress",
                                "--data-root", tiny_tables.data_root, "--out", str(cell.folder)])
    assert code == 2 and "another configuration" in one_error_line(err)
    assert digest(cell.folder) == before
    assert sweep(tiny_tables, tmp_path, cell=cell.cell.name, log=None) == []  # not KeyError: 'config'


# ------------------------------------------------------------------------------------------ finished work
def test_a_finished_run_without_its_checkpoints_is_not_retrained(trained, tmp_path, capsys):
    out = copy_of(trained, tmp_path / "run")
    (out / "checkpoint.pt").unlink()
    (out / "checkpoint.pt.prev").unlink(missing_ok=True)
    before = digest(out)
    code, stdout, err = run(capsys, [*TRAIN, "--out", str(out)])
    assert code == 0 and "Traceback" not in err
    assert "epoch 1/1" not in stdout and not (out / "checkpoint.pt").exists()  # not retrained
    finished = [line for line in stdout.splitlines() if line.startswith("finished:")]
    assert len(finished) == 1 and "nothing was retrained or rewritten" in finished[0]
    assert str(out / "metrics.json") in finished[0]
    assert digest(out) == before


def test_a_finished_encoder_without_its_checkpoint_is_not_retrained(encoder_folder, tmp_path, tiny_fmnist_root):
    from rrlib.train.encoder import EncoderConfig, train_encoder
    from rrlib.train.run_folder import FinishedRunError

    out = copy_of(encoder_folder, tmp_path / "g")
    stored = json.loads((out / "metrics.json").read_text())
    (out / "checkpoint.pt").unlink()
    (out / "checkpoint.pt.prev").unlink(missing_ok=True)
    before = digest(out)
    with pytest.raises(FinishedRunError, match="nothing was retrained") as err:
        train_encoder(EncoderConfig(**stored["config"]), out, device="cpu", data_root=tiny_fmnist_root,
                      show_progress=False, callback=pytest.fail)
    assert err.value.metrics == stored and "\n" not in str(err.value)
    assert digest(out) == before


def test_an_empty_metrics_json_is_not_finished_work(tiny_tables, tmp_path):
    (cell,) = cell_states(tiny_tables, tmp_path)
    sweep(tiny_tables, tmp_path, log=None)
    good = json.loads((cell.folder / "metrics.json").read_text())
    (cell.folder / "metrics.json").write_bytes(b"")
    assert [s.state for s in cell_states(tiny_tables, tmp_path)] == ["partial"]  # not counted as done
    with pytest.warns(UserWarning, match=r"metrics.json is empty \(0 bytes\): not counted as a finished run"):
        assert sweep(tiny_tables, tmp_path, log=None) == [(cell.cell.name, "partial")]
    repaired = json.loads((cell.folder / "metrics.json").read_text())
    assert repaired["finished"] and repaired["history"] == good["history"]  # reloaded from its checkpoint
    assert [s.state for s in cell_states(tiny_tables, tmp_path)] == ["finished"]


def test_train_model_names_an_empty_metrics_json_in_one_line(trained, tmp_path, capsys):
    out = copy_of(trained, tmp_path / "run")
    (out / "metrics.json").write_bytes(b"")
    code, stdout, err = run(capsys, [*TRAIN, "--out", str(out)])
    assert code == 0 and "epoch 1/1" not in stdout  # its finished checkpoint is loaded
    warning = [line for line in err.splitlines() if "metrics.json" in line]
    assert len(warning) == 1 and warning[0].startswith("warning: ") and "is empty (0 bytes)" in warning[0]
    assert json.loads((out / "metrics.json").read_text())["finished"]


def test_estimate_mi_never_overwrites_another_estimate_and_reloads_the_same(trained, tmp_path, capsys, monkeypatch):
    result = tmp_path / "mi.json"
    base = ["estimate-mi", "--checkpoint", str(trained), *ESTIMATE, "--out", str(result)]
    assert run(capsys, base)[0] == 0
    before = result.read_bytes()

    def computed(*args, **kwargs):
        raise AssertionError("estimate-mi computed again")

    monkeypatch.setattr("rrlib.mi.checkpoint_estimate.estimate_runs", computed)
    other = [*base]
    other[other.index("--iterations") + 1] = "6"
    code, _, err = run(capsys, other)
    assert code == 2
    line = one_error_line(err)
    assert f"--out {result} holds a result of estimate-mi with another configuration" in line
    assert "estimator.iterations: 5 there, 6 asked" in line and "give another --out" in line
    assert result.read_bytes() == before
    code, stdout, _ = run(capsys, base)  # the same configuration: reloaded, not recomputed
    assert code == 0 and "reloaded, nothing recomputed" in stdout and "normal" in stdout
    assert result.read_bytes() == before


# ------------------------------------------------------------------------------------------ check before computing
def test_an_output_under_a_file_is_refused_before_anything_runs(trained, tmp_path, capsys, monkeypatch):
    blocker = tmp_path / "notes.txt"
    blocker.write_text("a file\n")

    def computed(*args, **kwargs):
        raise AssertionError("computed before the output was checked")

    code, stdout, err = run(capsys, [*TRAIN, "--out", str(blocker / "run")])
    assert code == 2 and "epoch" not in stdout
    assert f"{blocker} is a file" in one_error_line(err) and "--out" in err
    code, _, err = run(capsys, [*TRAIN, "--out", str(blocker)])
    assert code == 2 and "is a file, not a folder" in one_error_line(err)
    monkeypatch.setattr("rrlib.mi.checkpoint_estimate.estimate_runs", computed)
    code, _, err = run(capsys, ["estimate-mi", "--checkpoint", str(trained), *ESTIMATE, "--out",
                                str(blocker / "mi.json")])
    assert code == 2 and f"{blocker} is a file" in one_error_line(err)
    assert blocker.read_text() == "a file\n"


def test_a_full_disk_is_found_before_training(tmp_path, capsys, monkeypatch):
    import rrlib.train.run_folder as run_folder

    def full(fd, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(run_folder.os, "write", full)
    out = tmp_path / "run"
    code, stdout, err = run(capsys, [*TRAIN, "--out", str(out)])
    assert code == 2 and "epoch" not in stdout
    line = one_error_line(err)
    assert f"--out {out} cannot be written: the disk is full" in line
    assert not out.exists()  # the folder the check made is removed again


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0,
                    reason="root writes into a chmod 555 folder anyway, so a read-only folder cannot be made here")
def test_a_read_only_folder_is_found_before_training(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    out.chmod(0o555)
    try:
        code, stdout, err = run(capsys, [*TRAIN, "--out", str(out)])
        assert code == 2 and "epoch" not in stdout and "read-only" in one_error_line(err)
    finally:
        out.chmod(0o755)


# ------------------------------------------------------------------------------------------ sweep: config.json
@pytest.mark.parametrize("content, problem", [(b"{not json", "is not valid JSON"),
                                              (b'{"cell": "x", "kind": "supervised"}', "no 'config' entry"),
                                              (b"", "is empty")])
def test_a_broken_cell_config_json_is_one_line_naming_the_file(tiny_tables, tmp_path, capsys, content, problem):
    (cell,) = cell_states(tiny_tables, tmp_path)
    cell.folder.mkdir(parents=True)
    (cell.folder / "config.json").write_bytes(content)
    with pytest.raises(ValueError) as err:
        sweep(tiny_tables, tmp_path, log=None)
    message = str(err.value)
    assert "\n" not in message and str(cell.folder / "config.json") in message and problem in message
    assert "--out-root" in message
    assert (cell.folder / "config.json").read_bytes() == content
