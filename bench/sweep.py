"""A 4-job sweep of src/train.py, run by Hydra's default (sequential) launcher and by `launcher=parallel`."""

import os
import subprocess
import sys
from pathlib import Path
from time import perf_counter

from bench.pipelines import ROOT

SWEEP = ["-m", "optimizer.lr=0.01,0.02,0.05,0.1", "trainer.enable_progress_bar=false"]


def sweep_seconds(data_dir: Path, real: bool, epochs: int, sweep_dir: Path, *extra: str) -> float:
    """Wall time of the whole command, process start-up included, as a user waits for it."""
    started = perf_counter()
    subprocess.run([sys.executable, "src/train.py", *SWEEP, f"data.data_dir={data_dir}", f"trainer.max_epochs={epochs}",
                    f"data.verify_checksums={real}", f"hydra.sweep.dir={sweep_dir}", *extra],
                   cwd=ROOT, check=True, capture_output=True)
    return perf_counter() - started


def time_sweeps(data_dir: Path, real: bool, tmp: Path, epochs: int = 5) -> str:
    sequential = sweep_seconds(data_dir, real, epochs, tmp / "sequential")
    parallel = sweep_seconds(data_dir, real, epochs, tmp / "parallel", "launcher=parallel")
    return (f"4-job sweep, {epochs} epochs each, {os.cpu_count()} cores: sequential {sequential:.1f} s, "
            f"launcher=parallel {parallel:.1f} s, speed-up {sequential / parallel:.2f} (target >= 1.6)")
