"""The lab's grid sweeper (its default): Hydra's basic sweeper, launching through fashionlab.sweeps.stacking, so that
with stack=true the jobs of a batch that differ only in their seed train as one stack."""

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.config_store import ConfigStore
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig

from fashionlab.sweeps import stacking

ConfigStore.instance().store(group="hydra/sweeper", name="grid", provider="fashionlab", node={
    "_target_": "hydra_plugins.fashionlab_search.grid_sweeper.GridSweeper",
    "max_batch_size": None,
    "params": None,
})


class GridSweeper(BasicSweeper):
    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        super().setup(hydra_context=hydra_context, task_function=task_function, config=config)
        self.launcher = stacking(self.launcher, config, hydra_context.config_loader)
