"""What the lab's sweeps share: a grid's jobs, listed before the first one runs, so that each can be checked, what
varies recorded and the plan written (plan.json); launching jobs whose numbers have gaps; with stack=true, launching
the jobs that differ only in their seed as one stack; how a job that hits a lab error fails alone; a search's study,
in a journal file, checked before a search continues it."""

import itertools
import json
import logging
import os
from pathlib import Path
from typing import Any

from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import CompactHydraException
from hydra.core.utils import JobReturn, JobStatus
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from fashionlab.overrides import override_key
from fashionlab.resume import finished_job
from fashionlab.sweepfolder import SweepPlan, write_plan, write_stacks

log = logging.getLogger(__name__)


class JobFailed(CompactHydraException):
    """A sweep's job ended by a lab error (bad data, a run folder or checkpoint it cannot use): an Exception, so that
    Hydra records the job failed and runs the sweep's other jobs (a SystemExit would end the sweep); compact, so that
    the sweep ends with its one line rather than a traceback."""


class JournalError(ValueError):
    """A study journal that cannot be read; the message names the file, the line and what to do."""


def is_grid(config: DictConfig) -> bool:
    """Whether the sweep lists its jobs beforehand, so that `sweep_configs` can compose them: Hydra's basic sweeper
    (a grid) or the confirm sweeper (given configurations, each over the replicate seeds). A search draws its jobs as
    it goes and checks them itself."""
    return config.hydra.sweeper._target_.endswith((".GridSweeper", ".BasicSweeper", ".ConfirmSweeper"))


def job_overrides(parser: OverridesParser, arguments: list[str],
                  configurations: list[list[str]] | None = None) -> list[list[str]]:
    """Each job's overrides: `arguments` expanded as Hydra's basic sweeper does (`a=1,2 b=x,y` gives four), once
    for each of `configurations` when given (its overrides before the arguments, which win where both set a key).

    Splits the sweep with Hydra's own BasicSweeper (a private module: Hydra offers no public way to list a grid's
    jobs), so the list is the one it will launch."""
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper

    return [list(job) for configuration in (configurations or [[]])
            for job in BasicSweeper.split_arguments(parser.parse_overrides([*configuration, *arguments]), None)[0]]


def is_sequential(config: DictConfig) -> bool:
    """Whether the sweep adds seeds in rounds (SEEDS=auto: the confirm sweeper with max_seeds)."""
    return config.hydra.sweeper.get("max_seeds") is not None


def grid_jobs(config: DictConfig) -> list[list[str]]:
    """Each job's overrides of a grid or confirm sweep, in the order and with the numbers Hydra gives them; for a
    sequential sweep, its first round: each configuration (a seed list of its own dropped) over the first seeds."""
    configurations = config.hydra.sweeper.get("configurations")
    # as the basic sweeper does: config params, then the command line; the confirm sweeper's configurations replace
    # an experiment's params
    params = {} if configurations else config.hydra.sweeper.get("params") or {}
    arguments = [f"{key}={value}" for key, value in params.items()] + list(config.hydra.overrides.task)
    if is_sequential(config):
        first = config.hydra.sweeper.first_seed
        arguments = [argument for argument in arguments if override_key(argument) != "seed"]
        arguments.append(f"seed={first},{first + 1},{first + 2}")
    parser = OverridesParser.create(config_loader=GlobalHydra.instance().config_loader())  # lists `glob(*)` options
    return job_overrides(parser, arguments, configurations)


_COMPOSED: dict[str, list[DictConfig]] = {}  # sweep folder -> its job configs composed so far, in this process


def sweep_configs(config: DictConfig):
    """Each job config of `grid_jobs`, composed as Hydra will compose it. Composing a job takes Hydra about 0.2 s, so
    each is composed once per sweep: the pre-flight check (which stops at the first bad one) and the TensorBoard
    record read the same configs."""
    loader = GlobalHydra.instance().config_loader()
    composed = _COMPOSED.setdefault(config.hydra.sweep.dir, [])
    for index, overrides in enumerate(grid_jobs(config)):
        if index == len(composed):
            composed.append(loader.load_sweep_config(config, overrides))
        yield composed[index]


def launch_numbered(launcher, jobs: list[tuple[int, list[str]]], batch_size: int | None) -> list:
    """Launch jobs under their numbers in the sweep, which may have gaps (finished jobs kept, a search's unfinished
    trials continued): each run of consecutive numbers in batches of at most `batch_size`, since a launcher numbers a
    batch's job folders on from its first. The jobs' results, in order (a failed job's holds its error)."""
    results = []
    for _, run in itertools.groupby(enumerate(jobs), key=lambda item: item[1][0] - item[0]):
        run = [job for _, job in run]
        size = batch_size or len(run)
        for start in range(0, len(run), size):
            chunk = run[start:start + size]
            results += launcher.launch([overrides for _, overrides in chunk], initial_job_idx=chunk[0][0])
    return results


