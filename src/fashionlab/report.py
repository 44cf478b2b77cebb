"""The sweep report: read every run of a sweep, choose the model on validation, test it once, write report.md.

Protocol: selection looks at validation accuracy only; the test set is evaluated once, for the selected run's
best checkpoint, by `evaluate_checkpoint` (the code behind `src/eval.py`). Training never touches the test set.
A sweep whose runs differ only in their seed (e.g. `make best`) holds final models of one recipe: each seed's best
checkpoint is tested once, and the report gives mean and standard deviation over the seeds.
"""

import csv
import json
import math
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from fashionlab.config import target_name
from fashionlab.dashboard import events_folder, override_values, readable, varying_keys
from fashionlab.data import CLASS_NAMES, load_split, raw_dir
from fashionlab.evaluation import evaluate_checkpoint
from fashionlab.figures import X_AXES, class_samples_figure, confusion_figure, curves_figure, save, sweep_figure
from fashionlab.records import METRIC_COLUMNS, write_json
from fashionlab.search_report import search_section

SWEEPS_ROOT = Path("outputs/multirun")
# Verdict thresholds (stated in the report).
VAL_LOSS_RISE = 0.05      # recent val loss this far (relative) above its minimum, train loss lower: overfitting
TREND_EPOCHS = 3          # "recent": the last epochs, averaged so that one noisy epoch does not decide
TRAIN_ACC_GAIN = 0.005    # train acc gain over the window above this: still learning, more epochs would help
GAP_LIMIT = 0.05          # train acc minus val acc at the end above this: overfitting even if val loss is flat
PROTOCOL = ("**Protocol.** The model is chosen on validation accuracy only, among completed runs: the run with the "
            "highest best val acc, at its best epoch (`checkpoints/best.ckpt`). The test set is evaluated once, for "
            "that checkpoint, by the code behind `src/eval.py`; training runs never evaluate the test set. Runs that "
            "did not complete are listed with their status but never selected.")
THRESHOLDS = (f"Thresholds, checked in this order: the mean val loss of the last {TREND_EPOCHS} epochs more than "
              f"{VAL_LOSS_RISE:.0%} above a minimum reached before them is overfitting if their mean train loss is "
              "lower than at that minimum, else unstable training; train acc up by "
              f"more than {100 * TRAIN_ACC_GAIN:.1f} pp over the last {TREND_EPOCHS} epochs is underfitting (more "
              f"epochs would help); train acc above val acc by more than {100 * GAP_LIMIT:.0f} pp at the end is "
              "overfitting.")


class ReportError(RuntimeError):
    """The folder is not a sweep (or holds no runs); the message says what was expected."""


