"""Times pipelines A, B, C and D interleaved (A B C D, B C D A, ...) per batch size; best_mlp's epoch under the settings
before issue 13 and under each change; Adam against SGD on the small MLP; a 4-job sweep with and without
`launcher=parallel`; K replicates with `launcher=parallel` and stacked (stack=true), and one stacked step three ways;
a run alone and beside another lab command, the cores shared or not; then the start-up of the entry points (`--help`,
a refused value) beside `import lightning`. Every timed fit runs in a process of its own. Prints medians. Flags:
--rounds, --epochs (per fit; the epochs after the first are timed, their mean), --only (some parts, e.g.
`make bench ARGS="--only startup"`)."""

import argparse
import logging
import os
import tempfile
from pathlib import Path

import torch

from bench.cores import time_shared_cores
from bench.own_process import in_own_process
from bench.pipelines import ROOT, Timing, bare_lightning, project, raw_loop, tutorial
from bench.stacked_step import time_stacked_step
from bench.startup import time_startup
from bench.sweep import time_replicates, time_sweeps
from bench.variants import medians, rotated, time_optimizers, time_recipe
from fashionlab.data import IMAGE_MAGIC, LABEL_MAGIC, RELEASE, raw_dir

PIPELINES = {"A project": project, "B tutorial": tutorial, "C raw loop": raw_loop, "D bare Lightning": bare_lightning}
TARGETS = {64: 1.35, 256: 1.15}  # A/C at most; B/A at least 2.5 at batch 64 (issue 5)


def synthetic_data(root: Path) -> Path:
    """Random uint8 images and labels in FashionMNIST's IDX files and sizes, for a machine without the data."""
    generator = torch.Generator().manual_seed(0)
    raw_dir(root).mkdir(parents=True)
    for name, (_, count) in RELEASE.items():
        images = "images" in name
        shape = (count, 28, 28) if images else (count,)
        values = torch.randint(0, 256 if images else 10, shape, dtype=torch.uint8, generator=generator)
        header = b"".join(n.to_bytes(4, "big") for n in (IMAGE_MAGIC if images else LABEL_MAGIC, *shape))
        (raw_dir(root) / name).write_bytes(header + values.numpy().tobytes())
    return root


def load() -> str:
    """Other processes distort the figures (threads competing for cores), so the output says how busy it was."""
    return f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores"


def table(batch_size: int, runs: dict[str, list[Timing]]) -> str:
    median = medians(runs)
    lines = [f"batch {batch_size:<10} start-up s   train s   val s   epoch s   val acc"]
    lines += [f"{name:<16} {t.startup:10.2f} {t.train:9.3f} {t.val:7.3f} {t.epoch:9.3f} {t.val_acc:9.3f}"
              for name, t in median.items()]
    a, b, c, d = (t.epoch for t in median.values())
    lines.append(f"A/C {a / c:.2f} (target <= {TARGETS[batch_size]})   B/A {b / a:.2f}"
                 + (" (target >= 2.5)" if batch_size == 64 else "")
                 + f"   D/C {d / c:.2f} (Lightning's own cost)   A/D {a / d:.2f} (what this project adds to it)")
    return "\n".join(lines)


def time_pipelines(data_dir: Path, real: bool, rounds: int, epochs: int, tmp: Path):
    """One table per batch size, each as soon as it is measured."""
    for batch_size in TARGETS:
        yield table(batch_size, rotated(list(PIPELINES), rounds, lambda name, round_: in_own_process(
            PIPELINES[name], data_dir, real, batch_size, epochs, tmp / f"{batch_size}-{round_}-{name[0]}")))


# Each part yields its tables: data folder, real data or not, rounds, epochs per fit, a scratch folder.
PARTS = {"pipelines": time_pipelines,
         "recipe": lambda *args: [time_recipe(*args)], "optimizers": lambda *args: [time_optimizers(*args)],
         "sweep": lambda data_dir, real, rounds, epochs, tmp: [time_sweeps(data_dir, real, tmp)],
         "replicates": lambda data_dir, real, rounds, epochs, tmp: [
             time_replicates(data_dir, real, tmp, rounds, epochs)],
         "stacked_step": lambda data_dir, real, rounds, epochs, tmp: [time_stacked_step(rounds)],
         "cores": lambda data_dir, real, rounds, epochs, tmp: [time_shared_cores(data_dir, real, tmp, rounds)],
         "startup": lambda data_dir, real, rounds, epochs, tmp: [time_startup(rounds)]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--only", nargs="+", choices=PARTS, default=list(PARTS),
                        help="run only these parts, e.g. `--only recipe optimizers` (default: all)")
    args = parser.parse_args()
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)  # no "GPU available" banner per fit
    with tempfile.TemporaryDirectory() as tmp:
        real = all((raw_dir(ROOT / "data") / name).is_file() for name in RELEASE)
        data_dir = ROOT / "data" if real else synthetic_data(Path(tmp) / "data")
        device = "cuda" if torch.cuda.is_available() else "cpu"
        print(f"FashionMNIST, {'real data' if real else 'synthetic data of the same shape (data/ lacks it)'}; "
              f"device {device}, {torch.get_num_threads()} torch threads; medians of {args.rounds} interleaved "
              f"rounds, each a {args.epochs}-epoch fit in a process of its own, timed on the mean of its epochs after "
              f"the first; {load()}", flush=True)
        for part in args.only:
            for part_table in PARTS[part](data_dir, real, args.rounds, args.epochs, Path(tmp)):
                print("\n" + part_table, flush=True)
        print(f"\nat the end: {load()}")


if __name__ == "__main__":
    main()
