"""`hydra/sweeper=confirm`: replicates of given configurations, a fixed number of seeds each or seeds added in rounds
until every comparison is decided (`make confirm`, `SEEDS=auto`).

`hydra.sweeper.configurations` lists the overrides of each configuration to rerun (the top configurations of a
finished sweep); empty, the configurations are the grid of `hydra.sweeper.params` and the command line, as Hydra's
basic sweeper would run it. The command line's own overrides apply to each.

- Fixed seeds (`hydra.sweeper.max_seeds=null`): the seeds are a command-line sweep (`seed=5,6,7,8,9`), one job per
  configuration and seed.
- Sequential (`hydra.sweeper.max_seeds=20`): each configuration's own seed list (a recipe's `seed: 0,1,2`) is
  dropped, duplicates with it; each round gives fresh seeds from `first_seed` on, up to the plan's next look
  (fashionlab.reporting.decisions.Plan: 3, 5, 8, 12, 20), to the configurations the round policy names
  (fashionlab.reporting.rounds.next_round: those still undecided against the winner, and the winner); each look
  decides from the run folders, with the report's own code. The plan (`<sweep>/plan.json`, fashionlab.sweepfolder)
  is written before the first job starts and after every look: the jobs drawn so far, the design, the budget and the
  minutes spent, the trail. A failed job is a missing value: the sweep goes on, and ends with the first failure's
  error once its rounds are done. Launched into its folder again (`make resume`), it replays the rounds: decisions
  depend only on the runs, so the same jobs come back with the same numbers; finished ones are not launched again,
  stopped ones continue, and the budget goes on from the minutes already spent (a new `budget_minutes` gives more).

The jobs are ordinary jobs of any launcher, checked and named as a grid's are.
"""

import logging
import sys
import time
from functools import partial
from pathlib import Path
from typing import Any

from hydra.core.config_store import ConfigStore
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override
from omegaconf import OmegaConf

from fashionlab.overrides import configuration_overrides, override_key
from fashionlab.resume import finished_job
from fashionlab.runfolder import Status
from fashionlab.sweepfolder import MULTIRUN, Sequential, Stop, read_plan, write_plan
from fashionlab.sweeps import job_overrides, launch_numbered
from hydra_plugins.fashionlab_search.grid_sweeper import GridSweeper

log = logging.getLogger(__name__)

# A plain node, not a dataclass: an experiment that ran a search (experiment=search) also sets the search sweeper's
# keys (n_trials, sampler, ...), which must merge in here and are left unused.
ConfigStore.instance().store(group="hydra/sweeper", name="confirm", provider="fashionlab", node={
    "_target_": "hydra_plugins.fashionlab_search.confirm_sweeper.ConfirmSweeper",
    "configurations": [],     # the overrides of each configuration; empty: the grid of params and the command line
    "max_batch_size": None,
    "max_seeds": None,        # null: the seeds are given (seed=...); a number: seeds added in rounds, up to this many
    "first_seed": 0,          # the first seed of a sequential sweep (make confirm: past the seeds the source used)
    "budget_minutes": None,   # a sequential sweep starts no round that would end past this many minutes in all
})