@dataclass
class Run:
    """One job folder of a sweep: its config and overrides (.hydra/), status (summary.json) and epochs (metrics.csv)."""

    name: str
    path: Path
    config: DictConfig
    overrides: list[str]
    choices: dict[str, str | None]  # config group -> option (Hydra's runtime choices): groups apart from plain keys
    status: str
    wall_seconds: float | None
    history: dict[str, list[float]]
    group: str = ""    # set by assign_groups: the options of the config groups that vary across the sweep
    setting: str = ""  # set by assign_groups: the other varying overrides, which tell a group's runs apart

    @property
    def best_index(self) -> int | None:
        """Row of the first maximum of val acc, as ModelCheckpoint(mode="max") keeps the first best."""
        val_acc = self.history["val_acc"]
        return max((i for i, acc in enumerate(val_acc) if math.isfinite(acc)), key=val_acc.__getitem__, default=None)

    @property
    def best_val_acc(self) -> float:
        return math.nan if self.best_index is None else self.history["val_acc"][self.best_index]

    @property
    def best_epoch(self) -> float | None:
        return None if self.best_index is None else self.axis("epoch")[self.best_index]

    def final(self, column: str) -> float:
        values = self.history[column]
        return values[-1] if values else math.nan

    @property
    def optimizer(self) -> str:
        return target_name(self.config.optimizer)

    @property
    def override_values(self) -> dict[str, str]:
        return override_values(self.overrides)

    @property
    def label(self) -> str:
        """What tells this run apart from the others of its sweep (its title when nothing varies)."""
        return " ".join(part for part in (self.group, self.setting) if part) or self.title

    @property
    def title(self) -> str:
        """Optimizer class, learning rate and schedule, as the run built them."""
        schedule = target_name(self.config.scheduler.scheduler) or "constant lr"
        return f"{self.optimizer} lr={self.config.optimizer.lr:g}, {schedule}"

    @property
    def epoch_share(self) -> float:
        """The share of the training set one epoch covers: trainer.limit_train_batches when a fraction (stochastic
        GD validates every few thousand samples this way), else 1."""
        limit = OmegaConf.select(self.config, "trainer.limit_train_batches", default=None)
        return limit if isinstance(limit, float) else 1.0

    def axis(self, column: str) -> list[float]:
        """A metrics.csv column as an x axis; epochs count passes over the training set (see epoch_share)."""
        share = self.epoch_share if column == "epoch" else 1.0
        return [value * share for value in self.history[column]]

    @property
    def checkpoint(self) -> Path:
        return self.path / "checkpoints" / "best.ckpt"

    @property
    def selectable(self) -> bool:
        """Only completed runs compete: a diverged or interrupted run's checkpoint is not a finished result."""
        return self.status == "completed" and self.best_index is not None and self.checkpoint.is_file()


def read_metrics(path: Path) -> dict[str, list[float]]:
    """metrics.csv as columns; a missing file, a header alone or a half-written last row just give fewer epochs.

    An epoch cut short by trainer.max_time before its validation (train loss finite, val acc nan) is left out:
    its training numbers cover part of an epoch only, so it has nothing to compare.
    """
    history: dict[str, list[float]] = {column: [] for column in METRIC_COLUMNS}
    if not path.is_file():
        return history
    with open(path, newline="") as file:
        for row in csv.DictReader(file):
            try:
                record = {column: float(row[column]) for column in METRIC_COLUMNS}
            except (KeyError, TypeError, ValueError):
                continue
            if math.isfinite(record["train_loss"]) and math.isnan(record["val_acc"]):
                continue
            for column, value in record.items():
                history[column].append(value)
    return history


def read_lr(path: Path) -> tuple[list[int], list[float]]:
    """The learning rate at each step it was logged (TensorBoard tag `lr`, `lr/pg1` for several parameter groups;
    `lr-<Optimizer>` in runs from before fashionlab.dashboard.LearningRateLogger), all points (size_guidance 0: no
    sampling); empty if the run logged none."""
    events = EventAccumulator(str(events_folder(path)), size_guidance={"scalars": 0}).Reload()
    tags = sorted(tag for tag in events.Tags()["scalars"] if tag == "lr" or tag.startswith(("lr/", "lr-")))
    points = events.Scalars(tags[0]) if tags else []
    return [point.step for point in points], [point.value for point in points]


