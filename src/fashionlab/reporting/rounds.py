"""The round policy of a sequential sweep, as a pure function: after a look, which configurations get how many new
seeds, or why the sweep stops. The confirm sweeper and the error-rate simulation (decisions.simulate) both call it,
so the published rates are those of the rounds the sweeper runs."""

from collections.abc import Callable

import numpy as np

from fashionlab.sweepfolder import Stop

# Stop codes in arrays (one per simulated experiment): GOING, or a Stop's index + 1.
GOING = 0
CODES = {stop: index + 1 for index, stop in enumerate(Stop)}


def next_round(seeds, more, looks: tuple[int, ...], look: int,
               over_budget: Callable[[list[int], list[int]], bool] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """After look `look` (0-based) of a plan with `looks` seeds per configuration: `seeds` (rows: experiments or the one
    sweep, columns: configurations) launched so far and `more` (decisions.needs_seeds) which configurations need more.
    Returns the seeds each configuration has after the next round (the next look's count where it needs more, else
    unchanged) and each row's stop code: DECIDED when none needs seeds, MAX_SEEDS after the last look, BUDGET when
    `over_budget(seeds, next seeds)` says the round would end past the budget, else GOING."""
    seeds, more = np.atleast_2d(seeds), np.atleast_2d(more)
    last = look + 1 >= len(looks)
    target = seeds if last else np.where(more, np.maximum(seeds, looks[look + 1]), seeds)
    stop = np.full(len(seeds), GOING)
    if over_budget is not None and not last:
        over = [over_budget(row.tolist(), after.tolist()) for row, after in zip(seeds, target)]
        stop = np.where(over, CODES[Stop.BUDGET], stop)
    stop = np.where(last, CODES[Stop.MAX_SEEDS], stop)
    stop = np.where(~more.any(axis=1), CODES[Stop.DECIDED], stop)
    return np.where((stop == GOING)[:, None], target, seeds), stop


def stop_of(code: int) -> Stop | None:
    return None if code == GOING else list(Stop)[code - 1]
