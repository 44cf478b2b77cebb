"""Reading a sweep: one frozen Run per job that started, from its .hydra/ config, summary.json and metrics.csv."""

import math
from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig, ListConfig, OmegaConf

from fashionlab.overrides import override_values, target_name
from fashionlab.runfolder import (BEST, METRICS, RunFolderError, events_folder, in_current_shape, read_metrics,
                                  read_summary)
from fashionlab.runfolder import checkpoint as checkpoint_path
from fashionlab.sweepfolder import MULTIRUN, SWEEPS_ROOT, job_order

# The x axes a sweep's `report.x_axes` may ask for: metrics.csv columns and how to label them.
X_AXES = {"epoch": "epoch (passes over the training set)", "elapsed_s": "wall-clock seconds since the fit started",
          "step": "parameter updates"}


class ReportError(RuntimeError):
    """The folder is not a sweep (or holds no runs); the message says what was expected."""


@dataclass(frozen=True)
class Run:
    """One job folder of a sweep: its config and overrides (.hydra/), status (summary.json) and epochs (metrics.csv)."""

    name: str
    path: Path
    config: DictConfig
    overrides: tuple[str, ...]
    choices: dict[str, str | None]  # config group -> option (Hydra's runtime choices): groups apart from plain keys
    status: str
    wall_seconds: float | None
    history: dict[str, list[float]]
    platform: dict | None = None  # what computed it (summary.json "platform"), where recorded

    @property
    def best_index(self) -> int | None:
        """Row of the first maximum of val acc, as ModelCheckpoint(mode="max") keeps the first best."""
        val_acc = self.history["val_acc"]
        return max((i for i, acc in enumerate(val_acc) if math.isfinite(acc)), key=val_acc.__getitem__, default=None)

    @property
    def best_val_acc(self) -> float:
        return math.nan if self.best_index is None else self.history["val_acc"][self.best_index]

    @property
    def best_epoch(self) -> float | None:
        return None if self.best_index is None else self.axis("epoch")[self.best_index]

    def final(self, column: str) -> float:
        values = self.history[column]
        return values[-1] if values else math.nan

    @property
    def override_values(self) -> dict[str, str]:
        return override_values(list(self.overrides))

    @property
    def optimizer(self) -> str:
        """The optimizer's torch class, and its config group option where the class does not tell it
        (`SGD (momentum)`)."""
        name = target_name(self.config.optimizer)
        option = self.choices.get("optimizer")
        return name if not option or option.lower() == name.lower() else f"{name} ({option})"

    @property
    def title(self) -> str:
        """Optimizer, learning rate and schedule, as the run built them."""
        schedule = target_name(self.config.scheduler) or "constant lr"
        return f"{self.optimizer} lr={self.config.optimizer.lr:g}, {schedule}"

    @property
    def seed(self) -> int:
        return self.config.seed

    @property
    def epoch_share(self) -> float:
        """The share of the training set one epoch covers: trainer.limit_train_batches when a fraction (stochastic
        GD validates every few thousand samples this way), else 1."""
        limit = OmegaConf.select(self.config, "trainer.limit_train_batches", default=None)
        return limit if isinstance(limit, float) else 1.0

    def axis(self, column: str) -> list[float]:
        """A metrics.csv column as an x axis; epochs count passes over the training set (see epoch_share)."""
        share = self.epoch_share if column == "epoch" else 1.0
        return [value * share for value in self.history[column]]

    @property
    def checkpoint(self) -> Path:
        return checkpoint_path(self.path, BEST)

    @property
    def selectable(self) -> bool:
        """Only completed runs compete: a diverged or interrupted run's checkpoint is not a finished result."""
        return self.status == "completed" and self.best_index is not None and self.checkpoint.is_file()


