"""Checks on the composed config, in one place, run before any run folder exists or any training starts."""

import itertools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from fashionlab.model import ACTIVATIONS, NORMS

TRAIN_SAMPLES = 60_000


class ConfigError(ValueError):
    """A config value is not allowed; the message names the key, the value and what is allowed."""


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return _is_int(value) or isinstance(value, float)


# key -> (test, what is allowed). A key absent from the config is not checked.
RULES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "optimizer.lr": (lambda v: _is_number(v) and v > 0, "a number > 0"),
    "data.batch_size": (lambda v: _is_int(v) and v > 0, "an integer > 0"),
    "data.eval_batch_size": (lambda v: _is_int(v) and v > 0, "an integer > 0"),
    "data.val_size": (lambda v: _is_int(v) and 0 < v < TRAIN_SAMPLES, f"an integer from 1 to {TRAIN_SAMPLES - 1}"),
    "model.hidden_sizes": (lambda v: isinstance(v, list) and len(v) > 0 and all(_is_int(n) and n > 0 for n in v),
                           "a non-empty list of integers > 0, e.g. [256,128]"),
    "model.activation": (lambda v: v in ACTIVATIONS, "one of " + ", ".join(ACTIVATIONS)),
    "model.dropout": (lambda v: _is_number(v) and 0 <= v < 1, "a number in [0, 1)"),
    "model.norm": (lambda v: v in NORMS, "null or one of " + ", ".join(NORMS)),
    "module.label_smoothing": (lambda v: _is_number(v) and 0 <= v < 1, "a number in [0, 1)"),
    "trainer.max_epochs": (lambda v: _is_int(v) and v > 0, "an integer > 0"),
    "data.augment_shift": (lambda v: _is_int(v) and 0 <= v < 14, "an integer from 0 to 13 (pixels)"),
    "resume": (lambda v: Path(str(v), "checkpoints", "last.ckpt").is_file(),
               "a run folder of src/train.py holding checkpoints/last.ckpt"),
}

# `${if_resuming:${resume},A,B}`: A when a run is resumed, else B. Hydra's run folder follows the resumed run.
OmegaConf.register_new_resolver("if_resuming", lambda resume, then, otherwise: then if resume else otherwise,
                                replace=True)


def target_name(node: DictConfig | None) -> str | None:
    """The class or function a `_target_` node builds, without its module (torch.optim.AdamW: AdamW); None for null."""
    return node._target_.rsplit(".", 1)[-1] if node else None


def checkpoint_config(ckpt_path: str | Path) -> DictConfig:
    """The resolved training config that src/train.py stores in every checkpoint."""
    checkpoint = torch.load(ckpt_path, map_location="cpu", weights_only=False)
    return OmegaConf.create(checkpoint["hyper_parameters"]["config"])


def check(cfg: DictConfig) -> None:
    """Raise ConfigError for the first value that breaks a rule."""
    for key, (allowed, description) in RULES.items():
        node = OmegaConf.select(cfg, key, default=None, throw_on_missing=False)
        value = OmegaConf.to_container(node) if OmegaConf.is_config(node) else node
        if node is not None and not allowed(value):
            shown = "[" + ",".join(map(str, value)) + "]" if isinstance(value, list) else value
            raise ConfigError(f"{key}={shown}: not allowed, must be {description}")


def sweep_configs(config: DictConfig):
    """Each job config of a basic-sweeper multirun (`a=1,2 b=x,y` gives four), composed as Hydra will compose it."""
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper

    params = config.hydra.sweeper.get("params") or {}  # as the basic sweeper does: config params, then the command line
    arguments = [f"{key}={value}" for key, value in params.items()] + list(config.hydra.overrides.task)
    loader = GlobalHydra.instance().config_loader()  # also lists a group's options for `group=glob(*)`
    overrides = OverridesParser.create(config_loader=loader).parse_overrides(arguments)
    for job_overrides in itertools.chain.from_iterable(BasicSweeper.split_arguments(overrides, None)):
        yield loader.load_sweep_config(config, list(job_overrides))


class CheckConfig(Callback):
    """Hydra callback: a bad value ends the command with one line, before a run folder is made.

    For a grid sweep every job's config is checked before the first job starts.
    """

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        others = [o for o in config.hydra.overrides.task if not o.startswith("resume=")]
        if config.resume and others:
            sys.exit(f"error: resume={config.resume} takes no other overrides ({' '.join(others)}): "
                     "a run continues with its own config")
        self._check_or_exit([config])

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        basic = config.hydra.sweeper._target_.endswith(".BasicSweeper")  # a search checks the configs it draws itself
        self._check_or_exit(sweep_configs(config) if basic else [config])

    @staticmethod
    def _check_or_exit(configs) -> None:
        try:
            for cfg in configs:
                check(cfg)
        except ConfigError as error:
            sys.exit(f"error: {error}")
