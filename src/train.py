"""Train one MLP: `python src/train.py [key=value ...]`; sweep with `-m`, e.g. `python src/train.py -m optimizer=sgd,adam`.

Continue an interrupted run in its own folder: `python src/train.py resume=outputs/runs/<date>/<time>`.
"""

import sys
from pathlib import Path

import hydra
import lightning as L
from hydra.utils import instantiate
from lightning.pytorch.utilities.exceptions import SIGTERMException
from omegaconf import DictConfig, OmegaConf

from fashionlab.config import checkpoint_config
from fashionlab.dashboard import log_hparams
from fashionlab.data import DataError
from fashionlab.module import Classifier


def train(cfg: DictConfig) -> L.Trainer:
    """Fit the configured model; the run folder receives checkpoints, events, metrics.csv and summary.json."""
    ckpt_path = None
    if cfg.resume:  # the run continues with its own config, stored in its checkpoint
        ckpt_path = Path(cfg.resume, "checkpoints", "last.ckpt")
        cfg = checkpoint_config(ckpt_path)
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    datamodule = instantiate(cfg.data)
    datamodule.prepare_data()
    datamodule.setup("fit")  # bad data stops the run here, before any training
    module = Classifier(instantiate(cfg.model), instantiate(cfg.optimizer), instantiate(cfg.scheduler, _convert_="all"),
                        **cfg.module)
    # The resolved config travels inside every checkpoint: eval and resume rebuild everything from it.
    module.save_hyperparameters({"config": OmegaConf.to_container(cfg, resolve=True)}, logger=False)
    logger = instantiate(cfg.logger)
    trainer = instantiate(cfg.trainer, logger=logger, callbacks=[instantiate(c) for c in cfg.callbacks.values()])
    log_hparams(logger, cfg)
    trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt_path)
    return trainer


@hydra.main(version_base="1.3", config_path="../conf", config_name="train")
def main(cfg: DictConfig) -> float:
    """Returns the best validation accuracy, the objective for Hydra sweepers."""
    try:
        return float(train(cfg).callback_metrics["val/acc_best"])
    except DataError as error:
        sys.exit(f"error: {error}")
    except SIGTERMException:
        sys.exit(143)  # Lightning saved what it could; exit as a process ended by SIGTERM


if __name__ == "__main__":
    main()
