"""Train one MLP: `python src/train.py [key=value ...]`; sweep with `-m`, e.g. `python src/train.py -m optimizer=sgd,adam`.

Continue an interrupted run in its own folder: `python src/train.py resume=outputs/runs/<date>/<time>`, or a whole
sweep: `python src/train.py -m resume=outputs/multirun/<date>/<time>`.
"""

import sys
from pathlib import Path

import hydra
import lightning as L
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from hydra.utils import instantiate
from lightning.pytorch.utilities.exceptions import SIGTERMException
from omegaconf import DictConfig, OmegaConf

from fashionlab.config import ConfigError, register_resolvers
from fashionlab.dashboard import log_hparams
from fashionlab.data import DataError
from fashionlab.module import Classifier
from fashionlab.resume import reopen_job_folder, resume_command
from fashionlab.runfolder import (CheckpointError, RunFolderError, Status, checkpoint, checkpoint_config,
                                  record_interrupted, record_status)
from fashionlab.shutdown import ignore_sigint_in_workers, leave_interrupted, stop_on_sigterm_while_setting_up


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
        trainer = instantiate(cfg.trainer, logger=logger, callbacks=[instantiate(c) for c in cfg.callbacks.values()])
    except Exception as error:
        record_status(cfg.paths.output_dir, list(HydraConfig.get().overrides.task), Status.FAILED,
                      error=f"{type(error).__name__}: {error}")
        raise
    log_hparams(logger, cfg)
    trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt_path, weights_only=True)
    return trainer


@hydra.main(version_base="1.3", config_path="../conf", config_name="train")
def main(cfg: DictConfig) -> float:
    """Returns the best validation accuracy, the objective for Hydra sweepers."""
    register_resolvers()  # again: a sweep's worker process starts here, not in the block below
    ignore_sigint_in_workers()
    stop_on_sigterm_while_setting_up()
    output_dir, overrides = Path(cfg.paths.output_dir), list(HydraConfig.get().overrides.task)
    ckpt_path = None
    try:
        if cfg.resume:  # the run continues with its own config, stored in its checkpoint
            ckpt_path = checkpoint(cfg.resume)
            cfg = checkpoint_config(ckpt_path)
        elif HydraConfig.get().mode == RunMode.MULTIRUN:  # a sweep launched into its folder again continues
            earlier = reopen_job_folder(output_dir, overrides)
            if earlier.finished:
                return earlier.best_val_acc
            ckpt_path = earlier.checkpoint
        return float(train(cfg, ckpt_path).callback_metrics["val/acc_best"])
    except (DataError, CheckpointError, ConfigError, RunFolderError) as error:
        sys.exit(f"error: {error}")
    except SIGTERMException:  # Lightning saved what it could, or the run was still setting up
        record_interrupted(output_dir, overrides)
        leave_interrupted(143)  # exit as a process ended by SIGTERM


if __name__ == "__main__":
    register_resolvers()
    try:
        sys.argv = resume_command(sys.argv)  # `resume=<folder>`: the run's folder, or the sweep's own command
    except ConfigError as error:
        sys.exit(f"error: {error}")
    main()
