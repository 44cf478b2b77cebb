"""The report's statistics: a worked example, the published boundaries of the sequential design, the error rates and
power of the decision procedure simulated through the code the report and the sweeper call, and selection on the mean
rather than the luckiest replicate."""

import json
import math
from pathlib import Path

import pytest
from omegaconf import OmegaConf
from scipy import stats as scipy_stats

from fashionlab.runfolder import METRIC_COLUMNS
from fashionlab.reporting.decisions import BETTER, EQUIVALENT, Plan, compare_with_winner, simulate
from fashionlab.reporting.markdown import configurations_table
from fashionlab.reporting.markdown import interval as interval_text
from fashionlab.reporting.markdown import level_text
from fashionlab.reporting.runs import Run
from fashionlab.reporting.selection import select
from fashionlab.reporting.stats import describe, sequential_levels

SD = MARGIN = 0.002  # the seed spread of best val acc (0.2 pp) and the default margin
DEFAULT = Plan.sequential(20, MARGIN)  # SEEDS=auto: looks at 3, 5, 8, 12, 20 seeds per configuration


def test_welch_tost_and_mann_whitney_on_a_worked_example():
    """A = 0.88, 0.90, 0.92 and B = 0.87, 0.88, 0.89, worked by hand: means 0.90 and 0.88, variances 4e-4 and 1e-4,
    standard error sqrt(4e-4/3 + 1e-4/3) = 0.012910, t = 0.02 / 0.012910 = 1.5492, Welch-Satterthwaite df
    = (5e-4/3)^2 / ((4e-4/3)^2/2 + (1e-4/3)^2/2) = 2.9412, Hsu's df = min(3, 3) - 1 = 2; of the 9 pairs A is higher
    in 7 and ties in 1: P(A>B) = 7.5/9. Two configurations, one look: "better" at two-sided 0.05 (the 95% interval)
    at Hsu's df, equivalence at one-sided 0.05 on each side (the 90% interval) at Welch-Satterthwaite's, as is the
    p-value."""
    a, b = [0.88, 0.90, 0.92], [0.87, 0.88, 0.89]
    se, df = math.sqrt(4e-4 / 3 + 1e-4 / 3), 2.9412
    assert 0.02 / se == pytest.approx(1.5492, abs=1e-4)
    winner, (none, one), more = compare_with_winner([a, b], Plan.fixed(3, margin=0.05), 0)
    assert winner == 0 and none is None and one.difference == pytest.approx(0.02)
    for interval, level, degrees in ((one.better_interval, 0.975, 2), (one.equivalent_interval, 0.95, df)):
        half_width = scipy_stats.t.ppf(level, degrees) * se
        assert interval == pytest.approx((0.02 - half_width, 0.02 + half_width), abs=1e-4)
    assert one.p_value == pytest.approx(2 * scipy_stats.t.sf(1.5492, df), abs=1e-3)
    assert one.p_value == pytest.approx(0.2209, abs=1e-3)
    assert one.p_superiority == pytest.approx(7.5 / 9)
    # 90% interval 0.02 ± 2.37 · 0.0129 = [-0.0106, 0.0506]: not inside ±0.05, not above 0
    assert one.verdict == "undecided" and more == [True, True]
    # planned from the measured spread (pooled sd 0.0158) and difference: equivalence within ±0.05 with 5 each;
    # within the default ±0.002 never, so "better" (effect 1.265, two-sided 0.05 at n - 1 df, 80% power): 12 each
    assert one.replicates_needed == 5
    assert compare_with_winner([a, b], Plan.fixed(3), 0)[1][1].replicates_needed == 12
    assert compare_with_winner([a, b], Plan.fixed(3, margin=0.06), 0)[1][1].verdict == "equivalent"
    # 3 pp apart, sd 1 pp each, 3 seeds: 3 ± t(0.975, 2) · 0.816 pp = [-0.51, +6.51] pp (at Welch's df 4 it was
    # [+0.73, +5.27], better); 4 pp apart is better
    _, (_, close), _ = compare_with_winner([[0.89, 0.90, 0.91], [0.86, 0.87, 0.88]], Plan.fixed(3), 0)
    assert close.verdict == "undecided" and interval_text(close.better_interval) == "[-0.51 pp, +6.51 pp]"
    _, (_, apart), more = compare_with_winner([[0.89, 0.90, 0.91], [0.85, 0.86, 0.87]], Plan.fixed(3), 0)
    assert apart.verdict == "better" and apart.p_superiority == 1.0 and more == [False, False]
    assert json.dumps(vars(apart)), "numbers and words only, for the printed JSON"
    assert interval_text(apart.better_interval) == "[+0.49 pp, +7.51 pp]"  # 4 pp ± t(0.975, 2) · 0.816 pp
    assert interval_text((-1200.0, 1200.0)) == "wider than ±100 pp", "an early look's vacuous interval"
    # ten configurations at SEEDS=auto's first look: each pair's level underflows to 0, and the report says what it means
    assert level_text(Plan.sequential(20).levels(0, 10)[0]) == \
        "below 1e-15 (no comparison can be decided at this look)"
    assert level_text(0.0012345) == "0.00123"


