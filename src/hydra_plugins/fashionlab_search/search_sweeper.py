"""`hydra/sweeper=search`: Optuna asks for trials, Hydra's launcher runs them as ordinary jobs, Optuna learns results.

The search space is Hydra's override grammar (`hydra.sweeper.params` and sweep overrides on the command line):
`choice(a, b)` and `a,b` are categorical, `range(1, 9, 2)` integers in steps, `interval(0, 0.5)` uniform floats,
`tag(log, interval(1e-4, 1))` and `tag(log, range(16, 1025))` log-uniform. Plain overrides go to every trial unchanged.

The study lives in a journal file (default: `<sweep dir>/optuna.journal`) that every process can reach, whatever the
launcher. Each trial gets `++search.storage`, `++search.study` and `++search.trial` overrides, so the job can report
to its own trial while it trains and be pruned (fashionlab.pruning.OptunaPruning); job folder N holds trial N.
Rerunning the command on the same sweep folder continues the study: `n_trials` counts the trials that finished
(completed or pruned) over all runs, and a trial left running by an interrupted run is launched again under its own
number with its own values, so its job continues from its folder's last.ckpt (fashionlab.resume) and then reports
to the same trial, which Optuna's ask-and-tell allows from any process (`study.tell(number, ...)`).
"""

import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hydra.core.config_store import ConfigStore
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import IntervalSweep, Override, RangeSweep, Transformer
from hydra.core.plugins import Plugins
from hydra.core.utils import JobStatus
from hydra.errors import HydraException
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from hydra.utils import get_method, instantiate
from omegaconf import DictConfig, OmegaConf

from fashionlab.quiet import quiet
from fashionlab.sweepfolder import MULTIRUN
from fashionlab.sweeps import JournalError, journal_storage, launch_numbered, repair_journal
from fashionlab.varying import write_varying

with quiet():  # Optuna's first import, in a notebook: tqdm's advice to install ipywidgets
    import optuna
    from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution
    from optuna.trial import FrozenTrial, TrialState

log = logging.getLogger(__name__)
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


@dataclass
class SearchSweeperConf:
    _target_: str = "hydra_plugins.fashionlab_search.search_sweeper.SearchSweeper"
    _recursive_: bool = False       # the sampler is built by the sweeper, reseeded when a study is continued
    n_trials: int = 20              # trials that finish (completed or pruned), counted over resumed runs too
    n_jobs: int = 1                 # trials launched together, side by side under launcher=parallel or Slurm
    direction: str = "maximize"     # of the value the task function returns
    study_name: str = "search"
    storage: str = "${hydra.sweep.dir}/optuna.journal"
    sampler: Any = field(default_factory=lambda: {"_target_": "optuna.samplers.TPESampler", "seed": 0})
    check: str | None = None        # a function called with each composed corner config; raises on bad values
    params: dict[str, str] | None = None  # the search space, key: override value


ConfigStore.instance().store(group="hydra/sweeper", name="search", node=SearchSweeperConf, provider="fashionlab")


class SearchSpaceError(ValueError):
    """The search space cannot be searched; the message names the override and what is wrong."""


def distribution(override: Override) -> BaseDistribution:
    """The Optuna distribution of one sweep override."""
    sweep, tags = override.value(), override.value().tags
    if isinstance(sweep, IntervalSweep):  # Hydra reads both ends as floats
        return FloatDistribution(sweep.start, sweep.end, log="log" in tags)
    if isinstance(sweep, RangeSweep) and not sweep.shuffle:
        values = list(override.sweep_iterator())
        if values and all(isinstance(value, int) for value in values):
            return IntDistribution(values[0], values[-1], step=sweep.step, log="log" in tags)
    if "log" in tags:
        raise SearchSpaceError("tag(log, ...) needs an interval or an integer range")
    return CategoricalDistribution(list(override.sweep_iterator(transformer=Transformer.encode)))