def read_summary(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return {"status": "no summary.json"}
    except json.JSONDecodeError:
        return {"status": "unreadable summary.json"}


def load_run(path: Path) -> Run:
    summary = read_summary(path / "summary.json")
    hydra = path / ".hydra" / "hydra.yaml"
    choices = OmegaConf.select(OmegaConf.load(hydra), "hydra.runtime.choices", default={}) if hydra.is_file() else {}
    return Run(name=path.name, path=path, config=OmegaConf.load(path / ".hydra" / "config.yaml"),
               overrides=list(OmegaConf.load(path / ".hydra" / "overrides.yaml")), choices=dict(choices),
               status=str(summary.get("status")), wall_seconds=summary.get("wall_seconds"),
               history=read_metrics(path / "metrics.csv"))


def varying_overrides(runs: list[Run]) -> list[str]:
    """The override keys whose value differs between runs, in command-line order."""
    return varying_keys([run.override_values for run in runs])


def assign_groups(runs: list[Run]) -> list[str]:
    """Group the runs by the config groups whose option varies across the sweep (e.g. `optimizer=momentum`, which
    the torch class name would not tell from plain SGD); the other varying overrides (e.g. `optimizer.lr`) tell the
    runs of a group apart. No varying config group: one group. Returns the group keys."""
    varying = varying_overrides(runs)
    keys = [key for key in varying if any(key in run.choices for run in runs)]
    for run in runs:
        value = run.override_values
        run.group = " ".join(f"{key}={value.get(key, '–')}" for key in keys)
        run.setting = " ".join(f"{key}={readable(value.get(key, '–'))}" for key in varying if key not in keys)
    return keys


def report_settings(runs: list[Run]) -> tuple[list[str], bool]:
    """What the experiment asks the report to draw, from the `report:` node of the jobs' configs: the x axes of
    val loss and whether to add the learning rate per step. Runs from before that node get epochs only."""
    x_axes = list(dict.fromkeys(axis for run in runs
                                for axis in OmegaConf.select(run.config, "report.x_axes", default=["epoch"])))
    unknown = [axis for axis in x_axes if axis not in X_AXES]
    if unknown:
        raise ReportError(f"report.x_axes={','.join(unknown)}: not allowed, must be among {', '.join(X_AXES)}")
    return x_axes, any(OmegaConf.select(run.config, "report.lr_panel", default=False) for run in runs)


def load_sweep(folder: Path) -> list[Run]:
    """The job folders of a sweep (those holding .hydra/config.yaml), in job order."""
    if not folder.is_dir():
        raise ReportError(f"{folder} is not a folder; pass a sweep folder such as outputs/multirun/<date>/<time>")
    if not (folder / "multirun.yaml").is_file():
        hint = f"; it is one run, its sweep is {folder.parent}" if (folder.parent / "multirun.yaml").is_file() else ""
        raise ReportError(f"{folder} is not a sweep folder: no multirun.yaml, which Hydra writes in every sweep{hint}")
    jobs = [path.parent.parent for path in folder.glob("*/.hydra/config.yaml")]
    if not jobs:
        raise ReportError(f"{folder} holds no job folders (<job>/.hydra/config.yaml): the sweep started no job")
    return [load_run(path) for path in sorted(jobs, key=lambda path: (len(path.name), path.name))]


def newest_sweep(root: Path = SWEEPS_ROOT) -> Path:
    """The latest `<date>/<time>` folder of Hydra's multirun layout (names sort chronologically)."""
    sweeps = sorted(path.parent for path in root.glob("*/*/multirun.yaml"))
    if not sweeps:
        raise ReportError(f"no sweep under {root}/ (run `make sweep` first, or pass a sweep folder)")
    return sweeps[-1]


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


def best_per(runs: list[Run], key) -> dict[str, Run]:
    """The selectable run with the highest best val acc for each value of `key` (e.g. the group)."""
    best: dict[str, Run] = {}
    for run in runs:
        if run.selectable and (key(run) not in best or run.best_val_acc > best[key(run)].best_val_acc):
            best[key(run)] = run
    return best


def epochs_to(run: Run, threshold: float) -> tuple[float, float] | None:
    """First epoch, in passes over the training set (Run.axis), and seconds since the fit started at which val acc
    reached `threshold`."""
    for epoch, acc, elapsed in zip(run.axis("epoch"), run.history["val_acc"], run.history["elapsed_s"]):
        if acc >= threshold:
            return epoch, elapsed
    return None


def fmt(value: float | None, digits: int = 4) -> str:
    return "–" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def comparison(best: dict[str, Run], threshold: float) -> tuple[list[str], str]:
    """The best runs of the groups side by side (SGD vs Adam when the sweep varies the optimizer): speed, stability,
    final validation loss and accuracy, as a table, and a one-line verdict on validation numbers."""
    runs = list(best.values())
    reached = [epochs_to(run, threshold) for run in runs]
    diagnoses = [diagnose(run.history, run.epoch_share) for run in runs]
    rows = {
        "run": [f"job {run.name}: {run.title}" for run in runs],
        "varying within the group": [run.setting or "–" for run in runs],
        "best val acc (epoch)": [f"{fmt(run.best_val_acc)} ({epoch_text(run.best_epoch)})" for run in runs],
        f"epochs to val acc ≥ {threshold:g} (seconds)":
            [f"{hit[0]:g} ({hit[1]:.0f} s)" if hit else "not reached" for hit in reached],
        "best val loss (epoch)": [f"{fmt(min(run.history['val_loss']))} ({epoch_text(d.min_val_loss_epoch)})"
                                  for run, d in zip(runs, diagnoses)],
        "final val loss": [fmt(run.final("val_loss")) for run in runs],
        "final train−val acc gap": [fmt(d.gap) for d in diagnoses],
        "largest epoch-to-epoch val acc drop": [fmt(max_drop(run.history["val_acc"])) for run in runs],
        "wall time": [seconds(run.wall_seconds) for run in runs],
    }
    lines = [f"| | {' | '.join(group or 'all runs' for group in best)} |", "| --- |" + " --- |" * len(best)]
    lines += [f"| {name} | {' | '.join(values)} |" for name, values in rows.items()]
    ranked = sorted(zip(runs, reached), key=lambda pair: pair[0].best_val_acc, reverse=True)
    if len(ranked) < 2:
        return lines, (f"one group: the best run is job {runs[0].name} ({runs[0].label}), best val acc "
                       f"{fmt(runs[0].best_val_acc)}")
    (first, first_hit), (second, second_hit) = ranked[:2]
    speed = " vs ".join(f"epoch {hit[0]:g} ({hit[1]:.0f} s)" if hit else "never" for hit in (first_hit, second_hit))
    lead = 100 * (first.best_val_acc - second.best_val_acc)
    place = "better" if len(ranked) == 2 else "best"
    ranking = f"{first.group} is {place} on validation" if lead else f"{first.group} and {second.group} tie"
    verdict = (f"{ranking}: best val acc {fmt(first.best_val_acc)} vs {fmt(second.best_val_acc)} for "
               f"{second.group}, the runner-up ({lead:+.2f} pp); val acc ≥ {threshold:g} reached at {speed}")
    return lines, verdict


def epoch_text(epoch: float | None) -> str:
    return "–" if epoch is None else f"{epoch:g}"


def max_drop(values: list[float]) -> float:
    return max([0.0] + [before - after for before, after in zip(values, values[1:])])


def seconds(value: float | None) -> str:
    return "–" if value is None else f"{value:.0f} s"


def runs_table(runs: list[Run]) -> list[str]:
    """Every run by what tells it apart (Run.label), after the overrides all runs share."""
    varying = set(varying_overrides(runs))
    common = [f"`{o}`" for o in runs[0].overrides if o.lstrip("+").split("=", 1)[0] not in varying]
    lines = [f"Overrides of every run: {' '.join(common) or '(none)'}.", "",
             "| job | run | best val acc | epoch of best | final train acc | final val loss | wall time | status |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for run in runs:
        lines.append(f"| {run.name} | {run.label} | {fmt(run.best_val_acc)} | {epoch_text(run.best_epoch)} | "
                     f"{fmt(run.final('train_acc'))} | {fmt(run.final('val_loss'))} | {seconds(run.wall_seconds)} | "
                     f"{run.status} |")
    return lines


def speed_table(runs: list[Run]) -> list[str]:
    """Seconds per epoch and parameter updates per second of each run (validation time included), over its
    completed epochs: what equal wall-clock budgets buy each run."""
    lines = ["| job | run | passes over the training set | parameter updates | seconds per epoch | updates per second "
             "| final val loss |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for run in runs:
        epochs = run.final("epoch") * run.epoch_share
        updates, elapsed = run.final("step"), run.final("elapsed_s")
        lines.append(f"| {run.name} | {run.label} | {epochs:g} | {fmt(updates, 0)} | {fmt(elapsed / epochs, 2)} | "
                     f"{fmt(updates / elapsed, 1)} | {fmt(run.final('val_loss'))} |")
    return lines


def fitting_table(runs: list[Run]) -> list[str]:
    lines = ["| job | run | epoch of min val loss | last epoch | train−val acc gap at the end | verdict |",
             "| --- | --- | --- | --- | --- | --- |"]
    for run in runs:
        d = diagnose(run.history, run.epoch_share)
        lines.append(f"| {run.name} | {run.label} | {epoch_text(d.min_val_loss_epoch)} | {epoch_text(d.last_epoch)} | "
                     f"{fmt(d.gap)} | {d.verdict} |")
    return lines


def mean_std(values: list[float]) -> str:
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.4f} ± {spread:.4f}"


def seeds_section(replicates: list[Run], tests: dict[str, dict]) -> tuple[list[str], dict]:
    """Replicates of one recipe: validation and test accuracy per seed, then mean ± sample standard deviation."""
    val = [run.best_val_acc for run in replicates]
    test = [tests[run.name]["test/acc"] for run in replicates]
    parameters = sum(p.numel() for p in instantiate(replicates[0].config.model).parameters())
    lines = [f"## One recipe, {len(replicates)} seeds", "",
             "The runs differ only in their seed, so each is a final model of the same recipe: each seed's best "
             "checkpoint on validation is evaluated once on the test set. Mean ± sample standard deviation over "
             f"the completed seeds. The network has {parameters:,} parameters.", "",
             "| seed | job | best val acc | epoch of best | test acc | wall time |", "| --- | --- | --- | --- | --- | --- |"]
    lines += [f"| {run.config.seed} | {run.name} | {fmt(run.best_val_acc)} | {epoch_text(run.best_epoch)} | "
              f"{fmt(acc)} | {seconds(run.wall_seconds)} |" for run, acc in zip(replicates, test)]
    lines += [f"| **mean ± std** | | **{mean_std(val)}** | | **{mean_std(test)}** | |", ""]
    summary = {"seeds": [run.config.seed for run in replicates], "parameters": parameters, "val_acc": val,
               "test_acc": test, "val_acc_mean_std": mean_std(val), "test_acc_mean_std": mean_std(test)}
    return lines, summary


def selected_section(run: Run, test: dict) -> list[str]:
    """The chosen run, its validation and test accuracy, and the test accuracy of each class."""
    return [f"**job {run.name}: {run.title}** (overrides: {' '.join(run.overrides) or 'defaults'}), "
            f"checkpoint `{run.checkpoint}` from epoch {epoch_text(run.best_epoch)}.", "",
            "| validation accuracy | test accuracy | test loss |", "| --- | --- | --- |",
            f"| {fmt(run.best_val_acc)} | {fmt(test['test/acc'])} | {fmt(test['test/loss'])} |", "",
            f"Same number: `python src/eval.py ckpt_path={run.checkpoint}`.", "",
            "Per-class test accuracy (share of each class's test images classified correctly):", "",
            "| class | " + " | ".join(CLASS_NAMES) + " |", "| --- |" + " --- |" * len(CLASS_NAMES),
            "| test acc | " + " | ".join(fmt(test["test/per_class_acc"][name], 3) for name in CLASS_NAMES) + " |", "",
            "![confusion matrix](confusion_matrix.png)"]


def write_report(sweep: Path, data_dir: str | None = None, threshold: float = 0.85) -> dict:
    """Write report.md, test_metrics.json and the PNG figures into `sweep`; return what was selected and measured."""
    runs = sorted(load_sweep(sweep), key=lambda run: -run.best_val_acc if run.best_index is not None else math.inf)
    x_axes, lr_panel = report_settings(runs)
    group_keys = assign_groups(runs)
    best = best_per(runs, lambda run: run.group)
    selected = max(best.values(), key=lambda run: run.best_val_acc, default=None)
    completed = sum(run.status == "completed" for run in runs)
    lines = [f"# Sweep report: {sweep}", "",
             f"Written {time.strftime('%Y-%m-%d %H:%M:%S')} by `src/report.py`: {len(runs)} runs, {completed} completed.",
             "", PROTOCOL, ""]
    result = {"sweep": str(sweep), "runs": len(runs), "groups": group_keys, "selected": None}
    replicates = [run for run in runs if run.selectable] if varying_overrides(runs) == ["seed"] else []
    tests = {run.name: evaluate_checkpoint(run.checkpoint, data_dir) for run in replicates}  # each final model once
    if replicates:  # for replicates of one recipe, the spread over seeds is the result
        section, result["seed_summary"] = seeds_section(sorted(replicates, key=lambda run: run.config.seed), tests)
        lines += section
    lines += ["## Selected model", ""]
    if selected is None:
        lines.append("No completed run with a checkpoint: nothing selected, test set not evaluated.")
    else:
        test = tests[selected.name] if selected.name in tests else evaluate_checkpoint(selected.checkpoint, data_dir)
        write_json(sweep / "test_metrics.json", {"ckpt_path": str(selected.checkpoint), **test})
        title = f"job {selected.name}: {selected.label}\n{selected.title} (test acc {test['test/acc']:.4f})"
        save(confusion_figure(test["test/confusion_matrix"], f"Test set, {title}"), sweep / "confusion_matrix.png")
        lines += selected_section(selected, test)
        result.update(selected=selected.name, label=selected.label, title=selected.title,
                      val_acc=selected.best_val_acc, test_acc=test["test/acc"])
    if best:
        save(curves_figure(list(best.values()), "loss"), sweep / "loss_curves.png")
        save(curves_figure(list(best.values()), "acc"), sweep / "accuracy_curves.png")
        table, verdict = comparison(best, threshold)
        grouping = f"one group per {', '.join(group_keys)}" if group_keys else "all runs as one group"
        lines += ["", f"## Best run of each group ({grouping})", "", *table, "",
                  f"**Verdict:** {verdict}.", "", "![loss curves](loss_curves.png)", "",
                  "![accuracy curves](accuracy_curves.png)"]
        result["comparison"] = verdict
    drawn = [run for run in runs if run.history["epoch"]]
    if drawn:
        lrs = {run.name: read_lr(run.path) for run in drawn} if lr_panel else None
        highlighted = {run.name for run in best.values()}
        save(sweep_figure(drawn, highlighted, x_axes, lrs), sweep / "sweep_curves.png")
        lines += ["", "## Every run", "", f"Validation loss and accuracy against {', '.join(x_axes)}"
                  + (", and the learning rate at every logged step" if lr_panel else "")
                  + "; one color per group, the best run of each group thick.", "",
                  "![every run](sweep_curves.png)"]
        if set(x_axes) - {"epoch"}:
            lines += ["", "Speed over the completed epochs:", "", *speed_table(drawn)]
    lines += search_section(sweep)  # a search adds its study's progress and parameter importances
    write_samples(sweep / "class_samples.png", data_dir or runs[0].config.data.data_dir)
    lines += ["", "## All runs, by best validation accuracy", "", *runs_table(runs), "",
              "## Over- and underfitting", "", *fitting_table(runs), "", THRESHOLDS, "",
              "## The data", "", "![one training image per class](class_samples.png)", ""]
    (sweep / "report.md").write_text("\n".join(lines))
    return result


def write_samples(path: Path, data_dir: str | Path) -> Path:
    """The class-sample grid (sheet task 1b) from the training file in `data_dir`.

    Format checks only, no md5: a picture does not need the release's checksums (training verifies them).
    """
    images, labels = load_split(raw_dir(data_dir), "train", verify_checksum=False)
    return save(class_samples_figure(images, labels), path)
