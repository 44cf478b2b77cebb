"""The files later tools read from a run folder: metrics.csv (one row per epoch) and summary.json."""

import csv
import json
import math
import os
import time
from pathlib import Path

import lightning as L

METRIC_COLUMNS = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "elapsed_s")
LOGGED_AS = {"train_loss": "train/loss", "train_acc": "train/acc", "val_loss": "val/loss", "val_acc": "val/acc"}


def write_json(path: Path, data: dict) -> None:
    """Write via a temporary file and rename, so a reader never sees half a file."""
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(partial, path)


class RunRecorder(L.Callback):
    """Appends a metrics.csv row after each epoch's validation and keeps summary.json current.

    Epochs are counted from 1. `overrides` are the command-line overrides that made this run.
    """

    def __init__(self, output_dir: str, overrides: list[str] | None = None):
        self.output_dir = Path(output_dir)
        self.overrides = list(overrides or [])
        self.summary = {"status": "running", "best_val_acc": None, "best_epoch": None, "epochs_run": 0,
                        "wall_seconds": 0.0, "overrides": self.overrides}
        self.started = time.perf_counter()
        self.epoch_lr = math.nan

    @property
    def metrics_path(self) -> Path:
        return self.output_dir / "metrics.csv"

    def _save_summary(self, **changes) -> None:
        self.summary.update(changes, wall_seconds=round(time.perf_counter() - self.started, 3))
        write_json(self.output_dir / "summary.json", self.summary)

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.started = time.perf_counter()
        self.output_dir.mkdir(parents=True, exist_ok=True)
        if not self.metrics_path.exists():
            with open(self.metrics_path, "w", newline="") as file:
                csv.writer(file).writerow(METRIC_COLUMNS)
        self._save_summary(status="running")

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.epoch_lr = trainer.optimizers[0].param_groups[0]["lr"]

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        logged = trainer.callback_metrics
        row = {column: float(logged[key]) if key in logged else math.nan for column, key in LOGGED_AS.items()}
        epoch = trainer.current_epoch + 1
        row.update(epoch=epoch, lr=self.epoch_lr, elapsed_s=round(time.perf_counter() - self.started, 3))
        with open(self.metrics_path, "a", newline="") as file:
            csv.writer(file).writerow(row[column] for column in METRIC_COLUMNS)
        best = self.summary["best_val_acc"]
        if best is None or row["val_acc"] > best:
            self.summary.update(best_val_acc=row["val_acc"], best_epoch=epoch)
        self._save_summary(epochs_run=epoch)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._save_summary(status="completed")
