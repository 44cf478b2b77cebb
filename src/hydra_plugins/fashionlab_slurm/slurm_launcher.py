"""launcher=slurm: Hydra's submitit launcher, plus what the submitting command owes a user at a cluster: a
submission Slurm refuses ends in one line quoting sbatch's reason, never a traceback."""

import contextlib
import io
import sys
from typing import Sequence

from hydra.core.utils import JobReturn
from hydra_plugins.hydra_submitit_launcher.submitit_launcher import SlurmLauncher as SubmititSlurmLauncher
from submitit.core.utils import FailedJobError


def sbatch_reason(error: FailedJobError) -> str:
    """The line of sbatch's output that says why it refused (the last `error:` line)."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    reasons = [line for line in lines if "error:" in line] or lines or ["no reason given"]
    return reasons[-1].removeprefix("sbatch: ").removeprefix("error: ")


class SlurmLauncher(SubmititSlurmLauncher):
    """Submits each batch of a sweep as one Slurm job array, as Hydra's SlurmLauncher does."""

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        held = io.StringIO()  # submitit prints sbatch's refusal before raising it: said once, in the error line
        try:
            with contextlib.redirect_stderr(held):
                results = super().launch(job_overrides, initial_job_idx)
        except FailedJobError as error:
            sys.exit(f"error: Slurm refused the sweep's jobs: {sbatch_reason(error)} "
                     f"(hydra.launcher: {self.requested()})")
        finally:
            if not isinstance(sys.exc_info()[1], FailedJobError):
                sys.stderr.write(held.getvalue())
        return results

    def requested(self) -> str:
        """What the jobs asked Slurm for, as the keys to change."""
        keys = ("partition", "account", "qos", "gpus_per_node", "cpus_per_task", "mem_gb", "timeout_min")
        return " ".join(f"{key}={self.params[key]}" for key in keys if self.params.get(key) is not None)


