"""A sequential sweep's record in its folder, `<sweep>/sequential.json`: its plan, each look's decisions and why it
stopped. The confirm sweeper writes it after every look (hydra_plugins.fashionlab_search.confirm_sweeper); the report
reads it for its decision trail and decides at the plan's last look. Plain JSON numbers and words."""

import json
from pathlib import Path

from fashionlab.reporting.decisions import Plan
from fashionlab.reporting.runs import Run
from fashionlab.reporting.selection import Selection, select
from fashionlab.runfolder import write_json

RECORD = "sequential.json"


def new_record(plan: Plan, first_seed: int, budget_minutes: float | None) -> dict:
    return {"plan": {"margin": plan.margin, "looks": list(plan.looks), "alpha": plan.alpha}, "first_seed": first_seed,
            "budget_minutes": budget_minutes, "looks": [], "seeds_spent": 0, "stopped": None}


def record_look(record: dict, selection: Selection, seeds: dict[frozenset, int], going: list[frozenset],
                stopped: str | None) -> None:
    """Add a look to the record: the seeds per configuration so far, the winner, each comparison and who gets seeds
    next (configurations named by their overrides as `seeds` and `going` key them)."""
    label = {frozenset(c.overrides): c.label for c in selection.configurations}.get
    record["looks"].append({
        "look": selection.look + 1, "planned": seeds_text({label(key): n for key, n in seeds.items()}),
        "winner": selection.selected.label if selection.selected else None,
        "comparisons": [{"against": v.other.label, "n": f"{v.winner.sample.n} vs {v.other.sample.n}",
                         "difference": v.comparison.difference, "better_interval": list(v.comparison.better_interval),
                         "equivalent_interval": list(v.comparison.equivalent_interval),
                         "verdict": v.comparison.verdict} for v in selection.verdicts],
        "next": [label(key) for key in going]})
    record.update(seeds_spent=sum(seeds.values()), stopped=stopped)


def seeds_text(seeds: dict[str, int]) -> str:
    """`3 each`, or each configuration's count where they differ."""
    counts = set(seeds.values())
    return f"{counts.pop()} each" if len(counts) == 1 else ", ".join(f"{label}: {n}" for label, n in seeds.items())


def write_record(sweep: Path, record: dict) -> None:
    write_json(Path(sweep) / RECORD, record)


def read_record(sweep: Path) -> dict | None:
    """The sweep's record, None for a sweep that is not sequential."""
    path = Path(sweep) / RECORD
    return json.loads(path.read_text()) if path.is_file() else None


def plan_of(record: dict) -> tuple[Plan, int]:
    """The record's plan and the look the report decides at: the last one taken (the first before any)."""
    plan = Plan(record["plan"]["margin"], tuple(record["plan"]["looks"]), record["plan"]["alpha"])
    return plan, max(len(record["looks"]) - 1, 0)


def select_as_reported(runs: list[Run], record: dict | None) -> Selection:
    """The selection the report decides with: at a sequential sweep's plan and last look, else the fixed design's one
    look. The report and fashionlab.api.load_sweep both take it from here, so their verdicts agree."""
    return select(runs, *plan_of(record)) if record else select(runs)
