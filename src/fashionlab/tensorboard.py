"""What TensorBoard shows of a run beyond Lightning's scalars: the logger (without its `epoch` scalar), one `lr` tag
whatever the optimizer, and, written before the fit, the run's HPARAMS, the CUSTOM SCALARS layout and one training
image per class. Run names and what HPARAMS lists beside the core knobs come from what varies across the sweep
(fashionlab.varying)."""

from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch import loggers
from omegaconf import DictConfig, OmegaConf
from torch import Tensor
from torch.utils.tensorboard.summary import hparams

from fashionlab.data import CLASS_NAMES
from fashionlab.overrides import target_name
from fashionlab.varying import read_varying

_ABSENT = object()


class TensorBoardLogger(loggers.TensorBoardLogger):
    """Lightning's TensorBoard logger without the `epoch` scalar Lightning adds to each set of metrics it logs: in
    TensorBoard that is a chart of the epoch number and one more HPARAMS metric, and every chart's step axis already
    counts the updates."""

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        super().log_metrics({key: value for key, value in metrics.items() if key != "epoch"}, step)


def class_samples_grid(images: Tensor, labels: Tensor, columns: int = 2) -> Tensor:
    """The sheet's 5x2 grid as one (1, H, W) image in [0, 1]: the first image of each class, row by row (0 1 / 2 3 /
    ...), black where a class is absent. Drawn without matplotlib, which would add a quarter second to every start."""
    tiles = torch.zeros(len(CLASS_NAMES), *images.shape[-2:], device=images.device)
    for label in range(len(CLASS_NAMES)):
        matches = (labels == label).nonzero()
        if len(matches):
            tile = images[int(matches[0])].reshape(images.shape[-2:]).float()
            tiles[label] = (tile - tile.min()) / (tile.max() - tile.min()).clamp(min=1e-6)
    rows = tiles.reshape(-1, columns, *tiles.shape[1:])  # (rows, columns, H, W)
    return rows.permute(0, 2, 1, 3).reshape(1, rows.shape[0] * tiles.shape[1], columns * tiles.shape[2]).cpu()


def log_overview(logger: loggers.Logger, cfg: DictConfig, datamodule: L.LightningDataModule, first_session: bool) -> None:
    """Write, before the fit, what TensorBoard shows of the run beside its scalars: HPARAMS, the CUSTOM SCALARS
    layout and, in the run's first session (not again when it is resumed), one training image per class. Here, once
    per session, rather than in a callback: Lightning calls every callback at every step."""
    if not isinstance(logger, loggers.TensorBoardLogger):
        return
    # HPARAMS (tensorboard_hparams) as a session without an experiment summary of its own. TensorBoard shows the
    # experiment summary of one run it finds, so with one per run (what Lightning's log_hyperparams writes) the keys
    # of the other runs, such as optimizer.momentum beside optimizer.betas, are missing. Without any, it builds the
    # experiment from every run's session: the union of their keys, each run's scalars as metrics (val/acc_best
    # among them).
    _, session_start, _ = hparams(tensorboard_hparams(cfg), {})
    logger.experiment.file_writer.add_summary(session_start)
    # CUSTOM SCALARS: train and val on one chart, for loss and for accuracy. The tags are regular expressions:
    # anchored, so that val/acc does not also draw val/acc_best.
    logger.experiment.add_custom_scalars({"train vs val": {
        "loss": ["Multiline", ["^train/loss$", "^val/loss$"]],
        "accuracy": ["Multiline", ["^train/acc$", "^val/acc$"]],
    }})
    # IMAGES: one training image per class, named in the TEXT tab.
    train = getattr(datamodule, "splits", {}).get("train")
    if train is not None and first_session:
        logger.experiment.add_image("data/class_samples", class_samples_grid(train.images, train.labels))
        names = ", ".join(f"{label} {name}" for label, name in enumerate(CLASS_NAMES))
        logger.experiment.add_text("data/class_samples", f"one training image per class, row by row: {names}")


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


def shown(value: Any) -> bool | int | float | str:
    """A config value as TensorBoard's HPARAMS takes it: lists and null as text."""
    if OmegaConf.is_config(value):
        value = OmegaConf.to_container(value, resolve=True)
    if value is None:
        return "null"
    return value if isinstance(value, (bool, int, float, str)) else str(value)


def tensorboard_hparams(cfg: DictConfig) -> dict:
    """The knobs shown in TensorBoard's HPARAMS tab beside each run's best validation accuracy: the core ones (the
    optimizer by its group option: momentum, not SGD), plus,
    for a sweep's job, every config key that varies across the sweep (the run folder's parent holds varying.yaml);
    `-` for a key this run's config lacks (Adam has no momentum), as the parallel-coordinates view leaves out the
    runs that miss a value."""
    core = {  # the optimizer by its group option; a checkpoint of an earlier version records only its class
        "optimizer": OmegaConf.select(cfg, "choices.optimizer", default=None) or target_name(cfg.optimizer),
        "lr": cfg.optimizer.lr,
        "scheduler": target_name(cfg.scheduler) or "none",
        "batch_size": cfg.data.batch_size,
        "hidden_sizes": str(list(cfg.model.hidden_sizes)),
        "seed": cfg.seed,
    }
    varying = read_varying(Path(cfg.paths.output_dir).parent) or {"config": []}
    values = {key: OmegaConf.select(cfg, key, default=_ABSENT) for key in varying["config"]}
    return core | {key: "-" if value is _ABSENT else shown(value) for key, value in values.items()}
