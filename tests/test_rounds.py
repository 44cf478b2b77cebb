"""A sequential sweep's rounds: the pure round policy for every way a sweep stops, the configurations a recipe's own
seed list leaves (no copies, no seed twice), and the sweep rules fashionlab.preflight checks on the real Hydra config
before any folder (SEEDS=auto needs two configurations; a search takes no seeds)."""

import numpy as np
import pytest
from hydra.types import RunMode

from conftest import tiny_overrides
from fashionlab.api import _hydra
from fashionlab.config import ConfigError
from fashionlab.overrides import override_values
from fashionlab.preflight import check_sweep
from fashionlab.reporting.rounds import CODES, GOING, next_round, stop_of
from fashionlab.sweepfolder import Stop
from fashionlab.sweeps import grid_jobs
from hydra_plugins.fashionlab_search.confirm_sweeper import distinct_configurations

LOOKS = (3, 5, 8)


@pytest.mark.parametrize("seeds, more, look, over, targets, stop", [
    ([3, 3, 3], [True, False, True], 0, None, [5, 3, 5], None),  # the undecided and the winner get the next look's
    ([5, 3, 5], [True, False, True], 1, None, [8, 3, 8], None),
    ([3, 3], [False, False], 0, None, [3, 3], Stop.DECIDED),  # nobody needs seeds
    ([8, 8], [True, True], 2, None, [8, 8], Stop.MAX_SEEDS),  # after the last look
    ([3, 3], [True, True], 0, lambda now, after: sum(after) - sum(now) > 3, [3, 3], Stop.BUDGET),  # 4 new jobs: past it
    ([3, 3], [True, True], 0, lambda now, after: sum(after) - sum(now) > 4, [5, 5], None),
    ([3, 3], [False, False], 0, lambda now, after: True, [3, 3], Stop.DECIDED),  # decided comes first
])
def test_the_round_policy_gives_seeds_or_says_why_it_stops(seeds, more, look, over, targets, stop):
    new, code = next_round(seeds, more, LOOKS, look, over)
    assert new[0].tolist() == targets and stop_of(int(code[0])) == stop


def test_the_round_policy_decides_each_simulated_experiment_on_its_own():
    seeds = np.array([[3, 3], [3, 3], [8, 8]])
    more = np.array([[True, True], [False, False], [True, False]])
    new, code = next_round(seeds, more, LOOKS, 0)
    assert new.tolist() == [[5, 5], [3, 3], [8, 8]]
    assert code.tolist() == [GOING, CODES[Stop.DECIDED], GOING]


def test_a_recipes_own_seed_list_is_its_first_round_never_copies():
    jobs = [["optimizer=adam", f"seed={seed}", "ablation=full"] for seed in (0, 1, 2)] + \
           [["optimizer=adam", f"seed={seed}", "ablation=no_tta"] for seed in (0, 1, 2)]
    assert distinct_configurations(jobs) == [["optimizer=adam", "ablation=full"], ["optimizer=adam", "ablation=no_tta"]]


@pytest.fixture
def multirun_config():
    """multirun_config(*overrides): the config `src/train.py -m <overrides>` sweeps with, Hydra kept initialized."""
    with _hydra() as hydra:
        yield lambda *overrides: hydra.compose_config("train", list(overrides), run_mode=RunMode.MULTIRUN)


def test_ablation_over_seeds_runs_each_seed_once_per_ablation_and_best_refuses_auto(tiny_data_dir, multirun_config):
    """make ablation SEEDS=auto: the recipe's seed: 0,1,2 and the ablations' grid give the first round each ablation
    over seeds 0, 1, 2 once; make best SEEDS=auto has one configuration and is refused in one line."""
    auto = ["hydra/sweeper=confirm", "hydra.sweeper.max_seeds=20", *tiny_overrides(tiny_data_dir)]
    config = multirun_config("experiment=best_mlp", "ablation=glob(*)", *auto)
    jobs = [override_values(job) for job in grid_jobs(config)]
    ablations = sorted({job["ablation"] for job in jobs})
    assert len(ablations) == 10 and len(jobs) == 30
    assert sorted((job["ablation"], job["seed"]) for job in jobs) == sorted(
        (ablation, str(seed)) for ablation in ablations for seed in range(3))
    with pytest.raises(ConfigError, match=r"^hydra.sweeper.max_seeds=20 \(SEEDS=auto\): not allowed for a sweep of one "
                                          r"configuration, which has nothing to compare; give it a number of seeds"):
        check_sweep(multirun_config("experiment=best_mlp", *auto))


def test_a_search_takes_no_seeds(multirun_config):
    with pytest.raises(ConfigError, match="^seed=0,1: not allowed in a search, whose trials are drawn one run each"):
        check_sweep(multirun_config("experiment=search", "seed=0,1"))
