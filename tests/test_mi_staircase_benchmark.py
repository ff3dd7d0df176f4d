"""benchmarks/mi_staircase.py's comparison with Song & Ermon's code: it runs and refuses bad input (no timing
is asserted). The peer's code is not part of this repository: the run test needs a checkout, found through
``RRBOOK_SMILE_PEER`` or at /work/shared/peers/smile-mi-estimator, and is skipped without one."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import pytest

from rrlib.book import REPO_ROOT

PEER = Path(os.environ.get("RRBOOK_SMILE_PEER", "/work/shared/peers/smile-mi-estimator"))


def _benchmark():
    path = REPO_ROOT / "benchmarks" / "mi_staircase.py"
    spec = importlib.util.spec_from_file_location("mi_staircase_benchmark", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bad_peer_path_and_flags_are_named(tmp_path, capsys):
    main = _benchmark().main
    with pytest.raises(SystemExit):
        main(["--peer", str(tmp_path), "--peer-only", "--quiet"])
    err = capsys.readouterr().err
    assert str(tmp_path) in err and "estimators.py, utils.py" in err
    with pytest.raises(SystemExit):
        main(["--peer-only"])
    assert "--peer-only needs --peer PATH" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--peer", str(tmp_path), "--peer-steps", "0"])
    assert "--peer-steps must be >= 1, got 0" in capsys.readouterr().err


@pytest.mark.skipif(not (PEER / "estimators.py").is_file(), reason="no smile-mi-estimator checkout")
def test_peer_comparison_runs_on_the_same_work(tmp_path, capsys):
    out = tmp_path / "peer.json"
    assert _benchmark().main(["--peer", str(PEER), "--peer-only", "--peer-steps", "1", "--batch", "8",
                              "--batched-critics", "--estimators", "dv,smile", "--quiet", "--json", str(out)]) == 0
    assert "ours/theirs" in capsys.readouterr().out
    (row,) = json.loads(out.read_text())["peer_comparison"]
    assert row["critic"] == "separable" and row["estimator"] == "smile" and row["hidden_layers"] == 2
    assert row["torch_threads"] == 1 and row["device"] == "cpu" and row["steps_each"] == 25
    assert set(row["ms_per_step"]) == {"ours", "theirs", "ours, stacked"} and row["ratio_ours_theirs"] > 0
