"""What the sweep report adds for a search (hydra/sweeper=search): the study's progress and which parameters mattered.

The study is read from the Optuna journal in the sweep folder; the job folders are reported like any sweep's.
"""

from pathlib import Path

import optuna
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from optuna.trial import FrozenTrial, TrialState

from fashionlab.figures import save
from fashionlab.pruning import journal_storage


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


def progress_figure(trials: list[FrozenTrial]) -> Figure:
    """Best val acc of each trial against its number, and the best completed trial so far."""
    figure = Figure(figsize=(7, 4))
    ax = figure.subplots()
    for state, style in ((TrialState.COMPLETE, dict(marker="o", color="tab:blue", label="completed")),
                         (TrialState.PRUNED, dict(marker="x", color="tab:red", label="pruned (its best so far)"))):
        shown = [trial for trial in trials if trial.state == state]
        ax.scatter([t.number for t in shown], [best_reported(t) for t in shown], **style)
    running, best = [], None
    for trial in trials:
        if trial.state == TrialState.COMPLETE:
            best = trial.value if best is None else max(best, trial.value)
        running.append(best)
    ax.step([trial.number for trial in trials], running, where="post", color="black", label="best completed so far")
    ax.set(xlabel="trial", ylabel="best val acc", title="Search progress")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(loc="best", framealpha=0.6)
    ax.grid(alpha=0.3)
    return figure


def importance_figure(importances: dict[str, float]) -> Figure:
    figure = Figure(figsize=(7, 0.5 + 0.5 * len(importances)))
    ax = figure.subplots()
    names = list(importances)[::-1]  # the most important on top
    ax.barh(names, [importances[name] for name in names], color="tab:blue")
    ax.set(xlabel="importance (Optuna's default evaluator, normalized to sum 1)", title="Which parameters mattered")
    return figure


def search_section(sweep: Path) -> list[str]:
    """Report lines (and figures written into `sweep`) for a search sweep; none for other sweeps."""
    study = load_study(sweep)
    trials = [trial for trial in study.trials if trial.intermediate_values] if study else []
    if not trials:
        return []
    pruned = [trial for trial in trials if trial.state == TrialState.PRUNED]
    completed = [trial for trial in trials if trial.state == TrialState.COMPLETE]
    epochs = sum(len(trial.intermediate_values) for trial in trials)
    full = max(len(trial.intermediate_values) for trial in trials)
    stops = ", ".join(str(trial.last_step) for trial in pruned) or "none"
    lines = ["", "## Search", "",
             f"{len(trials)} trials of study `{study.study_name}`: {len(completed)} completed, {len(pruned)} pruned "
             f"(after epoch {stops}). They trained {epochs} epochs in all, against {len(trials) * full} had each "
             f"run as long as the longest ({full}). Pruned trials are never selected.", "",
             "![search progress](search_progress.png)"]
    save(progress_figure(trials), sweep / "search_progress.png")
    try:
        importances = optuna.importance.get_param_importances(study)
    except (RuntimeError, ValueError) as error:  # too few completed trials to tell
        return lines + ["", f"Parameter importances: not computed ({error})."]
    save(importance_figure(importances), sweep / "search_importances.png")
    return lines + ["", f"Parameter importances over the {len(completed)} completed trials: "
                    + ", ".join(f"`{name}` {value:.2f}" for name, value in importances.items()) + ".", "",
                    "![parameter importances](search_importances.png)"]
