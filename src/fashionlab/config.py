"""Checks on the composed config, in one place, run before any run folder exists or any training starts."""

import pickle
import re
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
SEED_RANGE = (0, 2**32 - 1)  # what numpy, seeded by Lightning's seed_everything, accepts
PRECISIONS = ("32-true", "32", "bf16-mixed", "16-mixed", "bf16-true", "16-true", "64-true", "64", "transformer-engine")
ACCELERATORS = ("auto", "cpu", "gpu", "cuda", "mps", "tpu")
# The keys src/train.py and src/eval.py build a run from; a checkpoint whose stored config lacks one was made by
# another version of this lab's config.
CHECKPOINT_KEYS = ("seed", "data._target_", "model._target_", "module", "optimizer._target_", "scheduler.scheduler",
                   "scheduler.interval", "trainer._target_")


class ConfigError(ValueError):
    """A config value is not allowed; the message names the key, the value and what is allowed."""


class CheckpointError(ValueError):
    """A file is not a checkpoint this lab can open safely; the message names the file and what is wrong."""


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return _is_int(value) or isinstance(value, float)


def _in_range(value: Any, low: float, high: float) -> bool:
    return _is_number(value) and low <= value <= high


def _is_seed(value: Any) -> bool:
    return _is_int(value) and SEED_RANGE[0] <= value <= SEED_RANGE[1]


BOOLEAN = (lambda v: isinstance(v, bool), "true or false")
SEED = (_is_seed, f"an integer from {SEED_RANGE[0]} to {SEED_RANGE[1]}")


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
    "data.augment_flip": BOOLEAN,
    "data.verify_checksums": BOOLEAN,
    "data.split_seed": SEED,
    "seed": SEED,
    "module.tta": BOOLEAN,
    "optimizer.momentum": (lambda v: _in_range(v, 0, 1), "a number from 0 to 1"),
    "optimizer.weight_decay": (lambda v: _is_number(v) and v >= 0, "a number >= 0"),
    "optimizer.alpha": (lambda v: _in_range(v, 0, 1), "a number from 0 to 1"),
    "optimizer.betas": (lambda v: isinstance(v, list) and len(v) == 2 and all(_is_number(b) and 0 <= b < 1 for b in v),
                        "two numbers in [0, 1), e.g. [0.9,0.999]"),
    "scheduler.interval": (lambda v: v in ("epoch", "step"), "epoch or step"),
    "scheduler.scheduler.step_size": (lambda v: _is_int(v) and v > 0, "an integer > 0 (epochs)"),
    "scheduler.scheduler.gamma": (lambda v: _is_number(v) and 0 < v <= 1, "a number in (0, 1]"),
    "scheduler.scheduler.T_max": (lambda v: _is_int(v) and v > 0, "an integer > 0 (epochs)"),
    "scheduler.scheduler.warmup_fraction": (lambda v: _is_number(v) and 0 <= v < 1, "a number in [0, 1)"),
    "trainer.precision": (lambda v: str(v) in PRECISIONS, "one of " + ", ".join(PRECISIONS)),
    "trainer.accelerator": (lambda v: v in ACCELERATORS, "one of " + ", ".join(ACCELERATORS)),
    "trainer.devices": (lambda v: v == "auto" or (_is_int(v) and v > 0), "an integer > 0 or auto"),
    "trainer.log_every_n_steps": (lambda v: _is_int(v) and v > 0, "an integer > 0"),
    "trainer.max_time": (lambda v: isinstance(v, str) and re.fullmatch(r"\d+:\d\d:\d\d:\d\d", v) is not None,
                         'a duration "DD:HH:MM:SS", e.g. "00:00:02:00", or null'),
    "trainer.limit_train_batches": (lambda v: (_is_int(v) and v > 0) or (isinstance(v, float) and 0 < v <= 1),
                                    "an integer > 0 (batches) or a number in (0, 1] (share of the epoch)"),
    "hydra.launcher.n_jobs": (lambda v: _is_int(v) and v != 0, "an integer: > 0 jobs at once, or -1 for one per core"),
    "resume": (lambda v: Path(str(v), "checkpoints", "last.ckpt").is_file(),
               "a run folder of src/train.py holding checkpoints/last.ckpt (a whole sweep: -m resume=<sweep folder>)"),
}

# `${if_resuming:${resume},A,B}`: A when a run is resumed, else B. Hydra's run folder follows the resumed run.
OmegaConf.register_new_resolver("if_resuming", lambda resume, then, otherwise: then if resume else otherwise,
                                replace=True)


