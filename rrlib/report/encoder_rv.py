"""Fresh-critic normal MI, worst-case MI and RV of the committed medium run's encoders (§5's claim).

Chapter 07 judges its own two encoders with *fresh* critics (Definition 3.1 measured the book's way, chapter 05):
:func:`rrlib.mi.worst_case.representation_vulnerability` trains a new :class:`rrlib.train.encoder.PixelCritic` on
the frozen encoder, once on clean batches (normal MI) and once against Algorithm 1's adversary (worst-case MI),
and scores it on held-out test images. The critics trained jointly with the encoders are a biased judge of them
(the DIM encoder's critic never sees an attacked batch), so §5's claim "the worst-case encoder's RV is smaller" is
judged on these numbers, not on the training logs. This module runs that same judge on every encoder of the medium
run (4 seeds × DIM / worst-case) and writes a small JSON with provenance (:data:`RESULT_PATH`, committed); the
report reads it with :func:`load_result` and says "not yet measured" while it does not exist.

Design: every encoder is judged on the same ``rv_train`` training and ``rv_test`` test images (unstratified,
drawn with seeds 1 and 0 as chapter 07 draws them for seed 0) with the same critic seed, so the DIM and worst-case
encoders of one seed differ only in their training objective (they share the training subset, batch order and
initial weights, :mod:`rrlib.train.encoder`): the comparison is paired by seed. One critic seed per encoder: the
unit of replication is the trained encoder, not the critic. Each encoder's result is cached next to the output as
it finishes (``<out>.partial/<loss>-seed<k>.json``), so an interrupted run resumes. MI in nats.

Command line::

    RRBOOK_THREADS=1 python -m rrlib.report.encoder_rv --encoders /path/to/out/encoders \\
        --out results/encoders_medium_fresh_critic.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rrlib.grid.committed import REPO_ROOT
from rrlib.mi.plausibility import check_estimates

__all__ = ["RESULT_PATH", "JudgeSettings", "encoder_folders", "finished", "load_result", "main", "measure",
           "paired_values"]

#: The committed result the report reads.
RESULT_PATH = REPO_ROOT / "results" / "encoders_medium_fresh_critic.json"


@dataclass(frozen=True)
class JudgeSettings:
    """Algorithm 2's settings for every encoder: ``iterations`` critic steps of batch ``batch_size`` at Adam ``lr``
    (best held-out iterate on ``rv_test`` test images, ``test_batches`` of them per evaluation), ``rv_train`` training
    images, one critic per entry of ``critic_seeds``; the critic's width is the encoder's own critic width."""

    iterations: int = 400
    batch_size: int = 128
    lr: float = 5e-4
    rv_train: int = 10000
    rv_test: int = 1024
    test_batches: int | None = None
    critic_seeds: tuple[int, ...] = (0,)
    dataset: str = "fashion-mnist"


def encoder_folders(root: str | Path) -> dict[tuple[str, int], Path]:
    """The encoder run folders under ``root`` (``<loss>-seed<k>-<hash>``, as the tables experiment names them; the
    loss may hold hyphens, ``worst-infonce-seed0-…``): ``(loss, seed) → folder``."""
    out: dict[tuple[str, int], Path] = {}
    for folder in sorted(Path(root).iterdir()):
        parts = folder.name.split("-")
        at = next((i for i, part in enumerate(parts) if i and part.startswith("seed") and part[4:].isdigit()), None)
        if folder.is_dir() and at is not None:
            out[("-".join(parts[:at]), int(parts[at][4:]))] = folder
    return out


def _one(key: tuple[str, int], folder: Path, settings: JudgeSettings, x_train: Any, x_test: Any,
         device: Any) -> dict[str, Any]:
    from rrlib.mi.worst_case import EstimatorConfig, representation_vulnerability
    from rrlib.train.encoder import PixelCritic, load_encoder

    start = time.perf_counter()
    res = load_encoder(folder, device=device)
    cfg = res.config
    if (cfg.estimator_loss, cfg.seed) != key:
        raise ValueError(f"{folder} holds the {cfg.estimator_loss} encoder of seed {cfg.seed}, not the {key[0]} "
                         f"encoder of seed {key[1]} that its name says")
    estimator = EstimatorConfig(iterations=settings.iterations, batch_size=settings.batch_size, lr=settings.lr,
                                test_batches=settings.test_batches)
    vul = representation_vulnerability(
        res.encoder.eval(), lambda: PixelCritic(cfg.dataset, z_dim=cfg.rep_dim, hidden=cfg.critic_hidden).to(device),
        x_train, x_test, threat=cfg.threat(), config=estimator, seeds=settings.critic_seeds)
    normal, worst = vul.normal.tolist(), vul.worst.tolist()
    return {"loss": cfg.estimator_loss, "seed": cfg.seed, "folder": folder.name, "normal": normal, "worst": worst,
            "rv": [n - w for n, w in zip(normal, worst, strict=True)],
            "impossible": [check_estimates(n, w).impossible for n, w in zip(normal, worst, strict=True)],
            "seconds": time.perf_counter() - start}


def finished(folder: Path) -> bool:
    """Whether the encoder run in ``folder`` has finished training (its ``metrics.json`` says so)."""
    try:
        return bool(json.loads((Path(folder) / "metrics.json").read_text()).get("finished"))
    except (OSError, ValueError, AttributeError):
        return False


def measure(folders: Mapping[tuple[str, int], Path], settings: JudgeSettings = JudgeSettings(), *,
            device: str = "cpu", data_root: str | None = None, cache: Path | None = None,
            log: Any = print) -> list[dict[str, Any]]:
    """The fresh-critic judge on every encoder of ``folders`` (``(loss, seed) → run folder``), in seed order;
    with ``cache`` a finished encoder's record is written there and reloaded on the next call. (To judge encoders
    while others still train, pass only the :func:`finished` ones and call again later: the cache keeps the rest.)"""
    from rrlib.data import load_dataset, subset
    from rrlib.runtime import select_device

    dev = select_device(device)
    train = load_dataset(settings.dataset, "train", root=data_root)
    test = load_dataset(settings.dataset, "test", root=data_root)
    x_train = subset(train, settings.rv_train, 1, stratified=False).tensors()[0].to(dev)
    x_test = subset(test, settings.rv_test, 0, stratified=False).tensors()[0].to(dev)
    records = []
    for (loss, seed) in sorted(folders, key=lambda k: (k[1], k[0])):
        path = None if cache is None else cache / f"{loss}-seed{seed}.json"
        if path is not None and path.exists():
            records.append(json.loads(path.read_text()))
            continue
        record = _one((loss, seed), folders[(loss, seed)], settings, x_train, x_test, dev)
        log(f"{loss} seed {seed}: normal {record['normal']}, worst {record['worst']} ({record['seconds']:.0f} s)")
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(record))
        records.append(record)
    return records


def load_result(path: str | Path = RESULT_PATH) -> dict[str, Any] | None:
    """The committed fresh-critic result, or ``None`` while it has not been measured."""
    path = Path(path)
    return json.loads(path.read_text()) if path.exists() else None


def paired_values(result: Mapping[str, Any], quantity: str) -> tuple[list[int], dict[str, list[float]],
                                                                     list[str]]:
    """``(seeds, {loss: per-seed value}, impossible)`` of ``quantity`` (``normal``, ``worst`` or ``rv``; the mean
    over critic seeds of each encoder) for the seeds that have both losses; ``impossible`` names every encoder with
    an impossible estimate (negative worst-case MI or RV above the normal MI), which no verdict may use."""
    by = {(r["loss"], r["seed"]): r for r in result["encoders"]}
    seeds = sorted({s for (_, s) in by if ("normal", s) in by and ("worst", s) in by})
    values = {loss: [sum(by[(loss, s)][quantity]) / len(by[(loss, s)][quantity]) for s in seeds]
              for loss in ("normal", "worst")}
    impossible = [f"{loss} seed {s}" for s in seeds for loss in ("normal", "worst") if any(by[(loss, s)]["impossible"])]
    return seeds, values, impossible


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rrlib.report.encoder_rv", description=__doc__.split("\n\n")[0])
    parser.add_argument("--encoders", required=True, help="folder holding the medium run's encoder run folders")
    parser.add_argument("--out", default=str(RESULT_PATH), help="the JSON to write")
    parser.add_argument("--iterations", type=int, default=JudgeSettings.iterations)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--expect", type=int, default=8,
                        help="encoders the result must hold (default 8: 4 seeds x DIM / worst-case); with fewer "
                             "finished, the finished ones are measured into the cache and nothing is written")
    args = parser.parse_args(argv)
    from rrlib.provenance import provenance
    from rrlib.runtime import configure_threads

    configure_threads()
    settings = JudgeSettings(iterations=args.iterations)
    out = Path(args.out)
    start = time.perf_counter()
    folders = encoder_folders(args.encoders)
    done = {key: folder for key, folder in folders.items() if finished(folder)}
    records = measure(done, settings, device=args.device, data_root=args.data_root,
                      cache=out.with_name(out.name + ".partial"))
    if len(records) < args.expect:
        print(f"{len(records)} of {args.expect} encoders measured (the rest have not finished training); "
              f"nothing written to {out}")
        return 2
    prov = provenance(settings, timings={f"{r['loss']}/seed{r['seed']}": r["seconds"] for r in records},
                      total_seconds=time.perf_counter() - start, device=args.device)
    prov["note"] = ("wall_seconds_total counts this invocation only; encoders reloaded from the .partial cache keep "
                    "the seconds of the invocation that measured them")
    payload = {"settings": asdict(settings), "units": "nats", "encoders": records, "provenance": prov}
    out.write_text(json.dumps(payload, indent=1) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
