"""The sweep report: read every run of a sweep, choose a configuration on validation, test its replicates once,
say how sure the choice is, write report.md, its figures and TensorBoard's aggregate runs.

Protocol: selection looks at validation accuracy only (the mean over a configuration's completed replicates); the
test set is evaluated once for each replicate of the selected configuration, by `evaluate_checkpoint` (the code
behind `src/eval.py`). Training never touches the test set.
"""

import math
import time
from pathlib import Path

from hydra.utils import instantiate
from omegaconf import OmegaConf

from fashionlab.data import CLASS_NAMES, load_split, raw_dir
from fashionlab.evaluation import evaluate_checkpoint
from fashionlab.runfolder import Status, write_json
from fashionlab.sweepfolder import CONFIRMATIONS, CONFIRMS
from fashionlab.reporting import markdown as md
from fashionlab.reporting.aggregates import write_aggregates
from fashionlab.reporting.diagnosis import THRESHOLDS
from fashionlab.reporting.figures import (class_samples_figure, confusion_figure, curves_figure, importance_figure,
                                          progress_figure, save, sweep_figure)
from fashionlab.reporting.runs import read_lr, report_settings
from fashionlab.reporting.selection import Selection
from fashionlab.reporting.study import load_search
from fashionlab.reporting.sweep import load
from fashionlab.reporting.table import write_runs_table


def known(value):
    """A statistic for the printed JSON: null where it cannot be known (one replicate), not NaN, which is no JSON."""
    return None if isinstance(value, float) and math.isnan(value) else value


def known_all(value):
    """`known` for a number or each number of an interval."""
    return [known(bound) for bound in value] if isinstance(value, tuple) else known(value)


def confirm_command(sweep: Path) -> str:
    return f"make confirm SWEEP={sweep}"


def linked_sweeps(sweep: Path) -> tuple[Path | None, list[Path]]:
    """The sweep this one confirms, if any, and the sweeps that confirm this one."""
    confirms = OmegaConf.load(sweep / CONFIRMS).source if (sweep / CONFIRMS).is_file() else None
    confirmations = OmegaConf.load(sweep / CONFIRMATIONS) if (sweep / CONFIRMATIONS).is_file() else []
    return (Path(confirms) if confirms else None), [Path(path) for path in confirmations]


def evaluate_selected(sweep: Path, selection: Selection, data_dir: str | None) -> tuple[list[str], dict]:
    """Evaluate each completed replicate of the selected configuration once on the test set; the report's section,
    test_metrics.json and the confusion matrix of the model to use (pooled over the replicates when several)."""
    configuration = selection.selected
    tests = {run.name: evaluate_checkpoint(run.checkpoint, data_dir) for run in configuration.replicates}
    chosen = configuration.best_run
    test = dict(tests[chosen.name])
    if len(tests) > 1:  # per-class accuracy and confusion of all tested replicates together
        matrices = [result["test/confusion_matrix"] for result in tests.values()]
        matrix = [[sum(cells) for cells in zip(*rows)] for rows in zip(*matrices)]
        test["test/per_class_acc"] = {name: row[i] / max(1, sum(row))
                                      for i, (name, row) in enumerate(zip(CLASS_NAMES, matrix))}
        test["test/confusion_matrix"] = matrix
    parameters = sum(p.numel() for p in instantiate(chosen.config.model).parameters())
    replicates = [{"job": run.name, "seed": run.seed, "ckpt_path": str(run.checkpoint), "val_acc": run.best_val_acc,
                   "test/acc": tests[run.name]["test/acc"], "test/loss": tests[run.name]["test/loss"]}
                  for run in configuration.replicates]
    write_json(sweep / "test_metrics.json", {"ckpt_path": str(chosen.checkpoint), **tests[chosen.name],
                                             "configuration": configuration.label, "replicates": replicates})
    pooled = f", {len(tests)} replicates pooled" if len(tests) > 1 else ""
    title = f"{configuration.label}\n{chosen.title} (test acc {md.mean_std([r['test/acc'] for r in replicates])}{pooled})"
    save(confusion_figure(test["test/confusion_matrix"], f"Test set, {title}"), sweep / "confusion_matrix.png")
    lines = [*md.replicates_lines(configuration, tests, parameters), "",
             *md.selected_lines(chosen, test, len(tests) > 1)]
    val, test_acc = [r["val_acc"] for r in replicates], [r["test/acc"] for r in replicates]
    summary = {"selected": chosen.name, "configuration": configuration.label, "label": configuration.label,
               "title": chosen.title, "val_acc": chosen.best_val_acc, "test_acc": tests[chosen.name]["test/acc"],
               "replicates": {"seeds": [r["seed"] for r in replicates], "parameters": parameters, "val_acc": val,
                              "test_acc": test_acc, "val_acc_mean_std": md.mean_std(val),
                              "test_acc_mean_std": md.mean_std(test_acc)}}
    return lines, summary


