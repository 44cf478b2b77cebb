"""A default run's fit alone and beside another lab command (a second run, a stacked sweep, a `launcher=parallel`
sweep), with the cores shared among the lab's fits (fashionlab.cores, the default) and with torch's threads fixed at
the core count (OMP_NUM_THREADS set: the lab before sharing)."""

import json
import os
import subprocess
import sys
from pathlib import Path

from bench.pipelines import ROOT

BESIDE = {"alone": None, "beside a run": [], "beside a stacked sweep": ["-m", "seed=0,1,2,3", "stack=true"],
          "beside launcher=parallel": ["-m", "seed=0,1", "launcher=parallel"]}


def start(data_dir: Path, real: bool, epochs: int, folder: Path, args: list[str], threads: str | None):
    env = {key: value for key, value in os.environ.items() if key != "OMP_NUM_THREADS"}
    env.update({"OMP_NUM_THREADS": threads} if threads else {})
    where = f"hydra.sweep.dir={folder}" if "-m" in args else f"hydra.run.dir={folder}"
    return subprocess.Popen([sys.executable, "src/train.py", *args, f"data.data_dir={data_dir}",
                             f"trainer.max_epochs={epochs}", f"data.verify_checksums={real}",
                             "trainer.enable_progress_bar=false", where],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def fit_seconds(data_dir: Path, real: bool, epochs: int, tmp: Path, beside: list[str] | None, fixed: bool) -> float:
    """The run's fit (summary.json's wall time, start-up excluded), with the other command started at the same time."""
    cores = str(len(os.sched_getaffinity(0))) if fixed else None
    other = None if beside is None else start(data_dir, real, epochs, tmp / "other", beside,
                                               None if "launcher=parallel" in beside else cores)
    run = start(data_dir, real, epochs, tmp / "run", [], cores)
    for process in (run, other):
        if process is not None and process.wait() != 0:
            raise RuntimeError(f"a bench command failed: {process.args}")
    return json.loads((tmp / "run" / "summary.json").read_text())["wall_seconds"]


def time_shared_cores(data_dir: Path, real: bool, tmp: Path, rounds: int, epochs: int = 2) -> str:
    times: dict[tuple[str, bool], list[float]] = {}
    for round_ in range(rounds):
        for case, (name, beside) in enumerate(BESIDE.items()):
            for fixed in (False, True)[::1 - 2 * (round_ % 2)]:
                times.setdefault((name, fixed), []).append(
                    fit_seconds(data_dir, real, epochs, tmp / f"cores-{round_}-{case}-{fixed}", beside, fixed))
    median = {key: sorted(values)[len(values) // 2] for key, values in times.items()}
    lines = [f"{epochs}-epoch run, fit s (x alone)      shared cores      threads fixed"]
    for name in BESIDE:
        shared, fixed = median[name, False], median[name, True]
        lines.append(f"{name:<30}{shared:8.1f} ({shared / median['alone', False]:4.1f}x)"
                     f"{fixed:10.1f} ({fixed / median['alone', True]:4.1f}x)")
    lines.append("targets: alone as fast shared as fixed; beside another lab command at most 3x alone")
    return "\n".join(lines)
