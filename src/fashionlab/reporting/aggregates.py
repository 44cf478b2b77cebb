"""TensorBoard cannot average runs: the report writes, for each configuration with two or more completed
replicates, an aggregate run `<sweep>/aggregate/<configuration>` holding the per-epoch mean of val acc and val loss
over the replicates and the band mean ± one sample standard deviation, at the steps the runs log them, drawn by
a CUSTOM SCALARS margin chart."""

import shutil
from pathlib import Path

from torch.utils.tensorboard import SummaryWriter

from fashionlab.overrides import overrides_name
from fashionlab.reporting.selection import Configuration, curve

FOLDER = "aggregate"
CATEGORY = "replicates: mean ± 1 std"
METRICS = {"val_acc": "val acc", "val_loss": "val loss"}


def tags(column: str) -> list[str]:
    """The value, lower and upper tags of a margin chart, in TensorBoard's order."""
    return [f"aggregate/{column}", f"aggregate/{column}_lower", f"aggregate/{column}_upper"]


def write_aggregates(sweep: Path, configurations: list[Configuration]) -> list[Path]:
    """Write the aggregate runs (replacing those of an earlier report); returns their folders."""
    shutil.rmtree(sweep / FOLDER, ignore_errors=True)
    written = []
    for configuration in configurations:
        if len(configuration.replicates) < 2:
            continue
        folder = sweep / FOLDER / (overrides_name(configuration.label.split(" ")) or "all")
        with SummaryWriter(str(folder)) as writer:
            writer.add_custom_scalars({CATEGORY: {title: ["Margin", tags(column)] for column, title in METRICS.items()}})
            for column in METRICS:
                steps, mean, std = curve(configuration, column, x="step")  # each run logs val/* at its step
                value, lower, upper = tags(column)
                for step, m, s in zip(steps, mean, std):
                    writer.add_scalar(value, m, round(step))
                    writer.add_scalar(lower, m - s, round(step))
                    writer.add_scalar(upper, m + s, round(step))
        written.append(folder)
    return written
