"""What a run records while it trains: metrics.csv rows and summary.json's status (fashionlab.runfolder's layout)."""

import math
import time
from pathlib import Path
from typing import Any

import lightning as L
import torch

from fashionlab.machine import platform_record
from fashionlab.runfolder import Status, append_metrics, new_summary, write_metrics, write_summary

LOGGED_AS = {"train_loss": "train/loss", "train_acc": "train/acc", "val_loss": "val/loss", "val_acc": "val/acc"}


class RunRecorder(L.Callback):
    """Writes a metrics.csv row after each epoch's validation and keeps summary.json's status current.

    Epochs are counted from 1. A run whose loss is no longer finite is stopped as diverged: the training
    loss is looked at every `check_every` steps (one host sync each), the epoch means at the end of each epoch.
    Its rows and summary travel in the checkpoints (Lightning callback state), so a resumed run rewrites
    metrics.csv to match the checkpoint it resumed from and continues it.
    """

    def __init__(self, output_dir: str, overrides: list[str] | None = None, check_every: int = 50):
        self.output_dir = Path(output_dir)
        self.check_every = check_every
        self.rows: list[dict[str, float]] = []
        self.summary = new_summary(overrides or [])
        self.seconds_before = 0.0  # spent in earlier sessions of a resumed run
        self.started = time.perf_counter()
        self.epoch_lr = math.nan
        self.validated = False  # whether the current epoch has been validated

    def state_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "summary": self.summary, "seconds": self._seconds()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rows, self.summary, self.seconds_before = state["rows"], state["summary"], state["seconds"]

    def _seconds(self) -> float:
        return round(self.seconds_before + time.perf_counter() - self.started, 3)

    def _save_summary(self, status: Status | None = None, **changes: Any) -> None:
        if status is not None:
            changes["status"] = status.value
        self.summary.update(changes, wall_seconds=self._seconds())
        write_summary(self.output_dir, self.summary)

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.started = time.perf_counter()
        self.output_dir.mkdir(parents=True, exist_ok=True)
        write_metrics(self.output_dir, self.rows)
        self._save_summary(status=Status.RUNNING, platform=platform_record(trainer))

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.epoch_lr = trainer.optimizers[0].param_groups[0]["lr"]
        self.validated = False

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.validated = not trainer.sanity_checking

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs, batch, batch_idx: int):
        if batch_idx % self.check_every == 0 and not torch.isfinite(outputs["loss"]):
            trainer.should_stop = True  # ends this epoch now; on_train_epoch_end records the divergence

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        logged = trainer.callback_metrics
        epoch = trainer.current_epoch + 1
        row = {column: float(logged[key]) if key in logged else math.nan for column, key in LOGGED_AS.items()}
        if not self.validated:  # the logged val metrics are the previous epoch's
            row.update(val_loss=math.nan, val_acc=math.nan)
        row.update(epoch=epoch, lr=self.epoch_lr, elapsed_s=self._seconds(), step=trainer.global_step)
        self.rows.append(row)
        append_metrics(self.output_dir, row)
        best = self.summary["best_val_acc"]
        if math.isfinite(row["val_acc"]) and (best is None or row["val_acc"] > best):
            self.summary.update(best_val_acc=row["val_acc"], best_epoch=epoch)
        if not math.isfinite(row["train_loss"]) or (self.validated and not math.isfinite(row["val_loss"])):
            trainer.should_stop = True
            self._save_summary(epochs_run=epoch, status=Status.DIVERGED, diverged_epoch=epoch)
        else:
            self._save_summary(epochs_run=epoch)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.summary["status"] == Status.RUNNING:
            self._save_summary(status=Status.COMPLETED)

    def note(self, **fields: Any) -> None:
        """Add facts about the run to summary.json (a stacked run: how many members it trained with)."""
        self._save_summary(**fields)

    def record_pruned(self, epoch: int) -> None:
        """A search stops this run after `epoch`: its trial is behind the others (fashionlab.pruning)."""
        self._save_summary(status=Status.PRUNED, pruned_epoch=epoch)

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        for logger in trainer.loggers:
            logger.finalize("failed")  # flush what was logged so far
        # Ctrl-C, SIGTERM (Lightning's or while setting up), or submitit ending a job it requeues (a Slurm time limit)
        if isinstance(exception, (KeyboardInterrupt, SystemExit)):
            self._save_summary(status=Status.INTERRUPTED)
        else:
            self._save_summary(status=Status.FAILED, error=f"{type(exception).__name__}: {exception}")

