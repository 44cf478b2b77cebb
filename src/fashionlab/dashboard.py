"""What TensorBoard shows of a run: a name that says what tells it apart, HPARAMS with what varies, one `lr` tag.

TensorBoard names a run by the folder of its event files, so they go into a subfolder of the run folder named by
the run's overrides: for a sweep's job those that vary across the sweep (`multirun/<date>/<time>/1/optimizer=adam`),
for a single run all of them (`runs/<date>/<time>/optimizer=adam`). Run folders keep their plain names, which
`resume=` and `ckpt_path=` take as they are (Hydra would split a value holding `=` or `,`).
What varies is worked out once per sweep, before its first job, from every job's composed config, or for a search
from its search space (`<sweep>/varying.yaml`); each job reads it for its run name and its HPARAMS. The name is a
function of the job's overrides only, and a resumed run keeps it (the checkpoint holds the resolved config).
"""

from pathlib import Path
from typing import Any

import lightning as L
from hydra.experimental.callback import Callback
from lightning.pytorch.loggers import TensorBoardLogger
from omegaconf import DictConfig, OmegaConf
from torch.utils.tensorboard.summary import hparams

from fashionlab.config import is_grid, sweep_configs, target_name
from fashionlab.overrides import override_values, overrides_name, varying_keys

VARYING_FILE = "varying.yaml"
# HPARAMS core knobs -> the config key each one shows; a varying key in this list is not shown twice.
CORE_KEYS = {"optimizer": "optimizer._target_", "lr": "optimizer.lr", "scheduler": "scheduler.scheduler._target_",
             "batch_size": "data.batch_size", "hidden_sizes": "model.hidden_sizes", "seed": "seed"}
_ABSENT = object()
NOT_HYPERPARAMETERS = ("._partial_", "optimizer.fused", "optimizer.foreach")  # config keys that change no result


def flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    """A config container as dotted keys to leaves; lists are leaves."""
    if isinstance(node, dict) and node:
        return {key: value for name, child in node.items() for key, value in flatten(child, f"{prefix}{name}.").items()}
    return {prefix.removesuffix("."): node}


def varying_config_keys(configs: list[dict]) -> list[str]:
    """The config keys (leaves, before interpolation) that differ across the jobs' configs (as containers, without
    Hydra's settings), after experiment and ablation presets are applied; without `_partial_` flags, the core knobs
    (CORE_KEYS), how an optimizer computes its step (`fused`, `foreach`: the same step, faster) and keys that are
    null wherever they exist (a scheduler node that only `scheduler=none` has)."""
    records = [flatten(config) for config in configs]
    covered = set(CORE_KEYS.values())
    return [key for key in varying_keys(records) if not key.endswith(NOT_HYPERPARAMETERS) and key not in covered
            and any(record.get(key) is not None for record in records)]


def read_varying(sweep_dir: str | Path) -> dict[str, list[str]] | None:
    """`<sweep>/varying.yaml` ({"overrides": [...], "config": [...]}), or None when the folder has none."""
    path = Path(sweep_dir, VARYING_FILE)
    return OmegaConf.to_container(OmegaConf.load(path)) if path.is_file() else None


def run_name(overrides: list[str], output_dir: str) -> str:
    """The TensorBoard run name below the run folder: the overrides that vary across the sweep when the folder is a
    sweep's job (its parent holds varying.yaml), else all of the run's overrides; empty (the run folder) for none."""
    varying = read_varying(Path(output_dir).parent)
    return overrides_name(overrides, varying["overrides"] if varying else None)


# conf/logger/tensorboard.yaml: `version: ${run_name:${hydra:overrides.task},${paths.output_dir}}`.
OmegaConf.register_new_resolver("run_name", run_name, replace=True)


def write_varying(sweep_dir: Path, override_keys: list[str], configs: list[DictConfig]) -> None:
    """`<sweep>/varying.yaml`: the override keys that tell the sweep's jobs apart (their TensorBoard run names) and the
    config keys that differ across `configs`, composed job configs (their HPARAMS)."""
    jobs = [OmegaConf.to_container(config, resolve=False) for config in configs]
    for job in jobs:
        job.pop("hydra", None)
    sweep_dir.mkdir(parents=True, exist_ok=True)
    OmegaConf.save({"overrides": override_keys, "config": varying_config_keys(jobs)}, sweep_dir / VARYING_FILE)


