"""One training run, from its composed config to a fitted model in its run folder (src/train.py's work)."""

from pathlib import Path

import lightning as L
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from fashionlab.module import Classifier
from fashionlab.monitor import ProgressBar, log_dashboard
from fashionlab.runfolder import Status, record_status


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
            callbacks.append(ProgressBar())  # in place of Lightning's own, which would show the logger's version
        trainer = instantiate(cfg.trainer, logger=logger, callbacks=callbacks)
    except Exception as error:
        record_status(cfg.paths.output_dir, list(HydraConfig.get().overrides.task), Status.FAILED,
                      error=f"{type(error).__name__}: {error}")
        raise
    log_dashboard(logger, cfg, datamodule, first_session=ckpt_path is None)
    trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt_path, weights_only=True)
    return trainer
