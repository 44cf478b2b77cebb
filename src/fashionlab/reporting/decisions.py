"""Decided verdicts: the configuration with the highest mean against each other one is better, equivalent within
±margin, or undecided, at the levels of a plan (one look, or looks at growing seeds per configuration); which
configurations need more seeds; and the simulation that measures the error rates of exactly this procedure.

The report, the sequential sweeper and the simulation all decide through `decide`, which works on arrays (one row
per experiment) so that thousands of simulated experiments take seconds.

Error rates (docs/report.md):
- "better": the winner is picked from the same runs it is then tested on, so any pair could be the one compared:
  each pair is tested at alpha / (m(m−1)/2) (Bonferroni over all pairs), two-sided, which keeps the chance of any
  false "better" at or below alpha whichever configuration wins; Welch's t is read at Hsu's min(n₁, n₂) − 1 degrees
  of freedom (stats.hsu_df), which holds that level also when one configuration's seeds spread 5 times more than
  another's, where Welch–Satterthwaite's degrees of freedom do not with few seeds;
- "equivalent": two one-sided tests (Schuirmann 1987), each at alpha / (m(m−1)/2), at Welch–Satterthwaite's degrees
  of freedom (simulated within alpha under unequal spreads too): the interval at twice that level lies inside
  (−margin, +margin);
- one verdict per comparison: "better" where its interval lies above 0, even where the equivalence interval also
  lies inside (−margin, +margin) (a real lead smaller than the margin), else "equivalent", else "undecided";
- over the looks of a sequential plan, each pair's alpha is spent O'Brien–Fleming-style (stats.sequential_levels),
  so that looking again after every round does not inflate either rate.
"""

import argparse
import math
import sys
from dataclasses import dataclass

import numpy as np

from fashionlab.reporting import stats
from fashionlab.reporting.rounds import GOING, next_round

UNDECIDED, BETTER, EQUIVALENT, NOT_COMPARED = 0, 1, 2, -1
WORDS = {UNDECIDED: "undecided", BETTER: "better", EQUIVALENT: "equivalent", NOT_COMPARED: "not compared"}
ALPHA = 0.05  # each of the two family-wise error rates: a false "better", a false "equivalent"
MARGIN = 0.002  # conf/train.yaml report.margin's default, in accuracy (0.2 pp)
FIRST_LOOK = 3  # seeds per configuration at a sequential plan's first look
# Seeds per configuration at the looks of a sequential plan (about 1.6 times more each), up to its maximum.
LADDER = (FIRST_LOOK, 5, 8, 12, 20, 30, 50, 80, 120, 200, 300, 500, 800)


