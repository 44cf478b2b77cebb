"""Numbers in, numbers out: the statistics behind the report's verdicts, all from scipy.stats and numpy.

A configuration's replicates (runs differing only in their seed) give a sample of its best val acc. Two
configurations are compared by Welch's t (unequal variances: one optimizer can be noisier than another), "better"
read at Hsu's conservative degrees of freedom (`hsu_df`), and by the probability of superiority P(A > B) =
U / (n_A n_B) from the Mann–Whitney U statistic (Bouthillier et al., MLSys 2021). The nominal levels of a
sequential design come from an O'Brien–Fleming-type alpha-spending function (Lan and DeMets, Biometrika 1983), its
boundaries computed by numerical integration (Armitage, McPherson and Rowe, JRSS-A 1969). Vectorized where the
decision code simulates thousands of experiments; formatting is the markdown's job.
"""

import math
import statistics
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import optimize
from scipy import stats

LEVEL = 0.95   # confidence of a configuration's interval of the mean
POWER = 0.80   # what "replicates needed" aims for
MAX_REPLICATES = 1000  # beyond this, "replicates needed" is given as "more than"
GRID_POINTS = 801  # of the numerical integration behind the sequential boundaries (levels exact to about 1e-5)


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


def welch(mean_a, var_a, n_a, mean_b, var_b, n_b):
    """A minus B: the difference of means, its standard error and the Welch–Satterthwaite degrees of freedom,
    elementwise over arrays (nan where a side has fewer than 2 values or neither has spread)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        share_a, share_b = np.asarray(var_a) / n_a, np.asarray(var_b) / n_b
        se = np.sqrt(share_a + share_b)
        df = (share_a + share_b) ** 2 / (share_a ** 2 / (np.asarray(n_a) - 1) + share_b ** 2 / (np.asarray(n_b) - 1))
    se = np.where(se > 0, se, np.nan)
    return np.asarray(mean_a) - mean_b, se, df


def hsu_df(n_a, n_b, se):
    """The degrees of freedom "better" is decided at: min(n_a, n_b) − 1 (Hsu 1938; Scheffé, JASA 1970), elementwise,
    nan where `se` is (no spread to judge by). Welch's statistic read against t with these degrees of freedom keeps
    its level whatever the ratio of the two variances; read against the Welch–Satterthwaite ones it does not with few
    values in the far tail: two equal means with seed spreads 5x apart are called "better" 5.8% of the time at 3
    seeds, 5.4% at 5 and 5.2% with SEEDS=auto (issue 34, docs/report.md). The price is power, mostly at few seeds:
    with equal spreads the interval at 5 seeds each widens by t(0.975, 4) / t(0.975, 8) = 1.2."""
    with np.errstate(invalid="ignore"):
        return np.where(np.isfinite(se), np.minimum(n_a, n_b) - 1.0, np.nan)


def bounds(difference, se, df, alpha):
    """The interval difference ± t(1 − alpha, df) · se: each bound a one-sided test at `alpha` (two-sided level
    1 − 2·alpha)."""
    half = stats.t.ppf(1 - np.asarray(alpha), df) * se
    return difference - half, difference + half


def welch_p(difference, se, df):
    """The two-sided p-value of Welch's t-test."""
    return 2 * stats.t.sf(np.abs(difference) / se, df)


def pooled_sd(a: list[float], b: list[float]) -> float:
    """The pooled sample standard deviation of two samples (nan below 2 values each)."""
    if len(a) < 2 or len(b) < 2:
        return math.nan
    return math.sqrt((statistics.variance(a) * (len(a) - 1) + statistics.variance(b) * (len(b) - 1))
                     / (len(a) + len(b) - 2))


def superiority(a: list[float], b: list[float]) -> float:
    """P(A > B): the share of pairs in which A's value is higher, ties counting half (Mann–Whitney U / n_A n_B)."""
    return float(stats.mannwhitneyu(a, b, alternative="two-sided").statistic / (len(a) * len(b)))


