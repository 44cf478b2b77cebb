"""The OmegaConf resolvers the configs use, registered by each entry point before Hydra resolves a config: src/train.py
before Hydra starts and again in its task function, where a sweep's worker process starts; the tests' and the bench's
compose."""

from omegaconf import OmegaConf

from fashionlab.varying import run_name
from fashionlab.precision import fastest_precision


def register_resolvers() -> None:
    """`fastest_precision` (trainer.precision of best_mlp) and `run_name` (logger.version)."""
    OmegaConf.register_new_resolver("fastest_precision", fastest_precision, replace=True)
    OmegaConf.register_new_resolver("run_name", run_name, replace=True)
