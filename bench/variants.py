"""Pipeline A under different overrides, side by side: best_mlp's speed settings; Adam against SGD on the small MLP."""

import statistics
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from bench.own_process import in_own_process
from bench.pipelines import Timing, project

# best_mlp (batch 256, 1.87M parameters) under the settings before issue 13 and under each change alone.
BEFORE = ("trainer.precision=32-true", "optimizer.fused=null")
COMPILE = "+callbacks.compile._target_=bench.pipelines.CompileNet"
RECIPE = {
    "before: 32-true, unfused": BEFORE,
    "bf16-mixed": ("trainer.precision=bf16-mixed", "optimizer.fused=null"),
    "fused AdamW": ("trainer.precision=32-true",),
    "compiled net": (*BEFORE, COMPILE),
    "adopted": (),  # experiment=best_mlp as configured
    "adopted + compiled": (COMPILE,),
}
RECIPE_TARGET = 1.6  # "adopted" at least this many times faster per epoch than "before"
RECIPE_EPOCHS = 100  # best_mlp's run length, for the end-to-end estimate
# The sheet's small MLP at batch 64: fused steps (the configs' default) and torch's default step (a loop over the
# parameters on a CPU, foreach on a GPU).
OPTIMIZERS = {
    "SGD, fused": ("optimizer=sgd",),
    "Adam, fused": ("optimizer=adam",),
    "Adam, unfused": ("optimizer=adam", "optimizer.fused=null"),
}


T = TypeVar("T")  # what one run returns: a Timing, or seconds


def rotated(names: list[str], rounds: int, run: Callable[[str, int], T]) -> dict[str, list[T]]:
    """Runs each name once per round, the order rotated each round (A B C, B C A, ...), so that none always runs
    right after another: this machine's speed drifts from minute to minute."""
    timings: dict[str, list[T]] = {name: [] for name in names}
    for round_ in range(rounds):
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            timings[name].append(run(name, round_))
    return timings


def medians(runs: dict[str, list[Timing]]) -> dict[str, Timing]:
    return {name: Timing(*(statistics.median(getattr(t, field) for t in timings) for field in Timing.__annotations__))
            for name, timings in runs.items()}


def time_recipe(data_dir: Path, real: bool, rounds: int, epochs: int, tmp: Path) -> str:
    runs = rotated(list(RECIPE), rounds, lambda name, round_: in_own_process(
        project, data_dir, real, 256, epochs, tmp / f"recipe-{round_}-{list(RECIPE).index(name)}",
        "experiment=best_mlp", *RECIPE[name]))
    median = medians(runs)
    before = median["before: 32-true, unfused"]
    lines = [f"best_mlp (batch 256)     start-up s   1st epoch s   epoch s   val acc   speed-up   "
             f"{RECIPE_EPOCHS}-epoch run, est. min"]
    for name, t in median.items():
        run_minutes = (t.startup + t.first + (RECIPE_EPOCHS - 1) * t.epoch) / 60
        lines.append(f"{name:<24} {t.startup:10.2f} {t.first:13.2f} {t.epoch:9.3f} {t.val_acc:9.3f} "
                     f"{before.epoch / t.epoch:9.2f}x {run_minutes:16.1f}")
    lines.append(f"adopted vs before: {before.epoch / median['adopted'].epoch:.2f}x per epoch "
                 f"(target >= {RECIPE_TARGET}); the 1st epoch holds any compiling")
    return "\n".join(lines)


def time_optimizers(data_dir: Path, real: bool, rounds: int, epochs: int, tmp: Path) -> str:
    runs = rotated(list(OPTIMIZERS), rounds, lambda name, round_: in_own_process(
        project, data_dir, real, 64, epochs, tmp / f"optimizers-{round_}-{list(OPTIMIZERS).index(name)}",
        *OPTIMIZERS[name]))
    lines = ["small MLP (batch 64)     start-up s   train s   val s   epoch s   val acc"]
    lines += [f"{name:<24} {t.startup:10.2f} {t.train:9.3f} {t.val:7.3f} {t.epoch:9.3f} {t.val_acc:9.3f}"
              for name, t in medians(runs).items()]
    return "\n".join(lines)
