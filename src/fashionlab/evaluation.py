"""Test-set evaluation of a checkpoint, shared by `src/eval.py` and the sweep report."""

import warnings
from pathlib import Path

import lightning as L
from hydra.utils import instantiate

from fashionlab.runfolder import checkpoint_config
from fashionlab.data import CLASS_NAMES
from fashionlab.quiet import quiet


@quiet()
def evaluate_checkpoint(ckpt_path: str | Path, data_dir: str | None = None) -> dict:
    """Rebuild the run's data and model from its config, load the weights, and measure the test set in one pass.

    Returns `test/loss`, `test/acc`, `test/per_class_acc` (class name -> share of that class's test images
    classified correctly) and `test/confusion_matrix` (rows: true class, columns: predicted, in CLASS_NAMES order).
    """
    cfg = checkpoint_config(ckpt_path)
    if data_dir is not None:
        cfg.data.data_dir = data_dir
    datamodule = instantiate(cfg.data)
    module = instantiate(cfg.module)  # test-time augmentation as in validation
    trainer = L.Trainer(accelerator="auto", devices=1, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False)
    with warnings.catch_warnings():  # Lightning asks for the training callbacks to restore their state; testing has none
        warnings.filterwarnings("ignore", ".*callbacks used to create the checkpoint need to be provided.*")
        (metrics,) = trainer.test(module, datamodule=datamodule, ckpt_path=str(ckpt_path), verbose=False,
                                   weights_only=True)
    confusion = module.test_confusion.compute().cpu()
    per_class = confusion.diagonal() / confusion.sum(dim=1).clamp(min=1)
    return {
        **{name: float(value) for name, value in metrics.items()},
        "test/per_class_acc": dict(zip(CLASS_NAMES, per_class.tolist())),
        "test/confusion_matrix": confusion.tolist(),
    }