def parse_search_space(arguments: list[str], config_loader=None) -> tuple[dict[str, BaseDistribution], list[str]]:
    """Split overrides into the searched keys (with their distributions) and the fixed overrides; bad syntax or an
    empty interval raises SearchSpaceError naming the override."""
    space: dict[str, BaseDistribution] = {}
    fixed: list[str] = []
    for argument in arguments:
        try:
            (override,) = OverridesParser.create(config_loader=config_loader).parse_overrides([argument])
            if override.is_sweep_override():
                space[override.get_key_element()] = distribution(override)
            else:
                fixed.append(argument)
        except (HydraException, ValueError) as error:
            raise SearchSpaceError(f"search space: {argument}: {reason(error)}") from None
    if not space:
        raise SearchSpaceError("search space: empty; give hydra.sweeper.params or a sweep such as key=interval(0,1)")
    return space, fixed


def reason(error: Exception) -> str:
    """The line of an error message that says what is wrong (Hydra's parser puts it after the override it quotes)."""
    lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
    return (lines[1] if len(lines) > 1 and lines[0].startswith("Error parsing override") else lines[0]) \
        if lines else type(error).__name__


def corner_values(dist: BaseDistribution) -> list[Any]:
    """The values that bound a distribution: every choice, or both ends."""
    if isinstance(dist, CategoricalDistribution):
        return list(dist.choices)
    return [dist.low, dist.high]


def override_value(value: Any) -> str:
    """A sampled value as override text: floats in full (repr round-trips), choices as Hydra encoded them."""
    return repr(value) if isinstance(value, float) else str(value)


