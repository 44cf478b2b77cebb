"""The lab from Python (a notebook): compose a config, set up its data, train a run or a sweep in this process, load a
finished sweep and read it as the report does (curves, group table, verdicts, diagnoses), evaluate a checkpoint.

The command line's own code and folders: `train` and `sweep` launch src/train.py's task through Hydra, as
`python src/train.py` and `python src/train.py -m` do, into the same run and sweep folders under outputs/ (with
Hydra's .hydra/ records, so `make report`, `make resume`, `make confirm` and TensorBoard take them as they take the
command line's). Each call runs in the lab's folder, as the command line does, wherever the caller's working directory
is (a notebook's is notebooks/), and leaves that as it was: every relative path, in an override or given to a call
(`data`, `outputs/...`, a checkpoint), is the lab's; the paths it returns are absolute. A bad value raises
ConfigError with the line the command line prints after `error: `, before any folder is made. torch and Lightning are
imported once a run starts, the report's statistics once a sweep is loaded.
"""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from hydra import initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, open_dict

from fashionlab.resolvers import register_resolvers
from fashionlab.preflight import check_run, check_sweep
from fashionlab.reporting import runs
from fashionlab.reporting.runs import Run
from fashionlab.resume import resume_command

if TYPE_CHECKING:
    from lightning import LightningDataModule
    from matplotlib.figure import Figure

    from fashionlab.reporting.selection import Configuration, Selection

LAB_DIR = Path(__file__).resolve().parents[2]  # the lab's folder, holding conf/, data/ and outputs/ (editable install)


@contextmanager
def _in_lab() -> Iterator:
    """The lab's folder as the working directory for one call, as the command line runs from it."""
    before = Path.cwd()
    os.chdir(LAB_DIR)
    try:
        yield
    finally:
        os.chdir(before)


@contextmanager
def _hydra() -> Iterator:
    """Hydra as src/train.py starts it (conf/, job name `train`, the lab's resolvers), for one call, in the lab's
    folder."""
    register_resolvers()
    with _in_lab(), initialize_config_dir(version_base="1.3", config_dir=str(LAB_DIR / "conf"), job_name="train"):
        yield GlobalHydra.instance().hydra  # what hydra.main runs: Hydra offers no public way to launch in-process


def _fit(cfg: DictConfig) -> float:
    """The task Hydra launches: src/train.py's, in this process or (launcher=parallel) in a worker process."""
    from fashionlab.training import task  # the training stack, once a run starts

    register_resolvers()  # again: a worker process starts here
    return task(cfg)


def compose(*overrides: str) -> DictConfig:
    """The config `python src/train.py <overrides>` runs with (without Hydra's own node; `paths.output_dir` is set
    when a run starts). Raises ConfigError for a value the lab refuses, Hydra's own error for an unknown key or option.
    """
    with _hydra() as hydra:
        cfg = hydra.compose_config("train", list(overrides), run_mode=RunMode.RUN)
    check_run(cfg)
    HydraConfig.instance().set_config(cfg)  # `${hydra:...}` values (choices.optimizer) resolve as in a run
    with open_dict(cfg):
        del cfg["hydra"]
    return cfg


def train(*overrides: str) -> Run:
    """`python src/train.py <overrides>` in this process: one run into a new folder outputs/runs/<date>/<time>
    (`hydra.run.dir=` chooses another), or `resume=<run folder>` continued in its own. Returns the run as the report
    reads it: `path`, `status`, `history` (metrics.csv, one list per column), `best_val_acc`, `best_epoch`,
    `checkpoint` (the best epoch's, to evaluate once). A run that fails raises its error after recording it."""
    with _hydra() as hydra:
        arguments = resume_command(["train", *overrides])[1:]  # resume=: hydra.run.dir is the run's own folder
        check_run(hydra.compose_config("train", arguments, run_mode=RunMode.RUN))
        job = hydra.run("train", _fit, arguments)
        return runs.load_run(Path(job.hydra_cfg.hydra.runtime.output_dir).absolute())


