"""Numbers in, numbers out: the statistics behind the report's verdicts, all from scipy.stats.

A configuration's replicates (runs differing only in their seed) give a sample of its best val acc. Two
configurations are compared with Welch's t-test (unequal variances: one optimizer can be noisier than another), the
probability of superiority P(A > B) = U / (n_A n_B) from the Mann–Whitney U statistic (Bouthillier et al., MLSys
2021), and a Bonferroni correction for the number of comparisons one verdict makes. Formatting is the markdown's job.
"""

import math
import statistics
import warnings
from dataclasses import dataclass

from scipy import stats

LEVEL = 0.95   # confidence of every interval, and 1 - the family-wise error rate of a verdict's comparisons
POWER = 0.80   # what "replicates needed" aims for: the chance of detecting a difference of the measured size
MAX_REPLICATES = 1000  # beyond this, "replicates needed" is given as "more than"


@dataclass(frozen=True)
class Sample:
    """n values: their mean, sample standard deviation and the LEVEL confidence interval of the mean (Student t).
    Standard deviation and interval are nan below 2 values."""

    n: int
    mean: float
    std: float
    ci_low: float
    ci_high: float


def describe(values: list[float]) -> Sample:
    n = len(values)
    if n == 0:
        return Sample(0, math.nan, math.nan, math.nan, math.nan)
    mean = float(sum(values) / n)
    if n < 2:
        return Sample(1, mean, math.nan, math.nan, math.nan)
    std = statistics.stdev(values)  # exact for identical values, where scipy warns of cancellation
    if std == 0:
        return Sample(n, mean, 0.0, mean, mean)
    low, high = stats.ttest_1samp(values, mean).confidence_interval(LEVEL)
    return Sample(n, mean, std, float(low), float(high))


@dataclass(frozen=True)
class Difference:
    """A against B: difference of means with its confidence interval (Welch, at the corrected level), the Welch
    p-value before and after the correction, P(A > B) from Mann–Whitney U (ties count half), whether A is better
    (corrected p below 1 - LEVEL), and the replicates per configuration a difference of this size would need."""

    difference: float
    ci_low: float
    ci_high: float
    p_value: float
    p_corrected: float
    p_superiority: float
    better: bool
    replicates_needed: int | None  # None: no spread measured (fewer than 2 each, or no difference)


def compare(a: list[float], b: list[float], comparisons: int = 1) -> Difference:
    """A against B, one of `comparisons` comparisons made together (Bonferroni: each at level 1 - (1 - LEVEL) / m)."""
    alpha = (1 - LEVEL) / comparisons
    difference = describe(a).mean - describe(b).mean
    if len(a) < 2 or len(b) < 2:
        return Difference(difference, math.nan, math.nan, math.nan, math.nan, math.nan, False, None)
    p_superiority = float(stats.mannwhitneyu(a, b, alternative="two-sided").statistic / (len(a) * len(b)))
    if describe(a).std == 0 and describe(b).std == 0:  # no spread at all (e.g. a deterministic tiny test run)
        return Difference(difference, difference, difference, math.nan, math.nan, p_superiority, False, None)
    with warnings.catch_warnings():  # identical values in one sample (a deterministic run) are exact, not imprecise
        warnings.filterwarnings("ignore", "Precision loss occurred", RuntimeWarning)
        welch = stats.ttest_ind(a, b, equal_var=False)
    low, high = welch.confidence_interval(1 - alpha)
    p_corrected = min(1.0, float(welch.pvalue) * comparisons)
    better = p_corrected < 1 - LEVEL and difference > 0
    return Difference(difference, float(low), float(high), float(welch.pvalue), p_corrected, p_superiority, better,
                      replicates_needed(a, b, alpha))


def replicates_needed(a: list[float], b: list[float], alpha: float) -> int | None:
    """Replicates per configuration for a two-sided t-test at `alpha` to detect the measured difference of means
    with probability POWER, if the spread is what was measured (pooled standard deviation; the noncentral t
    distribution gives the power). None when the measured difference is 0; MAX_REPLICATES + 1 for "more"."""
    pooled = math.sqrt((statistics.variance(a) * (len(a) - 1) + statistics.variance(b) * (len(b) - 1))
                       / (len(a) + len(b) - 2))
    difference = abs(describe(a).mean - describe(b).mean)
    if difference == 0 or pooled == 0:
        return None
    effect = difference / pooled
    for n in range(2, MAX_REPLICATES + 1):
        df = 2 * n - 2
        critical = stats.t.ppf(1 - alpha / 2, df)
        noncentrality = effect * math.sqrt(n / 2)
        power = stats.nct.sf(critical, df, noncentrality) + stats.nct.cdf(-critical, df, noncentrality)
        if power >= POWER:
            return n
    return MAX_REPLICATES + 1
