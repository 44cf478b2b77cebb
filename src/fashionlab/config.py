"""The rules a config must keep, checked on the composed config before any run folder exists or any training starts
(fashionlab.preflight runs them)."""

import difflib
import fnmatch
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from fashionlab.runfolder import checkpoint

TRAIN_SAMPLES = 60_000
SEED_RANGE = (0, 2**32 - 1)  # what numpy, seeded by Lightning's seed_everything, accepts
PRECISIONS = ("32-true", "32", "bf16-mixed", "16-mixed", "bf16-true", "16-true", "64-true", "64", "transformer-engine")
ACCELERATORS = ("auto", "cpu", "gpu", "cuda", "mps", "tpu")
# The choices of model.activation and model.norm, and the torch.nn class each builds (fashionlab.model); kept here as
# names, so that checking a config does not import torch.
ACTIVATIONS = {"relu": "ReLU", "gelu": "GELU", "silu": "SiLU", "tanh": "Tanh"}
NORMS = {"batch": "BatchNorm1d", "layer": "LayerNorm"}
X_AXES = ("epoch", "elapsed_s", "step")
METRICS = ("val/acc", "val/loss", "train/acc", "train/loss")
# The keyword arguments of lightning.Trainer (Lightning 2.6), each of which `trainer.<name>=...` sets without `+` (the
# trainer node is open: hydra_plugins/fashionlab_configs); kept here as names, so that checking a config does not
# import Lightning. tests/test_reliability.py compares them with the installed Trainer's signature.
TRAINER_ARGUMENTS = (
    "accelerator", "strategy", "devices", "num_nodes", "precision", "logger", "callbacks", "fast_dev_run", "max_epochs",
    "min_epochs", "max_steps", "min_steps", "max_time", "limit_train_batches", "limit_val_batches",
    "limit_test_batches", "limit_predict_batches", "overfit_batches", "val_check_interval", "check_val_every_n_epoch",
    "num_sanity_val_steps", "log_every_n_steps", "enable_checkpointing", "enable_progress_bar", "enable_model_summary",
    "accumulate_grad_batches", "gradient_clip_val", "gradient_clip_algorithm", "deterministic", "benchmark",
    "inference_mode", "use_distributed_sampler", "profiler", "detect_anomaly", "barebones", "plugins",
    "sync_batchnorm", "reload_dataloaders_every_n_epochs", "default_root_dir", "enable_autolog_hparams",
    "model_registry",
)
_ABSENT = object()


class ConfigError(ValueError):
    """A config value is not allowed; the message names the key, the value and what is allowed."""


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return _is_int(value) or isinstance(value, float)


def _in_range(value: Any, low: float, high: float) -> bool:
    return _is_number(value) and low <= value <= high


def _is_seed(value: Any) -> bool:
    return _is_int(value) and SEED_RANGE[0] <= value <= SEED_RANGE[1]


def _is_positive_int(value: Any) -> bool:
    return _is_int(value) and value > 0


BOOLEAN = (lambda v: isinstance(v, bool), "true or false")
SWITCH = (lambda v: v is None or isinstance(v, bool), "true, false or null (torch chooses)")
SEED = (_is_seed, f"an integer from {SEED_RANGE[0]} to {SEED_RANGE[1]}")
POSITIVE_INT = (_is_positive_int, "an integer > 0")
NON_NEGATIVE_INT = (lambda v: _is_int(v) and v >= 0, "an integer >= 0")

