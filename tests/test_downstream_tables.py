"""Tables 1/3–5 experiment: the quick profile runs end to end with every row/head/column, a rerun trains and
attacks nothing, the constant-predictor detector, and clear errors for bad names."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
import torch
from torch import nn

import rrlib.experiments.downstream_tables as dt
import rrlib.grid.evaluation
import rrlib.train.jobs
import rrlib.train.supervised
from rrlib.experiments.downstream_tables import COLUMNS, HEADS, ROWS, TablesConfig, cells, prediction_shares, run

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("tables")
    config = replace(TablesConfig.quick(seed=0, device="cpu"), out_root=str(out))
    lines: list[str] = []
    return config, out, dt.collect(config, log=lines.append), lines


def test_quick_has_every_row_head_column(quick):
    config, _, result, lines = quick
    metrics = json.loads(json.dumps(result.metrics()))  # plain JSON
    assert metrics["units"] == "percent" and metrics["seeds"] == [0, 1]
    for row in ROWS:
        for head in HEADS:
            cell = metrics["table"][row][head]
            for col in COLUMNS:
                assert len(cell[col]["values"]) == 2
                assert 0.0 <= cell[col]["mean"] <= 100.0 and cell[col]["std"] >= 0.0
            assert cell["paper"]["natural"] and len(cell["majority_share"]) == 2
            assert all(a["pgd"] <= a["natural"] + 1e-9 for a in cell["autoattack_images"])
    assert set(metrics["flags"]) == {"constant_predictor", "equal_natural_adversarial_zero_std",
                                     "pgd_exceeds_autoattack_by_5_points"}
    assert len(lines) == len(cells(config)) == 2 * (2 + 4 * 2 + 2 * 2)
    assert all(t["trained_this_run"] for t in metrics["timings"].values())
    prov = result.provenance
    assert prov["machine"]["cpu_count"] and prov["wall_seconds_total"] > 0 and prov["seeds"] == [0, 1]
    assert set(prov["wall_seconds_per_cell"]) == {c.name for c in cells(config)}


def test_es_row_is_the_standard_run_best_head(quick):
    _, _, result, _ = quick
    for head in HEADS:
        es = result.scores["ours/standard_es"][head]
        std = result.scores["ours/standard"][head]
        assert [e["cell"] for e in es] == [s["cell"] for s in std]
        assert {e["which"] for e in es} == {"best"} and {s["which"] for s in std} == {"final"}


def test_second_run_trains_and_attacks_nothing(quick, monkeypatch):
    config, out, first, _ = quick

    def refuse(*args, **kwargs):
        raise AssertionError("a finished cell was recomputed")

    for module in (rrlib.train.jobs, rrlib.train.supervised):  # the jobs' training loaders, the supervised evaluation
        monkeypatch.setattr(module, "make_loader", refuse)
    monkeypatch.setattr(rrlib.grid.evaluation, "robustness_report", refuse)
    again = run(config)
    assert not any(t["trained_this_run"] for t in again.timings.values())
    assert all(t["eval_seconds_this_run"] == 0.0 for t in again.timings.values())
    a, b = first.metrics(), again.metrics()
    assert a["table"] == b["table"] and a["flags"] == b["flags"]


class Constant(nn.Module):
    def __init__(self, cls: int) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(10))
        self.cls = cls

    def forward(self, x):
        return self.bias + 5.0 * nn.functional.one_hot(torch.tensor(self.cls), 10).float().expand(x.shape[0], 10)


def test_constant_predictor_detected():
    x = torch.rand(40, 1, 28, 28)
    shares = prediction_shares(Constant(3), x, 10)
    assert shares[3] == 1.0 and sum(shares) == pytest.approx(1.0)
    entry = {"seed": 0, "natural": 10.0, "adversarial": 10.0, "autoattack": 10.0, "majority_class": 3,
             "majority_share": shares[3], "class_shares": shares, "autoattack_images": None}
    varied = dict(entry, majority_share=0.4, natural=50.0, adversarial=20.0, autoattack=5.0)
    result = dt.TablesResult(TablesConfig.quick(), {"hjelm/robust": {"linear": [entry, dict(entry, seed=1)],
                                                                      "mlp": [varied, dict(varied, seed=1)]}})
    metrics = result.metrics()
    assert metrics["flags"]["constant_predictor"] == ["hjelm/robust/linear"]
    assert metrics["flags"]["equal_natural_adversarial_zero_std"] == ["hjelm/robust/linear"]
    assert metrics["table"]["hjelm/robust"]["linear"]["natural"] == {"mean": 10.0, "std": 0.0, "values": [10.0, 10.0]}


def test_pgd_autoattack_gap_flag():
    same = {"n": 10, "natural": 80.0, "pgd": 60.0, "autoattack": 40.0}
    entry = {"seed": 0, "natural": 80.0, "adversarial": 60.0, "autoattack": 40.0, "majority_class": 0,
             "majority_share": 0.2, "class_shares": [0.1] * 10, "autoattack_images": same}
    metrics = dt.TablesResult(TablesConfig.quick(), {"ours/robust": {"mlp": [entry]}}).metrics()
    assert metrics["flags"]["pgd_exceeds_autoattack_by_5_points"] == ["ours/robust/mlp"]
    assert metrics["table"]["ours/robust"]["mlp"]["pgd_minus_autoattack_same_images"] == 20.0


def test_bad_names_and_profiles():
    with pytest.raises(ValueError, match=r"rows must be distinct names from .*unknown: \['ours/es'\]"):
        TablesConfig(rows=("ours/es",))
    with pytest.raises(ValueError, match=r"heads must be distinct names"):
        TablesConfig(heads=("resnet",))
    with pytest.raises(ValueError, match=r"no downstream table in the paper"):
        TablesConfig(dataset="digits")
    with pytest.raises(ValueError, match=r"unknown dataset 'imagenet'"):
        TablesConfig(dataset="imagenet")
    with pytest.raises(ValueError, match=r"seeds must be distinct"):
        TablesConfig(seeds=(0, 0))
    full = TablesConfig.full(seed=0, dataset="cifar10")
    assert full.seeds == (0, 1, 2, 3) and full.width == 1.0 and full.critic_hidden == 2048
    assert full.encoder_epochs == 300 and full.head_epochs == 500 and full.encoder_train_subset is None
    assert len(TablesConfig.medium().seeds) >= 2
    only = TablesConfig.quick(device="cpu")
    sub = cells(TablesConfig(**{**only.__dict__, "rows": ("ours/standard_es",), "heads": ("linear",)}))
    assert [c.kind for c in sub] == ["encoder", "head", "encoder", "head"]


def test_save_and_copy_results(quick, tmp_path):
    config, _, result, _ = quick
    src = dt.save_json(result, tmp_path / "run.json")
    saved = json.loads(src.read_text())
    assert saved["provenance"]["config"]["seeds"] == [0, 1] and saved["metrics"]["table"]
    dest = dt.copy_results(src, tmp_path / "results" / "table.json")
    assert json.loads(dest.read_text()) == saved
    partial = dict(saved["metrics"]["table"]["ours/robust"]["mlp"]["natural"], values=[1.0])
    saved["metrics"]["table"]["ours/robust"]["mlp"]["natural"] = partial
    (tmp_path / "partial.json").write_text(json.dumps(saved))
    with pytest.raises(ValueError, match=r"ours/robust/mlp has 1 of 2 seeds; the run is not finished"):
        dt.copy_results(tmp_path / "partial.json", tmp_path / "no.json")


def test_copy_with_histories_and_weights_export(quick, tmp_path):
    """The committed medium results carry the encoders' per-epoch histories and the first seed's weights; both
    come from the finished cells, and the exported state dicts load into fresh modules with equal outputs."""
    from rrlib.models import build_model
    from rrlib.train.encoder import load_encoder

    config, out, result, _ = quick
    src = dt.save_json(result, tmp_path / "run.json")
    dest = dt.copy_results(src, tmp_path / "table.json", out)
    encoders = json.loads(dest.read_text())["encoders"]
    assert set(encoders) == {"normal", "worst"} and set(encoders["worst"]) == {"seed0", "seed1"}
    assert [h["epoch"] for h in encoders["worst"]["seed0"]["history"]] == list(range(1, config.encoder_epochs + 1))
    written = dt.export_weights(config, out, tmp_path / "weights", seed=0)
    assert set(written) == {"normal", "worst", "head_normal", "head_worst", "standard", "robust"}
    enc_cell = next(c for c in cells(config) if c.name == "encoder/worst/seed0")
    trained = load_encoder(out / enc_cell.path)
    saved = torch.load(written["worst"], weights_only=False)
    assert all(torch.equal(saved["encoder"][k], v) for k, v in trained.encoder.state_dict().items())
    sup = torch.load(written["robust"], weights_only=False)
    model = build_model("baseline_h", dataset=config.dataset, width=config.width, head="mlp")
    model.load_state_dict(sup["model"])
    assert sup["config"]["adversarial"] and sup["config"]["eps"] == pytest.approx(0.1)


def test_trials_reuses_finished_seeds_and_refuses_zero(quick, tmp_path, capsys):
    _, out, _, _ = quick
    dest = tmp_path / "seed1.json"
    dt.main(["run", "--profile", "quick", "--seed", "1", "--trials", "1", "--device", "cpu", "--out-root", str(out),
          "--json", str(dest)])
    data = json.loads(dest.read_text())
    assert data["metrics"]["seeds"] == [1] and "--trials 1" in data["provenance"]["command"]
    assert not any(t["trained_this_run"] for t in data["metrics"]["timings"].values())
    with pytest.raises(SystemExit):
        dt.main(["run", "--profile", "quick", "--trials", "0", "--out-root", str(out), "--json", str(dest)])
    assert "--trials must be a positive integer, got 0" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------- rows beyond the paper
@pytest.fixture(scope="module")
def beyond(quick):
    """The quick profile's rows beyond the paper (worst-case InfoNCE, adversarial contrastive), trained into the
    paper rows' out-root: the two runs share no cell."""
    from rrlib.grid.config import BEYOND_ROWS

    config = replace(quick[0], rows=BEYOND_ROWS)
    return config, dt.collect(config, log=None)