def test_describe_gives_the_t_interval_of_the_mean_and_nothing_it_cannot_know():
    sample = describe([0.88, 0.90, 0.92])
    half_width = scipy_stats.t.ppf(0.975, 2) * 0.02 / math.sqrt(3)
    assert (sample.n, sample.mean, sample.std) == (3, pytest.approx(0.90), pytest.approx(0.02))
    assert (sample.ci_low, sample.ci_high) == pytest.approx((0.90 - half_width, 0.90 + half_width))
    one = describe([0.9])
    assert one.n == 1 and one.mean == 0.9 and math.isnan(one.std) and math.isnan(one.ci_low)
    _, (_, lone), _ = compare_with_winner([[0.9], [0.8]], Plan.fixed(1), 0)
    assert lone.difference == pytest.approx(0.1) and math.isnan(lone.p_value) and lone.verdict == "undecided"


def test_sequential_levels_are_the_published_obrien_fleming_boundaries():
    """Lan–DeMets O'Brien–Fleming-type spending, 5 equally spaced looks, two-sided 0.05 (one-sided 0.025): the z
    boundaries 4.8769, 3.3569, 2.6803, 2.2898, 2.0310 of Jennison and Turnbull's tables and R's ldbounds."""
    fractions = tuple(k / 5 for k in range(1, 6))
    published = [4.8769, 3.3569, 2.6803, 2.2898, 2.0310]
    two_sided = [scipy_stats.norm.isf(level / 2) for level in sequential_levels(fractions, 0.05, True)]
    one_sided = [scipy_stats.norm.isf(level) for level in sequential_levels(fractions, 0.025, False)]
    assert two_sided == pytest.approx(published, abs=2e-4) and one_sided == pytest.approx(published, abs=2e-4)
    assert sequential_levels((1.0,), 0.01, True) == pytest.approx((0.01,)), "one look: the level itself"
    assert DEFAULT.looks == (3, 5, 8, 12, 20) and Plan.sequential(30).looks[-2:] == (20, 30)


def upper(rate: float, experiments: int) -> float:
    """A rate plus 3 Monte Carlo standard errors: where 5% is the design's own rate, the estimate lies within it."""
    return rate + 3 * math.sqrt(rate * (1 - rate) / experiments)


DESIGNS = {"auto": DEFAULT, "3 seeds": Plan.fixed(3, MARGIN), "5 seeds": Plan.fixed(5, MARGIN),
           "20 seeds": Plan.fixed(20, MARGIN)}  # the designs docs/report.md publishes (3: make best's)
STABLE, NOISY = 0.001, 0.005  # seed spreads 5x apart: 0.1 and 0.5 pp


