"""Test-set evaluation of a checkpoint, shared by `src/eval.py` and the sweep report."""

from pathlib import Path

import lightning as L
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from fashionlab.module import Classifier


def run_config(ckpt_path: str | Path) -> DictConfig:
    """The resolved training config that src/train.py stores in every checkpoint."""
    checkpoint = torch.load(ckpt_path, map_location="cpu", weights_only=False)
    return OmegaConf.create(checkpoint["hyper_parameters"]["config"])


def evaluate_checkpoint(ckpt_path: str | Path, data_dir: str | None = None) -> dict[str, float]:
    """Rebuild the run's data and model from its config, load the weights, return test loss and accuracy."""
    cfg = run_config(ckpt_path)
    if data_dir is not None:
        cfg.data.data_dir = data_dir
    datamodule = instantiate(cfg.data)
    module = Classifier(instantiate(cfg.model))
    trainer = L.Trainer(accelerator="auto", devices=1, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False)
    (metrics,) = trainer.test(module, datamodule=datamodule, ckpt_path=str(ckpt_path), verbose=False)
    return {name: float(value) for name, value in metrics.items()}
