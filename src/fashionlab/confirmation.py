"""`make confirm`: rerun the top configurations of a finished sweep (grid, search, ablation) over fresh seeds, as one
new sweep of the confirm sweeper (hydra/sweeper=confirm), whose report then says which is better, which are
equivalent and which are undecided.

Fresh seeds: the confirmation starts after the highest seed the sweep used, so the run that won the selection does
not count toward its own confirmation (its luck is what the confirmation must not inherit).
"""

from dataclasses import dataclass
from pathlib import Path

from omegaconf import OmegaConf

from fashionlab.overrides import override_key, override_values
from fashionlab.preflight import check_comparable
from fashionlab.reporting.runs import ReportError
from fashionlab.reporting.selection import Configuration
from fashionlab.reporting.sweep import load
from fashionlab.sweepfolder import CONFIRMATIONS, CONFIRMS, Seeds


@dataclass(frozen=True)
class Confirmation:
    source: Path
    sweep: Path
    configurations: list[Configuration]
    first_seed: int
    seeds: Seeds
    budget_minutes: float | None = None

    @property
    def seeds_text(self) -> str:
        if not self.seeds.auto:
            return f"{self.first_seed}-{self.first_seed + self.seeds.count - 1}"
        return f"from {self.first_seed} on, added until decided, at most {self.seeds.count} each"

    def command(self, extra: list[str]) -> list[str]:
        """The arguments of src/train.py that run it: the overrides every configuration shares, then each
        configuration's own ones as a row of the confirm sweeper, then the seeds (or the sequential plan's), then
        `extra` (for every job: where it runs, ...), which replaces an override of the source sweep with its key."""
        replaced = set(override_values(extra))
        kept = [[o for o in c.overrides if override_key(o) not in replaced] for c in self.configurations]
        shared = [o for o in kept[0] if all(o in overrides for overrides in kept)]
        rows = ",".join("[" + ",".join(f'"{o}"' for o in overrides if o not in shared) + "]" for overrides in kept)
        if not self.seeds.auto:
            seeds = [f"seed={','.join(str(self.first_seed + i) for i in range(self.seeds.count))}"]
        else:
            seeds = [f"hydra.sweeper.max_seeds={self.seeds.count}", f"hydra.sweeper.first_seed={self.first_seed}"]
            seeds += [f"hydra.sweeper.budget_minutes={self.budget_minutes:g}"] if self.budget_minutes else []
        return ["-m", *shared, "hydra/sweeper=confirm", f"hydra.sweeper.configurations=[{rows}]", *seeds, *extra,
                f"hydra.sweep.dir={self.sweep}"]


def plan(source: Path, top: int, seeds: Seeds, per_group: bool, sweep: Path,
         budget_minutes: float | None = None) -> Confirmation:
    """What to rerun: the `top` configurations by mean best val acc (or, `per_group`, the best of each group), over
    `seeds` fresh seeds, into `sweep`. Raises ReportError for a folder that is no sweep or has no completed run, and
    ConfigError for seeds added until decided over one configuration."""
    reported = load(source)
    runs, selection = reported.runs, reported.selection
    chosen = list(selection.group_best.values()) if per_group else \
        [c for c in selection.configurations if c.sample.n][:top]
    if not chosen:
        raise ReportError(f"{source} has no completed run: nothing to confirm (its report lists each run's status)")
    if seeds.auto:
        check_comparable(len(chosen), seeds.count)
    first = max(run.seed for run in runs) + 1
    return Confirmation(source, Path(sweep), chosen, first, seeds, budget_minutes)


def record(confirmation: Confirmation) -> None:
    """Link the two sweeps: `<new>/confirms.yaml` names the source and what it reruns, `<source>/confirmations.yaml`
    lists the sweeps that confirm it; each report links the other."""
    confirmation.sweep.mkdir(parents=True, exist_ok=True)
    OmegaConf.save({"source": str(confirmation.source), "seeds": confirmation.seeds_text,
                    "configurations": [c.label for c in confirmation.configurations]}, confirmation.sweep / CONFIRMS)
    listed = confirmation.source / CONFIRMATIONS
    others = list(OmegaConf.load(listed)) if listed.is_file() else []
    OmegaConf.save(sorted({*others, str(confirmation.sweep)}), listed)
