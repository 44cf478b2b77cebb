"""`hydra/sweeper=confirm`: a grid whose rows are given rather than multiplied, for `make confirm` (src/confirm.py).

`hydra.sweeper.configurations` lists the overrides of each configuration to rerun (the top configurations of a
finished sweep); the command line's own overrides, the replicate seeds among them (`seed=5,6,7,8,9`), apply to each:
one job per configuration and seed. An experiment's own grid (`hydra.sweeper.params`) is what the configurations
replace, so it is left out. The jobs are ordinary jobs of any launcher, checked and named as a grid's are.
"""

from typing import Any

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.config_store import ConfigStore
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override

from fashionlab.sweeps import job_overrides


# A plain node, not a dataclass: an experiment that ran a search (experiment=search) also sets the search sweeper's
# keys (n_trials, sampler, ...), which must merge in here and are left unused.
ConfigStore.instance().store(group="hydra/sweeper", name="confirm", provider="fashionlab", node={
    "_target_": "hydra_plugins.fashionlab_search.confirm_sweeper.ConfirmSweeper",
    "configurations": [],     # the overrides of each configuration
    "max_batch_size": None,
})


class ConfirmSweeper(BasicSweeper):
    def __init__(self, configurations: list[list[str]], max_batch_size: int | None = None, **unused: Any) -> None:
        """`unused`: what an experiment set for another sweeper, its grid (`params`) or a search's settings; the
        configurations replace them."""
        super().__init__(max_batch_size)
        self.configurations = [list(configuration) for configuration in configurations]

    def split_arguments(self, overrides: list[Override], max_batch_size: int | None) -> list[list[list[str]]]:
        """The jobs of BasicSweeper.sweep: each configuration with the command line, in batches."""
        parser = OverridesParser.create(config_loader=self.hydra_context.config_loader)
        jobs = job_overrides(parser, [override.input_line for override in overrides], self.configurations)
        return list(self.split_overrides_to_chunks(jobs, max_batch_size))
