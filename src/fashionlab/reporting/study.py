"""A search sweep's study (hydra/sweeper=search): its trials, how far each trained, and which parameters mattered.

The study is read from the Optuna journal in the sweep folder; the job folders are reported like any sweep's.
"""

from dataclasses import dataclass
from pathlib import Path

from fashionlab.quiet import quiet
from fashionlab.sweeps import journal_storage

with quiet():  # Optuna's first import, in a notebook: tqdm's advice to install ipywidgets
    import optuna
    from optuna.trial import FrozenTrial, TrialState


@dataclass(frozen=True)
class Search:
    study_name: str
    trials: list[FrozenTrial]  # those that reported at least one epoch
    importances: dict[str, float] | None  # parameter -> importance, None when too few trials completed
    importance_error: str | None  # why importances were not computed

    @property
    def completed(self) -> list[FrozenTrial]:
        return [trial for trial in self.trials if trial.state == TrialState.COMPLETE]

    @property
    def pruned(self) -> list[FrozenTrial]:
        return [trial for trial in self.trials if trial.state == TrialState.PRUNED]

    @property
    def epochs(self) -> int:
        """Epochs trained by all trials together."""
        return sum(len(trial.intermediate_values) for trial in self.trials)

    @property
    def longest(self) -> int:
        return max(len(trial.intermediate_values) for trial in self.trials)


def load_study(sweep: Path) -> optuna.Study | None:
    """The study of a search sweep, or None for a sweep without a journal (a grid)."""
    journals = sorted(sweep.glob("*.journal"))
    if not journals:
        return None
    storage = journal_storage(journals[0])
    names = optuna.study.get_all_study_names(storage)
    return optuna.load_study(study_name=names[0], storage=storage) if names else None


def best_reported(trial: FrozenTrial) -> float:
    """A trial's best val acc: its objective if it completed, else the best value it reported before it stopped."""
    return trial.value if trial.state == TrialState.COMPLETE else max(trial.intermediate_values.values())


def load_search(sweep: Path) -> Search | None:
    """The search of `sweep`, or None for a sweep that is no search (or whose trials reported nothing yet)."""
    study = load_study(sweep)
    trials = [trial for trial in study.trials if trial.intermediate_values] if study else []
    if not trials:
        return None
    try:
        return Search(study.study_name, trials, optuna.importance.get_param_importances(study), None)
    except (RuntimeError, ValueError) as error:  # too few completed trials to tell
        return Search(study.study_name, trials, None, str(error))