def why_alone(cfg: DictConfig) -> str | None:
    """Why a configuration's runs cannot share a stack (the key=value that stops it), or None when they can. Clipping
    by norm and a time limit act on the whole step; only fashionlab.model.MLP has a batched form. (Dropout,
    augmentation and mixup draw from generators of each run's own: fashionlab.draws.)"""
    blocks = {
        "model._target_": cfg.model.get("_target_") != "fashionlab.model.MLP",
        "trainer.gradient_clip_val": bool(cfg.trainer.get("gradient_clip_val"))
        and cfg.trainer.get("gradient_clip_algorithm") != "value",
        "trainer.max_time": cfg.trainer.get("max_time") is not None,
    }
    found = next((key for key, blocked in blocks.items() if blocked), None)
    return f"{found}={OmegaConf.select(cfg, found)}" if found else None


class StackedLaunch:
    """stack=true: the launcher of a sweep as its sweeper sees it, launching the jobs of each batch that differ only in
    their seed as one job, which trains them as a stack (fashionlab.stacking) and writes each job's own folder. That job
    runs in the folder of the group's first job (its leader; `hydra.sweep.subdir`), so groups and single jobs still go
    side by side on launcher=parallel and as one Slurm array; `<sweep>/stacks.json` tells the leader its group."""

    def __init__(self, launcher, config: DictConfig, config_loader):
        self.launcher, self.config, self.config_loader = launcher, config, config_loader

    def __getattr__(self, name: str):
        return getattr(self.launcher, name)

    def groups(self, jobs: list[tuple[int, list[str]]]) -> list[list[tuple[int, list[str]]]]:
        """The jobs in groups that differ only in `seed`, in order of their first job; a group whose configuration
        cannot be stacked (why_alone) as single jobs. Logs the grouping."""
        by_configuration: dict[frozenset, list[tuple[int, list[str]]]] = {}
        for number, overrides in jobs:
            key = frozenset(item for item in overrides if override_key(item) != "seed")
            by_configuration.setdefault(key, []).append((number, overrides))
        groups, alone = [], {}
        for members in by_configuration.values():
            reason = why_alone(self.config_loader.load_sweep_config(self.config, members[0][1])) \
                if len(members) > 1 else "no other seed of their configuration in this launch"
            if reason is None:
                seeds = [item.split("=", 1)[1] for _, overrides in members for item in overrides
                         if override_key(item) == "seed"]
                log.info(f"Stacking jobs {' '.join(str(number) for number, _ in members)} "
                         f"(seed {' '.join(seeds) or 'as configured'}): one process")
                groups.append(members)
            else:
                alone.setdefault(reason, []).extend(number for number, _ in members)
                groups += [[member] for member in members]
        for reason, numbers in alone.items():
            log.info(f"Job{'s' * (len(numbers) > 1)} {' '.join(map(str, numbers))} alone: {reason}")
        return sorted(groups, key=lambda group: group[0][0])

    def launch(self, job_overrides, initial_job_idx: int) -> list:
        """Each group whose jobs have not all finished before (a resumed sweep) as one job; each job's result, in
        order (a stacked job's is its group's first job's)."""
        sweep = Path(self.config.hydra.sweep.dir)
        jobs = list(enumerate([list(overrides) for overrides in job_overrides], start=initial_job_idx))
        of_job = {number: kept for number, overrides in jobs
                  if (kept := finished_result(sweep / str(number), overrides)) is not None}
        groups = [group for group in self.groups(jobs) if any(number not in of_job for number, _ in group)]
        write_stacks(sweep, {group[0][0]: group for group in groups if len(group) > 1})
        results = self.launcher.launch([[*group[0][1], f"hydra.sweep.subdir={group[0][0]}"] for group in groups],
                                       initial_job_idx=initial_job_idx) if groups else []
        of_job.update({number: result for group, result in zip(groups, results) for number, _ in group})
        return [of_job[number] for number, _ in jobs]


def finished_result(folder: Path, overrides: list[str]) -> JobReturn | None:
    """A launcher's result for a job whose folder holds a finished run of these overrides (resume.finished_job), so
    that a relaunched sweep need not run it; None when it must run."""
    earlier = finished_job(folder, overrides)
    if earlier is None:
        return None
    return JobReturn(overrides=list(overrides), status=JobStatus.COMPLETED, _return_value=earlier.best_val_acc)


def stacking(launcher, config: DictConfig, config_loader):
    """The launcher a grid or confirm sweeper launches through: StackedLaunch with stack=true."""
    return StackedLaunch(launcher, config, config_loader) if config.get("stack") else launcher


class RecordPlan(Callback):
    """Hydra callback, after the checks: before a grid's first job, its jobs in `<sweep>/plan.json`, so that a sweep
    stopped at any point reports how many of them ran (a sequential sweep writes its own plan, round by round; a
    search's trials are drawn as it goes)."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        if is_grid(config) and not is_sequential(config):
            write_plan(Path(config.hydra.sweep.dir), SweepPlan(dict(enumerate(grid_jobs(config)))))


def journal_storage(path: str | Path):
    """A study's storage in a journal file (guarded by a lock file), which processes on any launcher can share."""
    import optuna  # here, not at the top: a grid sweep, and every start of src/train.py, goes without it

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