def spreads(kind: str, m: int) -> float | list[float]:
    """Each configuration's seed sd: all SD, or the first half (rounded down) stable and the others noisy."""
    return SD if kind == "equal" else [STABLE] * (m // 2) + [NOISY] * (m - m // 2)


@pytest.mark.parametrize("kind", ["equal", "5x apart"])
@pytest.mark.parametrize("design", DESIGNS)
@pytest.mark.parametrize("m, experiments", [(2, 60_000), (5, 12_000), (10, 6_000)])
def test_a_false_better_stays_within_5_percent_after_selection_over_looks_and_with_unequal_spreads(design, kind, m,
                                                                                                   experiments):
    """All m configurations equal, their seeds spread alike or 5x apart (sd 0.1 and 0.5 pp, half of them each): the
    winner is picked from the same runs, then compared with every other one, at every look; a "better" anywhere is
    false. Two configurations 5x apart come closest (4.98% for auto in 300,000). With Welch-Satterthwaite's df instead
    of Hsu's, these draws gave 5.7% at 3 seeds and 5.3% at 5, which fail here (and 5.2% for auto, which 3 standard
    errors cannot tell from 5%)."""
    result = simulate([0.88] * m, spreads(kind, m), DESIGNS[design], experiments, seed=m)
    assert result.false_better.mean() <= upper(0.05, experiments)


@pytest.mark.parametrize("design, spread", [("auto", 0.0035), ("3 seeds", 0.0015), ("5 seeds", 0.002),
                                            ("20 seeds", 0.0035)])
def test_a_false_equivalent_stays_within_5_percent_with_seed_spreads_5x_apart(design, spread):
    """Two configurations exactly the margin apart, seed spreads 5x apart, at the spread of the difference of two
    values (sqrt(sd1^2 + sd2^2)) where a false "equivalent" peaks for the design (python -m
    fashionlab.reporting.decisions scans it): near 5% there (4.9% for auto), the TOST at Welch-Satterthwaite's df."""
    experiments = 40_000
    pair = [spread / math.sqrt(26), 5 * spread / math.sqrt(26)]
    result = simulate([0.0, -MARGIN], pair, DESIGNS[design], experiments, seed=3)
    assert 0.02 < result.false_equivalent.mean() <= upper(0.05, experiments), "near its peak, and within 5%"


def test_false_equivalent_within_5_percent_better_and_equivalent_decided_with_the_default_budget():
    """Two configurations, sd 0.2 pp, the default margin 0.2 pp and SEEDS=auto (at most 20 seeds each)."""
    experiments = 20_000
    apart = simulate([0.0, -MARGIN], SD, DEFAULT, experiments, seed=1)  # truly differ by exactly the margin
    assert apart.false_equivalent.mean() <= upper(0.05, experiments)
    gap = simulate([0.004, 0.0], SD, DEFAULT, experiments, seed=2)  # 0.4 pp apart
    assert gap.rate(BETTER) >= 0.80 and gap.false_better.mean() == 0
    same = simulate([0.0, 0.0], SD, DEFAULT, experiments, seed=3)
    assert same.rate(EQUIVALENT) >= 0.70
    # 0.4 pp apart: 12.0 seeds each on average (10.7 at Welch-Satterthwaite's df, before issue 34); equal: 19.1 of 20
    assert gap.seeds.mean() < 2 * 13 and same.seeds.mean() < 2 * 20, "stops as soon as decided"


def run(folder: Path, job: int, optimizer: str, seed: int, best: float, status: str = "completed",
        processor: str = "AMD EPYC") -> Run:
    """A finished job as the report reads it: a checkpoint file, and val acc reaching `best` at epoch 2."""
    (folder / str(job) / "checkpoints").mkdir(parents=True)
    (folder / str(job) / "checkpoints" / "best.ckpt").touch()
    history = {column: [1.0, 2.0] for column in METRIC_COLUMNS} | {"val_acc": [best - 0.01, best]}
    config = OmegaConf.create({"seed": seed, "optimizer": {"_target_": f"torch.optim.{optimizer}", "lr": 0.01},
                               "scheduler": {"scheduler": None}})
    return Run(str(job), folder / str(job), config, (f"optimizer={optimizer.lower()}", f"seed={seed}"),
               {"optimizer": optimizer.lower()}, status, 1.0, history, {"processor": processor})


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
    assert verdict.comparison.difference == pytest.approx(0.02) and verdict.comparison.verdict == "undecided"
    assert selection.plan == Plan.fixed(3) and [c.label for c in selection.need_seeds] == ["optimizer=adam",
                                                                                          "optimizer=sgd"]

    # a replicate short (SGD's seed 0 left out): the table says so, and the statistics use the completed ones
    short = select(runs[1:])
    note = configurations_table(short)[-1]
    assert note.startswith("Fewer completed replicates than the 3 of the others: optimizer=sgd (n = 2)")
    assert short.configurations[1].values == [0.81, 0.81]
    assert "more than one platform" not in "\n".join(configurations_table(selection))

    # one of SGD's replicates computed elsewhere: the same seed gives other numbers there, and the table says so
    runs[2] = run(tmp_path / "elsewhere", 2, "SGD", 2, 0.81, processor="Intel Xeon")
    assert configurations_table(select(runs))[-1] == (
        "Replicates computed on more than one platform (the same seed gives other numbers on another CPU; see Platform "
        "below): optimizer=sgd (2 platforms).")
