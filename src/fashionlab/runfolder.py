"""The run folder, the one contract between the tools that write it (src/train.py, fashionlab.records) and those that
read it (resume, src/eval.py, the report): where its files are, the statuses a run goes through, and the one reader
and writer of summary.json and metrics.csv.

    <run>/checkpoints/best.ckpt   the best epoch by val acc; last.ckpt: the last completed epoch (resume reads it)
    <run>/metrics.csv             one row per epoch (METRIC_COLUMNS)
    <run>/summary.json            status (Status), best val acc and epoch, epochs run, wall seconds, overrides
    <run>/<run name>/events.*     TensorBoard's events (fashionlab.tensorboard); <run>/.hydra/: Hydra's record

conf/callbacks/default.yaml points Lightning's ModelCheckpoint at CHECKPOINTS with the file name BEST.
"""

import csv
import json
import math
import os
import pickle
import re
from enum import Enum
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict

CHECKPOINTS, BEST, LAST = "checkpoints", "best", "last"
METRICS, SUMMARY = "metrics.csv", "summary.json"
# step: parameter updates so far. val_loss and val_acc are nan for an epoch cut short before its validation.
METRIC_COLUMNS = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "elapsed_s", "step")
# The keys src/train.py and src/eval.py build a run from; a checkpoint whose stored config lacks one was made by
# another version of this lab's config.
CHECKPOINT_KEYS = ("seed", "data._target_", "model._target_", "module._target_", "optimizer._target_", "scheduler",
                   "module.scheduler_interval", "trainer._target_")


def renamed(key: str) -> str | None:
    """Today's name of a config key that the change described in `in_current_shape` renamed; None for any other."""
    if key == "scheduler.interval":
        return "module.scheduler_interval"
    return "scheduler." + key.removeprefix("scheduler.scheduler.") if key.startswith("scheduler.scheduler.") else None


# Classes a stored config names that have moved since (2026-12-07: fashionlab.monitor split by concern).
MOVED = {"fashionlab.monitor.TensorBoardLogger": "fashionlab.tensorboard.TensorBoardLogger",
         "fashionlab.monitor.LearningRateLogger": "fashionlab.tensorboard.LearningRateLogger"}


def in_current_shape(config: DictConfig) -> DictConfig:
    """A stored run config (a checkpoint's, a run folder's .hydra/config.yaml) in the shape of today's: before
    2026-12-07 the scheduler node was Lightning's dict (`scheduler.scheduler`, `scheduler.interval`), the module
    node only the Classifier's options (today `instantiate(cfg.module)` builds the Classifier with the groups' nodes),
    and the logger and a callback were classes that have moved (MOVED)."""
    config = config.copy()
    with open_dict(config):
        for node in [config.get("logger"), *(config.get("callbacks") or {}).values()]:
            if OmegaConf.is_dict(node) and node.get("_target_") in MOVED:
                node._target_ = MOVED[node._target_]
        old = config.get("scheduler")
        if not (OmegaConf.is_dict(old) and "interval" in old):
            return config
        config.module = {"_target_": "fashionlab.module.Classifier", "net": "${model}", "optimizer": "${optimizer}",
                         "scheduler": "${scheduler}", "seed": "${seed}",
                         **OmegaConf.to_container(config.get("module") or {}, resolve=False),
                         "scheduler_interval": old.interval}
        config.scheduler = OmegaConf.to_container(old, resolve=False)["scheduler"]
    return config


class Status(str, Enum):
    """summary.json's "status". A str, so it compares equal to the word read from the file; summaries hold the word
    itself (`.value`), as they travel in checkpoints, which hold plain containers only."""

    RUNNING = "running"          # training, or killed (SIGKILL, a crash of the machine) before it could say so
    COMPLETED = "completed"
    DIVERGED = "diverged"        # the loss is no longer finite
    INTERRUPTED = "interrupted"  # stopped by Ctrl-C or SIGTERM, while training or still setting up
    FAILED = "failed"            # raised an error; summary.json has it under "error"
    PRUNED = "pruned"            # stopped by a hyperparameter search (fashionlab.pruning)

    def __str__(self) -> str:
        return self.value


FINISHED = (Status.COMPLETED, Status.DIVERGED, Status.PRUNED)  # final: a relaunched sweep keeps such a job
CONTINUED = (Status.INTERRUPTED, Status.RUNNING)  # a relaunched sweep continues it from last.ckpt, when there is one


class RunFolderError(ValueError):
    """A run folder's file is not what this lab writes; the message names the file."""


class CheckpointError(ValueError):
    """A file is not a checkpoint this lab can open safely; the message names the file and what is wrong."""


def checkpoint(run: str | Path, name: str = LAST) -> Path:
    """`<run>/checkpoints/<name>.ckpt`: LAST (resume) or BEST (eval, the report)."""
    return Path(run, CHECKPOINTS, f"{name}.ckpt")


def events_folder(run: Path) -> Path:
    """Where a run folder's TensorBoard events are: its run-name subfolder, or the run folder itself."""
    return next((path.parent for path in sorted(run.glob("*/events.out.tfevents.*"))), run)