class SearchSweeper(Sweeper):
    def __init__(self, n_trials: int, n_jobs: int, direction: str, study_name: str, storage: str,
                 sampler: DictConfig, check: str | None = None, params: DictConfig | None = None) -> None:
        self.n_trials, self.n_jobs, self.direction = n_trials, n_jobs, direction
        self.study_name, self.storage, self.sampler = study_name, storage, sampler
        self.check = get_method(check) if check else None
        self.params = params or {}

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.hydra_context, self.config = hydra_context, config
        self.launcher = Plugins.instance().instantiate_launcher(hydra_context=hydra_context,
                                                                task_function=task_function, config=config)

    def sweep(self, arguments: list[str]) -> list[Any]:
        if self.config.get("stack"):
            sys.exit("error: stack=true: not allowed for a search, whose trials differ in more than their seed; "
                     "rerun its top trials over seeds, stacked: make confirm SWEEP=<its folder> SEEDS=N "
                     "ARGS=stack=true")
        for key, value in (("n_trials", self.n_trials), ("n_jobs", self.n_jobs)):
            if not isinstance(value, int) or value < 1:
                sys.exit(f"error: hydra.sweeper.{key}={value}: not allowed, must be an integer > 0")
        arguments = [f"{key}={value}" for key, value in self.params.items()] + list(arguments)
        try:
            space, fixed = parse_search_space(arguments, self.hydra_context.config_loader)
            corners = self.check_corners(space, fixed)
            repair_journal(self.storage)
        except (SearchSpaceError, JournalError) as error:
            sys.exit(f"error: {error}")
        sweep_dir = Path(self.config.hydra.sweep.dir)
        write_varying(sweep_dir, list(space), corners)  # trials are named by, and HPARAMS show, what the space varies
        OmegaConf.save(self.config, sweep_dir / MULTIRUN)  # what the report and Hydra's tools look for
        storage_path = Path(self.storage).resolve()
        study = self.open_study(storage_path)
        trial_overrides = [f"++search.storage='{storage_path}'", f"++search.study={self.study_name}"]
        to_go = self.n_trials - sum(trial.state in FINISHED for trial in study.trials)
        unfinished = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))  # an interrupted run's
        for trial in unfinished[max(to_go, 0):]:  # more than the budget has room for: never continued
            study.tell(trial.number, state=TrialState.FAIL)
        continued = unfinished[:max(to_go, 0)]
        if continued:
            log.info(f"Continuing trials {', '.join(str(trial.number) for trial in continued)}, left unfinished by "
                     "an interrupted run, in their job folders")
        returns = []
        while to_go > 0:  # the unfinished trials first, then new ones, n_jobs at a time
            trials = continued or [study.ask(space) for _ in range(min(self.n_jobs, to_go))]
            continued = []
            batch = [(trial.number, [*fixed, *(f"{key}={override_value(value)}" for key, value in trial.params.items()),
                                     *trial_overrides, f"++search.trial={trial.number}"]) for trial in trials]
            results = launch_numbered(self.launcher, batch, self.n_jobs)  # job folder N: trial N
            self.tell(study, trials, results)
            returns.append(results)
            to_go -= len(trials)
        self.save_results(study, sweep_dir)
        for result in (result for results in returns for result in results):
            _ = result.return_value  # the first failed trial's error, now that the search has run its trials
        return returns

    def check_corners(self, space: dict[str, BaseDistribution], fixed: list[str]) -> list[DictConfig]:
        """Compose the config at every choice and both ends of every interval (the other keys at their first value)
        and pass it to `check`: a value no trial could run with stops the search before its first trial. Returns the
        composed configs, which span what the space varies."""
        first = {key: corner_values(dist)[0] for key, dist in space.items()}
        corners = []
        for key, dist in space.items():
            for value in corner_values(dist):
                overrides = [*fixed, *(f"{k}={override_value(value if k == key else v)}" for k, v in first.items())]
                try:
                    config = self.hydra_context.config_loader.load_sweep_config(self.config, overrides)
                    if self.check:
                        self.check(config)
                except (HydraException, ValueError) as error:
                    raise SearchSpaceError(f"search space: {key} can be {override_value(value)}: {reason(error)}") \
                        from None
                corners.append(config)
        return corners

    def open_study(self, storage_path: Path) -> optuna.Study:
        """Create the study, or continue the one in the journal; a continued study's sampler is seeded past the
        draws already made, so it does not propose the first trials again."""
        storage_path.parent.mkdir(parents=True, exist_ok=True)
        storage = journal_storage(storage_path)
        known = self.study_name in optuna.study.get_all_study_names(storage)
        previous = optuna.load_study(study_name=self.study_name, storage=storage).trials if known else []
        sampler = dict(OmegaConf.to_container(self.sampler))
        if previous and sampler.get("seed") is not None:
            sampler["seed"] += len(previous)
        study = optuna.create_study(study_name=self.study_name, storage=storage, sampler=instantiate(sampler),
                                    direction=self.direction, load_if_exists=True)
        finished = sum(trial.state in FINISHED for trial in previous)
        log.info(f"Study {self.study_name} in {storage_path}: {finished} of {self.n_trials} trials finished before")
        return study

    @staticmethod
    def tell(study: optuna.Study, trials: list[optuna.Trial | FrozenTrial], results) -> None:
        """Record each trial's end: pruned trials told the study themselves; a failed job fails its trial, and the
        search goes on (the sweep ends with the first failure's error once its trials are done)."""
        states = {trial.number: trial.state for trial in study.get_trials(deepcopy=False)}
        for trial, result in zip(trials, results):
            if states[trial.number].is_finished():
                continue
            if result.status == JobStatus.COMPLETED:
                study.tell(trial.number, float(result.return_value))
            else:
                study.tell(trial.number, state=TrialState.FAIL)

    def save_results(self, study: optuna.Study, sweep_dir: Path) -> None:
        completed = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if not completed:
            return
        best = study.best_trial
        log.info(f"Best trial {best.number}: value {best.value}, {best.params}")
        OmegaConf.save(OmegaConf.create({"best_trial": best.number, "best_value": best.value,
                                         "best_params": best.params}), sweep_dir / "optimization_results.yaml")
