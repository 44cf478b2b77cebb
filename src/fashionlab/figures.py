"""The report's figures (matplotlib, Agg): curves of chosen runs, the class-sample grid, the test confusion matrix.

Figures are built as `Figure` objects, never through pyplot's global state, so a report can make several without
leaking windows or memory.
"""

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")  # files only: no display needed

import torch
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from fashionlab.data import CLASS_NAMES

if TYPE_CHECKING:
    from fashionlab.report import Run

CURVES = {"loss": ("loss", "cross-entropy loss"), "acc": ("accuracy", "accuracy")}
# The x axes a sweep's `report.x_axes` may ask for: metrics.csv columns and how to label them.
X_AXES = {"epoch": "epoch (passes over the training set)", "elapsed_s": "wall-clock seconds since the fit started",
          "step": "parameter updates"}
LOG_SPAN = 100  # an x axis whose values span more than this factor is drawn on a log scale
NEAR_TOP = 0.10  # the y axes show the best point of each run whose best val acc is this close to the top run's
PANELS_PER_ROW = 3
LEGEND_INCHES_PER_CHARACTER = 0.065  # at fontsize "small": a legend entry's width, so that it never squeezes the axes
# Tell the runs of one group (one color) apart: 12 runs before a pair of line style and marker repeats.
LINESTYLES = ("-", "--", ":", "-.")
MARKERS = ("o", "s", "^", "v", "D", "P")


def save(figure: Figure, path: Path) -> Path:
    figure.savefig(path, dpi=120, bbox_inches="tight")
    return path


