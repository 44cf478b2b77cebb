"""What varies across a sweep's jobs, and so what TensorBoard names each run by and lists in HPARAMS beside the core
knobs (fashionlab.tensorboard writes them). Without torch or Lightning: the Hydra callback and the resolver here run at
every start of src/train.py, before any training.

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

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from fashionlab.overrides import override_values, overrides_name, varying_keys
from fashionlab.sweeps import is_grid, sweep_configs

VARYING_FILE = "varying.yaml"
# HPARAMS core knobs -> the config key each one shows; a varying key in this list is not shown twice.
CORE_KEYS = {"optimizer": "optimizer._target_", "lr": "optimizer.lr", "scheduler": "scheduler._target_",
             "batch_size": "data.batch_size", "hidden_sizes": "model.hidden_sizes", "seed": "seed"}
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
    sweep's job (its parent holds varying.yaml), else all of the run's overrides; empty (the run folder) for none.
    The resolver behind conf/logger/tensorboard.yaml's `version` (fashionlab.resolvers)."""
    varying = read_varying(Path(output_dir).parent)
    return overrides_name(overrides, varying["overrides"] if varying else None)




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
