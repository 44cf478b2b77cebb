"""The report's statistics against a worked example, and selection on the mean rather than the luckiest replicate."""

import json
import math
from pathlib import Path

import pytest
from omegaconf import OmegaConf
from scipy import stats as scipy_stats

from fashionlab.runfolder import METRIC_COLUMNS
from fashionlab.reporting.markdown import configurations_table
from fashionlab.reporting.runs import Run
from fashionlab.reporting.selection import select
from fashionlab.reporting.stats import compare, describe


def test_welch_mann_whitney_and_bonferroni_on_a_worked_example():
    """A = 0.88, 0.90, 0.92 and B = 0.87, 0.88, 0.89, worked by hand: means 0.90 and 0.88, variances 4e-4 and 1e-4,
    standard error sqrt(4e-4/3 + 1e-4/3) = 0.012910, t = 0.02 / 0.012910 = 1.5492, Welch-Satterthwaite df
    = (5e-4/3)^2 / ((4e-4/3)^2/2 + (1e-4/3)^2/2) = 2.9412; of the 9 pairs A is higher in 7 and ties in 1: P(A>B) =
    7.5/9."""
    a, b = [0.88, 0.90, 0.92], [0.87, 0.88, 0.89]
    se, df = math.sqrt(4e-4 / 3 + 1e-4 / 3), 2.9412
    assert 0.02 / se == pytest.approx(1.5492, abs=1e-4)
    one = compare(a, b)
    assert one.difference == pytest.approx(0.02)
    half_width = scipy_stats.t.ppf(0.975, df) * se
    assert (one.ci_low, one.ci_high) == pytest.approx((0.02 - half_width, 0.02 + half_width), abs=1e-4)
    assert one.p_value == pytest.approx(2 * scipy_stats.t.sf(1.5492, df), abs=1e-3)
    assert one.p_value == pytest.approx(0.2209, abs=1e-3)
    assert one.p_superiority == pytest.approx(7.5 / 9)
    assert not one.better and one.replicates_needed == 11

    # three comparisons: each at level 1 - 0.05/3, the p-value multiplied by 3
    three = compare(a, b, comparisons=3)
    assert three.p_corrected == pytest.approx(3 * one.p_value)
    assert three.ci_high - three.ci_low > one.ci_high - one.ci_low
    assert three.replicates_needed > one.replicates_needed

    # clearly apart: better, also after the correction for 2 comparisons
    apart = compare([0.89, 0.90, 0.91], [0.86, 0.87, 0.88], comparisons=2)
    assert apart.better and apart.p_superiority == 1.0 and apart.p_corrected == pytest.approx(0.0426, abs=1e-3)


def test_describe_gives_the_t_interval_of_the_mean_and_nothing_it_cannot_know():
    sample = describe([0.88, 0.90, 0.92])
    half_width = scipy_stats.t.ppf(0.975, 2) * 0.02 / math.sqrt(3)
    assert (sample.n, sample.mean, sample.std) == (3, pytest.approx(0.90), pytest.approx(0.02))
    assert (sample.ci_low, sample.ci_high) == pytest.approx((0.90 - half_width, 0.90 + half_width))
    one = describe([0.9])
    assert one.n == 1 and one.mean == 0.9 and math.isnan(one.std) and math.isnan(one.ci_low)
    lone = compare([0.9], [0.8])
    assert lone.difference == pytest.approx(0.1) and math.isnan(lone.p_value) and not lone.better


def run(folder: Path, job: int, optimizer: str, seed: int, best: float, status: str = "completed") -> Run:
    """A finished job as the report reads it: a checkpoint file, and val acc reaching `best` at epoch 2."""
    (folder / str(job) / "checkpoints").mkdir(parents=True)
    (folder / str(job) / "checkpoints" / "best.ckpt").touch()
    history = {column: [1.0, 2.0] for column in METRIC_COLUMNS} | {"val_acc": [best - 0.01, best]}
    config = OmegaConf.create({"seed": seed, "optimizer": {"_target_": f"torch.optim.{optimizer}", "lr": 0.01},
                               "scheduler": {"scheduler": None}})
    return Run(str(job), folder / str(job), config, (f"optimizer={optimizer.lower()}", f"seed={seed}"),
               {"optimizer": optimizer.lower()}, status, 1.0, history)


def test_the_selected_configuration_has_the_highest_mean_not_the_luckiest_replicate(tmp_path):
    """SGD's luckiest seed (0.90) beats every Adam seed, but Adam's mean (0.86) is higher than SGD's (0.84)."""
    runs = [run(tmp_path, job, "SGD", seed, best) for job, (seed, best) in enumerate(zip(range(3), (0.90, 0.81, 0.81)))]
    runs += [run(tmp_path, 3 + seed, "Adam", seed, 0.86) for seed in range(3)]
    runs.append(run(tmp_path, 6, "Adam", 3, 0.99, status="interrupted"))  # not completed: it never counts
    selection = select(runs)
    assert [c.label for c in selection.configurations] == ["optimizer=adam", "optimizer=sgd"]
    assert selection.selected.label == "optimizer=adam" and selection.selected.sample.n == 3
    assert selection.selected.best_run.name == "3", "the model to use: the first replicate with the top val acc"
    assert max(runs[:6], key=lambda r: r.best_val_acc).name == "0", "the luckiest replicate is SGD's"
    (verdict,) = selection.verdicts
    assert verdict.role == "runner-up" and verdict.other.label == "optimizer=sgd"
    assert verdict.difference.difference == pytest.approx(0.02) and not verdict.difference.better
    assert json.dumps(vars(verdict.difference)), "numbers only, for report.json"

    # a replicate short (SGD's seed 0 left out): the table says so, and the statistics use the completed ones
    short = select(runs[1:])
    note = configurations_table(short)[-1]
    assert note.startswith("Fewer completed replicates than the 3 of the others: optimizer=sgd (n = 2)")
    assert short.configurations[1].values == [0.81, 0.81]