def test_beyond_rows_are_scored_like_the_papers(beyond):
    from rrlib.grid.config import BEYOND_ROWS
    from rrlib.train.encoder import ContrastiveConfig

    config, result = beyond
    encoders = [c for c in cells(config) if c.kind == "encoder"]
    assert [c.name for c in encoders] == [f"encoder/{loss}/seed{s}" for s in (0, 1)
                                          for loss in ("worst-infonce", "adv-contrastive")]
    assert all(isinstance(c.config, ContrastiveConfig) == (c.loss == "adv-contrastive") for c in encoders)
    metrics = json.loads(json.dumps(result.metrics()))
    assert list(metrics["table"]) == list(BEYOND_ROWS)
    for row in BEYOND_ROWS:
        for head in HEADS:
            cell = metrics["table"][row][head]
            assert cell["paper"] is None and all(len(cell[col]["values"]) == 2 for col in COLUMNS)
    for rep in ("infonce", "contrastive"):
        for head in HEADS:
            es, std = result.scores[f"{rep}/standard_es"][head], result.scores[f"{rep}/standard"][head]
            assert [e["cell"] for e in es] == [s["cell"] for s in std]
            assert {e["which"] for e in es} == {"best"} and {s["which"] for s in std} == {"final"}


def test_added_rows_grow_the_committed_table_and_leave_its_rows_as_they_were(quick, beyond, tmp_path, capsys):
    from rrlib.grid.config import ALL_ROWS

    config, out, paper_result, _ = quick
    dest = dt.copy_results(dt.save_json(paper_result, tmp_path / "paper.json"), tmp_path / "table.json", out)
    before = json.loads(dest.read_text())
    src = dt.save_json(beyond[1], tmp_path / "beyond.json")
    merged = json.loads(dt.add_rows(src, dest, out).read_text())
    assert merged["metrics"]["config"]["rows"] == list(ALL_ROWS)
    for row in before["metrics"]["table"]:
        assert merged["metrics"]["table"][row] == before["metrics"]["table"][row]
    assert merged["provenance"] == before["provenance"]
    assert merged["added_rows"][0]["rows"] == list(beyond[0].rows)
    assert set(merged["encoders"]) == {"normal", "worst", "worst-infonce", "adv-contrastive"}
    assert merged["encoders"]["worst"] == before["encoders"]["worst"]
    assert TablesConfig.from_recorded(merged["metrics"]["config"]).rows == ALL_ROWS
    # what chapter 08 and the report read: the paper's rows, exactly as before the addition
    paper_view = dt.rows_view(merged["metrics"], "paper")
    for key in ("table", "row_labels", "flags", "config"):
        assert paper_view[key] == before["metrics"][key], key
    assert list(dt.rows_view(merged["metrics"], "beyond")["table"]) == list(beyond[0].rows)
    # the merged configuration names every cell of both runs, all finished in ``out``: the weights are the paper's
    written = dt.export_weights(TablesConfig.from_recorded(merged["metrics"]["config"]), out, tmp_path / "w", seed=0)
    assert set(written) == {"normal", "worst", "head_normal", "head_worst", "standard", "robust"}

    # refused, writing nothing: rows already there; another configuration (named by its field)
    text = dest.read_text()
    with pytest.raises(ValueError, match=r"already holds the rows \['contrastive/robust'"):
        dt.add_rows(src, dest)
    other = json.loads(src.read_text())
    other["metrics"]["config"]["head_lr"] = 0.5
    (tmp_path / "other.json").write_text(json.dumps(other))
    fresh = dt.copy_results(tmp_path / "paper.json", tmp_path / "fresh.json")
    assert dt.main(["copy", str(tmp_path / "other.json"), str(fresh), "--add-rows"]) == 2
    assert "head_lr = 0.5 but" in capsys.readouterr().err
    assert dest.read_text() == text
    assert json.loads(fresh.read_text()) == json.loads((tmp_path / "paper.json").read_text())