def target_name(node: DictConfig | None) -> str | None:
    """The class or function a `_target_` node builds, without its module (torch.optim.AdamW: AdamW); None for null."""
    return node._target_.rsplit(".", 1)[-1] if node else None


def checkpoint_config(ckpt_path: str | Path) -> DictConfig:
    """The resolved training config that src/train.py stores in every checkpoint.

    Loads with `weights_only=True`: tensors and plain containers only, so a checkpoint someone sent you cannot run
    code when it is opened. Raises CheckpointError for a missing, truncated, foreign or unsafe file, and for a
    checkpoint of another config version (naming the keys it lacks)."""
    path = Path(ckpt_path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such file; pass a checkpoint of src/train.py, <run>/checkpoints/best.ckpt")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        found = re.search(r"Unsupported global: GLOBAL (\S+)", str(error))
        raise CheckpointError(f"{path}: refused, opening it could run code: it holds "
                              f"{found[1] if found else 'objects'}, not only tensors and plain containers") from None
    except Exception as error:  # torch raises RuntimeError, EOFError, IndexError, ... for files it cannot parse
        raise CheckpointError(f"{path}: not a readable PyTorch checkpoint, truncated or another format "
                              f"({type(error).__name__})") from None
    stored = checkpoint.get("hyper_parameters", {}).get("config") if isinstance(checkpoint, dict) else None
    if not isinstance(stored, dict):
        raise CheckpointError(f"{path}: a PyTorch file but not a checkpoint of src/train.py (it stores no config)")
    config = OmegaConf.create(stored)
    missing = [key for key in CHECKPOINT_KEYS if OmegaConf.select(config, key, default="<missing>") == "<missing>"]
    if missing:
        raise CheckpointError(f"{path}: made by another version of the config, it lacks {', '.join(missing)}")
    return config


def check(cfg: DictConfig) -> None:
    """Raise ConfigError for the first value that breaks a rule."""
    for key, (allowed, description) in RULES.items():
        node = OmegaConf.select(cfg, key, default=None, throw_on_missing=False)
        value = OmegaConf.to_container(node) if OmegaConf.is_config(node) else node
        if node is not None and not allowed(value):
            shown = "[" + ",".join(map(str, value)) + "]" if isinstance(value, list) else value
            raise ConfigError(f"{key}={shown}: not allowed, must be {description}")


def is_grid(config: DictConfig) -> bool:
    """Whether the sweep lists its jobs beforehand, so that `sweep_configs` can compose them: Hydra's basic sweeper
    (a grid) or the confirm sweeper (given configurations, each over the replicate seeds). A search draws its jobs as
    it goes and checks them itself."""
    return config.hydra.sweeper._target_.endswith((".BasicSweeper", ".ConfirmSweeper"))


def job_overrides(parser: OverridesParser, arguments: list[str],
                  configurations: list[list[str]] | None = None) -> list[list[str]]:
    """Each job's overrides: `arguments` expanded as Hydra's basic sweeper does (`a=1,2 b=x,y` gives four), once
    for each of `configurations` when given (its overrides before the arguments, which win where both set a key)."""
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper

    return [list(job) for configuration in (configurations or [[]])
            for job in BasicSweeper.split_arguments(parser.parse_overrides([*configuration, *arguments]), None)[0]]


def sweep_configs(config: DictConfig):
    """Each job config of a grid or confirm sweep, composed as Hydra will compose it."""
    configurations = config.hydra.sweeper.get("configurations")
    # as the basic sweeper does: config params, then the command line; the confirm sweeper's configurations replace
    # an experiment's params
    params = {} if configurations else config.hydra.sweeper.get("params") or {}
    arguments = [f"{key}={value}" for key, value in params.items()] + list(config.hydra.overrides.task)
    loader = GlobalHydra.instance().config_loader()  # also lists a group's options for `group=glob(*)`
    parser = OverridesParser.create(config_loader=loader)
    for overrides in job_overrides(parser, arguments, configurations):
        yield loader.load_sweep_config(config, overrides)


def _checkpoint_or_exit(path: str | Path) -> None:
    """A checkpoint this lab cannot open safely ends the command with one line, before anything is written."""
    try:
        checkpoint_config(path)
    except CheckpointError as error:
        sys.exit(f"error: {error}")


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
        if config.resume:
            _checkpoint_or_exit(Path(config.resume, "checkpoints", "last.ckpt"))

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
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