class ConfirmSweeper(GridSweeper):
    def __init__(self, configurations: list[list[str]], max_batch_size: int | None = None,
                 max_seeds: int | None = None, first_seed: int = 0, budget_minutes: float | None = None,
                 params: dict[str, str] | None = None, **unused: Any) -> None:
        """`params`: an experiment's grid, used when no configurations are given; `unused`: what an experiment set
        for another sweeper (a search's settings)."""
        super().__init__(max_batch_size, None if configurations else dict(params or {}))
        self.configurations = [list(configuration) for configuration in configurations]
        self.max_seeds, self.first_seed, self.budget_minutes = max_seeds, first_seed, budget_minutes

    def split_arguments(self, overrides: list[Override], max_batch_size: int | None) -> list[list[list[str]]]:
        """The jobs of BasicSweeper.sweep: each configuration with the command line, in batches."""
        jobs = self.configuration_jobs([override.input_line for override in overrides])
        return list(self.split_overrides_to_chunks(jobs, max_batch_size))

    def configuration_jobs(self, arguments: list[str]) -> list[list[str]]:
        parser = OverridesParser.create(config_loader=self.hydra_context.config_loader)
        return job_overrides(parser, arguments, self.configurations)

    def sweep(self, arguments: list[str]) -> Any:
        if self.max_seeds is None:
            return super().sweep(arguments)
        return self.sequential(distinct_configurations(self.configuration_jobs([*self._parse_config(), *arguments])))

    def sequential(self, configurations: list[list[str]]) -> list:
        """Rounds of seeds until every comparison is decided (see the module's docstring)."""
        # the reporting stack, once a sequential sweep really runs
        from fashionlab.reporting.decisions import Plan
        from fashionlab.reporting.rounds import next_round, stop_of
        from fashionlab.reporting.runs import load_sweep
        from fashionlab.reporting.selection import select
        from fashionlab.reporting.sweep import look_record

        sweep_dir = Path(self.config.hydra.sweep.dir)
        design = Plan.sequential(self.max_seeds, self.config.report.margin)
        plan = read_plan(sweep_dir)
        earlier = plan.sequential
        if earlier is not None and tuple(earlier.looks) != design.looks:
            sys.exit(f"error: hydra.sweeper.max_seeds={self.max_seeds}: not allowed, the sweep in {sweep_dir} was "
                     f"planned with at most {earlier.max_seeds} seeds; its looks and error rates are fixed by that "
                     f"plan. To go further, confirm its top configurations in a new sweep (make confirm SWEEP={sweep_dir}"
                     f" SEEDS=auto:{self.max_seeds})")
        record = Sequential(design.margin, design.looks, design.alpha, self.first_seed, self.budget_minutes,
                            earlier.minutes_spent if earlier else 0.0, earlier.seconds_per_job if earlier else None)
        plan.sequential = record
        OmegaConf.save(self.config, sweep_dir / MULTIRUN)
        write_plan(sweep_dir, plan)
        keys = [frozenset(configuration_overrides(overrides)) for overrides in configurations]
        clock = Clock(record)
        seeds, next_job, returns = [0] * len(configurations), 0, []
        targets = [design.looks[0]] * len(configurations)
        try:
            for look in range(len(design.looks)):
                jobs = self.round_jobs(configurations, seeds, targets)
                plan.jobs.update(enumerate(jobs, start=next_job))
                write_plan(sweep_dir, plan)
                returns += self.launch_unfinished(sweep_dir, jobs, next_job, clock)
                next_job, seeds = next_job + len(jobs), targets
                # the runs of the rounds so far, also when a resumed sweep's folder holds later ones
                selection = select([run for run in load_sweep(sweep_dir) if int(run.name) < next_job], design, look)
                labels = {frozenset(c.overrides): c.label for c in selection.configurations}
                label = {key: labels.get(key, " ".join(sorted(key))) for key in keys}
                undecided = {frozenset(c.overrides) for c in selection.need_seeds}
                over_budget = partial(self.over_budget, sweep_dir, configurations, next_job, clock)
                targets, stop = next_round(seeds, [key in undecided for key in keys], design.looks, look, over_budget)
                targets, record.stopped = [int(n) for n in targets[0]], stop_of(int(stop[0]))
                failed = {c.label: [run.seed for run in c.runs if run.status == Status.FAILED]
                          for c in selection.configurations}
                record.trail.append(look_record(selection, {label[key]: n for key, n in zip(keys, seeds)},
                                                {name: found for name, found in failed.items() if found},
                                                [label[key] for key, old, new in zip(keys, seeds, targets) if new > old]))
                clock.save()
                write_plan(sweep_dir, plan)
                log.info(f"Look {look + 1}: " + (f"stopped ({record.stopped})" if record.stopped else
                                                 f"{sum(new > old for old, new in zip(seeds, targets))} configurations "
                                                 "get more seeds"))
                if record.stopped:
                    break
        except (KeyboardInterrupt, SystemExit):
            record.stopped = record.stopped or Stop.INTERRUPTED
            clock.save()
            write_plan(sweep_dir, plan)
            raise
        for result in returns:
            _ = result.return_value  # the first failed job's error, now that every round has run
        return returns

    def round_jobs(self, configurations: list[list[str]], seeds: list[int], targets: list[int]) -> list[list[str]]:
        """The jobs of a round that takes each configuration from `seeds` to `targets` fresh seeds, in job order."""
        return [[*overrides, f"seed={self.first_seed + seed}"]
                for overrides, count, target in zip(configurations, seeds, targets) for seed in range(count, target)]

    def over_budget(self, sweep_dir: Path, configurations: list[list[str]], first: int, clock: "Clock",
                    seeds: list[int], targets: list[int]) -> bool:
        """Whether the round from `seeds` to `targets`, its jobs numbered from `first`, would end past the budget: the
        jobs a resumed sweep finished before take no time, so replaying its rounds never stops it early."""
        upcoming = enumerate(self.round_jobs(configurations, seeds, targets), start=first)
        return clock.over(sum(finished_job(sweep_dir / str(number), job) is None for number, job in upcoming))

    def launch_unfinished(self, sweep_dir: Path, jobs: list[list[str]], first: int, clock: "Clock") -> list:
        """Launch the jobs numbered from `first` whose folders hold no finished run of the same overrides (all of them,
        but in a resumed sweep); their results (a failed job's result holds its error)."""
        pending = [(number, overrides) for number, overrides in enumerate(jobs, start=first)
                   if finished_job(sweep_dir / str(number), overrides) is None]
        started = time.monotonic()
        results = launch_numbered(self.launcher, pending, self.max_batch_size)
        clock.ran(len(pending), time.monotonic() - started)
        return results


