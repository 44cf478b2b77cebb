"""Each timed fit in a process of its own, as `python src/train.py` runs: `python -m bench.own_process <pipeline> ...`.

In one process, a fit runs faster or slower depending on the fits before it (allocator and cache state): A/D came out
at 1.18 with all fits in one process, and at about 1.05 with each fit in its own.
"""

import dataclasses
import json
import logging
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from bench import pipelines
from bench.pipelines import ROOT, Timing


def in_own_process(pipeline: Callable[..., Timing], data_dir: Path, real: bool, batch_size: int, epochs: int,
                   output_dir: Path, *extra: str) -> Timing:
    """One fit of `pipeline` (a function of bench.pipelines) in a new Python process; `extra`: overrides (`project`)."""
    command = [sys.executable, "-m", __name__, pipeline.__name__, str(data_dir), str(real), str(batch_size),
               str(epochs), str(output_dir), *extra]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"error: {' '.join(command)} failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    return Timing(**json.loads(done.stdout.splitlines()[-1]))


if __name__ == "__main__":  # one fit; its Timing as the last line of stdout
    name, data_dir, real, batch_size, epochs, output_dir, *extra = sys.argv[1:]
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)  # no "GPU available" banner
    timing = getattr(pipelines, name)(Path(data_dir), real == "True", int(batch_size), int(epochs), Path(output_dir),
                                      *extra)
    print(json.dumps(dataclasses.asdict(timing)))
