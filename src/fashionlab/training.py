"""One training run, from its composed config to a fitted model in its run folder: the task of src/train.py and of
fashionlab.api."""

from pathlib import Path

import lightning as L
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from fashionlab.module import Classifier
from fashionlab.monitor import log_dashboard, progress_bar
from fashionlab.resume import reopen_job_folder
from fashionlab.runfolder import Status, checkpoint, checkpoint_config, record_status


def task(cfg: DictConfig) -> float:
    """A run as Hydra launches it (src/train.py, or fashionlab.api in this process): continued from its checkpoint for
    `resume=`, or, in a sweep launched into its folder again, kept when finished and continued when stopped (see
    reopen_job_folder); else trained afresh. Returns the best validation accuracy, the objective for Hydra sweepers."""
    ckpt_path = None
    if cfg.resume:  # the run continues with its own config, stored in its checkpoint
        ckpt_path = checkpoint(cfg.resume)
        cfg = checkpoint_config(ckpt_path)
    elif HydraConfig.get().mode == RunMode.MULTIRUN:
        earlier = reopen_job_folder(Path(cfg.paths.output_dir), list(HydraConfig.get().overrides.task))
        if earlier.finished:
            return earlier.best_val_acc
        ckpt_path = earlier.checkpoint
    return float(train(cfg, ckpt_path).callback_metrics["val/acc_best"])


def train(cfg: DictConfig, ckpt_path: Path | None = None) -> L.Trainer:
    """Fit the configured model, or continue the run of `ckpt_path`; the run folder receives checkpoints, events,
    metrics.csv and summary.json. A run that fails before training starts records `failed` with the error."""
    try:
        L.seed_everything(cfg.seed, workers=True, verbose=False)
        datamodule = instantiate(cfg.data)
        datamodule.prepare_data()
        datamodule.setup("fit")  # bad data stops the run here, before any training
        module = Classifier(instantiate(cfg.model), instantiate(cfg.optimizer),
                            instantiate(cfg.scheduler, _convert_="all"), **cfg.module)
        # The resolved config travels inside every checkpoint: eval and resume rebuild everything from it.
        module.save_hyperparameters({"config": OmegaConf.to_container(cfg, resolve=True)}, logger=False)
        logger = instantiate(cfg.logger)
        callbacks = [instantiate(callback) for callback in cfg.callbacks.values()]
        if cfg.trainer.enable_progress_bar:
            callbacks.append(progress_bar())  # in place of Lightning's own, which would show the logger's version
        trainer = instantiate(cfg.trainer, logger=logger, callbacks=callbacks)
    except Exception as error:
        record_status(cfg.paths.output_dir, list(HydraConfig.get().overrides.task), Status.FAILED,
                      error=f"{type(error).__name__}: {error}")
        raise
    log_dashboard(logger, cfg, datamodule, first_session=ckpt_path is None)
    trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt_path, weights_only=True)
    return trainer
