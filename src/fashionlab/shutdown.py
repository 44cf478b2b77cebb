"""Stopping a sweep whose jobs run in worker processes (launcher=parallel, submitit) or as Slurm jobs (launcher=slurm):
Ctrl-C in a terminal or SIGTERM to the sweep's parent stops every job cleanly, each recording `interrupted` beside a
usable last.ckpt, and then the parent exits; no worker is left training on its own, no Slurm job left in the queue.

The parent decides: workers ignore SIGINT, and the parent, on SIGINT or SIGTERM, sends each worker SIGTERM (Slurm
jobs: scancel, which sends it), which Lightning turns into a graceful stop at the next batch; a worker then leaves
its process pool at once.
"""

import os
import signal
import sys
import time
from functools import partial
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from fashionlab import slurm

SWEEP_PID = "FASHIONLAB_SWEEP_PID"  # set by the sweep's parent; its workers inherit it
GRACE_SECONDS = 25  # a worker still running after this is killed (Lightning stops within a batch)
SLURM_GRACE_SECONDS = 60  # scancel's SIGTERM, then Slurm's KillWait (30 s by default) before it kills a job


def worker_pids(parent: int) -> list[int]:
    """The live child processes of `parent` that run jobs (Linux /proc; elsewhere none are found). Resource trackers
    of multiprocessing and loky are left out: they ignore SIGTERM and end by themselves when the parent does."""
    workers = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()  # after "pid (name)": state, ppid, ...
            command = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue  # the process ended while we looked
        if int(fields[1]) == parent and fields[0] not in "ZX" and b"resource_tracker" not in command:
            workers.append(int(stat.parent.name))
    return workers


def _is_running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] not in "ZX"
    except OSError:
        return False


def _ignore_signals() -> None:
    for ignored in (signal.SIGINT, signal.SIGTERM):  # a second Ctrl-C must not cut the jobs' shutdown short
        signal.signal(ignored, signal.SIG_IGN)


def _say_stopping(signum: int, jobs: str) -> None:
    # sys.__stderr__: the Slurm launcher holds sys.stderr back while it submits
    print(f"\n{signal.Signals(signum).name}: stopping {jobs}; each job records 'interrupted' and keeps "
          "checkpoints/last.ckpt", file=sys.__stderr__, flush=True)


def _exit_as_signalled(signum: int) -> None:
    sys.stdout.flush()
    os._exit(128 + signum)  # as a process ended by the signal; the launcher's own teardown would kill the workers


def _stop_workers(signum: int, frame: Any) -> None:
    _ignore_signals()
    workers = worker_pids(os.getpid())
    _say_stopping(signum, f"{len(workers)} sweep worker processes")
    for pid in workers:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + GRACE_SECONDS
    while any(map(_is_running, workers)) and time.monotonic() < deadline:
        time.sleep(0.1)
    for pid in filter(_is_running, workers):
        os.kill(pid, signal.SIGKILL)
    _exit_as_signalled(signum)


def _cancel_slurm_jobs(sweep_dir: Path, signum: int, frame: Any) -> None:
    _ignore_signals()
    jobs = slurm.sweep_jobs(sweep_dir)
    _say_stopping(signum, f"{len(jobs)} Slurm jobs of the sweep (scancel {' '.join(jobs)})" if jobs
                  else "the sweep (no Slurm job of it is queued)")
    left = slurm.cancel(jobs, SLURM_GRACE_SECONDS)
    if left:
        print(f"warning: squeue still lists {' '.join(left)} after {SLURM_GRACE_SECONDS} s", file=sys.__stderr__)
    _exit_as_signalled(signum)


class StopWorkersOnSignals(Callback):
    """Hydra callback: in a sweep whose launcher runs jobs in other processes, the parent stops them on a signal."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        if config.hydra.launcher._target_.endswith("BasicLauncher"):
            return  # jobs run in this process, where Lightning's own signal handling stops them
        os.environ[SWEEP_PID] = str(os.getpid())
        stop = _stop_workers
        if config.hydra.launcher._target_.endswith(".SlurmLauncher"):  # jobs in the cluster, not child processes
            stop = partial(_cancel_slurm_jobs, Path(config.hydra.sweep.dir))
        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)


def in_sweep_worker() -> bool:
    """Whether this process runs a job for a sweep parent elsewhere (joblib, submitit)."""
    return os.environ.get(SWEEP_PID, str(os.getpid())) != str(os.getpid())


def ignore_sigint_in_workers() -> None:
    """A terminal's Ctrl-C reaches every process of the sweep; a worker leaves it to the parent, which stops it."""
    if in_sweep_worker():
        signal.signal(signal.SIGINT, signal.SIG_IGN)


class StoppedWhileSettingUp(SystemExit):
    """SIGTERM came while the run was still setting up; src/train.py records it `interrupted`. A SystemExit, so that
    no `except Exception` on the way (Hydra's instantiate, a failed-run record) takes it for a failure."""


class HeldSigterm:
    """A SIGTERM handler for a Slurm job's start, in the launcher's and Hydra's code, before the run can record
    anything: it notes the signal, and stop_on_sigterm_while_setting_up acts on it once the run listens. submitit's
    own handler would only log it, and the job would train on until Slurm kills it, its run left `running`."""

    def __init__(self) -> None:
        self.came = False

    def __call__(self, signum: int, frame: Any) -> None:
        self.came = True


def hold_sigterm() -> None:
    """Called first thing in a Slurm job by launcher=slurm (HeldSigterm says why)."""
    signal.signal(signal.SIGTERM, HeldSigterm())


def stop_on_sigterm_while_setting_up() -> None:
    """A SIGTERM that comes before Lightning listens for it (the run still importing the training stack, loading data
    or building its objects, as when a sweep's parent stops a worker that just took a job), or that a HeldSigterm
    noted, raises StoppedWhileSettingUp at once, so the run is recorded `interrupted` instead of its process
    vanishing without a word. Once Lightning's handler is in place it calls this one too, after its own: then
    Lightning stops the run at its next batch, and this one leaves it to it."""

    def stop(signum: int, frame: Any) -> None:
        if signal.getsignal(signal.SIGTERM) is stop:
            raise StoppedWhileSettingUp(128 + signum)

    earlier = signal.signal(signal.SIGTERM, stop)
    if isinstance(earlier, HeldSigterm) and earlier.came:
        raise StoppedWhileSettingUp(128 + signal.SIGTERM)


def leave_interrupted(code: int) -> None:
    """End an interrupted job's process: a worker exits at once (its pool would keep it waiting for more work)."""
    if in_sweep_worker():
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)