def distinct_configurations(jobs: list[list[str]]) -> list[list[str]]:
    """The configurations of a sequential sweep's jobs: each job's overrides without its seed, each once (a recipe's
    own seed list would otherwise make copies of one configuration), in order."""
    found: dict[frozenset, list[str]] = {}
    for overrides in jobs:
        configuration = [o for o in overrides if override_key(o) != "seed"]
        found.setdefault(frozenset(configuration_overrides(configuration)), configuration)
    return list(found.values())


class Clock:
    """A sequential sweep's time budget, over all the commands that ran it: no round starts that would end past it,
    at the seconds per job of the jobs that ran (a resumed sweep's replayed jobs take no time and do not count)."""

    def __init__(self, record: Sequential):
        self.record, self.started = record, time.monotonic()
        self.spent_before = record.minutes_spent
        self.jobs, self.seconds = 0, 0.0

    def ran(self, jobs: int, seconds: float) -> None:
        if jobs:
            self.jobs, self.seconds = self.jobs + jobs, self.seconds + seconds

    @property
    def per_job(self) -> float:
        return self.seconds / self.jobs if self.jobs else self.record.seconds_per_job or 0.0

    def save(self) -> None:
        """Record the minutes spent so far and the seconds per job in the sweep's plan."""
        self.record.minutes_spent = self.spent_before + (time.monotonic() - self.started) / 60
        self.record.seconds_per_job = self.per_job or None

    def over(self, upcoming_jobs: int) -> bool:
        """Whether `upcoming_jobs` more would end past the budget; a round with none to run (replayed) never is."""
        if self.record.budget_minutes is None or not upcoming_jobs:
            return False
        spent = 60 * self.spent_before + time.monotonic() - self.started
        return spent + upcoming_jobs * self.per_job > 60 * self.record.budget_minutes
