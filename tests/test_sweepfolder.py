"""The sweep folder's contract: plan.json written and read back as the same typed records, numbers and all, and a
sweep from before plan.json (its sequential.json) read as a plan the report decides at."""

import json

from fashionlab.sweepfolder import Comparison, Look, Sequential, Stop, SweepPlan, read_plan, write_plan


def test_a_plan_reads_back_as_written(tmp_path):
    trail = [Look(1, {"optimizer=sgd": 3, "optimizer=adam": 3}, {"optimizer=sgd": [2]}, "optimizer=adam",
                  [Comparison("optimizer=sgd", (3, 2), 0.004, (-0.01, 0.018), (-0.006, 0.014), "undecided")],
                  ["optimizer=sgd", "optimizer=adam"])]
    plan = SweepPlan({0: ["optimizer=sgd", "seed=0"], 5: ["optimizer=adam", "seed=2"]},
                     Sequential(0.002, (3, 5, 8), 0.05, 4, 25.0, 3.5, 21.0, trail, Stop.BUDGET))
    write_plan(tmp_path, plan)
    assert read_plan(tmp_path) == plan
    assert plan.sequential.max_seeds == 8 and plan.sequential.seeds_spent == 6
    assert json.loads((tmp_path / "plan.json").read_text())["sequential"]["stopped"] == "budget"


def test_a_sweep_from_before_plan_json_reads_its_sequential_record(tmp_path):
    (tmp_path / "sequential.json").write_text(json.dumps({
        "plan": {"margin": 0.002, "looks": [3, 5], "alpha": 0.05}, "first_seed": 0, "budget_minutes": None,
        "looks": [{"look": 1, "planned": "3 each", "winner": "optimizer=adam", "next": [],
                   "comparisons": [{"against": "optimizer=sgd", "n": "3 vs 3", "difference": 0.004,
                                    "better_interval": [0.001, 0.007], "equivalent_interval": [0.002, 0.006],
                                    "verdict": "better"}]}],
        "seeds_spent": 6, "stopped": "decided"}))
    plan = read_plan(tmp_path)
    assert plan.jobs == {} and plan.sequential.looks == (3, 5) and plan.sequential.stopped == Stop.DECIDED
    (look,) = plan.sequential.trail
    assert look.comparisons[0].n == (3, 3) and look.comparisons[0].verdict == "better"
    assert read_plan(tmp_path / "nowhere") == SweepPlan()
