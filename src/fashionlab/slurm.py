"""A sweep's Slurm jobs, found from its folder and asked about with squeue: a signal to the submitting command
cancels them (shutdown.StopWorkersOnSignals). The launcher itself is hydra_plugins/fashionlab_slurm."""

import subprocess
import time
from pathlib import Path

SLURM_TIMEOUT_S = 30  # for one squeue or scancel call: a controller that does not answer must not hang the sweep


def sweep_job_ids(sweep_dir: Path) -> list[str]:
    """The Slurm jobs submitted into a sweep folder: submitit names a folder after each (`<array id>_<task>`)."""
    return sorted({folder.name.split("_")[0] for folder in (sweep_dir / ".submitit").glob("[0-9]*") if folder.is_dir()})


def queued(job_ids: list[str]) -> list[str]:
    """Those of `job_ids` that squeue still lists (pending, running or completing)."""
    if not job_ids:
        return []
    try:
        listed = subprocess.run(["squeue", "--noheader", "--format=%i", f"--jobs={','.join(job_ids)}"],
                                capture_output=True, text=True, timeout=SLURM_TIMEOUT_S).stdout.split()
    except (OSError, subprocess.TimeoutExpired):
        return []
    return listed


def cancel(job_ids: list[str], grace_seconds: float) -> list[str]:
    """scancel the jobs: a running one gets SIGTERM, which Lightning turns into a stop that records `interrupted`
    beside last.ckpt. Waits until squeue lists none of them or `grace_seconds` have passed; returns those left."""
    if job_ids:
        subprocess.run(["scancel", *job_ids], capture_output=True, timeout=SLURM_TIMEOUT_S)
    deadline = time.monotonic() + grace_seconds
    while (left := queued(job_ids)) and time.monotonic() < deadline:
        time.sleep(0.5)
    return left
