"""What a run shows while it trains, in the terminal and in TensorBoard: Lightning's progress bar and TensorBoard logger
without what means nothing here, one `lr` tag whatever the optimizer, and the run's HPARAMS."""

import lightning as L
from lightning.pytorch import loggers
from lightning.pytorch.callbacks import TQDMProgressBar
from omegaconf import DictConfig
from torch.utils.tensorboard.summary import hparams

from fashionlab.dashboard import tensorboard_hparams


class ProgressBar(TQDMProgressBar):
    """Lightning's progress bar without `v_num`, the logger's version, which here is the run name and would show as
    its last four characters (`v_num: =sgd`). The way Lightning documents (ProgressBar.get_metrics)."""

    def get_metrics(self, trainer: L.Trainer, pl_module: L.LightningModule) -> dict:
        items = super().get_metrics(trainer, pl_module)
        items.pop("v_num", None)
        return items


class TensorBoardLogger(loggers.TensorBoardLogger):
    """Lightning's TensorBoard logger without the `epoch` scalar Lightning adds to each set of metrics it logs: in
    TensorBoard that is a chart of the epoch number and one more HPARAMS metric, and every chart's step axis already
    counts the updates."""

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        super().log_metrics({key: value for key, value in metrics.items() if key != "epoch"}, step)


def log_hparams(logger: loggers.Logger, cfg: DictConfig) -> None:
    """Write the run's HPARAMS (tensorboard_hparams) as a session without an experiment summary of its own.

    TensorBoard shows the experiment summary of one run it finds, so with one per run (what Lightning's
    log_hyperparams writes) the keys of the other runs, such as optimizer.momentum beside optimizer.betas, are
    missing. Without any, it builds the experiment from every run's session: the union of their keys, each run's
    scalars as metrics (val/acc_best among them)."""
    if isinstance(logger, loggers.TensorBoardLogger):
        _, session_start, _ = hparams(tensorboard_hparams(cfg), {})
        logger.experiment.file_writer.add_summary(session_start)



class LearningRateLogger(L.Callback):
    """Logs the learning rate under one tag whatever the optimizer, `lr` (`lr/pg1`, `lr/pg2`, ... for several
    parameter groups), so a sweep's runs share one chart; Lightning's LearningRateMonitor names it after the optimizer
    class (`lr-SGD`, `lr-Adam`). Under a per-step schedule at every logging step, else when each epoch starts."""

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not self._per_step(trainer):
            self._log(trainer)

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, batch, batch_idx: int) -> None:
        if self._per_step(trainer) and (trainer.global_step + 1) % trainer.log_every_n_steps == 0:
            self._log(trainer)

    @staticmethod
    def _per_step(trainer: L.Trainer) -> bool:
        return any(config.interval == "step" for config in trainer.lr_scheduler_configs)

    @staticmethod
    def _log(trainer: L.Trainer) -> None:
        groups = trainer.optimizers[0].param_groups
        values = {"lr": groups[0]["lr"]} if len(groups) == 1 else \
            {f"lr/pg{index}": group["lr"] for index, group in enumerate(groups, start=1)}
        for logger in trainer.loggers:
            logger.log_metrics(values, step=trainer.global_step)
