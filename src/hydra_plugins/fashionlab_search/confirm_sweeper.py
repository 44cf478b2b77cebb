"""`hydra/sweeper=confirm`: replicates of given configurations, a fixed number of seeds each or seeds added in rounds
until every comparison is decided (`make confirm`, `SEEDS=auto`).

`hydra.sweeper.configurations` lists the overrides of each configuration to rerun (the top configurations of a
finished sweep); empty, the configurations are the grid of `hydra.sweeper.params` and the command line, as Hydra's
basic sweeper would run it. The command line's own overrides apply to each.

- Fixed seeds (`hydra.sweeper.max_seeds=null`): the seeds are a command-line sweep (`seed=5,6,7,8,9`), one job per
  configuration and seed.
- Sequential (`hydra.sweeper.max_seeds=20`): each round gives fresh seeds from `first_seed` on, up to the plan's next
  look (fashionlab.reporting.decisions.Plan: 3, 5, 8, 12, 20), to the configurations whose comparison with the winner
  is still undecided and to the winner; each look decides from the run folders, with the report's own code, and the
  sweep stops once every comparison is decided, at `max_seeds`, or before a round that would end past
  `budget_minutes`. Job numbers run on from round to round, and `<sweep>/sequential.json` records every look.
  Launched into its folder again (`make resume`), it replays the rounds: decisions depend only on the runs, so the
  same jobs come back with the same numbers; finished ones are not launched again and stopped ones continue.

The jobs are ordinary jobs of any launcher, checked and named as a grid's are.
"""

import itertools
import logging
import time
from pathlib import Path
from typing import Any

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.config_store import ConfigStore
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override
from omegaconf import OmegaConf

from fashionlab.overrides import configuration_overrides, override_values
from fashionlab.runfolder import has_finished, read_summary
from fashionlab.sweeps import job_overrides

log = logging.getLogger(__name__)

# A plain node, not a dataclass: an experiment that ran a search (experiment=search) also sets the search sweeper's
# keys (n_trials, sampler, ...), which must merge in here and are left unused.
ConfigStore.instance().store(group="hydra/sweeper", name="confirm", provider="fashionlab", node={
    "_target_": "hydra_plugins.fashionlab_search.confirm_sweeper.ConfirmSweeper",
    "configurations": [],     # the overrides of each configuration; empty: the grid of params and the command line
    "max_batch_size": None,
    "max_seeds": None,        # null: the seeds are given (seed=...); a number: seeds added in rounds, up to this many
    "first_seed": 0,          # the first seed of a sequential sweep (make confirm: past the seeds the source used)
    "budget_minutes": None,   # a sequential sweep starts no round that would end past this many minutes
})


class ConfirmSweeper(BasicSweeper):
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
        return self.sequential(self.configuration_jobs([*self._parse_config(), *arguments]))

    def sequential(self, configurations: list[list[str]]) -> list:
        """Rounds of seeds until every comparison is decided (see the module's docstring)."""
        from fashionlab.reporting.decisions import Plan  # the reporting stack, once a sequential sweep really runs
        from fashionlab.reporting.runs import load_sweep
        from fashionlab.reporting.selection import select
        from fashionlab.sequential import new_record, record_look, write_record

        sweep_dir = Path(self.config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.config, sweep_dir / "multirun.yaml")
        plan = Plan.sequential(self.max_seeds, self.config.report.margin)
        record = new_record(plan, self.first_seed, self.budget_minutes)
        keys = [frozenset(configuration_overrides(overrides)) for overrides in configurations]
        seeds, going = [0] * len(configurations), [True] * len(configurations)  # per configuration
        clock, next_job, returns = Clock(self.budget_minutes), 0, []
        for look, target in enumerate(plan.looks):
            jobs = [[*overrides, f"seed={self.first_seed + seed}"] for overrides, count, more
                    in zip(configurations, seeds, going) if more for seed in range(count, target)]
            seeds = [target if more else count for count, more in zip(seeds, going)]
            returns += self.launch_unfinished(sweep_dir, jobs, next_job, clock)
            next_job += len(jobs)
            # the runs of the rounds so far, also when a resumed sweep's folder holds later ones
            selection = select([run for run in load_sweep(sweep_dir) if int(run.name) < next_job], plan, look)
            undecided = {frozenset(c.overrides) for c in selection.need_seeds}
            going = [key in undecided for key in keys]
            upcoming = sum(plan.looks[look + 1] - count for count, more in zip(seeds, going) if more) \
                if look + 1 < len(plan.looks) else 0
            stopped = ("decided" if not any(going) else "max_seeds" if not upcoming
                       else "budget" if clock.over(upcoming) else None)
            record_look(record, selection, dict(zip(keys, seeds)), [] if stopped else
                        [key for key, more in zip(keys, going) if more], stopped)
            write_record(sweep_dir, record)
            log.info(f"Look {look + 1}: " + (f"stopped ({stopped})" if stopped else
                                             f"{sum(going)} configurations get more seeds"))
            if stopped:
                break
        return returns

    def launch_unfinished(self, sweep_dir: Path, jobs: list[list[str]], first: int, clock: "Clock") -> list:
        """Launch the jobs numbered from `first` whose folders hold no finished run of the same overrides (all of them,
        but in a resumed sweep), in runs of consecutive numbers and batches of max_batch_size; their results. A failed
        job stops the sweep with its error, as the basic sweeper does."""
        pending = [(number, overrides) for number, overrides in enumerate(jobs, start=first)
                   if not finished(sweep_dir / str(number), overrides)]
        results, started = [], time.monotonic()
        for _, run in itertools.groupby(enumerate(pending), key=lambda item: item[1][0] - item[0]):
            run = [job for _, job in run]
            for chunk in self.split_overrides_to_chunks(run, self.max_batch_size):
                results += self.launcher.launch([overrides for _, overrides in chunk], initial_job_idx=chunk[0][0])
        clock.ran(len(pending), time.monotonic() - started)
        for result in results:
            _ = result.return_value  # raises the error of a failed job
        return results


class Clock:
    """A sequential sweep's time budget: no round starts that would end past it, at the seconds per job of the jobs
    this command ran (a resumed sweep's replayed jobs take no time and do not count)."""

    def __init__(self, budget_minutes: float | None):
        self.budget_minutes, self.started, self.jobs, self.seconds = budget_minutes, time.monotonic(), 0, 0.0

    def ran(self, jobs: int, seconds: float) -> None:
        if jobs:
            self.jobs, self.seconds = self.jobs + jobs, self.seconds + seconds

    def over(self, upcoming_jobs: int) -> bool:
        if self.budget_minutes is None:
            return False
        per_job = self.seconds / self.jobs if self.jobs else 0.0
        return time.monotonic() - self.started + upcoming_jobs * per_job > 60 * self.budget_minutes


def finished(job: Path, overrides: list[str]) -> bool:
    """Whether the job folder holds a finished run of these overrides."""
    summary = read_summary(job)
    return has_finished(summary) and override_values(summary.get("overrides", [])) == override_values(overrides)