def write_json(path: Path, data: dict) -> None:
    """Write via a temporary file and rename, so a reader never sees half a file."""
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(partial, path)


def new_summary(overrides: list[str]) -> dict[str, Any]:
    """summary.json of a run that has not finished an epoch yet."""
    return {"status": Status.RUNNING.value, "best_val_acc": None, "best_epoch": None, "epochs_run": 0,
            "wall_seconds": 0.0, "overrides": list(overrides)}


def has_finished(summary: dict[str, Any] | None) -> bool:
    """Whether a run's summary (read_summary) says it has finished: kept by a relaunched sweep, refused by resume=."""
    return summary is not None and summary.get("status") in FINISHED


def read_summary(run: str | Path) -> dict[str, Any] | None:
    """The run's summary.json, None when it has none (a job that never started). Raises RunFolderError for a file
    that is not a JSON object."""
    path = Path(run, SUMMARY)
    if not path.is_file():
        return None
    try:
        summary = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        summary = None
    if not isinstance(summary, dict) or "status" not in summary:
        raise RunFolderError(f"{path}: unreadable, not a summary.json of src/train.py")
    return summary


def write_summary(run: str | Path, summary: dict[str, Any]) -> None:
    Path(run).mkdir(parents=True, exist_ok=True)
    write_json(Path(run, SUMMARY), summary)


def record_status(run: str | Path, overrides: list[str], status: Status, **details: Any) -> None:
    """Record a run that ended outside the training loop (failed or interrupted while setting up): an earlier
    summary, of a resumed run, keeps its figures."""
    write_summary(run, {**(read_summary(run) or new_summary(overrides)), "status": status.value, **details})


def record_interrupted(run: str | Path, overrides: list[str]) -> None:
    """A signal stopped the run before its recorder could say so (while setting up, or before training started):
    record `interrupted`, unless summary.json already tells how the run ended."""
    summary = read_summary(run)
    if summary is None or summary["status"] == Status.RUNNING:
        record_status(run, overrides, Status.INTERRUPTED)


def write_metrics(run: str | Path, rows: list[dict[str, float]]) -> None:
    with open(Path(run, METRICS), "w", newline="") as file:
        writer = csv.DictWriter(file, METRIC_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)


def append_metrics(run: str | Path, row: dict[str, float]) -> None:
    with open(Path(run, METRICS), "a", newline="") as file:
        csv.DictWriter(file, METRIC_COLUMNS).writerow(row)


def read_metrics(path: Path) -> dict[str, list[float]]:
    """metrics.csv as columns; a missing file, a header alone or a half-written last row just give fewer epochs.

    An epoch cut short by trainer.max_time before its validation (train loss finite, val acc nan) is left out:
    its training numbers cover part of an epoch only, so it has nothing to compare.
    """
    history: dict[str, list[float]] = {column: [] for column in METRIC_COLUMNS}
    if not path.is_file():
        return history
    with open(path, newline="") as file:
        for row in csv.DictReader(file):
            try:
                record = {column: float(row[column]) for column in METRIC_COLUMNS}
            except (KeyError, TypeError, ValueError):
                continue
            if math.isfinite(record["train_loss"]) and math.isnan(record["val_acc"]):
                continue
            for column, value in record.items():
                history[column].append(value)
    return history


def checkpoint_config(ckpt_path: str | Path) -> DictConfig:
    """The resolved training config that src/train.py stores in every checkpoint.

    Loads with `weights_only=True`: tensors and plain containers only, so a checkpoint someone sent you cannot run
    code when it is opened. Raises CheckpointError for a missing, truncated, foreign or unsafe file, and for a
    checkpoint of another config version (naming the keys it lacks)."""
    path = Path(ckpt_path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such file; pass a checkpoint of src/train.py, <run>/checkpoints/best.ckpt")
    import torch  # here, not at the top: a missing file is answered without the seconds torch takes to import

    try:
        stored = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises UnpicklingError, RuntimeError, EOFError, ... for files it cannot parse
        # a refused global (a function or class to call) is code; any other refusal, a byte it cannot read
        found = re.search(r"[Uu]nsupported (?:global: )?GLOBAL (\S+)", str(error))
        if isinstance(error, pickle.UnpicklingError) and found:
            raise CheckpointError(f"{path}: refused, opening it could run code: it holds {found[1]}, not only "
                                  "tensors and plain containers") from None
        raise CheckpointError(f"{path}: not a readable PyTorch checkpoint, truncated or another format "
                              f"({type(error).__name__})") from None
    stored = stored.get("hyper_parameters", {}).get("config") if isinstance(stored, dict) else None
    if not isinstance(stored, dict):
        raise CheckpointError(f"{path}: a PyTorch file but not a checkpoint of src/train.py (it stores no config)")
    config = in_current_shape(OmegaConf.create(stored))
    missing = [key for key in CHECKPOINT_KEYS if OmegaConf.select(config, key, default="<missing>") == "<missing>"]
    if missing:
        raise CheckpointError(f"{path}: made by another version of the config, it lacks {', '.join(missing)}")
    return config
