"""A sweep's Slurm jobs, as squeue lists them: a signal to the submitting command cancels them
(shutdown.StopWorkersOnSignals). The launcher itself is hydra_plugins/fashionlab_slurm."""

import subprocess
import time
from pathlib import Path

SLURM_TIMEOUT_S = 30  # for one squeue or scancel call: a controller that does not answer must not hang the sweep


def _squeue(*arguments: str) -> list[str]:
    try:
        return subprocess.run(["squeue", "--noheader", *arguments], capture_output=True, text=True,
                              timeout=SLURM_TIMEOUT_S).stdout.splitlines()
    except (OSError, subprocess.TimeoutExpired):
        return []


def sweep_jobs(sweep_dir: Path) -> list[str]:
    """The sweep's jobs that squeue lists (pending, running or completing): those whose batch script submitit wrote
    into <sweep>/.submitit/, found even when a signal came between sbatch and submitit naming the job's folder."""
    folder = f"{Path(sweep_dir, '.submitit').absolute()}/"
    listed = (line.split("|", 1) for line in _squeue("--me", "--format=%i|%o"))
    return [job for job, script in listed if script.startswith(folder)]


def queued(job_ids: list[str]) -> list[str]:
    """Those of `job_ids` that squeue still lists."""
    return _squeue("--format=%i", f"--jobs={','.join(job_ids)}") if job_ids else []


def cancel(job_ids: list[str], grace_seconds: float) -> list[str]:
    """scancel the jobs: a running one gets SIGTERM, which Lightning turns into a stop that records `interrupted`
    beside last.ckpt. Waits until squeue lists none of them or `grace_seconds` have passed; returns those left."""
    if job_ids:
        subprocess.run(["scancel", *job_ids], capture_output=True, timeout=SLURM_TIMEOUT_S)
    deadline = time.monotonic() + grace_seconds
    while (left := queued(job_ids)) and time.monotonic() < deadline:
        time.sleep(0.5)
    return left

