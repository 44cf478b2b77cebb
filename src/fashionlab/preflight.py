"""Bad input answered before any folder is made: the checks of a run and of a sweep, which raise (fashionlab.api
passes their errors on), and the Hydra callbacks of the entry points, which end the command with their one line and a
non-zero exit: the config rules (fashionlab.config) for every run and every job of a grid, and the checkpoint a
command is given."""

import sys
from collections.abc import Callable
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from fashionlab.config import ConfigError, check
from fashionlab.runfolder import CheckpointError, checkpoint, checkpoint_config, has_finished, read_summary
from fashionlab.overrides import configuration_overrides
from fashionlab.sweeps import grid_jobs, is_grid, is_sequential, sweep_configs


def check_run(config: DictConfig) -> None:
    """Raise ConfigError for a value against a rule, or for `resume=` given with other overrides or of a run that has
    finished, and CheckpointError for a `resume=` run whose checkpoint this lab cannot open safely. `config`: as Hydra composes it, with its node."""
    others = [o for o in config.hydra.overrides.task if not o.startswith("resume=")]
    if config.resume and others:
        raise ConfigError(f"resume={config.resume} takes no other overrides ({' '.join(others)}): "
                          "a run continues with its own config")
    check(config)
    if config.resume:
        checkpoint_config(checkpoint(config.resume))
        summary = read_summary(config.resume)
        if has_finished(summary):  # Lightning would fit no epoch and return
            raise ConfigError(f"resume={config.resume}: not allowed, the run has finished ({summary['status']} after "
                              f"{summary.get('epochs_run')} epochs); resume= continues an interrupted run: for more "
                              "epochs, train a new run with a higher trainer.max_epochs")


def check_sweep(config: DictConfig) -> None:
    """Raise ConfigError for the first job of a grid whose config breaks a rule, every job checked before the first one
    starts (a sequential sweep: its first round's jobs; it draws its seeds itself, so none may be given, and it needs
    two configurations to compare); a search draws its trials as it goes and checks them itself (here: the sweep's
    own config), and takes no seeds: they are replicates, not a hyperparameter."""
    seeds = [o for o in config.hydra.overrides.task if o.lstrip("+").startswith("seed=")]
    if is_sequential(config) and seeds:
        raise ConfigError(f"{seeds[0]}: not allowed with hydra.sweeper.max_seeds (SEEDS=auto), which draws fresh "
                          f"seeds from hydra.sweeper.first_seed={config.hydra.sweeper.first_seed} on; drop it")
    if not is_grid(config) and (seeds or "seed" in (config.hydra.sweeper.get("params") or {})):
        raise ConfigError(f"{(seeds or ['seed'])[0]}: not allowed in a search, whose trials are drawn one run each: "
                          "seeds are replicates, not a hyperparameter; confirm its top trials over seeds with "
                          "make confirm SWEEP=<its folder> SEEDS=N")
    if is_sequential(config):
        check_comparable(len({frozenset(configuration_overrides(job)) for job in grid_jobs(config)}),
                         config.hydra.sweeper.max_seeds)
    for job in sweep_configs(config) if is_grid(config) else [config]:
        check(job)


def check_comparable(configurations: int, max_seeds: int) -> None:
    """Raise ConfigError for a sequential sweep (SEEDS=auto) of fewer than two configurations: its rounds add seeds
    until comparisons are decided, and one configuration has none."""
    if configurations < 2:
        raise ConfigError(f"hydra.sweeper.max_seeds={max_seeds} (SEEDS=auto): not allowed for a sweep of one "
                          "configuration, which has nothing to compare; give it a number of seeds (SEEDS=5)")


def _or_exit(checked: Callable[[Any], None], subject: Any) -> None:
    try:
        checked(subject)
    except (ConfigError, CheckpointError) as error:
        sys.exit(f"error: {error}")


class CheckConfig(Callback):
    """Hydra callback of src/train.py: a bad value ends the command with one line, before a run folder is made.

    For a grid sweep every job's config is checked before the first job starts.
    """

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        _or_exit(check_run, config)

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        _or_exit(check_sweep, config)


class CheckCheckpoint(Callback):
    """Hydra callback of src/eval.py: a missing, foreign or unsafe checkpoint ends the command with one line, before
    an output folder is made."""

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        if OmegaConf.is_missing(config, "ckpt_path"):
            sys.exit("error: ckpt_path is missing: pass ckpt_path=<run folder>/checkpoints/best.ckpt")
        _or_exit(checkpoint_config, config.ckpt_path)