@dataclass(frozen=True)
class Plan:
    """What verdicts are decided at: the margin of equivalence, the planned seeds per configuration at each look (one
    look: a fixed design) and the family-wise error rate of each kind of verdict."""

    margin: float
    looks: tuple[int, ...]
    alpha: float = ALPHA

    @classmethod
    def sequential(cls, max_seeds: int, margin: float = MARGIN) -> "Plan":
        return cls(margin, tuple(n for n in LADDER if n < max_seeds) + (max_seeds,))

    @classmethod
    def fixed(cls, seeds: int, margin: float = MARGIN) -> "Plan":
        return cls(margin, (max(seeds, 1),))

    def levels(self, look: int, configurations: int) -> tuple[float, float]:
        """The nominal levels of one pair at look `look` (0-based) among `configurations` compared ones: the two-sided
        level of "better" and the one-sided level of each of the equivalence tests."""
        pairs = max(1, configurations * (configurations - 1) // 2)
        fractions = tuple(n / self.looks[-1] for n in self.looks)
        return (stats.sequential_levels(fractions, self.alpha / pairs, True)[look],
                stats.sequential_levels(fractions, self.alpha / pairs, False)[look])


@dataclass(frozen=True)
class Decisions:
    """Arrays over experiments (rows) and configurations (columns): the winner of each row, and each configuration
    against it: difference of means, the interval "better" is decided on, the equivalence interval, the verdict."""

    winner: np.ndarray
    difference: np.ndarray
    se: np.ndarray
    df: np.ndarray  # Welch–Satterthwaite's: the equivalence interval's and the reported p-value's
    better_df: np.ndarray  # Hsu's, min(n₁, n₂) − 1: the interval for better's
    better_interval: tuple[np.ndarray, np.ndarray]
    equivalent_interval: tuple[np.ndarray, np.ndarray]
    verdict: np.ndarray


def decide(means, variances, counts, plan: Plan, look: int) -> Decisions:
    """Each configuration against the one with the highest mean in its row, at look `look` of `plan`. Columns with
    no completed value (count 0) take no part (NOT_COMPARED), nor does the winner; a pair without a spread to judge
    by (fewer than 2 values on a side, or no spread at all) stays UNDECIDED. BETTER where the interval for better
    lies above 0, even where the equivalence interval also lies inside the margin; else EQUIVALENT where it does."""
    means, variances, counts = np.atleast_2d(means), np.atleast_2d(variances), np.atleast_2d(counts)
    rows = np.arange(len(means))
    present = counts > 0
    winner = np.argmax(np.where(present, means, -np.inf), axis=1)
    pick = (rows, winner)
    difference, se, df = stats.welch(means[pick][:, None], variances[pick][:, None], counts[pick][:, None],
                                     means, variances, counts)
    better_df = stats.hsu_df(counts[pick][:, None], counts, se)
    compared = present.sum(axis=1)
    better_alpha, equivalent_alpha = np.empty(len(means)), np.empty(len(means))
    for m in np.unique(compared):
        better_alpha[compared == m], equivalent_alpha[compared == m] = plan.levels(look, int(m))
    with np.errstate(invalid="ignore"):
        better_interval = stats.bounds(difference, se, better_df, better_alpha[:, None] / 2)
        equivalent_interval = stats.bounds(difference, se, df, equivalent_alpha[:, None])
        better = better_interval[0] > 0
        equivalent = (equivalent_interval[0] > -plan.margin) & (equivalent_interval[1] < plan.margin)
    verdict = np.where(better, BETTER, np.where(equivalent, EQUIVALENT, UNDECIDED))
    verdict[~present] = NOT_COMPARED
    verdict[pick] = NOT_COMPARED
    return Decisions(winner, difference, se, df, better_df, better_interval, equivalent_interval, verdict)


def needs_seeds(decisions: Decisions) -> np.ndarray:
    """Which configurations the next round gives seeds: each one still undecided against the winner, and the winner
    while any is."""
    more = decisions.verdict == UNDECIDED
    more[np.arange(len(more)), decisions.winner] = more.any(axis=1)
    return more


@dataclass(frozen=True)
class Comparison:
    """The winner against one other configuration, as the report states it."""

    difference: float
    better_interval: tuple[float, float]  # two-sided, at the pair's level: "better" where it lies above 0
    equivalent_interval: tuple[float, float]  # "equivalent" where it lies inside (−margin, +margin)
    p_value: float  # Welch's two-sided p-value, uncorrected
    p_superiority: float  # P(winner > other), Mann–Whitney
    verdict: str
    replicates_needed: int | None  # per configuration, for a fixed design to decide it (stats.replicates_needed)


def compare_with_winner(samples: list[list[float]], plan: Plan,
                        look: int) -> tuple[int, list[Comparison | None], list[bool]]:
    """The winner among `samples` (each configuration's values; the first of equal means), each configuration
    against it (None for the winner and for a configuration without values), and which need more seeds."""
    counts = np.array([len(values) for values in samples])
    means = np.array([sum(values) / len(values) if values else np.nan for values in samples])  # as stats.describe
    variances = np.array([np.var(values, ddof=1) if len(values) > 1 else np.nan for values in samples])
    decisions = decide(means, variances, counts, plan, look)
    winner = int(decisions.winner[0])
    fixed_levels = Plan.fixed(1, plan.margin).levels(0, int((counts > 0).sum()))
    comparisons: list[Comparison | None] = []
    best = samples[winner]
    for index, values in enumerate(samples):
        if decisions.verdict[0, index] == NOT_COMPARED:
            comparisons.append(None)
            continue
        spread = stats.pooled_sd(best, values)
        difference, se, df = (float(array[0, index]) for array in (decisions.difference, decisions.se, decisions.df))
        comparisons.append(Comparison(
            difference=difference,
            better_interval=(float(decisions.better_interval[0][0, index]), float(decisions.better_interval[1][0, index])),
            equivalent_interval=(float(decisions.equivalent_interval[0][0, index]),
                                 float(decisions.equivalent_interval[1][0, index])),
            p_value=float(stats.welch_p(difference, se, df)) if math.isfinite(se) else math.nan,
            p_superiority=stats.superiority(best, values) if len(values) > 1 and len(best) > 1 else math.nan,
            verdict=WORDS[int(decisions.verdict[0, index])],
            replicates_needed=None if decisions.verdict[0, index] != UNDECIDED
            else stats.replicates_needed(difference, spread, *fixed_levels, plan.margin)))
    return winner, comparisons, [bool(more) for more in needs_seeds(decisions)[0]]


@dataclass(frozen=True)
class Simulated:
    """Simulated experiments (rows) of a plan: the final verdicts (columns: configurations), whether any look called
    a configuration better than one at least as good, or equivalent to one at least `margin` away, and the seeds spent."""

    verdict: np.ndarray
    false_better: np.ndarray
    false_equivalent: np.ndarray
    seeds: np.ndarray

    def rate(self, verdict: int) -> float:
        """The share of experiments whose final verdicts include `verdict`."""
        return float((self.verdict == verdict).any(axis=1).mean())


def simulate(true_means: list[float], sd: float | list[float], plan: Plan, experiments: int,
             seed: int = 0) -> Simulated:
    """Run `plan` on normal values (the configurations' true means; `sd`: one standard deviation for all, or one per
    configuration) as the sequential sweeper runs it: each look decides with `decide`, and the sweeper's round policy
    (rounds.next_round) gives the configurations `needs_seeds` names fresh seeds up to the next look's count, or
    stops the experiment (every comparison decided, or the last look taken)."""
    rng = np.random.default_rng(seed)
    true = np.asarray(true_means, dtype=float)
    m = len(true)
    spread = np.broadcast_to(np.asarray(sd, dtype=float), true.shape)
    draws = rng.normal(true, spread, size=(experiments, plan.looks[-1], m)).transpose(0, 2, 1)
    values = np.full_like(draws, np.nan)
    launched = np.zeros((experiments, m), dtype=int)
    target = np.full((experiments, m), plan.looks[0])  # the first round: every configuration up to the first look
    going = np.ones(experiments, dtype=bool)
    verdict = np.full((experiments, m), NOT_COMPARED)
    false_better, false_equivalent = np.zeros(experiments, bool), np.zeros(experiments, bool)
    index = np.arange(plan.looks[-1])  # of each configuration's draws
    for look in range(len(plan.looks)):
        new = (index >= launched[:, :, None]) & (index < target[:, :, None])
        values[new] = draws[new]
        launched = target
        counts = (~np.isnan(values)).sum(axis=2)
        decisions = decide(np.nanmean(values, axis=2), np.nanvar(values, axis=2, ddof=1), counts, plan, look)
        gap = true[decisions.winner][:, None] - true[None, :]
        false_better |= going & ((decisions.verdict == BETTER) & (gap <= 0)).any(axis=1)
        false_equivalent |= going & ((decisions.verdict == EQUIVALENT) & (np.abs(gap) >= plan.margin)).any(axis=1)
        verdict = np.where(going[:, None], decisions.verdict, verdict)
        target, stop = next_round(launched, needs_seeds(decisions), plan.looks, look)  # the sweeper's own policy
        going &= stop == GOING
    return Simulated(verdict, false_better, false_equivalent, launched.sum(axis=1))


def fixed_seeds_for(rate: float, verdict: int, true_means: list[float], sd: float, margin: float,
                    experiments: int) -> int:
    """The fewest seeds per configuration with which a fixed design decides `verdict` at least as often as `rate`."""
    for seeds in range(2, 201):
        if simulate(true_means, sd, Plan.fixed(seeds, margin), experiments, seed=seeds).rate(verdict) >= rate:
            return seeds
    return 201


STABLE, NOISY = 0.001, 0.005  # seed spreads 5x apart (0.1 and 0.5 pp), as a stable and a noisy optimizer have
# Where a false "equivalent" is searched for: the spread of the difference of two single values, sqrt(sd₁² + sd₂²),
# in accuracy (0.1 to 0.5 pp); it peaks where "equivalent" is within reach and "better" not yet.
SPREADS = (0.001, 0.0015, 0.002, 0.0025, 0.003, 0.0035, 0.004, 0.005)


def operating_characteristics(experiments: int, sd: float = 0.002, margin: float = MARGIN) -> None:
    """Print the operating characteristics of SEEDS=auto and of fixed designs, as docs/report.md quotes them."""
    designs = (("auto (3-20)", Plan.sequential(20, margin)), ("3 seeds", Plan.fixed(3, margin)),
               ("5 seeds", Plan.fixed(5, margin)), ("20 seeds", Plan.fixed(20, margin)))
    unequal = f"sd {100 * STABLE:g} vs {100 * NOISY:g} pp"
    scenarios = [("2 equal", [0.0] * 2, sd), ("5 equal", [0.0] * 5, sd), ("10 equal", [0.0] * 10, sd),
                 (f"2 equal, {unequal}", [0.0] * 2, [STABLE, NOISY]),
                 (f"5 equal, 2 at sd {100 * STABLE:g}, 3 at {100 * NOISY:g} pp", [0.0] * 5,
                  [STABLE] * 2 + [NOISY] * 3),
                 (f"10 equal, 5 at sd {100 * STABLE:g}, 5 at {100 * NOISY:g} pp", [0.0] * 10,
                  [STABLE] * 5 + [NOISY] * 5),
                 ("2, apart by the margin", [0.0, -margin], sd),
                 (f"2, apart by the margin, {unequal}", [0.0, -margin], [STABLE, NOISY]),
                 ("2, apart by 0.37 pp", [0.0037, 0.0], sd), ("2, apart by 0.4 pp", [0.004, 0.0], sd),
                 (f"2, apart by 0.4 pp, {unequal}", [0.004, 0.0], [STABLE, NOISY]),
                 ("2, apart by 0.1 pp", [0.001, 0.0], sd)]
    print(f"sd {100 * sd:g} pp unless given, margin ±{100 * margin:g} pp, {experiments:,} simulated experiments each "
          f"(Monte Carlo standard error {100 * math.sqrt(0.05 * 0.95 / experiments):.2f} pp at 5%)\n")
    print("| configurations (true means) | design | false better | false equivalent | better | equivalent | "
          "seeds per configuration |\n| --- | --- | --- | --- | --- | --- | --- |")
    for name, means, spread in scenarios:
        for design, plan in designs:
            result = simulate(means, spread, plan, experiments, seed=len(means))
            print(f"| {name} | {design} | {result.false_better.mean():.2%} | {result.false_equivalent.mean():.2%} | "
                  f"{result.rate(BETTER):.1%} | {result.rate(EQUIVALENT):.1%} | {result.seeds.mean() / len(means):.1f} |")
    print(f"\nFalse equivalent, two configurations apart by the margin, at its worst over the spreads "
          f"sqrt(sd1^2 + sd2^2) = {', '.join(f'{100 * s:g}' for s in SPREADS)} pp:")
    for ratio in (1, 5):
        worst = []
        for design, plan in designs:
            rates = []
            for spread in SPREADS:
                pair = [spread / math.sqrt(1 + ratio ** 2), ratio * spread / math.sqrt(1 + ratio ** 2)]
                rates.append((simulate([0.0, -margin], pair, plan, experiments, seed=3).false_equivalent.mean(), pair))
            rate, pair = max(rates)
            worst.append(f"{design} {rate:.2%} (sd {100 * pair[0]:.3g} vs {100 * pair[1]:.3g} pp)")
        print(f"- seed spreads {ratio}x apart: " + "; ".join(worst))
    auto = designs[0][1]
    for name, means, verdict in (("2, apart by 0.4 pp", [0.004, 0.0], BETTER), ("2 equal", [0.0, 0.0], EQUIVALENT)):
        rate = simulate(means, sd, auto, experiments, seed=2).rate(verdict)
        print(f"\n{name}: auto decides {WORDS[verdict]} in {rate:.1%}; a fixed design needs "
              f"{fixed_seeds_for(rate, verdict, means, sd, margin, max(experiments // 4, 1))} seeds each for as often.")


class OneLineParser(argparse.ArgumentParser):
    """Bad arguments end the command with one `error:` line (exit status 2), not a usage block."""

    def error(self, message: str) -> None:
        print(f"error: {message}", file=sys.stderr)
        sys.exit(2)


def positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: not allowed, must be a positive integer")
    return int(text)


def main(argv: list[str] | None = None) -> None:
    """`python -m fashionlab.reporting.decisions [--experiments N]`: the simulated error rates and power that
    docs/report.md quotes."""
    parser = OneLineParser(prog="python -m fashionlab.reporting.decisions", description=main.__doc__)
    parser.add_argument("--experiments", type=positive, default=100_000, metavar="N",
                        help="simulated experiments per row (default 100000, as docs/report.md quotes: several "
                             "minutes)")
    operating_characteristics(parser.parse_args(argv).experiments)


if __name__ == "__main__":
    main()