def read_lr(path: Path) -> tuple[list[int], list[float]]:
    """The learning rate at each step it was logged (TensorBoard tag `lr`, `lr/pg1` for several parameter groups;
    `lr-<Optimizer>` in runs from before fashionlab.tensorboard.LearningRateLogger), all points (size_guidance 0: no
    sampling); empty if the run logged none."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # only sweeps that draw lr

    events = EventAccumulator(str(events_folder(path)), size_guidance={"scalars": 0}).Reload()
    tags = sorted(tag for tag in events.Tags()["scalars"] if tag == "lr" or tag.startswith(("lr/", "lr-")))
    points = events.Scalars(tags[0]) if tags else []
    return [point.step for point in points], [point.value for point in points]


def load_run(path: Path) -> Run:
    try:  # a job that crashed before its fit started has none: its status says so
        summary = read_summary(path) or {"status": "no summary.json"}
    except RunFolderError:
        summary = {"status": "unreadable summary.json"}
    hydra = path / ".hydra" / "hydra.yaml"
    choices = OmegaConf.select(OmegaConf.load(hydra), "hydra.runtime.choices", default={}) if hydra.is_file() else {}
    return Run(name=path.name, path=path, config=in_current_shape(OmegaConf.load(path / ".hydra" / "config.yaml")),
               overrides=tuple(OmegaConf.load(path / ".hydra" / "overrides.yaml")), choices=dict(choices),
               status=str(summary.get("status")), wall_seconds=summary.get("wall_seconds"),
               history=read_metrics(path / METRICS), platform=summary.get("platform"))


def job_folders(folder: Path) -> list[Path]:
    """The sweep's job folders (those holding .hydra/, which Hydra makes first), in job order."""
    return sorted((path.parent for path in folder.glob("*/.hydra")), key=lambda path: job_order(path.name))


def started(job: Path) -> bool:
    """Whether Hydra finished the job's .hydra/ record before the job ran: it writes config.yaml, hydra.yaml, then
    overrides.yaml, each in one write, so a sweep stopped meanwhile leaves no overrides.yaml or an empty one."""
    overrides = job / ".hydra" / "overrides.yaml"
    return overrides.is_file() and isinstance(OmegaConf.load(overrides), ListConfig)


def load_sweep(folder: Path) -> list[Run]:
    """The jobs of a sweep that started, in job order (a job folder Hydra had not finished writing is left out)."""
    if not folder.is_dir():
        raise ReportError(f"{folder} is not a folder; pass a sweep folder such as outputs/multirun/<date>/<time>")
    if not (folder / MULTIRUN).is_file():
        hint = f"; it is one run, its sweep is {folder.parent}" if (folder.parent / MULTIRUN).is_file() else ""
        raise ReportError(f"{folder} is not a sweep folder: no multirun.yaml, which Hydra writes in every sweep{hint}")
    jobs = [path for path in job_folders(folder) if started(path)]
    if not jobs:
        raise ReportError(f"{folder} holds no job folders that started (<job>/.hydra/overrides.yaml, which Hydra "
                          "writes before the job runs): the sweep started no job")
    return [load_run(path) for path in jobs]


def newest_sweep(root: Path = SWEEPS_ROOT) -> Path:
    """The latest `<date>/<time>` folder of Hydra's multirun layout (names sort chronologically)."""
    sweeps = sorted(path.parent for path in root.glob("*/*/multirun.yaml"))
    if not sweeps:
        raise ReportError(f"no sweep under {root}/ (run `make sweep` first, or pass a sweep folder)")
    return sweeps[-1]


def report_settings(runs: list[Run]) -> tuple[list[str], bool]:
    """What the experiment asks the report to draw, from the `report:` node of the jobs' configs: the x axes of
    val loss and whether to add the learning rate per step. Runs from before that node get epochs only."""
    x_axes = list(dict.fromkeys(axis for run in runs
                                for axis in OmegaConf.select(run.config, "report.x_axes", default=["epoch"])))
    unknown = [axis for axis in x_axes if axis not in X_AXES]
    if unknown:
        raise ReportError(f"report.x_axes={','.join(unknown)}: not allowed, must be among {', '.join(X_AXES)}")
    return x_axes, any(OmegaConf.select(run.config, "report.lr_panel", default=False) for run in runs)
