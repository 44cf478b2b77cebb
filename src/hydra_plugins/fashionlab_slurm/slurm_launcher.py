"""launcher=slurm: Hydra's submitit launcher, plus what the submitting command owes a user at a cluster: a sweep
launched into its folder again (`-m resume=<sweep folder>`) submits only the jobs that did not finish, a submission
Slurm refuses ends in one line quoting sbatch's reason, and a job that ends without a result (killed, cancelled from
outside) in one line naming it, never a traceback."""

import contextlib
import io
import logging
import signal
import sys
from functools import partial
from pathlib import Path
from typing import Any, Sequence

from hydra.core.utils import JobReturn
from hydra_plugins.hydra_submitit_launcher.submitit_launcher import SlurmLauncher as SubmititSlurmLauncher
from omegaconf import open_dict
from submitit.core.utils import FailedJobError, UncompletedJobError

from fashionlab.sweeps import finished_result
from fashionlab.shutdown import hold_sigterm

log = logging.getLogger(__name__)


def at_time_limit(requeue, signum: int, frame) -> None:
    """The job's handler of Slurm's time-limit signal: submitit's `requeue` requeues the job and exits it (it records
    `interrupted`, and continues from last.ckpt when Slurm starts it again); past max_num_timeout requeues it raises
    instead, and the job ends the same way, `interrupted`, for `-m resume` to continue with more time."""
    try:
        requeue(signum, frame)
    except UncompletedJobError as error:
        raise SystemExit(f"{error} Out of requeues (hydra.launcher.max_num_timeout): raise hydra.launcher.timeout_min "
                         "and continue the sweep with -m resume=<sweep folder>") from None


def sbatch_reason(error: FailedJobError) -> str:
    """sbatch's `error:` lines, joined into one (the first usually names the value, the last the rule)."""
    lines = [line.strip().removeprefix("sbatch: ") for line in str(error).splitlines() if line.strip()]
    reasons = [line.removeprefix("error: ") for line in lines if line.startswith("error:")] or lines
    return "; ".join(reasons) or "no reason given"


class SlurmLauncher(SubmititSlurmLauncher):
    """Submits the jobs of each batch that did not finish before as one Slurm job array."""

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.job_numbers: dict[int, int] = {}  # number Hydra gives a submitted job -> its number in the sweep

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        numbers = range(initial_job_idx, initial_job_idx + len(job_overrides))
        results: dict[int, JobReturn] = {}
        for number, overrides in zip(numbers, job_overrides):
            if (kept := self.finished_job(number, overrides)) is not None:
                results[number] = kept
        to_submit = [(number, overrides) for number, overrides in zip(numbers, job_overrides) if number not in results]
        if results:
            log.info(f"Keeping {len(results)} finished jobs ({', '.join(map(str, results))}), submitting the others")
        if to_submit:
            first = to_submit[0][0]  # the others follow it, in order: the same numbers unless finished jobs are between
            self.job_numbers = {first + position: number for position, (number, _) in enumerate(to_submit)}
            submitted = self.submit([overrides for _, overrides in to_submit], first)
            results.update(zip(self.job_numbers.values(), submitted))
        return [results[number] for number in numbers]

    def __call__(self, sweep_overrides: list[str], job_dir_key: str, job_num: int, *args: Any) -> JobReturn:
        """Runs in the Slurm job, under its number in the sweep."""
        hold_sigterm()  # until the run listens (src/train.py), where submitit's handler would ignore a SIGTERM
        requeue = signal.getsignal(signal.SIGUSR2)  # submitit's handler of the time-limit signal
        if callable(requeue):
            signal.signal(signal.SIGUSR2, partial(at_time_limit, requeue))
        return super().__call__(sweep_overrides, job_dir_key, self.job_numbers.get(job_num, job_num), *args)

    def finished_job(self, number: int, overrides: Sequence[str]) -> JobReturn | None:
        """The result of job `number` when its folder holds a finished run of these overrides (src/train.py would
        return it at once), else None."""
        config = self.hydra_context.config_loader.load_sweep_config(self.config, list(overrides))
        with open_dict(config.hydra.job):
            config.hydra.job.num = number
        return finished_result(Path(config.hydra.sweep.dir, str(config.hydra.sweep.subdir)), list(overrides))

    def submit(self, job_overrides: list[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        held = io.StringIO()  # submitit prints sbatch's refusal before raising it: said once, in the error line
        try:
            with contextlib.redirect_stderr(held):
                return super().launch(job_overrides, initial_job_idx)
        except FailedJobError as error:
            held = io.StringIO()
            sys.exit(f"error: Slurm refused the sweep's jobs: {sbatch_reason(error)} "
                     f"(hydra.launcher: {self.requested()})")
        except UncompletedJobError as error:  # out of requeues, killed, cancelled from outside: no result to collect
            lines = [line.strip() for line in str(error).splitlines() if line.strip() and not line.startswith("---")]
            said = [line for line in lines[3:]  # the job's stderr, without what srun and submitit say of the signals
                    if not line.startswith(("srun:", "slurmstepd")) and "Bypassing signal" not in line]
            last_words = f" Its last words: {said[-1].rstrip('.')}." if said else ""
            sys.exit(f"error: a Slurm job of the sweep ended without a result: {' '.join(lines[:2])}.{last_words} "
                     f"Jobs still queued go on (squeue); -m resume={self.config.hydra.sweep.dir} continues the sweep")
        finally:
            sys.stderr.write(held.getvalue())

    def requested(self) -> str:
        """What the jobs asked Slurm for, as the keys to change."""
        keys = ("partition", "account", "qos", "gpus_per_node", "cpus_per_task", "mem_gb", "timeout_min")
        return " ".join(f"{key}={self.params[key]}" for key in keys if self.params.get(key) is not None)