def sweep(*overrides: str) -> "Sweep":
    """`python src/train.py -m <overrides>` in this process, e.g. sweep("optimizer=sgd,adam"): every job of a grid
    checked first, then run one after another (or as `launcher=` says) into a new folder
    outputs/multirun/<date>/<time> (`hydra.sweep.dir=` chooses another); `resume=<sweep folder>` continues one.
    Returns the finished sweep, as load_sweep reads it."""
    with _hydra() as hydra:
        arguments = resume_command(["train", "-m", *overrides])[2:]  # resume=: the sweep's command, into its folder
        config = hydra.compose_config("train", arguments, run_mode=RunMode.MULTIRUN)
        check_sweep(config)
        folder = Path(config.hydra.sweep.dir).absolute()  # a time, resolved once: the launch goes into this folder
        if not any(argument.startswith("hydra.sweep.dir=") for argument in arguments):
            arguments.append(f"hydra.sweep.dir={folder}")
        hydra.multirun("train", _fit, arguments)
    return load_sweep(folder)


def datamodule(cfg: DictConfig) -> "LightningDataModule":
    """The run's LightningDataModule (`cfg.data`, from compose), its files read and checked and its splits set up:
    `splits["train" | "val" | "test"]` (`images`, standardized, and `labels`) and Lightning's loaders
    (`train_dataloader()`, ...). A relative `data.data_dir` is the lab's."""
    from hydra.utils import instantiate

    with _in_lab():
        module = instantiate(cfg.data, data_dir=str(Path(cfg.data.data_dir).absolute()))
        module.prepare_data()
        module.setup()
    return module


def evaluate_checkpoint(ckpt_path: str | Path, data_dir: str | None = None) -> dict:
    """`python src/eval.py ckpt_path=<checkpoint>`: the test set once, for a model chosen on validation:
    `test/acc`, `test/loss`, `test/per_class_acc`, `test/confusion_matrix` (fashionlab.evaluation)."""
    from fashionlab.evaluation import evaluate_checkpoint as evaluate

    with _in_lab():
        return evaluate(Path(ckpt_path).absolute(), data_dir)


@dataclass(frozen=True)
class Sweep:
    """A sweep as its report reads it: its runs in job order, and the selection (fashionlab.reporting.selection):
    `configurations` by mean best val acc, `selected` (its `best_run` is the model to use), `verdicts`: the selected
    configuration against every other configuration with a completed run (`role` names the runner-up and the best of
    each other group). `folder/runs.csv`, once the report has run, holds one row per run."""

    folder: Path
    runs: list[Run]
    selection: "Selection"

    @property
    def best_of_each(self) -> list["Configuration"]:
        """The best configuration of each group (what the sweep varies beside seeds and learning rates: the
        optimizer, ...), as the report's figures and group table show them."""
        return list(self.selection.group_best.values())

    @property
    def chosen(self) -> Run:
        """The model chosen on validation: the selected configuration's best run, the one to test once."""
        return self.selection.selected.best_run

    def curves(self, metric: str) -> "Figure":
        """The report's figure of `metric` (`loss` or `acc`): train and validation per epoch, best_of_each."""
        from fashionlab.reporting.figures import curves_figure

        return curves_figure(self.best_of_each, metric)

    def table(self, threshold: float) -> str:
        """The report's group table (Markdown): speed (epochs to `threshold` val acc), stability, final numbers."""
        from fashionlab.reporting.markdown import group_table

        return "\n".join(group_table(self.best_of_each, threshold=threshold))

    def verdict(self) -> str:
        """The report's verdict (Markdown): better, equivalent or undecided, and what would settle it."""
        from fashionlab.reporting.markdown import verdict_lines

        return "\n".join(verdict_lines(self.selection, f"make confirm SWEEP={self.folder}"))

    def diagnoses(self) -> dict[str, str]:
        """The report's reading of each best_of_each run's curves (under- or overfitting, still improving), by label."""
        from fashionlab.reporting.diagnosis import diagnose

        return {c.label: diagnose(c.best_run.history, c.best_run.epoch_share).verdict for c in self.best_of_each}


def load_sweep(folder: str | Path) -> Sweep:
    """A finished (or stopped) sweep folder, outputs/multirun/<date>/<time>; ReportError, saying what a sweep folder
    holds, for a folder that is none."""
    from fashionlab.reporting.sweep import load  # scipy: only once a sweep is read

    with _in_lab():
        reported = load(Path(folder).absolute())
    return Sweep(reported.folder, reported.runs, reported.selection)