def spent(fraction: float, alpha: float) -> float:
    """The O'Brien–Fleming-type spending function of Lan and DeMets for a one-sided test at `alpha`: the error rate
    allowed up to `fraction` of the planned information, little at first and alpha at the end. A two-sided test
    spends it on each side at alpha / 2."""
    return 2 * (1 - stats.norm.cdf(stats.norm.ppf(1 - alpha / 2) / math.sqrt(fraction))) if fraction > 0 else 0.0


@lru_cache(maxsize=None)
def sequential_levels(fractions: tuple[float, ...], alpha: float, two_sided: bool) -> tuple[float, ...]:
    """The nominal level of each look of a group-sequential test whose chance of ever crossing its boundary, under
    the null, is `alpha` (spent as `spent` says), with the looks at these fractions of the planned information.

    The statistic is a Brownian motion W(t) in the information t; a look rejects when |W(t)| (or W(t), one-sided)
    reaches its boundary b. Each b is solved so that the chance of first crossing there is the alpha spent since the
    last look, given the density of W on the continuation region, carried from look to look by convolution with the
    normal increment. One look at fraction 1 gives `alpha` itself."""
    levels, grid, density, previous = [], None, None, 0.0
    sides = 2 if two_sided else 1
    for fraction in fractions:
        target = sides * (spent(fraction, alpha / sides) - spent(previous, alpha / sides))
        step = math.sqrt(fraction - previous)

        def crossing(b: float) -> float:
            if density is None:
                return sides * stats.norm.sf(b / step)
            beyond = stats.norm.sf((b - grid) / step) + (stats.norm.cdf((-b - grid) / step) if two_sided else 0)
            return float(np.trapezoid(density * beyond, grid))

        boundary = optimize.brentq(lambda b: crossing(b) - target, 1e-9, 50 * math.sqrt(fraction), xtol=1e-12)
        levels.append(sides * float(stats.norm.sf(boundary / math.sqrt(fraction))))
        low = -boundary if two_sided else -12 * math.sqrt(fraction)
        new_grid = np.linspace(low, boundary, GRID_POINTS)
        if density is None:
            density = stats.norm.pdf(new_grid / step) / step
        else:
            kernel = stats.norm.pdf((new_grid[:, None] - grid[None, :]) / step) / step
            density = np.trapezoid(kernel * density[None, :], grid, axis=1)
        grid, previous = new_grid, fraction
    return tuple(levels)


def replicates_needed(difference: float, sd: float, better_alpha: float, equivalent_alpha: float,
                      margin: float) -> int | None:
    """Replicates per configuration of a fixed design that would decide the comparison with probability POWER, if the
    true difference and the spread are what was measured: "better" by a two-sided test at `better_alpha`, or
    "equivalent within ±margin" by two one-sided tests at `equivalent_alpha`, whichever needs fewer. Student's t with
    the pooled standard deviation (df = 2n − 2) and the noncentral t distribution; "better"'s critical value at Hsu's
    n − 1 degrees of freedom, as `decide` reads it. A plan from estimates, not a promise. None without a spread;
    MAX_REPLICATES + 1 for "more"."""
    if not sd > 0:
        return None
    difference = abs(difference)
    for n in range(2, MAX_REPLICATES + 1):
        df, scale = 2 * n - 2, sd * math.sqrt(2 / n)
        critical = stats.t.ppf(1 - better_alpha / 2, n - 1)
        better = stats.nct.sf(critical, df, difference / scale)
        critical = stats.t.ppf(1 - equivalent_alpha, df)
        equivalent = (stats.nct.sf(critical, df, (margin - difference) / scale)
                      + stats.nct.sf(critical, df, (margin + difference) / scale) - 1)
        if max(better, equivalent) >= POWER:
            return n
    return MAX_REPLICATES + 1
