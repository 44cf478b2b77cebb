"""What the lab's sweeps share: a grid's jobs, listed before the first one runs, so that each can be checked and what
varies recorded; a search's study, in a journal file."""

import itertools
from pathlib import Path

from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import DictConfig


def is_grid(config: DictConfig) -> bool:
    """Whether the sweep is Hydra's basic sweeper, a grid whose jobs `sweep_configs` can list beforehand (a search
    draws its jobs as it goes and checks them itself)."""
    return config.hydra.sweeper._target_.endswith(".BasicSweeper")


def sweep_configs(config: DictConfig):
    """Each job config of a basic-sweeper multirun (`a=1,2 b=x,y` gives four), composed as Hydra will compose it.

    Splits the sweep with Hydra's own BasicSweeper (a private module: Hydra offers no public way to list a grid's
    jobs), so the list is the one it will launch."""
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper

    params = config.hydra.sweeper.get("params") or {}  # as the basic sweeper does: config params, then the command line
    arguments = [f"{key}={value}" for key, value in params.items()] + list(config.hydra.overrides.task)
    loader = GlobalHydra.instance().config_loader()  # also lists a group's options for `group=glob(*)`
    overrides = OverridesParser.create(config_loader=loader).parse_overrides(arguments)
    for job_overrides in itertools.chain.from_iterable(BasicSweeper.split_arguments(overrides, None)):
        yield loader.load_sweep_config(config, list(job_overrides))


def journal_storage(path: str | Path):
    """A study's storage in a journal file (guarded by a lock file), which processes on any launcher can share."""
    import optuna  # here, not at the top: a grid sweep, and every start of src/train.py, goes without it

    return optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(path)))
