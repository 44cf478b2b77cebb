"""Continuing a run or a sweep that was stopped or lost. `python src/train.py resume=<run folder>` runs in that folder;
`python src/train.py -m resume=<sweep folder>` launches the sweep's own command into its own folder again, and each
job continues from what its folder holds (see `reopen_job_folder`)."""

import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from omegaconf import OmegaConf

from fashionlab.config import ConfigError
from fashionlab.overrides import override_key, override_values
from fashionlab.runfolder import (CHECKPOINTS, CONTINUED, METRICS, SUMMARY, checkpoint, has_finished, read_summary,
                                  renamed)
from fashionlab.sweepfolder import MULTIRUN


BUDGET = "hydra.sweeper.budget_minutes"  # the one override a resumed sweep takes: more time for its rounds


def resume_command(argv: list[str]) -> list[str]:
    """The command line Hydra is given. `train.py resume=<run folder>` runs in that folder, with Hydra's record of the
    resume in `.hydra/resumed-<time>/`, beside the run's own; `train.py -m resume=<sweep folder>` becomes the sweep's
    recorded command line with `hydra.sweep.dir` set to that folder (and a sequential sweep's new budget, when given);
    any other command line is returned unchanged.

    Set here, on the command line, rather than by a resolver in conf/hydra/default.yaml: Hydra resolves its
    output folders in a sweep's worker process before the job's code runs, where no resolver of ours exists yet."""
    resumes = [arg for arg in argv[1:] if arg.startswith("resume=")]
    if not resumes:
        return argv
    if not {"-m", "--multirun"} & set(argv[1:]):
        record = f".hydra/resumed-{time.strftime('%Y-%m-%d_%H-%M-%S')}"
        return [*argv, f"hydra.run.dir={resumes[0].removeprefix('resume=')}", f"hydra.output_subdir={record}"]
    folder = Path(resumes[0].removeprefix("resume="))
    if not (folder / MULTIRUN).is_file():
        raise ConfigError(f"resume={folder}: not allowed with -m, must be a sweep folder holding multirun.yaml "
                          "(to continue one run, drop -m)")
    others = [arg for arg in argv[1:] if arg not in ("-m", "--multirun", resumes[0])]
    budget = [arg for arg in others if arg.startswith(f"{BUDGET}=")]
    if len(others) > len(budget):
        raise ConfigError(f"-m resume={folder} takes no other overrides than {BUDGET} "
                          f"({' '.join(arg for arg in others if arg not in budget)}): a sweep continues with its own")
    # As typed: an override holding an interpolation (`+threads=${oc.env:OMP_NUM_THREADS}`) must not be resolved here.
    recorded = OmegaConf.to_container(OmegaConf.load(folder / MULTIRUN).hydra.overrides, resolve=False)
    if old := next((item for item in recorded["task"] if renamed(override_key(item))), None):
        raise ConfigError(f"resume={folder}: the sweep was launched with {old}, a key renamed since "
                          f"({renamed(override_key(old))}); it cannot be continued: launch it again with the new name")
    replaced = ("hydra.sweep.dir=", "hydra.mode=", *([f"{BUDGET}="] if budget else []))
    hydra_overrides = [arg for arg in recorded["hydra"] if not arg.startswith(replaced)]
    return [argv[0], "-m", *recorded["task"], *hydra_overrides, *budget, f"hydra.sweep.dir={folder}"]


@dataclass
class EarlierRun:
    """What a job's folder holds when its sweep is launched into it again: nothing, a finished run, or a run to
    continue from its last checkpoint."""

    summary: dict | None
    checkpoint: Path | None

    @property
    def finished(self) -> bool:
        return has_finished(self.summary)

    @property
    def best_val_acc(self) -> float:
        return float(self.summary.get("best_val_acc") or "nan")


def same_job(summary: dict, overrides: list[str]) -> bool:
    """Whether a run folder's summary is of a job with these overrides: the same keys and values, in any order, with or
    without `+`/`++` (a relaunch may list them otherwise than the first launch did)."""
    return override_values(summary.get("overrides", [])) == override_values(list(overrides))


def finished_job(output_dir: Path, overrides: list[str]) -> EarlierRun | None:
    """The finished run of these overrides that the job folder holds, None when it holds none: the one rule by which
    a relaunched sweep (the confirm sweeper, the Slurm launcher, src/train.py in the job) keeps a job it ran before."""
    summary = read_summary(output_dir)
    return EarlierRun(summary, None) if has_finished(summary) and same_job(summary, overrides) else None


def reopen_job_folder(output_dir: Path, overrides: list[str]) -> EarlierRun:
    """What the job folder holds; what a failed or never-finished run left without a checkpoint is removed, so the
    job starts afresh in a clean folder.

    Raises ConfigError when the folder holds a run of other overrides (the folder belongs to another sweep)."""
    summary = read_summary(output_dir)
    if summary is not None and not same_job(summary, overrides):
        raise ConfigError(f"{output_dir} holds a run of other overrides ({' '.join(summary.get('overrides', []))}); "
                          "launch this sweep into a new hydra.sweep.dir")
    last = checkpoint(output_dir)
    if summary is not None and summary.get("status") in CONTINUED and last.is_file():
        return EarlierRun(summary, last)
    if (finished := finished_job(output_dir, overrides)) is not None:
        return finished
    for stale in [output_dir / CHECKPOINTS, output_dir / METRICS, output_dir / SUMMARY,
                  *output_dir.rglob("events.out.tfevents.*")]:  # in the TensorBoard run subfolder
        shutil.rmtree(stale) if stale.is_dir() else stale.unlink(missing_ok=True)
    return EarlierRun(None, None)
