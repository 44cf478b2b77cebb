"""Start-up: how long a command takes to answer before any training (`--help`, a refused value), beside the import of
Lightning alone, which every run pays and these answers do not. Each command is a new process, the commands are timed
in turns (round 2 starts with the second command, ...), and the table gives the median of each."""

import statistics
import subprocess
import sys
from time import perf_counter

from bench.pipelines import ROOT
from bench.variants import rotated

COMMANDS = {
    "train.py --help": ["src/train.py", "--help"],
    "train.py optimizer.lr=-1": ["src/train.py", "optimizer.lr=-1"],
    "eval.py (no ckpt_path)": ["src/eval.py"],
    "import torch": ["-c", "import torch"],
    "import lightning": ["-c", "import lightning"],
}
TARGET = 1.5  # seconds for --help and a refused value on 2 cores (issue 21)


def seconds(name: str) -> float:
    started = perf_counter()
    subprocess.run([sys.executable, *COMMANDS[name]], cwd=ROOT, capture_output=True)
    return perf_counter() - started


def time_startup(rounds: int) -> str:
    runs = rotated(list(COMMANDS), rounds, lambda name, round_: seconds(name))
    lines = [f"start-up, median of {rounds}         seconds   (target for train.py: <= {TARGET} s)"]
    lines += [f"{name:<30} {statistics.median(times):8.2f}" for name, times in runs.items()]
    return "\n".join(lines)
