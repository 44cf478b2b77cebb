"""Over- and underfitting of one run, from its metrics.csv, and the other per-run numbers the report compares."""

import math
from dataclasses import dataclass

from fashionlab.reporting.runs import Run

# Verdict thresholds (stated in the report).
VAL_LOSS_RISE = 0.05      # recent val loss this far (relative) above its minimum, train loss lower: overfitting
TREND_EPOCHS = 3          # "recent": the last epochs, averaged so that one noisy epoch does not decide
TRAIN_ACC_GAIN = 0.005    # train acc gain over the window above this: still learning, more epochs would help
GAP_LIMIT = 0.05          # train acc minus val acc at the end above this: overfitting even if val loss is flat
THRESHOLDS = (f"Thresholds, checked in this order: the mean val loss of the last {TREND_EPOCHS} epochs more than "
              f"{VAL_LOSS_RISE:.0%} above a minimum reached before them is overfitting if their mean train loss is "
              "lower than at that minimum, else unstable training; train acc up by "
              f"more than {100 * TRAIN_ACC_GAIN:.1f} pp over the last {TREND_EPOCHS} epochs is underfitting (more "
              f"epochs would help); train acc above val acc by more than {100 * GAP_LIMIT:.0f} pp at the end is "
              "overfitting.")


@dataclass
class Diagnosis:
    """Over/underfitting of one run, computed from its metrics.csv."""

    min_val_loss_epoch: float | None  # in passes over the training set, like Run.axis("epoch")
    last_epoch: float | None
    gap: float
    verdict: str


def diagnose(history: dict[str, list[float]], epoch_share: float = 1.0) -> Diagnosis:
    """Compare where val loss bottomed out with the last epoch, and whether training was still improving.
    Epochs are reported in passes over the training set (`epoch_share` of it per epoch, see Run.epoch_share)."""
    epochs = [epoch * epoch_share for epoch in history["epoch"]]
    if not epochs:
        return Diagnosis(None, None, math.nan, "no finished epoch")
    train_loss, val_loss, train_acc = history["train_loss"], history["val_loss"], history["train_acc"]
    gap = train_acc[-1] - history["val_acc"][-1]
    if not all(math.isfinite(value) for value in train_loss + val_loss):
        return Diagnosis(None, epochs[-1], gap, "loss is NaN or infinite: training diverged")
    lowest = min(range(len(epochs)), key=val_loss.__getitem__)
    if len(epochs) < 2:
        return Diagnosis(epochs[lowest], epochs[-1], gap, "one epoch: too few to judge")
    window = min(TREND_EPOCHS, len(epochs) - 1)
    # Only a minimum reached before the last `window` epochs can be risen from; a recent one means still improving.
    rise = sum(val_loss[-window:]) / window / val_loss[lowest] - 1 if lowest < len(epochs) - window else 0.0
    gain = train_acc[-1] - train_acc[-1 - window]
    last = f"last {window} epochs" if window > 1 else "last epoch"
    recent = f"{last} {rise:+.0%} above the minimum"
    if rise > VAL_LOSS_RISE and sum(train_loss[-window:]) / window < train_loss[lowest]:
        verdict = f"val loss rising since epoch {epochs[lowest]:g} ({recent}) while train loss falls: overfitting"
    elif rise > VAL_LOSS_RISE:
        verdict = (f"val loss ({recent}) and train loss both above their level at epoch {epochs[lowest]:g}: "
                   "unstable training, a lower learning rate would help")
    elif gain > TRAIN_ACC_GAIN:
        verdict = (f"train acc still rising at the last epoch (+{100 * gain:.1f} pp over the {last}): "
                   "underfitting, more epochs would help")
    elif gap > GAP_LIMIT:
        verdict = f"train acc {100 * gap:.1f} pp above val acc at the end: overfitting"
    else:
        verdict = "val loss near its minimum, train acc flat, small train-val gap: converged, fits well"
    return Diagnosis(epochs[lowest], epochs[-1], gap, verdict)


def epochs_to(run: Run, threshold: float) -> tuple[float, float] | None:
    """First epoch, in passes over the training set (Run.axis), and seconds since the fit started at which val acc
    reached `threshold`."""
    for epoch, acc, elapsed in zip(run.axis("epoch"), run.history["val_acc"], run.history["elapsed_s"]):
        if acc >= threshold:
            return epoch, elapsed
    return None


def max_drop(values: list[float]) -> float:
    return max([0.0] + [before - after for before, after in zip(values, values[1:])])
