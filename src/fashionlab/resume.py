"""Continuing a sweep that was stopped or lost: `python src/train.py -m resume=<sweep folder>` launches the sweep's own
command into its own folder again, and each job continues from what its folder holds (see `reopen_job_folder`)."""

import shutil
from dataclasses import dataclass
from pathlib import Path

from omegaconf import OmegaConf

from fashionlab.config import ConfigError
from fashionlab.records import read_summary

FINISHED = ("completed", "diverged", "pruned")  # final: launched again, such a job is kept as it is
CONTINUED = ("interrupted", "running")  # stopped by a signal or killed: continued from checkpoints/last.ckpt


def sweep_command(argv: list[str]) -> list[str]:
    """`train.py -m resume=<sweep folder>` becomes the sweep's recorded command line with `hydra.sweep.dir` set to
    that folder; any other command line is returned unchanged."""
    resumes = [arg for arg in argv[1:] if arg.startswith("resume=")]
    if not resumes or not {"-m", "--multirun"} & set(argv[1:]):
        return argv
    folder = Path(resumes[0].removeprefix("resume="))
    if not (folder / "multirun.yaml").is_file():
        raise ConfigError(f"resume={folder}: not allowed with -m, must be a sweep folder holding multirun.yaml "
                          "(to continue one run, drop -m)")
    others = [arg for arg in argv[1:] if arg not in ("-m", "--multirun", resumes[0])]
    if others:
        raise ConfigError(f"-m resume={folder} takes no other overrides ({' '.join(others)}): "
                          "a sweep continues with its own")
    # As typed: an override holding an interpolation (`+threads=${oc.env:OMP_NUM_THREADS}`) must not be resolved here.
    recorded = OmegaConf.to_container(OmegaConf.load(folder / "multirun.yaml").hydra.overrides, resolve=False)
    hydra_overrides = [arg for arg in recorded["hydra"] if not arg.startswith(("hydra.sweep.dir=", "hydra.mode="))]
    return [argv[0], "-m", *recorded["task"], *hydra_overrides, f"hydra.sweep.dir={folder}"]


@dataclass
class EarlierRun:
    """What a job's folder holds when its sweep is launched into it again: nothing, a finished run, or a run to
    continue from its last checkpoint."""

    summary: dict | None
    checkpoint: Path | None

    @property
    def finished(self) -> bool:
        return self.summary is not None and self.summary.get("status") in FINISHED

    @property
    def best_val_acc(self) -> float:
        return float(self.summary.get("best_val_acc") or "nan")


def reopen_job_folder(output_dir: Path, overrides: list[str]) -> EarlierRun:
    """What the job folder holds; what a failed or never-finished run left without a checkpoint is removed, so the
    job starts afresh in a clean folder.

    Raises ConfigError when the folder holds a run of other overrides (the folder belongs to another sweep)."""
    summary = read_summary(output_dir)
    if summary is not None and summary.get("overrides") != overrides:
        raise ConfigError(f"{output_dir} holds a run of other overrides ({' '.join(summary.get('overrides', []))}); "
                          "launch this sweep into a new hydra.sweep.dir")
    last = output_dir / "checkpoints" / "last.ckpt"
    if summary is not None and summary.get("status") in CONTINUED and last.is_file():
        return EarlierRun(summary, last)
    if summary is not None and summary.get("status") in FINISHED:
        return EarlierRun(summary, None)
    for stale in [output_dir / "checkpoints", output_dir / "metrics.csv", output_dir / "summary.json",
                  *output_dir.rglob("events.out.tfevents.*")]:  # in the TensorBoard run subfolder
        shutil.rmtree(stale) if stale.is_dir() else stale.unlink(missing_ok=True)
    return EarlierRun(None, None)