def curves_figure(runs: Sequence["Run"], metric: str) -> Figure:
    """Training and validation `metric` ("loss" or "acc") per epoch, one panel per run (at most 3 a row), shared y.

    A dotted line marks the epoch of best validation accuracy, the checkpoint a run contributes to selection.
    """
    name, axis_label = CURVES[metric]
    columns = min(len(runs), PANELS_PER_ROW)
    rows = -(-len(runs) // columns)
    figure = Figure(figsize=(5.5 * columns, 4.2 * rows), layout="constrained")
    axes = list(figure.subplots(rows, columns, sharey=True, squeeze=False).flat)
    for ax, run in zip(axes, runs):
        epochs = run.axis("epoch")
        best = epochs[run.best_index]
        ax.plot(epochs, run.history[f"train_{metric}"], "o-", markersize=3, label=f"training {name}")
        ax.plot(epochs, run.history[f"val_{metric}"], "s--", markersize=3, label=f"validation {name}")
        ax.axvline(best, color="gray", linestyle=":", label=f"best val acc (epoch {best:g})")
        ax.set_title(f"job {run.name}: {run.label}\n{run.title}")
        ax.set_xlabel(X_AXES["epoch"])
        ax.set_ylabel(axis_label)
        ax.xaxis.set_major_locator(MaxNLocator(integer=all(epoch == int(epoch) for epoch in epochs)))
        ax.grid(alpha=0.3)
        ax.legend()
    for ax in axes[len(runs):]:  # the unused panels of the last row
        ax.set_axis_off()
    figure.suptitle(f"Training and validation {name} per epoch, best run of each group")
    return figure


def sweep_figure(runs: Sequence["Run"], highlighted: set[str], x_axes: Sequence[str],
                 lrs: dict[str, tuple[list[int], list[float]]] | None = None) -> Figure:
    """Validation loss (top row) and accuracy (bottom row) of every run against each of `x_axes`, plus, given the
    runs' learning rates per step (`lrs`), a panel of them on the right. One color per group; the runs named in
    `highlighted` (the best of each group) thick, the others thin and faded. The y axes fit the highlighted runs
    and the best point of every run near the top (NEAR_TOP), so that runs that never learned do not flatten the
    differences that matter; the legend gives every run's best val acc."""
    lr_column = ["lr"] if lrs is not None else []
    mosaic = [[f"loss {axis}" for axis in x_axes] + lr_column, [f"acc {axis}" for axis in x_axes] + lr_column]
    labels = {run.name: f"{run.label} (job {run.name}, best val acc {run.best_val_acc:.3f})"
                        f"{' ★' if run.name in highlighted else ''}" for run in runs}
    legend_width = max(6.0, LEGEND_INCHES_PER_CHARACTER * max(map(len, labels.values())))
    figure = Figure(figsize=(5 * len(mosaic[0]) + legend_width, 7.5), layout="constrained")
    axes = figure.subplot_mosaic(mosaic)
    groups = list(dict.fromkeys(run.group for run in runs))
    palette = matplotlib.colormaps["tab10" if len(groups) <= 10 else "tab20"]
    handles = []
    for run in sorted(runs, key=lambda run: groups.index(run.group)):
        rank = [other.name for other in runs if other.group == run.group].index(run.name)
        best = run.name in highlighted
        style = {"color": palette(groups.index(run.group)), "linestyle": LINESTYLES[rank % len(LINESTYLES)],
                 "marker": MARKERS[rank % len(MARKERS)], "markersize": 3.5 if best else 2,
                 "linewidth": 2.4 if best else 1.0, "alpha": 1.0 if best else 0.45,
                 "label": labels[run.name]}
        for metric in CURVES:
            for axis in x_axes:
                line, = axes[f"{metric} {axis}"].plot(run.axis(axis), run.history[f"val_{metric}"], **style)
        handles.append(line)
        if lrs is not None and lrs[run.name][0]:
            steps, values = lrs[run.name]
            last = run.history["step"][-1]
            if last > steps[-1]:  # the lr holds until the run's last update
                steps, values = [*steps, last], [*values, values[-1]]
            axes["lr"].plot(steps, values, drawstyle="steps-post", **{**style, "marker": None})
    for metric, (name, _) in CURVES.items():
        for axis in x_axes:
            ax = axes[f"{metric} {axis}"]
            ax.set_ylabel(f"validation {name}")
            ax.grid(alpha=0.3)
            xs = [x for run in runs for x in run.axis(axis) if math.isfinite(x) and x > 0]
            if xs and max(xs) > LOG_SPAN * min(xs):  # e.g. batch vs stochastic GD: decades apart in updates
                ax.set_xscale("log")
                ax.set_xlabel(f"{X_AXES[axis]}, log scale")
            else:
                ax.set_xlabel(X_AXES[axis])
                ax.xaxis.set_major_locator(MaxNLocator(integer=all(x == int(x) for x in xs)))
            fit_y(ax, runs, highlighted, f"val_{metric}", best=max if metric == "acc" else min)
    if lrs is not None:
        axes["lr"].set(xlabel="parameter updates", ylabel="learning rate", title="learning rate per step")
        axes["lr"].grid(alpha=0.3)
    figure.legend(handles=handles, loc="outside right center", fontsize="small",
                  title=f"★ thick: best run of its group\n(y axes fit these and runs within {100 * NEAR_TOP:.0f} pp "
                        "of the top val acc)")
    figure.suptitle("Validation curves of every run")
    return figure


def fit_y(ax, runs: Sequence["Run"], highlighted: set[str], column: str, best) -> None:
    """Y limits spanning every value of the highlighted runs and the best value of each run whose best val acc is
    within NEAR_TOP of the top one, 5% margin."""
    top = max((run.best_val_acc for run in runs if math.isfinite(run.best_val_acc)), default=math.nan)
    values = []
    for run in runs:
        finite = [value for value in run.history[column] if math.isfinite(value)]
        if run.name in highlighted:
            values += finite
        elif finite and run.best_val_acc >= top - NEAR_TOP:
            values.append(best(finite))
    if values:
        margin = 0.05 * (max(values) - min(values)) or 0.01
        ax.set_ylim(min(values) - margin, max(values) + margin)


def class_samples_figure(images: torch.Tensor, labels: torch.Tensor) -> Figure:
    """The sheet's 5x2 grid: the first image of each class with its name (empty panel if a class is absent)."""
    figure = Figure(figsize=(4.4, 10), layout="constrained")
    for label, ax in enumerate(figure.subplots(5, 2).flat):
        matches = (labels == label).nonzero()
        if len(matches):
            ax.imshow(images[int(matches[0])].reshape(28, 28).float().cpu().numpy(), cmap="gray")
        ax.set_title(f"{label}: {CLASS_NAMES[label]}" if len(matches) else f"{label}: {CLASS_NAMES[label]} (none)")
        ax.set_xticks([])
        ax.set_yticks([])
    figure.suptitle("FashionMNIST: one training image per class")
    return figure


def confusion_figure(matrix: Sequence[Sequence[int]], title: str) -> Figure:
    """Counts of test images per (true class, predicted class), class names on both axes."""
    counts = torch.tensor(matrix)
    figure = Figure(figsize=(8, 7), layout="constrained")
    ax = figure.subplots()
    image = ax.imshow(counts.numpy(), cmap="Blues")
    ticks = range(len(CLASS_NAMES))
    ax.set_xticks(ticks, CLASS_NAMES, rotation=45, ha="right")
    ax.set_yticks(ticks, CLASS_NAMES)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    dark = counts.max().item() / 2
    for (row, column), count in zip(((r, c) for r in ticks for c in ticks), counts.flatten().tolist()):
        ax.text(column, row, count, ha="center", va="center", fontsize=8, color="white" if count > dark else "black")
    figure.colorbar(image, ax=ax, label="test images")
    ax.set_title(title)
    return figure