# Every leaf of the composed config (each group option, each experiment) that reaches a library is either ruled here
# or listed in FREE with the reason; tests/test_reliability.py composes them all and fails on a leaf that is neither
# and on a rule or a FREE pattern that names no key. key -> (test, what is allowed), checked on the resolved value
# (`max_lr: ${optimizer.lr}` as the number it resolves to); null is a value like any other, allowed where the rule
# says so. A key absent from this run's config (Adam has no momentum) is not checked.
RULES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "optimizer.lr": (lambda v: _is_number(v) and v > 0, "a number > 0"),
    "data.batch_size": POSITIVE_INT,
    "data.eval_batch_size": POSITIVE_INT,
    "data.data_dir": (lambda v: isinstance(v, str) and v.strip() != "" and not Path(v).is_file(),
                      "a folder that holds (or will hold) FashionMNIST/raw/, e.g. data"),
    "data.val_size": (lambda v: _is_int(v) and 0 < v < TRAIN_SAMPLES, f"an integer from 1 to {TRAIN_SAMPLES - 1}"),
    "model.hidden_sizes": (lambda v: isinstance(v, list) and len(v) > 0 and all(_is_int(n) and n > 0 for n in v),
                           "a non-empty list of integers > 0, e.g. [256,128]"),
    "model.activation": (lambda v: v in ACTIVATIONS, "one of " + ", ".join(ACTIVATIONS)),
    "model.dropout": (lambda v: _is_number(v) and 0 <= v < 1, "a number in [0, 1)"),
    "model.input_dropout": (lambda v: _is_number(v) and 0 <= v < 1, "a number in [0, 1)"),
    "model.norm": (lambda v: v is None or v in NORMS, "null or one of " + ", ".join(NORMS)),
    "module.label_smoothing": (lambda v: _is_number(v) and 0 <= v < 1, "a number in [0, 1)"),
    "module.mixup": (lambda v: _is_number(v) and v >= 0, "a number >= 0 (0: off; e.g. 0.2)"),
    "trainer.max_epochs": POSITIVE_INT,
    "data.augment_shift": (lambda v: _is_int(v) and 0 <= v < 14, "an integer from 0 to 13 (pixels)"),
    "data.augment_flip": BOOLEAN,
    "data.augment_erase": (lambda v: _in_range(v, 0, 1), "a number from 0 to 1 (probability per image)"),
    "data.verify_checksums": BOOLEAN,
    "data.split_seed": SEED,
    "data.shuffle_seed": SEED,
    "seed": SEED,
    "stack": BOOLEAN,
    "module.tta": BOOLEAN,
    "optimizer.momentum": (lambda v: _in_range(v, 0, 1), "a number from 0 to 1"),
    "optimizer.weight_decay": (lambda v: _is_number(v) and v >= 0, "a number >= 0"),
    "optimizer.alpha": (lambda v: _in_range(v, 0, 1), "a number from 0 to 1"),
    "optimizer.fused": SWITCH,
    "optimizer.foreach": SWITCH,
    "optimizer.betas": (lambda v: isinstance(v, list) and len(v) == 2 and all(_is_number(b) and 0 <= b < 1 for b in v),
                        "two numbers in [0, 1), e.g. [0.9,0.999]"),
    "module.scheduler_interval": (lambda v: v in ("epoch", "step"), "epoch or step"),
    "scheduler.step_size": (_is_positive_int, "an integer > 0 (epochs)"),
    "scheduler.gamma": (lambda v: _is_number(v) and 0 < v <= 1, "a number in (0, 1]"),
    "scheduler.T_max": (_is_positive_int, "an integer > 0 (epochs)"),
    "scheduler.max_lr": (lambda v: _is_number(v) and v > 0, "a number > 0"),
    "scheduler.warmup_fraction": (lambda v: _is_number(v) and 0 <= v < 1, "a number in [0, 1)"),
    "trainer.precision": (lambda v: str(v) in PRECISIONS, "one of " + ", ".join(PRECISIONS)),
    "trainer.accelerator": (lambda v: v in ACCELERATORS, "one of " + ", ".join(ACCELERATORS)),
    "trainer.devices": (lambda v: v == "auto" or (_is_int(v) and v > 0), "an integer > 0 or auto"),
    "trainer.log_every_n_steps": POSITIVE_INT,
    "trainer.num_sanity_val_steps": (lambda v: _is_int(v) and v >= -1, "an integer >= 0, or -1 for all"),
    "trainer.enable_progress_bar": BOOLEAN,
    "trainer.enable_model_summary": BOOLEAN,
    "trainer.max_time": (lambda v: v is None or isinstance(v, str) and re.fullmatch(r"\d+:\d\d:\d\d:\d\d", v),
                         'a duration "DD:HH:MM:SS", e.g. "00:00:02:00", or null'),
    "trainer.limit_train_batches": (lambda v: (_is_int(v) and v > 0) or (isinstance(v, float) and 0 < v <= 1),
                                    "an integer > 0 (batches) or a number in (0, 1] (share of the epoch)"),
    "hydra.launcher.n_jobs": (lambda v: _is_int(v) and v != 0, "an integer: > 0 jobs at once, or -1 for one per core"),
    "report.x_axes": (lambda v: isinstance(v, list) and len(v) > 0 and all(x in X_AXES for x in v),
                      "a non-empty list of " + ", ".join(X_AXES)),
    "report.lr_panel": BOOLEAN,
    "report.margin": (lambda v: _is_number(v) and 0 < v < 1,
                      "a number in (0, 1), in accuracy (0.002: equivalent within ±0.2 pp; 0 could never be shown)"),
    "hydra.sweeper.max_seeds": (lambda v: v is None or (_is_int(v) and v >= 2),
                                "null (seeds given as seed=...) or an integer >= 2, the most seeds per configuration"),
    "hydra.sweeper.first_seed": SEED,
    "hydra.sweeper.budget_minutes": (lambda v: v is None or (_is_number(v) and v > 0), "null or minutes > 0"),
    "callbacks.pruning.monitor": (lambda v: v in METRICS, "one of " + ", ".join(METRICS)),
    "callbacks.pruning.pruner.n_startup_trials": NON_NEGATIVE_INT,
    "callbacks.pruning.pruner.n_warmup_steps": NON_NEGATIVE_INT,
    "callbacks.pruning.pruner.min_resource": (lambda v: v == "auto" or _is_positive_int(v), "an integer > 0 or auto"),
    "callbacks.pruning.pruner.reduction_factor": (lambda v: _is_int(v) and v >= 2, "an integer >= 2"),
    "resume": (lambda v: v is None or checkpoint(str(v)).is_file(),
               "a run folder of src/train.py holding checkpoints/last.ckpt (a whole sweep: -m resume=<sweep folder>)"),
}

