"""The report's figures (matplotlib): curves of configurations (mean over replicates, ± one standard deviation
as a band), the class-sample grid, the test confusion matrix, a search's progress and parameter importances.

Figures are built as `Figure` objects, never through pyplot's global state, so a report can make several without
leaking windows or memory, and saving one needs no backend: the lab leaves matplotlib's as it found it (a notebook
shows its own figures inline).
"""

import math
from collections.abc import Sequence
from pathlib import Path

import matplotlib
import torch
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from fashionlab.quiet import quiet

with quiet():  # Optuna's first import, in a notebook: tqdm's advice to install ipywidgets
    from optuna.trial import FrozenTrial, TrialState
from fashionlab.data import CLASS_NAMES
from fashionlab.reporting.runs import X_AXES
from fashionlab.reporting.selection import Configuration, curve
from fashionlab.reporting.study import best_reported

CURVES = {"loss": ("loss", "cross-entropy loss"), "acc": ("accuracy", "accuracy")}
BAND = "the band: ± one sample standard deviation over the replicates"
LOG_SPAN = 100  # an x axis whose values span more than this factor is drawn on a log scale
NEAR_TOP = 0.10  # the y axes show the best point of each configuration whose mean is this close to the top one's
PANELS_PER_ROW = 3
LEGEND_INCHES_PER_CHARACTER = 0.065  # at fontsize "small": a legend entry's width, so that it never squeezes the axes
# Tell the configurations of one group (one color) apart: 12 before a pair of line style and marker repeats.
LINESTYLES = ("-", "--", ":", "-.")
MARKERS = ("o", "s", "^", "v", "D", "P")


def save(figure: Figure, path: Path) -> Path:
    figure.savefig(path, dpi=120, bbox_inches="tight")
    return path


def replicates_text(configuration: Configuration) -> str:
    n = len(configuration.drawn)
    return f"n = {n}" if configuration.replicates else f"n = {n}, not completed"


def draw(ax, xs: list[float], mean: list[float], std: list[float], **style) -> object:
    """A mean curve, and its band where it has one (several replicates)."""
    line, = ax.plot(xs, mean, **style)
    if any(std):
        ax.fill_between(xs, [m - s for m, s in zip(mean, std)], [m + s for m, s in zip(mean, std)],
                        color=line.get_color(), alpha=0.15 * style.get("alpha", 1.0), linewidth=0)
    return line


