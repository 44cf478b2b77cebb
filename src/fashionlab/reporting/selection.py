"""From runs to a choice: configurations (runs that differ only in replicate keys), groups, the selected
configuration, and the verdicts that say how sure the choice is.

The selected configuration is the one with the highest mean best val acc over its completed replicates, never the
luckiest replicate. Verdicts compare it with every other configuration that completed a run (fashionlab.reporting.
decisions): better, equivalent within the margin, or undecided.
"""

import statistics
from dataclasses import dataclass
from functools import cached_property

from omegaconf import OmegaConf

from fashionlab.overrides import REPLICATE_KEYS, configuration_overrides, readable, varying_keys
from fashionlab.reporting import decisions, stats
from fashionlab.reporting.runs import Run


@dataclass(frozen=True)
class Configuration:
    """The runs of one configuration. `group`: the options of the config groups that vary across the sweep
    (`optimizer=momentum`); `setting`: the other varying overrides, which tell a group's configurations apart."""

    group: str
    setting: str
    runs: tuple[Run, ...]

    @property
    def label(self) -> str:
        return " ".join(part for part in (self.group, self.setting) if part) or self.runs[0].title

    @cached_property  # a frozen dataclass still caches: the value goes straight into the instance's __dict__
    def replicates(self) -> list[Run]:
        """The completed runs, the only ones that count (a diverged or stopped run is no finished result)."""
        return [run for run in self.runs if run.selectable]

    @property
    def values(self) -> list[float]:
        return [run.best_val_acc for run in self.replicates]

    @cached_property
    def sample(self) -> stats.Sample:
        return stats.describe(self.values)

    @property
    def overrides(self) -> list[str]:
        """What reruns this configuration: its overrides without replicate keys, as typed."""
        return configuration_overrides(list(self.runs[0].overrides))

    @property
    def best_run(self) -> Run | None:
        """The completed replicate with the highest best val acc: the model to use, chosen on validation."""
        return max(self.replicates, key=lambda run: run.best_val_acc, default=None)

    @property
    def drawn(self) -> list[Run]:
        """The runs its curves average: the completed replicates, else every run that finished an epoch."""
        return self.replicates or [run for run in self.runs if run.history["epoch"]]


@dataclass(frozen=True)
class Verdict:
    """The selected configuration against another one (`role`: runner-up, the best of another group, or empty)."""

    winner: Configuration
    other: Configuration
    role: str
    comparison: decisions.Comparison


@dataclass(frozen=True)
class Selection:
    configurations: list[Configuration]  # by mean best val acc, best first; those without a completed run last
    group_keys: list[str]
    group_best: dict[str, Configuration]  # group -> its configuration with the highest mean
    selected: Configuration | None
    verdicts: list[Verdict]
    plan: decisions.Plan
    look: int  # of the plan: the verdicts are decided at its levels
    need_seeds: list[Configuration]  # what a sequential sweep gives more seeds: the undecided, and the winner then

    @property
    def replicated(self) -> bool:
        """Whether some configuration has two or more completed replicates: a spread to judge differences by."""
        return any(configuration.sample.n >= 2 for configuration in self.configurations)

    @property
    def short_of_replicates(self) -> list[Configuration]:
        """Configurations with fewer completed replicates than the most any configuration has."""
        most = max(configuration.sample.n for configuration in self.configurations)
        return [configuration for configuration in self.configurations if configuration.sample.n < most]


def varying_overrides(runs: list[Run]) -> list[str]:
    """The override keys whose value differs between runs, in command-line order."""
    return varying_keys([run.override_values for run in runs])


def configurations(runs: list[Run]) -> tuple[list[Configuration], list[str]]:
    """Runs grouped into configurations by their varying overrides other than replicate keys, and the group keys:
    the varying keys that are config groups (`optimizer=momentum`, which the torch class would not tell from SGD).
    No varying config group: one group."""
    varying = [key for key in varying_overrides(runs) if key not in REPLICATE_KEYS]
    group_keys = [key for key in varying if any(key in run.choices for run in runs)]
    members: dict[tuple, list[Run]] = {}
    for run in runs:
        members.setdefault(tuple(run.override_values.get(key, "–") for key in varying), []).append(run)
    found = []
    for values, members_of in members.items():
        named = dict(zip(varying, values))
        found.append(Configuration(group=" ".join(f"{key}={named[key]}" for key in group_keys),
                                   setting=" ".join(f"{key}={readable(named[key])}" for key in varying
                                                    if key not in group_keys),
                                   runs=tuple(members_of)))
    found.sort(key=lambda c: (c.sample.n == 0, -c.sample.mean if c.sample.n else 0))
    return found, group_keys


def margin(runs: list[Run]) -> float:
    """The margin of equivalence the runs were configured with (`report.margin`; runs from before it: the default)."""
    return next((value for run in runs if (value := OmegaConf.select(run.config, "report.margin")) is not None),
                decisions.MARGIN)


def select(runs: list[Run], plan: decisions.Plan | None = None, look: int = 0) -> Selection:
    """Configurations, groups, the selected configuration and its verdicts, decided at look `look` of `plan` (default:
    a fixed design of the most replicates any configuration has, at the runs' margin)."""
    found, group_keys = configurations(runs)
    ranked = [configuration for configuration in found if configuration.sample.n]
    group_best: dict[str, Configuration] = {}
    for configuration in ranked:
        group_best.setdefault(configuration.group, configuration)
    plan = plan or decisions.Plan.fixed(max((c.sample.n for c in ranked), default=1), margin(runs))
    if not ranked:
        return Selection(found, group_keys, group_best, None, [], plan, look, [])
    winner, comparisons, more = decisions.compare_with_winner([c.values for c in ranked], plan, look)
    selected = ranked[winner]  # ranked[0]: ranked by mean, the first of equal means

    def role(configuration: Configuration) -> str:
        if configuration is ranked[1]:
            return "runner-up"
        return f"best of {configuration.group}" if group_best[configuration.group] is configuration else ""

    verdicts = [Verdict(selected, other, role(other), comparison)
                for other, comparison in zip(ranked, comparisons) if comparison is not None]
    need_seeds = [configuration for configuration, needed in zip(ranked, more) if needed]
    return Selection(found, group_keys, group_best, selected, verdicts, plan, look, need_seeds)


def curve(configuration: Configuration, column: str, x: str = "epoch") -> tuple[list[float], list[float], list[float]]:
    """The configuration's `column` per epoch: x (mean over runs), mean and sample standard deviation (0 for one
    run), over the epochs every drawn run reached."""
    runs = configuration.drawn
    length = min((len(run.history[column]) for run in runs), default=0)
    xs = [[run.axis(x)[i] for run in runs] for i in range(length)]
    ys = [[run.history[column][i] for run in runs] for i in range(length)]
    return ([statistics.fmean(values) for values in xs], [statistics.fmean(values) for values in ys],
            [statistics.stdev(values) if len(values) > 1 else 0.0 for values in ys])
