"""Hydra callbacks that answer bad input with one line and a non-zero exit before any folder is made: the config
rules (fashionlab.config) for every run and every job of a grid, and the checkpoint a command is given."""

import sys
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from fashionlab.config import ConfigError, check
from fashionlab.runfolder import CheckpointError, checkpoint, checkpoint_config
from fashionlab.sweeps import is_grid, sweep_configs


def _checkpoint_or_exit(path: str | Path) -> None:
    """A checkpoint this lab cannot open safely ends the command with one line, before anything is written."""
    try:
        checkpoint_config(path)
    except CheckpointError as error:
        sys.exit(f"error: {error}")


class CheckConfig(Callback):
    """Hydra callback of src/train.py: a bad value ends the command with one line, before a run folder is made.

    For a grid sweep every job's config is checked before the first job starts.
    """

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        others = [o for o in config.hydra.overrides.task if not o.startswith("resume=")]
        if config.resume and others:
            sys.exit(f"error: resume={config.resume} takes no other overrides ({' '.join(others)}): "
                     "a run continues with its own config")
        self._check_or_exit([config])
        if config.resume:
            _checkpoint_or_exit(checkpoint(config.resume))

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        seeds = [o for o in config.hydra.overrides.task if o.lstrip("+").startswith("seed=")]
        if config.hydra.sweeper.get("max_seeds") is not None and seeds:
            sys.exit(f"error: {seeds[0]}: not allowed with hydra.sweeper.max_seeds (SEEDS=auto), which draws fresh "
                     f"seeds from hydra.sweeper.first_seed={config.hydra.sweeper.first_seed} on; drop it")
        self._check_or_exit(sweep_configs(config) if is_grid(config) else [config])

    @staticmethod
    def _check_or_exit(configs) -> None:
        try:
            for cfg in configs:
                check(cfg)
        except ConfigError as error:
            sys.exit(f"error: {error}")


class CheckCheckpoint(Callback):
    """Hydra callback of src/eval.py: a missing, foreign or unsafe checkpoint ends the command with one line, before
    an output folder is made."""

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        if OmegaConf.is_missing(config, "ckpt_path"):
            sys.exit("error: ckpt_path is missing: pass ckpt_path=<run folder>/checkpoints/best.ckpt")
        _checkpoint_or_exit(config.ckpt_path)