def curves_figure(configurations: Sequence[Configuration], metric: str) -> Figure:
    """Training and validation `metric` ("loss" or "acc") per epoch, one panel per configuration (at most 3 a row),
    shared y: the mean over its replicates with a band. A dotted line marks the epoch of best mean val acc."""
    name, axis_label = CURVES[metric]
    columns = min(len(configurations), PANELS_PER_ROW)
    rows = -(-len(configurations) // columns)
    figure = Figure(figsize=(5.5 * columns, 4.2 * rows), layout="constrained")
    axes = list(figure.subplots(rows, columns, sharey=True, squeeze=False).flat)
    for ax, configuration in zip(axes, configurations):
        epochs, val_acc, _ = curve(configuration, "val_acc")
        draw(ax, *curve(configuration, f"train_{metric}"), marker="o", markersize=3, label=f"training {name}")
        draw(ax, *curve(configuration, f"val_{metric}"), marker="s", markersize=3, linestyle="--",
             label=f"validation {name}")
        finite = [i for i, acc in enumerate(val_acc) if math.isfinite(acc)]
        if finite:
            best = epochs[max(finite, key=val_acc.__getitem__)]
            ax.axvline(best, color="gray", linestyle=":", label=f"best mean val acc (epoch {best:g})")
        ax.set_title(f"{configuration.label} ({replicates_text(configuration)})\n{configuration.runs[0].title}")
        ax.set_xlabel(X_AXES["epoch"])
        ax.set_ylabel(axis_label)
        ax.xaxis.set_major_locator(MaxNLocator(integer=all(epoch == int(epoch) for epoch in epochs)))
        ax.grid(alpha=0.3)
        ax.legend()
    for ax in axes[len(configurations):]:  # the unused panels of the last row
        ax.set_axis_off()
    replicated = any(len(configuration.drawn) > 1 for configuration in configurations)
    figure.suptitle(f"Training and validation {name} per epoch, best configuration of each group"
                    + (f": mean over replicates, {BAND}" if replicated else ""))
    return figure


def sweep_figure(configurations: Sequence[Configuration], highlighted: set[str], x_axes: Sequence[str],
                 lrs: dict[str, tuple[list[int], list[float]]] | None = None) -> Figure:
    """Validation loss (top row) and accuracy (bottom row) of every configuration (mean over its replicates, with a
    band) against each of `x_axes`, plus, given each configuration's learning rate per step (`lrs`, by label), a
    panel of them on the right. One color per group; the configurations labelled in `highlighted` (the best of each
    group) thick, the others thin and faded. The y axes fit the highlighted configurations and the best point of
    every configuration near the top (NEAR_TOP), so that runs that never learned do not flatten the differences
    that matter; the legend gives every configuration's mean best val acc and replicates."""
    lr_column = ["lr"] if lrs is not None else []
    mosaic = [[f"loss {axis}" for axis in x_axes] + lr_column, [f"acc {axis}" for axis in x_axes] + lr_column]
    labels = {c.label: f"{c.label} ({replicates_text(c)}, best val acc {c.sample.mean:.3f})"
                       f"{' ★' if c.label in highlighted else ''}" for c in configurations}
    legend_width = max(6.0, LEGEND_INCHES_PER_CHARACTER * max(map(len, labels.values())))
    figure = Figure(figsize=(5 * len(mosaic[0]) + legend_width, 7.5), layout="constrained")
    axes = figure.subplot_mosaic(mosaic)
    groups = list(dict.fromkeys(c.group for c in configurations))
    palette = matplotlib.colormaps["tab10" if len(groups) <= 10 else "tab20"]
    handles = []
    for configuration in sorted(configurations, key=lambda c: groups.index(c.group)):
        rank = [c.label for c in configurations if c.group == configuration.group].index(configuration.label)
        best = configuration.label in highlighted
        style = {"color": palette(groups.index(configuration.group)), "linestyle": LINESTYLES[rank % len(LINESTYLES)],
                 "marker": MARKERS[rank % len(MARKERS)], "markersize": 3.5 if best else 2,
                 "linewidth": 2.4 if best else 1.0, "alpha": 1.0 if best else 0.45,
                 "label": labels[configuration.label]}
        for metric in CURVES:
            for axis in x_axes:
                line = draw(axes[f"{metric} {axis}"], *curve(configuration, f"val_{metric}", axis), **style)
        handles.append(line)
        if lrs is not None and lrs[configuration.label][0]:
            steps, values = lrs[configuration.label]
            last = configuration.drawn[0].history["step"][-1]
            if last > steps[-1]:  # the lr holds until the run's last update
                steps, values = [*steps, last], [*values, values[-1]]
            axes["lr"].plot(steps, values, drawstyle="steps-post", **{**style, "marker": None})
    for metric, (name, _) in CURVES.items():
        for axis in x_axes:
            ax = axes[f"{metric} {axis}"]
            ax.set_ylabel(f"validation {name}")
            ax.grid(alpha=0.3)
            xs = [x for c in configurations for run in c.drawn for x in run.axis(axis) if math.isfinite(x) and x > 0]
            if xs and max(xs) > LOG_SPAN * min(xs):  # e.g. batch vs stochastic GD: decades apart in updates
                ax.set_xscale("log")
                ax.set_xlabel(f"{X_AXES[axis]}, log scale")
            else:
                ax.set_xlabel(X_AXES[axis])
                ax.xaxis.set_major_locator(MaxNLocator(integer=all(x == int(x) for x in xs)))
            fit_y(ax, configurations, highlighted, f"val_{metric}", best=max if metric == "acc" else min)
    if lrs is not None:
        axes["lr"].set(xlabel="parameter updates", ylabel="learning rate", title="learning rate per step")
        axes["lr"].grid(alpha=0.3)
    replicated = any(len(c.drawn) > 1 for c in configurations)
    figure.legend(handles=handles, loc="outside right center", fontsize="small",
                  title=f"★ thick: best configuration of its group\n(y axes fit these and configurations within "
                        f"{100 * NEAR_TOP:.0f} pp of the top val acc)" + (f"\nmean over replicates;\n{BAND}"
                                                                          if replicated else ""))
    figure.suptitle("Validation curves of every configuration")
    return figure


def fit_y(ax, configurations: Sequence[Configuration], highlighted: set[str], column: str, best) -> None:
    """Y limits spanning the mean curves of the highlighted configurations and the best point of each configuration
    whose mean best val acc is within NEAR_TOP of the top one, 5% margin."""
    top = max((c.sample.mean for c in configurations if c.sample.n), default=math.nan)
    values = []
    for configuration in configurations:
        _, mean, _ = curve(configuration, column)
        finite = [value for value in mean if math.isfinite(value)]
        if configuration.label in highlighted:
            values += finite
        elif finite and configuration.sample.n and configuration.sample.mean >= top - NEAR_TOP:
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


def progress_figure(trials: list[FrozenTrial]) -> Figure:
    """Best val acc of each trial against its number, and the best completed trial so far."""
    figure = Figure(figsize=(7, 4))
    ax = figure.subplots()
    for state, style in ((TrialState.COMPLETE, dict(marker="o", color="tab:blue", label="completed")),
                         (TrialState.PRUNED, dict(marker="x", color="tab:red", label="pruned (its best so far)"))):
        shown = [trial for trial in trials if trial.state == state]
        ax.scatter([t.number for t in shown], [best_reported(t) for t in shown], **style)
    running, best = [], None
    for trial in trials:
        if trial.state == TrialState.COMPLETE:
            best = trial.value if best is None else max(best, trial.value)
        running.append(best)
    ax.step([trial.number for trial in trials], running, where="post", color="black", label="best completed so far")
    ax.set(xlabel="trial", ylabel="best val acc", title="Search progress")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(loc="best", framealpha=0.6)
    ax.grid(alpha=0.3)
    return figure


def importance_figure(importances: dict[str, float]) -> Figure:
    figure = Figure(figsize=(7, 0.5 + 0.5 * len(importances)))
    ax = figure.subplots()
    names = list(importances)[::-1]  # the most important on top
    ax.barh(names, [importances[name] for name in names], color="tab:blue")
    ax.set(xlabel="importance (Optuna's default evaluator, normalized to sum 1)", title="Which parameters mattered")
    return figure
