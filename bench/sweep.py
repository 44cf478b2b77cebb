"""A 4-job sweep of src/train.py, run by Hydra's default (sequential) launcher and by `launcher=parallel`; K replicates
of one configuration with `launcher=parallel` and stacked (stack=true)."""

import os
import subprocess
import sys
from pathlib import Path
from time import perf_counter

from bench.pipelines import ROOT

SWEEP = ["-m", "optimizer.lr=0.01,0.02,0.05,0.1", "trainer.enable_progress_bar=false"]


def sweep_seconds(data_dir: Path, real: bool, epochs: int, sweep_dir: Path, *extra: str,
                  sweep: list[str] = SWEEP) -> float:
    """Wall time of the whole command, process start-up included, as a user waits for it."""
    started = perf_counter()
    subprocess.run([sys.executable, "src/train.py", *sweep, f"data.data_dir={data_dir}", f"trainer.max_epochs={epochs}",
                    f"data.verify_checksums={real}", f"hydra.sweep.dir={sweep_dir}", *extra],
                   cwd=ROOT, check=True, capture_output=True)
    return perf_counter() - started


def time_sweeps(data_dir: Path, real: bool, tmp: Path, epochs: int = 5) -> str:
    sequential = sweep_seconds(data_dir, real, epochs, tmp / "sequential")
    parallel = sweep_seconds(data_dir, real, epochs, tmp / "parallel", "launcher=parallel")
    return (f"4-job sweep, {epochs} epochs each, {os.cpu_count()} cores: sequential {sequential:.1f} s, "
            f"launcher=parallel {parallel:.1f} s, speed-up {sequential / parallel:.2f} (target >= 1.6)")


def time_replicates(data_dir: Path, real: bool, tmp: Path, rounds: int, epochs: int = 3,
                    sizes: tuple[int, ...] = (1, 4, 8, 16)) -> str:
    """K seeds of the default MLP, as one sweep: `launcher=parallel` (a process per core) against `stack=true` (one
    process, one batched step); wall time of the whole command per replicate, medians of `rounds` (interleaved)."""
    lines = [f"{'replicates':<12}{'parallel s/run':>16}{'stacked s/run':>15}{'speed-up':>10}"]
    for size in sizes:
        seeds = "seed=" + ",".join(map(str, range(size)))
        times: dict[str, list[float]] = {"parallel": [], "stacked": []}
        for round_ in range(rounds):
            for name, extra in (("parallel", "launcher=parallel"), ("stacked", "stack=true"))[::1 - 2 * (round_ % 2)]:
                seconds = sweep_seconds(data_dir, real, epochs, tmp / f"{size}-{name}-{round_}", seeds, extra,
                                        sweep=["-m", "trainer.enable_progress_bar=false"])
                times[name].append(seconds / size)
        parallel, stacked = (sorted(values)[len(values) // 2] for values in times.values())
        lines.append(f"{size:<12}{parallel:16.2f}{stacked:15.2f}{parallel / stacked:10.2f}")
    lines.append(f"targets: speed-up >= 1.5 at 8 replicates, >= 2 at 16 ({epochs} epochs each, {os.cpu_count()} cores)")
    return "\n".join(lines)