def write_report(sweep: Path, data_dir: str | None = None, threshold: float = 0.85) -> dict:
    """Write report.md, test_metrics.json, the PNG figures and the aggregate runs into `sweep`; return what was
    selected and measured."""
    reported = load(sweep)
    runs, selection, sequential = reported.runs, reported.selection, reported.plan.sequential
    x_axes, lr_panel = report_settings(runs)
    label = {run.name: c.label for c in selection.configurations for run in c.runs}
    confirms, confirmations = linked_sweeps(sweep)
    completed = sum(run.status == "completed" for run in runs)
    lines = [f"# Sweep report: {sweep}", "",
             f"Written {time.strftime('%Y-%m-%d %H:%M:%S')} by `src/report.py`: {len(runs)} runs, {completed} completed, "
             f"{len(selection.configurations)} configurations.", "", *md.provisional_lines(reported),
             *md.links_lines(sweep, confirms, confirmations),
             md.PROTOCOL, "", "## Configurations, by mean best validation accuracy", "",
             *md.configurations_table(selection), "", "## Verdict", "",
             *md.verdict_lines(selection, confirm_command(sweep)), "",
             *(["## Decision trail", "", *md.trail_lines(sequential, len(selection.configurations)), ""]
               if sequential else []),
             "## Selected configuration", ""]
    result = {"sweep": str(sweep), "runs": len(runs), "planned": reported.planned,
              "provisional": reported.provisional, "failed": [run.name for run in runs if run.status == Status.FAILED],
              "groups": selection.group_keys, "selected": None,
              "configurations": [{"label": c.label, "n": c.sample.n, "mean": known(c.sample.mean),
                                  "std": known(c.sample.std), "ci": [known(c.sample.ci_low), known(c.sample.ci_high)]}
                                 for c in selection.configurations],
              "margin": selection.plan.margin,
              "plan": {"looks": list(selection.plan.looks), "look": selection.look + 1, "alpha": selection.plan.alpha,
                       "stopped": sequential.stopped if sequential else None},
              "verdicts": [{"against": v.other.label, "role": v.role,
                            **{key: known_all(value) for key, value in vars(v.comparison).items()}}
                           for v in selection.verdicts]}
    if selection.selected is None:
        lines.append("No completed run: nothing selected, test set not evaluated.")
    else:
        section, summary = evaluate_selected(sweep, selection, data_dir)
        lines += section
        result.update(summary)
    group_best = list(selection.group_best.values())
    if group_best:
        save(curves_figure(group_best, "loss"), sweep / "loss_curves.png")
        save(curves_figure(group_best, "acc"), sweep / "accuracy_curves.png")
        grouping = f"one group per {', '.join(selection.group_keys)}" if selection.group_keys else "all runs as one group"
        lines += ["", f"## Best configuration of each group ({grouping})", "", *md.group_table(group_best, threshold),
                  "", "![loss curves](loss_curves.png)", "", "![accuracy curves](accuracy_curves.png)"]
    drawn = [c for c in selection.configurations if c.drawn]
    if drawn:
        lrs = {c.label: read_lr(c.drawn[0].path) for c in drawn} if lr_panel else None
        save(sweep_figure(drawn, {c.label for c in group_best}, x_axes, lrs), sweep / "sweep_curves.png")
        lines += ["", "## Every configuration", "", f"Validation loss and accuracy against {', '.join(x_axes)}"
                  + (", and the learning rate at every logged step" if lr_panel else "")
                  + "; one color per group, the best configuration of each group thick"
                  + ("; each curve is the mean over the configuration's completed replicates, the band ± one sample "
                     "standard deviation" if selection.replicated else "") + ".", "",
                  "![every configuration](sweep_curves.png)"]
        if set(x_axes) - {"epoch"}:
            lines += ["", "Speed over the completed epochs:", "",
                      *md.speed_table([run for run in runs if run.history["epoch"]], label)]
    aggregates = write_aggregates(sweep, selection.configurations)
    if aggregates:
        lines += ["", f"TensorBoard: `{sweep}/aggregate/` holds one run per configuration with replicates (the mean of "
                  "val acc and val loss per epoch, and the band mean ± one std), drawn as margin charts in CUSTOM "
                  "SCALARS; a configuration's replicates share their run name after the job number, so the run filter "
                  "selects one configuration."]
    search = load_search(sweep)
    if search is not None:
        save(progress_figure(search.trials), sweep / "search_progress.png")
        if search.importances is not None:
            save(importance_figure(search.importances), sweep / "search_importances.png")
        lines += md.search_lines(search)
    trained = selection.selected.best_run if selection.selected is not None else runs[0]  # not a job that had bad data
    write_samples(sweep / "class_samples.png", data_dir or trained.config.data.data_dir)
    lines += ["", "## All runs, by best validation accuracy", "",
              *md.runs_table(sorted(runs, key=lambda run: -run.best_val_acc if run.best_index is not None else 1), label,
                           reported.not_started),
              "", "## Over- and underfitting", "", *md.fitting_table(runs, label), "", THRESHOLDS,
              *md.platform_lines(runs), "", "## The data", "", "![one training image per class](class_samples.png)", ""]
    (sweep / "report.md").write_text("\n".join(lines))
    write_runs_table(sweep, reported)
    if confirms is not None:
        link_back(confirms, sweep)
    return result


def link_back(source: Path, confirmation: Path) -> None:
    """Add to the confirmed sweep's report a line that links this confirmation (once)."""
    report = source / "report.md"
    line = md.links_lines(source, None, [confirmation])[0]
    if report.is_file() and line not in report.read_text():
        report.write_text(report.read_text().rstrip("\n") + f"\n\n{line}\n")


def write_samples(path: Path, data_dir: str | Path) -> Path:
    """The class-sample grid (sheet task 1b) from the training file in `data_dir`.

    Format checks only, no md5: a picture does not need the release's checksums (training verifies them).
    """
    images, labels = load_split(raw_dir(data_dir), "train", verify_checksum=False)
    return save(class_samples_figure(images, labels), path)
