"""Per-step training DV of a worst-case (Eq. 5.4) encoder run, as one process or as one rank of torchrun.

``python [-m torch.distributed.run --nproc_per_node N] tests/_ddp_encoder_steps.py DATA_ROOT OUT_DIR JSON``: trains
one epoch of a tiny worst-case encoder (Algorithm 1 inside every step) and writes, from rank 0, the DV estimate of
every step (nats, before its update) to ``JSON``. Used by ``tests/test_distributed.py``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rrlib import distributed  # noqa: E402
from rrlib.train.encoder import EncoderConfig, train_encoder  # noqa: E402

CONFIG = EncoderConfig(dataset="fashion-mnist", train_subset=64, width=0.125, critic_hidden=16, epochs=1,
                       batch_size=16, lr=1e-3, estimator_loss="worst", heldout_batches=1)


def main(data_root: str, out_dir: str, json_path: str) -> None:
    device = distributed.init("cpu")
    steps: list[float] = []
    try:
        train_encoder(CONFIG, out_dir, resume=False, device=device, data_root=data_root, show_progress=False,
                      callback=lambda event: steps.append(float(event["dv"])))
        if distributed.is_main():
            Path(json_path).write_text(json.dumps(steps))
    finally:
        distributed.teardown()


if __name__ == "__main__":
    main(*sys.argv[1:4])