class RecordVarying(Callback):
    """Hydra callback: before a grid sweep's first job, writes `<sweep>/varying.yaml` from every job's config (the
    search sweeper writes it from its search space)."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        if not is_grid(config):
            return  # a search's trials are drawn as it goes
        jobs = list(sweep_configs(config))
        overrides = varying_keys([override_values(list(job.hydra.overrides.task)) for job in jobs])
        write_varying(Path(config.hydra.sweep.dir), overrides, jobs)


def shown(value: Any) -> bool | int | float | str:
    """A config value as TensorBoard's HPARAMS takes it: lists and null as text."""
    if OmegaConf.is_config(value):
        value = OmegaConf.to_container(value, resolve=True)
    if value is None:
        return "null"
    return value if isinstance(value, (bool, int, float, str)) else str(value)


def tensorboard_hparams(cfg: DictConfig) -> dict:
    """The knobs shown in TensorBoard's HPARAMS tab beside each run's best validation accuracy: the core ones, plus,
    for a sweep's job, every config key that varies across the sweep (the run folder's parent holds varying.yaml);
    `-` for a key this run's config lacks (Adam has no momentum), as the parallel-coordinates view leaves out the
    runs that miss a value."""
    core = {
        "optimizer": target_name(cfg.optimizer),
        "lr": cfg.optimizer.lr,
        "scheduler": target_name(cfg.scheduler.scheduler) or "none",
        "batch_size": cfg.data.batch_size,
        "hidden_sizes": str(list(cfg.model.hidden_sizes)),
        "seed": cfg.seed,
    }
    varying = read_varying(Path(cfg.paths.output_dir).parent) or {"config": []}
    values = {key: OmegaConf.select(cfg, key, default=_ABSENT) for key in varying["config"]}
    return core | {key: "-" if value is _ABSENT else shown(value) for key, value in values.items()}


def log_hparams(logger: TensorBoardLogger, cfg: DictConfig) -> None:
    """Write the run's HPARAMS (tensorboard_hparams) as a session without an experiment summary of its own.

    TensorBoard shows the experiment summary of one run it finds, so with one per run (what Lightning's
    log_hyperparams writes) the keys of the other runs, such as optimizer.momentum beside optimizer.betas, are
    missing. Without any, it builds the experiment from every run's session: the union of their keys, each run's
    scalars as metrics (val/acc_best among them)."""
    if isinstance(logger, TensorBoardLogger):
        _, session_start, _ = hparams(tensorboard_hparams(cfg), {})
        logger.experiment.file_writer.add_summary(session_start)


class LearningRateLogger(L.Callback):
    """Logs the learning rate under one tag whatever the optimizer, `lr` (`lr/pg1`, `lr/pg2`, ... for several
    parameter groups), so a sweep's runs share one chart; Lightning's LearningRateMonitor names it after the optimizer
    class (`lr-SGD`, `lr-Adam`). Under a per-step schedule at every logging step, else when each epoch starts."""

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not self._per_step(trainer):
            self._log(trainer)

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, batch, batch_idx: int) -> None:
        if self._per_step(trainer) and (trainer.global_step + 1) % trainer.log_every_n_steps == 0:
            self._log(trainer)

    @staticmethod
    def _per_step(trainer: L.Trainer) -> bool:
        return any(config.interval == "step" for config in trainer.lr_scheduler_configs)

    @staticmethod
    def _log(trainer: L.Trainer) -> None:
        groups = trainer.optimizers[0].param_groups
        values = {"lr": groups[0]["lr"]} if len(groups) == 1 else \
            {f"lr/pg{index}": group["lr"] for index, group in enumerate(groups, start=1)}
        for logger in trainer.loggers:
            logger.log_metrics(values, step=trainer.global_step)
