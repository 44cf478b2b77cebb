"""The machine's cores shared among the lab's fits running on it at once: each fit holds a lock file in a registry
and takes cores // (fits running) torch threads, rechecked every second, so that two lab commands at once share the
cores instead of spinning against each other's OpenMP threads. A fit alone keeps torch's own thread count, and a
process whose OMP_NUM_THREADS is set (launcher=parallel's workers, Slurm jobs, the tests) keeps that."""

import fcntl
import os
import tempfile
import time
from pathlib import Path

import lightning as L
import torch

REGISTRY = Path(tempfile.gettempdir()) / f"fashionlab-fits-{os.getuid()}"


def hold(registry: Path = REGISTRY):
    """Enter this process in the registry as a running fit: its lock file, locked while the returned file is open."""
    registry.mkdir(parents=True, exist_ok=True)
    name = registry / f"{os.getpid()}-{time.monotonic_ns()}"
    file = open(name.with_suffix(".new"), "wb")
    fcntl.flock(file, fcntl.LOCK_EX)
    os.replace(name.with_suffix(".new"), name.with_suffix(".lock"))  # only locked files are ever seen as *.lock
    return file


def release(file) -> None:
    Path(file.name).with_suffix(".lock").unlink(missing_ok=True)
    file.close()


def running_fits(registry: Path = REGISTRY) -> int:
    """How many processes hold a lock in the registry, this one included; files left by ended processes go."""
    count = 0
    for path in registry.glob("*.lock"):
        try:
            with open(path, "rb") as file:
                fcntl.flock(file, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            count += 1
            continue
        except FileNotFoundError:
            continue
        path.unlink(missing_ok=True)
    return count


class ShareCores(L.Callback):
    """Every `every` seconds of training, this fit's torch threads set to its share of the cores it may run on."""

    def __init__(self, every: float = 1.0):
        self.every = every
        self.registry = self.held = None  # at the start of the fit: the registry, this fit's lock in it
        self.threads = 0  # torch's own count, at the start of the fit
        self.fixed = False  # whether OMP_NUM_THREADS sets the count, at the start of the fit
        self.next_check = 0.0

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.registry = REGISTRY
        self.held = hold(self.registry)
        self.threads, self.fixed, self.next_check = torch.get_num_threads(), "OMP_NUM_THREADS" in os.environ, 0.0

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, batch, batch_idx: int) -> None:
        if self.fixed or time.monotonic() < self.next_check:
            return
        self.next_check = time.monotonic() + self.every
        share = max(1, min(self.threads, len(os.sched_getaffinity(0)) // running_fits(self.registry)))
        if share != torch.get_num_threads():
            torch.set_num_threads(share)

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        self.teardown(trainer, pl_module, "fit")  # Lightning calls no teardown hook then; a notebook lives on

    def teardown(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if self.held is not None:
            release(self.held)
            self.held = None
            torch.set_num_threads(self.threads)
