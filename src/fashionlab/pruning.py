"""Pruning inside a search trial: report val acc to the trial after every epoch, stop the run when the study's pruner
says it is behind. The sweeper (hydra/sweeper=search) tells each job its study and trial as `search.*` overrides."""

import math

import lightning as L

from fashionlab.quiet import quiet
from fashionlab.records import RunRecorder
from fashionlab.sweeps import journal_storage

with quiet():  # Optuna's first import, in a notebook: tqdm's advice to install ipywidgets
    import optuna
    from optuna.trial import TrialState


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
