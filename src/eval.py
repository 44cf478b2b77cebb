"""Evaluate one checkpoint on the test set: `python src/eval.py ckpt_path=outputs/.../checkpoints/best.ckpt`.

Use it once, for the model chosen on validation; choosing among models by this number would bias it.
"""

import json
import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig

from fashionlab.runfolder import CheckpointError


@hydra.main(version_base="1.3", config_path="../conf", config_name="eval")
def main(cfg: DictConfig) -> None:
    # Imported here, once the checkpoint has passed fashionlab.preflight: --help and a missing or bad ckpt_path are
    # answered without the seconds torch and Lightning take to import.
    from fashionlab.data import DataError
    from fashionlab.evaluation import evaluate_checkpoint

    try:
        metrics = {"ckpt_path": cfg.ckpt_path, **evaluate_checkpoint(cfg.ckpt_path, cfg.data_dir)}
    except (CheckpointError, DataError) as error:
        sys.exit(f"error: {error}")
    Path(cfg.output_dir, "test_metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    print(json.dumps(metrics))


if __name__ == "__main__":
    main()