# Leaves no rule checks, as fnmatch patterns, each with why it is free.
FREE: dict[str, str] = {
    "*._target_": "which class or function a group option builds: chosen with the group (optimizer=adam), and a name "
                  "that does not exist is Hydra's own error",
    "*._partial_": "how Hydra builds the node (later, with the parameters or the optimizer), not a setting",
    "scheduler": "null only: scheduler=none, a constant learning rate",
    "module.net": "the model group's node (`${model}`), whose keys are ruled as model.*",
    "module.optimizer": "the optimizer group's node (`${optimizer}`), whose keys are ruled as optimizer.*",
    "module.scheduler": "the scheduler group's node (`${scheduler}`), whose keys are ruled as scheduler.*",
    "module.seed": "the run's seed (`${seed}`), ruled as seed",
    "paths.output_dir": "the run folder, Hydra's choice (hydra.run.dir, hydra.sweep.dir)",
    "trainer.default_root_dir": "the run folder, from paths.output_dir",
    "logger.*": "where and under which name TensorBoard's events go: the run folder and its run name "
                "(fashionlab.varying)",
    "callbacks.checkpoint.*": "the run folder's layout (fashionlab.runfolder): resume, eval and the report read "
                              "checkpoints/best.ckpt and last.ckpt",
    "callbacks.last_checkpoint.*": "the run folder's layout: checkpoints/last.ckpt, after every epoch",
    "trainer.plugins": "launcher=slurm: Lightning's SLURM environment with its own requeue off (submitit owns it)",
    "callbacks.records.*": "the run folder and the overrides summary.json records, from Hydra",
    "callbacks.pruning.storage": "set for each trial by the search sweeper (search.storage)",
    "callbacks.pruning.study": "set for each trial by the search sweeper (search.study)",
    "callbacks.pruning.trial": "set for each trial by the search sweeper (search.trial)",
    "choices.*": "Hydra's record of the group options the run was composed from (optimizer=momentum), for HPARAMS",
    "search.*": "set for each trial by the search sweeper: the study's journal, its name, the trial number",
}


def _refers(cfg: DictConfig, key: str) -> bool:
    """Whether the value at `key` is an interpolation (`${seed}`) rather than set directly."""
    parent, _, leaf = key.rpartition(".")
    node = OmegaConf.select(cfg, parent) if parent else cfg
    return OmegaConf.is_config(node) and leaf in node and OmegaConf.is_interpolation(node, leaf)


def _shown(value: Any) -> Any:
    return "[" + ",".join(map(str, value)) + "]" if isinstance(value, list) else value


def check_trainer_arguments(cfg: DictConfig) -> None:
    """Raise ConfigError for a key of the trainer node that lightning.Trainer does not take, naming the closest ones;
    Hydra's own keys (`_target_`) pass."""
    trainer = OmegaConf.select(cfg, "trainer", default=None) or {}
    for name in trainer:
        if not name.startswith("_") and name not in TRAINER_ARGUMENTS:
            closest = difflib.get_close_matches(name, TRAINER_ARGUMENTS, n=3)
            hint = f"closest: {', '.join(closest)}" if closest else f"it takes {', '.join(TRAINER_ARGUMENTS)}"
            value = OmegaConf.to_container(trainer, resolve=False)[name]
            raise ConfigError(f"trainer.{name}={_shown(value)}: not allowed, lightning.Trainer takes no argument "
                              f"{name}; {hint}")


def check(cfg: DictConfig) -> None:
    """Raise ConfigError for a trainer key that lightning.Trainer does not take, then for the first value that breaks
    a rule. Values set directly are checked before those that refer to them (`shuffle_seed: ${seed}`), so that a bad
    value is named by the key it was given to."""
    check_trainer_arguments(cfg)
    for key in sorted(RULES, key=lambda key: _refers(cfg, key)):
        allowed, description = RULES[key]
        node = OmegaConf.select(cfg, key, default=_ABSENT)
        if node is _ABSENT:
            continue
        value = OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else node
        if not allowed(value):
            raise ConfigError(f"{key}={_shown(value)}: not allowed, must be {description}")


def ruled_or_free(key: str) -> bool:
    """Whether a config leaf is checked by a rule or listed as free."""
    return key in RULES or any(fnmatch.fnmatchcase(key, pattern) for pattern in FREE)

