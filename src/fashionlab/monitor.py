"""What a run shows while it trains, in a terminal, in a Jupyter notebook and in TensorBoard: Lightning's progress bar
and TensorBoard logger without what means nothing here, a progress display a notebook updates in place, one `lr` tag
whatever the optimizer, and what TensorBoard shows beside the scalars (the run's HPARAMS, the CUSTOM SCALARS layout,
one training image per class)."""

import html
import sys
import time

import lightning as L
import torch
from lightning.pytorch import loggers
from lightning.pytorch.callbacks import ProgressBar as LightningProgressBar
from lightning.pytorch.callbacks import TQDMProgressBar
from omegaconf import DictConfig
from torch import Tensor
from torch.utils.tensorboard.summary import hparams

from fashionlab.dashboard import tensorboard_hparams
from fashionlab.data import CLASS_NAMES


class ProgressBar(TQDMProgressBar):
    """Lightning's progress bar without `v_num`, the logger's version, which here is the run name and would show as
    its last four characters (`v_num: =sgd`). The way Lightning documents (ProgressBar.get_metrics)."""

    def get_metrics(self, trainer: L.Trainer, pl_module: L.LightningModule) -> dict:
        items = super().get_metrics(trainer, pl_module)
        items.pop("v_num", None)
        return items


class NotebookProgressBar(LightningProgressBar):
    """A run's progress in a Jupyter notebook: one display, updated in place (IPython's display_id), instead of tqdm's
    lines, which a notebook cannot redraw (a bar per validation, cursor moves it prints as text). It shows the epoch,
    the batch, the time so far and the last epoch's metrics, as HTML and as text; a saved or exported notebook keeps
    its last state."""

    def __init__(self, refresh_seconds: float = 0.5):
        super().__init__()
        self.refresh_seconds = refresh_seconds  # between updates within an epoch; each epoch's end is always shown
        self.enabled = True
        self.handle = None
        self.started = self.shown = 0.0

    def disable(self) -> None:
        self.enabled = False

    def enable(self) -> None:
        self.enabled = True

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        from IPython.display import display

        self.started = time.perf_counter()
        if self.enabled:
            self.handle = display(self._bundle(trainer, 0), raw=True, display_id=True)

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs, batch, batch_idx: int):
        if time.perf_counter() - self.shown >= self.refresh_seconds:
            self._show(trainer, batch_idx + 1)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._show(trainer, self.total_train_batches)  # after the epoch's validation: its metrics are in

    def _show(self, trainer: L.Trainer, batches: float) -> None:
        if self.handle is not None:
            self.handle.update(self._bundle(trainer, batches), raw=True)
            self.shown = time.perf_counter()

    def _bundle(self, trainer: L.Trainer, batches: float) -> dict[str, str]:
        """The display as text and as HTML: a <progress> bar over the whole run (epochs and batches), then the text."""
        epochs, total, logged = trainer.max_epochs, self.total_train_batches, trainer.callback_metrics
        metrics = [f"{stage} loss {float(logged[f'{stage}/loss']):.4f}, acc {float(logged[f'{stage}/acc']):.4f}"
                   for stage in ("train", "val") if f"{stage}/acc" in logged]
        text = " | ".join([f"epoch {trainer.current_epoch + 1}/{epochs}", f"batch {batches:g}/{total:g}",
                           time.strftime("%H:%M:%S", time.gmtime(time.perf_counter() - self.started)), *metrics])
        done = (trainer.current_epoch + batches / total) / epochs
        bar = f'<progress max="1" value="{done:.4f}" style="width: 20em"></progress>'
        return {"text/plain": text, "text/html": f"{bar} <code>{html.escape(text)}</code>"}


def in_jupyter() -> bool:
    """Whether this process is a Jupyter kernel (ipykernel), whose displays a notebook can update in place; IPython in
    a terminal is not one."""
    ipython = sys.modules.get("IPython")
    return getattr(ipython.get_ipython() if ipython else None, "kernel", None) is not None


def progress_bar() -> LightningProgressBar:
    """The progress display of a run: in a Jupyter kernel one that updates in place, elsewhere Lightning's tqdm bar."""
    return NotebookProgressBar() if in_jupyter() else ProgressBar()


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


def log_dashboard(logger: loggers.Logger, cfg: DictConfig, datamodule: L.LightningDataModule, first_session: bool) -> None:
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
