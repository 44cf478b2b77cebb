"""Pruning inside a search trial: report val acc to the trial after every epoch, stop the run when the study's pruner
says it is behind. The sweeper (hydra/sweeper=search) tells each job its study and trial as `search.*` overrides."""

import json
import logging
import math
import os
from pathlib import Path

import lightning as L
import optuna
from optuna.trial import TrialState

from fashionlab.records import RunRecorder

log = logging.getLogger(__name__)


class JournalError(ValueError):
    """A study journal that cannot be read; the message names the file, the line and what to do."""


def journal_storage(path: str | Path) -> optuna.storages.JournalStorage:
    """A study's storage in a journal file (guarded by a lock file), which processes on any launcher can share."""
    return optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(path)))


def repair_journal(path: str | Path) -> None:
    """Check a study journal before a search continues it. A last line cut short (a writer killed mid-write) is
    dropped, as Optuna would skip it until the next write made it garbage; any other line that is not a record
    raises JournalError. Only the sweeper calls this, before it launches trials: no other process writes then."""
    path = Path(path)
    if not path.is_file():
        return
    data = path.read_bytes()
    lines = data.split(b"\n")
    for number, line in enumerate(lines[:-1], start=1):  # the part after the last newline is not a whole line
        try:
            json.loads(line)
        except ValueError:
            raise JournalError(f"{path}: line {number} is not a journal record ({line[:40]!r}): the study is "
                               "damaged; restore the file from a copy, or start the search in a new sweep folder "
                               "(a new hydra.sweep.dir)") from None
    if lines[-1]:
        log.warning(f"{path}: dropped its last line, cut short by a writer that was killed ({len(lines[-1])} bytes)")
        with open(path, "r+b") as file:
            file.truncate(len(data) - len(lines[-1]))
            os.fsync(file.fileno())


def open_trial(storage: str, study_name: str, number: int, pruner: optuna.pruners.BasePruner) -> optuna.Trial:
    """Trial `number` of the study in a journal file, judged by `pruner`."""
    journal = journal_storage(storage)
    study = optuna.load_study(study_name=study_name, storage=journal, pruner=pruner)
    trial_id = journal.get_trial_id_from_study_id_trial_number(journal.get_study_id_from_name(study_name), number)
    return optuna.Trial(study, trial_id)


class OptunaPruning(L.Callback):
    """Reports `monitor` after every validation (step = epoch, from 1) and stops a trial its pruner prunes:
    the study marks the trial pruned, summary.json says `pruned` with the epoch, checkpoints so far are kept.

    Outside a search (`trial` null) it does nothing, so the same config also trains a single run.
    """

    def __init__(self, storage: str | None, study: str | None, trial: int | None,
                 pruner: optuna.pruners.BasePruner, monitor: str = "val/acc"):
        self.monitor = monitor
        self.trial = open_trial(storage, study, trial, pruner) if trial is not None else None

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        value = trainer.callback_metrics.get(self.monitor)
        if self.trial is None or trainer.sanity_checking or value is None or not math.isfinite(float(value)):
            return
        epoch = trainer.current_epoch + 1
        self.trial.report(float(value), epoch)
        if trainer.should_stop or not self.trial.should_prune():  # a run that stops anyway ends as itself
            return
        self.trial.study.tell(self.trial, state=TrialState.PRUNED)
        trainer.should_stop = True
        for callback in trainer.callbacks:
            if isinstance(callback, RunRecorder):
                callback.record_pruned(epoch)
