"""The sweep folder, the one contract between what launches a sweep (src/sweep.py, the Hydra sweepers, resume) and
what reads it (the report, fashionlab.api, make confirm): where its files are, the plan and its records, and their one
reader and writer. Numbers and overrides only; the report formats them.

    <sweep>/multirun.yaml        Hydra's record of the sweep's command (`make resume` launches it again)
    <sweep>/plan.json            written before the first job starts: the jobs planned so far (job number -> its
                                 overrides: a grid's jobs, a sequential sweep's rounds drawn so far) and, for a
                                 sequential sweep, its design, seeds, budget, minutes spent and decision trail
    <sweep>/<N>/                 job N's run folder (fashionlab.runfolder); a search's job N is trial N
    <sweep>/confirms.yaml        in a confirmation (make confirm): the sweep it reruns and what it reruns
    <sweep>/confirmations.yaml   in a confirmed sweep: the sweeps that rerun it
    <sweep>/stacks.json          with stack=true, the groups of the launch under way: leader job number -> the jobs
                                 (number, overrides) its one process trains as a stack (fashionlab.stacking)
    <sweep>/varying.yaml         what varies across the jobs (fashionlab.varying: run names, HPARAMS)
    <sweep>/optuna.journal, optimization_results.yaml    a search's study and best trial (its sweeper's)
    <sweep>/report.md, runs.csv, test_metrics.json, *.png, aggregate/    the report's (src/report.py)
"""

import json
from dataclasses import asdict, dataclass, field
from enum import Enum
from pathlib import Path

from fashionlab.runfolder import write_json

SWEEPS_ROOT = Path("outputs/multirun")  # Hydra's multirun layout: <date>/<time> under it
MULTIRUN, PLAN = "multirun.yaml", "plan.json"
LEGACY_RECORD = "sequential.json"  # a sequential sweep's record before plan.json held it
CONFIRMS, CONFIRMATIONS = "confirms.yaml", "confirmations.yaml"
STACKS = "stacks.json"


@dataclass(frozen=True)
class Seeds:
    """How many seeds a sweep gives each configuration: `count` of them, or (`auto`) added until decided, at most
    `count`."""

    count: int
    auto: bool

    def __str__(self) -> str:
        return f"auto:{self.count}" if self.auto else str(self.count)


def job_order(name: str) -> tuple[int, str]:
    """The sort key of job folder names: by number (job 10 after 9), as Hydra numbers them."""
    return len(name), name


class Stop(str, Enum):
    """Why a sequential sweep stopped adding seeds (None in the record: it has not stopped, its verdicts are
    provisional)."""

    DECIDED = "decided"          # every comparison with the winner decided
    MAX_SEEDS = "max_seeds"      # the plan's last look taken, comparisons still undecided
    BUDGET = "budget"            # the next round would end past the time budget
    INTERRUPTED = "interrupted"  # stopped from outside (Ctrl-C, SIGTERM) during a round

    def __str__(self) -> str:
        return self.value


@dataclass
class Comparison:
    """The look's winner against one configuration (accuracies as fractions)."""

    against: str
    n: tuple[int, int]  # completed replicates: the winner's, the other's
    difference: float
    better_interval: tuple[float, float]
    equivalent_interval: tuple[float, float]
    verdict: str


@dataclass
class Look:
    """One look of a sequential sweep: seeds launched per configuration, the failed ones, the winner, each comparison
    and the configurations the next round gives seeds."""

    look: int  # 1-based
    seeds: dict[str, int]
    failed: dict[str, list[int]]
    winner: str | None
    comparisons: list[Comparison]
    next: list[str]


@dataclass
class Sequential:
    """A sequential sweep's plan and trail: the design its report decides at (margin, seeds per configuration at each
    look, each error rate), the seeds it draws, its time budget and the minutes its commands have spent so far."""

    margin: float
    looks: tuple[int, ...]
    alpha: float
    first_seed: int
    budget_minutes: float | None
    minutes_spent: float = 0.0
    seconds_per_job: float | None = None  # measured over the jobs that ran, for the budget's next round
    trail: list[Look] = field(default_factory=list)
    stopped: Stop | None = None

    @property
    def max_seeds(self) -> int:
        return self.looks[-1]

    @property
    def seeds_spent(self) -> int:
        return sum(self.trail[-1].seeds.values()) if self.trail else 0


@dataclass
class SweepPlan:
    """What a sweep set out to run: its jobs by number (those drawn so far) and, when sequential, its design."""

    jobs: dict[int, list[str]] = field(default_factory=dict)
    sequential: Sequential | None = None


def write_plan(sweep: Path, plan: SweepPlan) -> None:
    sweep.mkdir(parents=True, exist_ok=True)
    write_json(sweep / PLAN, asdict(plan))


def read_plan(sweep: Path) -> SweepPlan:
    """The sweep's plan; an empty one for a sweep from before plan.json (its jobs are its folders)."""
    path = sweep / PLAN
    if path.is_file():
        data = json.loads(path.read_text())
        sequential = data.get("sequential")
        return SweepPlan({int(number): overrides for number, overrides in data["jobs"].items()},
                    _sequential(sequential) if sequential else None)
    legacy = sweep / LEGACY_RECORD
    return SweepPlan({}, _legacy_sequential(json.loads(legacy.read_text()))) if legacy.is_file() else SweepPlan()


def _sequential(data: dict) -> Sequential:
    trail = [Look(**{**look, "comparisons": [Comparison(**{**c, "n": tuple(c["n"]),
                                                           "better_interval": tuple(c["better_interval"]),
                                                           "equivalent_interval": tuple(c["equivalent_interval"])})
                                             for c in look["comparisons"]]})
             for look in data["trail"]]
    return Sequential(**{**data, "looks": tuple(data["looks"]), "trail": trail,
                         "stopped": Stop(data["stopped"]) if data["stopped"] else None})


def _legacy_sequential(record: dict) -> Sequential:
    """sequential.json of a sweep from before plan.json: its design, stop and trail (without each look's seeds per
    configuration, which it kept as display text only)."""
    trail = [Look(look["look"], {}, {}, look["winner"],
                  [Comparison(c["against"], tuple(int(n) for n in c["n"].split(" vs ")), c["difference"],
                              tuple(c["better_interval"]), tuple(c["equivalent_interval"]), c["verdict"])
                   for c in look["comparisons"]], look["next"]) for look in record["looks"]]
    plan = record["plan"]
    return Sequential(plan["margin"], tuple(plan["looks"]), plan["alpha"], record["first_seed"],
                      record["budget_minutes"], trail=trail,
                      stopped=Stop(record["stopped"]) if record["stopped"] else None)


def write_stacks(sweep: Path, stacks: dict[int, list[tuple[int, list[str]]]]) -> None:
    """The stacks of the launch about to start (leader job number -> its jobs), before any of its jobs runs."""
    write_json(sweep / STACKS, {str(leader): [[number, overrides] for number, overrides in jobs]
                                for leader, jobs in stacks.items()})


def read_stack(sweep: Path, leader: int) -> list[tuple[int, list[str]]] | None:
    """The jobs that job `leader` trains as a stack, or None when it runs alone."""
    path = sweep / STACKS
    jobs = json.loads(path.read_text()).get(str(leader)) if path.is_file() else None
    return [(int(number), list(overrides)) for number, overrides in jobs] if jobs else None
