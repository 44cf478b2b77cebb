"""A 4-job sweep of src/train.py, run by Hydra's default (sequential) launcher and by `launcher=parallel`; K replicates
of one configuration with `launcher=parallel` (one at a time on a GPU) and stacked (stack=true)."""

import os
import subprocess
import sys
from pathlib import Path
from time import perf_counter

import torch

from bench.pipelines import ROOT
from fashionlab.runfolder import read_summary

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
    """K seeds of the default MLP, as one sweep: `launcher=parallel` (a process per core; on a GPU, one run after the
    other) against `stack=true` (one process, one batched step); wall time of the whole command per replicate, medians
    of `rounds` (interleaved). Also the stack's fit alone (a member's summary.json wall time: from the start of the fit
    to its end) per replicate, and the speed-up a stack would reach if nothing but its fit cost anything: the bound its
    arithmetic sets."""
    on_gpu = torch.cuda.is_available()
    baseline, launcher, targets = ("one at a time", (), ">= 10 at 16") if on_gpu else \
        ("parallel", ("launcher=parallel",), ">= 1.5 at 8 replicates, >= 2 at 16")
    lines = [f"{'replicates':<12}{baseline + ' s/run':>20}{'stacked s/run':>15}{'speed-up':>10}"
             f"{'stacked fit s/run':>19}{'bound':>8}"]
    for size in sizes:
        seeds = "seed=" + ",".join(map(str, range(size)))
        times: dict[str, list[float]] = {baseline: [], "stacked": [], "fit": []}
        for round_ in range(rounds):
            for name, extra in ((baseline, launcher), ("stacked", ("stack=true",)))[::1 - 2 * (round_ % 2)]:
                sweep_dir = tmp / f"{size}-{name.replace(' ', '_')}-{round_}"
                seconds = sweep_seconds(data_dir, real, epochs, sweep_dir, seeds, *extra,
                                        sweep=["-m", "trainer.enable_progress_bar=false"])
                times[name].append(seconds / size)
                if name == "stacked":
                    times["fit"].append(read_summary(sweep_dir / "0")["wall_seconds"] / size)
        alone, stacked, fit = (sorted(values)[len(values) // 2] for values in times.values())
        lines.append(f"{size:<12}{alone:20.2f}{stacked:15.2f}{alone / stacked:10.2f}{fit:19.2f}{alone / fit:8.2f}")
    lines.append(f"speed-up at {sizes[-1]} replicates {alone / stacked:.2f}; targets: {targets} ({epochs} epochs each, "
                 f"{os.cpu_count()} cores, {'cuda' if on_gpu else 'cpu'})")
    return "\n".join(lines)
