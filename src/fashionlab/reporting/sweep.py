"""A sweep as reported, loaded once: its runs, its plan (fashionlab.sweepfolder) and the selection decided at the
plan's last look. The report, fashionlab.api and make confirm all take it from here, so their verdicts agree; the
sequential sweeper records each look's trail with `look_record`."""

from dataclasses import dataclass
from pathlib import Path

from fashionlab.runfolder import FINISHED, Status
from fashionlab.sweepfolder import Comparison, Look, Sequential, SweepPlan, job_order, read_plan
from fashionlab.reporting.decisions import Plan
from fashionlab.reporting.runs import Run, job_folders, load_sweep, started
from fashionlab.reporting.selection import Selection, select

NOT_STARTED = "not started"  # the status of a planned job that has no run folder


def decision_plan(sequential: Sequential) -> tuple[Plan, int]:
    """The design a sequential sweep's verdicts are decided at, and the look: the last one taken (the first before
    any): verdicts are re-judged at every look, and the last look's are the sweep's."""
    return Plan(sequential.margin, tuple(sequential.looks), sequential.alpha), max(len(sequential.trail) - 1, 0)


@dataclass(frozen=True)
class ReportedSweep:
    folder: Path
    runs: list[Run]
    plan: SweepPlan
    selection: Selection

    half_written: tuple[str, ...]  # job folders Hydra had not finished writing when the sweep stopped

    @property
    def not_started(self) -> list[tuple[str, list[str]]]:
        """The planned jobs that did not start (a round not yet reached, a job cancelled before it started, a folder
        Hydra was still writing when the sweep stopped; overrides [] where the plan does not list it): job name and
        overrides, in job order."""
        started = {run.name for run in self.runs}
        waiting = {str(number): overrides for number, overrides in self.plan.jobs.items() if str(number) not in started}
        return sorted({**{name: [] for name in self.half_written}, **waiting}.items(), key=lambda job: job_order(job[0]))

    @property
    def ended(self) -> int:
        """The runs that ended (finished or failed), which a relaunch does not run again."""
        return sum(run.status in (*FINISHED, Status.FAILED) for run in self.runs)

    @property
    def planned(self) -> int:
        return len({*map(str, self.plan.jobs), *map(str, self.half_written), *(run.name for run in self.runs)})

    @property
    def provisional(self) -> bool:
        """Whether the sweep stopped before it ran what it planned: jobs not ended, or a sequential sweep with no
        stop recorded."""
        sequential = self.plan.sequential
        return self.ended < self.planned or (sequential is not None and sequential.stopped is None)


def load(folder: Path) -> ReportedSweep:
    """The sweep in `folder` as its report states it; ReportError for a folder that is no sweep."""
    runs = load_sweep(folder)
    plan = read_plan(folder)
    selection = select(runs, *decision_plan(plan.sequential)) if plan.sequential else select(runs)
    return ReportedSweep(folder, runs, plan, selection,
                         tuple(job.name for job in job_folders(folder) if not started(job)))


def look_record(selection: Selection, seeds: dict[str, int], failed: dict[str, list[int]], going: list[str]) -> Look:
    """A sequential sweep's look as its trail records it (configurations by label)."""
    return Look(selection.look + 1, seeds, failed, selection.selected.label if selection.selected else None,
                [Comparison(v.other.label, (v.winner.sample.n, v.other.sample.n), v.comparison.difference,
                            v.comparison.better_interval, v.comparison.equivalent_interval, v.comparison.verdict)
                 for v in selection.verdicts], going)
