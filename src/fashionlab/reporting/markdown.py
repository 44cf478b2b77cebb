"""The report's tables and sections, as markdown lines: numbers in, strings out, no file I/O."""

import math
import os
import statistics
from collections.abc import Callable, Sequence
from pathlib import Path

from fashionlab.data import CLASS_NAMES
from fashionlab.reporting.diagnosis import diagnose, epochs_to, max_drop
from fashionlab.reporting.runs import Run
from fashionlab.reporting.selection import Configuration, Selection, Verdict, varying_overrides
from fashionlab.reporting.stats import LEVEL, MAX_REPLICATES, POWER
from fashionlab.reporting.study import Search

PROTOCOL = ("**Protocol.** Runs that differ only in `seed` or `data.split_seed` are replicates of one configuration. "
            "The configuration is chosen on validation accuracy only: the one with the highest mean best val acc "
            "over its completed replicates (each at its best epoch, `checkpoints/best.ckpt`), never its luckiest "
            "replicate. The test set is evaluated once for each replicate of the selected configuration, by the code "
            "behind `src/eval.py`; training runs never evaluate the test set. Runs that did not complete are listed "
            "with their status but never count.")
NOISE = ("one run each cannot separate this difference from seed noise (a run's seed alone moves best val acc by "
         "0.1-0.3 pp on FashionMNIST)")


def fmt(value: float | None, digits: int = 4) -> str:
    return "–" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def pp(value: float) -> str:
    """A difference of accuracies in percentage points, signed."""
    return "–" if not math.isfinite(value) else f"{100 * value:+.2f} pp"


def epoch_text(epoch: float | None) -> str:
    return "–" if epoch is None else f"{epoch:g}"


def seconds(value: float | None) -> str:
    return "–" if value is None or not math.isfinite(value) else f"{value:.0f} s"


def mean_std(values: Sequence[float], digits: int = 4) -> str:
    """`mean ± sample std` (the mean alone for one value); – for none."""
    values = [value for value in values if value is not None and math.isfinite(value)]
    if not values:
        return "–"
    mean = statistics.fmean(values)
    return fmt(mean, digits) if len(values) < 2 else f"{fmt(mean, digits)} ± {fmt(statistics.stdev(values), digits)}"


def jobs(configuration: Configuration) -> str:
    return ", ".join(run.name for run in configuration.runs)


def configurations_table(selection: Selection) -> list[str]:
    """Every configuration by mean best val acc: replicates, mean ± std, the confidence interval of the mean."""
    lines = [f"| configuration | jobs | n | best val acc, mean ± std | {LEVEL:.0%} CI of the mean | epoch of best | "
             "wall time | not completed |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for c in selection.configurations:
        sample = c.sample
        ci = f"[{fmt(sample.ci_low)}, {fmt(sample.ci_high)}]" if sample.n >= 2 else "–"
        others = [f"{run.name}: {run.status}" for run in c.runs if not run.selectable]
        lines.append(f"| {c.label} | {jobs(c)} | {sample.n} | {mean_std(c.values)} | {ci} | "
                     f"{mean_std([run.best_epoch for run in c.replicates], 1)} | "
                     f"{mean_std([run.wall_seconds for run in c.replicates], 0)} s | {', '.join(others) or '–'} |")
    short = selection.short_of_replicates
    if short and selection.replicated:
        most = max(c.sample.n for c in selection.configurations)
        lines += ["", f"Fewer completed replicates than the {most} of the others: "
                  + "; ".join(f"{c.label} (n = {c.sample.n})" for c in short)
                  + ". Their statistics rest on the completed ones only."]
    return lines


def needed_text(verdict: Verdict) -> str:
    needed = verdict.difference.replicates_needed
    if needed is None:
        return "–"
    return f"> {MAX_REPLICATES}" if needed > MAX_REPLICATES else str(needed)


def verdict_lines(selection: Selection, confirm_command: str) -> list[str]:
    """The verdict: the selected configuration against the runner-up and the best of every other group, with the
    statistics when both have replicates, else what one run each can and cannot say and how to rerun with replicates."""
    winner = selection.selected
    if winner is None:
        return ["No completed run: nothing selected, test set not evaluated."]
    head = f"**{winner.label}** has the highest mean best val acc: {mean_std(winner.values)} (n = {winner.sample.n})"
    if not selection.verdicts:
        return [f"**Verdict:** {head}; there is no other completed configuration to compare it with."]
    if not selection.replicated:
        others = "; ".join(f"{fmt(v.other.sample.mean)} for {v.other.label} ({v.role}, {pp(v.difference.difference)})"
                           for v in selection.verdicts)
        return [f"**Verdict:** {head.replace(' (n = 1)', '')}, against {others}. But {NOISE}. To tell, rerun the top "
                f"configurations with replicates: `{confirm_command}`."]
    m = len(selection.verdicts)
    lines = [f"**Verdict:** {head}. Against each other configuration below: the difference of mean best val acc with "
             f"its confidence interval (Welch's t, unequal variances), the p-value, and P(selected > other), the "
             f"share of replicate pairs in which the selected one is higher (Mann–Whitney U / n₁n₂). \"Better\" only "
             f"where the difference holds after a Bonferroni correction for the {m} comparison{'s' * (m > 1)} "
             f"(each at level {1 - (1 - LEVEL) / m:.4g}, so that all together hold at {LEVEL:.0%}).", "",
             f"| against | role | n | difference | {LEVEL:.0%} CI, corrected | p (Welch) | p, corrected | "
             f"P(selected > other) | verdict | replicates each for {POWER:.0%} power |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for verdict in selection.verdicts:
        d = verdict.difference
        n = f"{winner.sample.n} vs {verdict.other.sample.n}"
        if math.isnan(d.ci_low):
            lines.append(f"| {verdict.other.label} | {verdict.role} | {n} | {pp(d.difference)} | – | – | – | – | "
                         f"cannot tell: fewer than 2 completed replicates | – |")
            continue
        said = "better" if d.better else f"not distinguishable with n = {n}"
        lines.append(f"| {verdict.other.label} | {verdict.role} | {n} | {pp(d.difference)} | "
                     f"[{pp(d.ci_low)}, {pp(d.ci_high)}] | {fmt(d.p_value, 4)} | {fmt(d.p_corrected, 4)} | "
                     f"{fmt(d.p_superiority, 2)} | {said} | {needed_text(verdict)} |")
    lines += ["", f"Replicates each: how many per configuration a two-sided Welch test at the corrected level would "
              f"need to detect a difference of the measured size with probability {POWER:.0%}, if the spread is what "
              "was measured (pooled standard deviation, noncentral t)."]
    return lines


def group_table(configurations: list[Configuration], threshold: float) -> list[str]:
    """The best configuration of each group side by side: speed, stability, final validation loss and accuracy,
    each a mean over the configuration's completed replicates."""

    def mean(values: Callable[[Run], float | None], digits: int = 4) -> list[str]:
        return [mean_std([values(run) for run in c.drawn], digits) for c in configurations]

    def reached(c: Configuration) -> str:
        hits = [hit for hit in (epochs_to(run, threshold) for run in c.drawn) if hit]
        if not hits:
            return "not reached"
        text = f"{statistics.fmean(h[0] for h in hits):g} ({statistics.fmean(h[1] for h in hits):.0f} s)"
        return text if len(hits) == len(c.drawn) == 1 else f"{text}, {len(hits)} of {len(c.drawn)}"

    rows = {
        "runs": [f"{c.runs[0].title}, jobs {jobs(c)}" for c in configurations],
        "varying within the group": [c.setting or "–" for c in configurations],
        "completed replicates": [str(c.sample.n) for c in configurations],
        "best val acc": [mean_std(c.values) for c in configurations],
        "epoch of best": mean(lambda run: run.best_epoch, 1),
        f"epochs to val acc ≥ {threshold:g} (seconds)": [reached(c) for c in configurations],
        "best val loss": mean(lambda run: min(run.history["val_loss"])),
        "final val loss": mean(lambda run: run.final("val_loss")),
        "final train−val acc gap": mean(lambda run: diagnose(run.history, run.epoch_share).gap),
        "largest epoch-to-epoch val acc drop": mean(lambda run: max_drop(run.history["val_acc"])),
        "wall time (s)": mean(lambda run: run.wall_seconds, 0),
    }
    lines = [f"| | {' | '.join(c.group or 'all runs' for c in configurations)} |",
             "| --- |" + " --- |" * len(configurations)]
    return lines + [f"| {name} | {' | '.join(values)} |" for name, values in rows.items()]


def replicates_lines(configuration: Configuration, tests: dict[str, dict], parameters: int) -> list[str]:
    """The selected configuration's replicates: validation and test accuracy of each, then mean ± sample std."""
    replicates = sorted(configuration.replicates, key=lambda run: (run.seed, run.name))
    val = [run.best_val_acc for run in replicates]
    test = [tests[run.name]["test/acc"] for run in replicates]
    lines = [f"Each completed replicate's best checkpoint on validation is evaluated once on the test set. The network "
             f"has {parameters:,} parameters.", "",
             "| seed | split seed | job | best val acc | epoch of best | test acc | wall time |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    lines += [f"| {run.seed} | {run.config.data.split_seed} | {run.name} | {fmt(run.best_val_acc)} | "
              f"{epoch_text(run.best_epoch)} | {fmt(acc)} | {seconds(run.wall_seconds)} |"
              for run, acc in zip(replicates, test)]
    if len(replicates) > 1:
        lines.append(f"| **mean ± std** | | | **{mean_std(val)}** | | **{mean_std(test)}** | |")
    return lines


def selected_lines(run: Run, test: dict, pooled: bool) -> list[str]:
    """The model to use (the selected configuration's replicate with the highest best val acc): its checkpoint and
    test numbers, and the per-class test accuracy (pooled over every tested replicate when `pooled`)."""
    whose = "the tested replicates together" if pooled else "this checkpoint"
    return [f"Model to use: **job {run.name}: {run.title}** (overrides: {' '.join(run.overrides) or 'defaults'}), "
            f"checkpoint `{run.checkpoint}` from epoch {epoch_text(run.best_epoch)}, the replicate with the highest best "
            f"val acc: val {fmt(run.best_val_acc)}, test {fmt(test['test/acc'])} (test loss {fmt(test['test/loss'])}).",
            "", f"Same number: `python src/eval.py ckpt_path={run.checkpoint}`.", "",
            f"Per-class test accuracy of {whose} (share of each class's test images classified correctly):", "",
            "| class | " + " | ".join(CLASS_NAMES) + " |", "| --- |" + " --- |" * len(CLASS_NAMES),
            "| test acc | " + " | ".join(fmt(test["test/per_class_acc"][name], 3) for name in CLASS_NAMES) + " |", "",
            "![confusion matrix](confusion_matrix.png)"]


def runs_table(runs: list[Run], label: dict[str, str]) -> list[str]:
    """Every run by best val acc, named by its configuration (`label`, by job) and its replicate keys."""
    varying = set(varying_overrides(runs))
    common = [f"`{o}`" for o in runs[0].overrides if o.lstrip("+").split("=", 1)[0] not in varying]
    lines = [f"Overrides of every run: {' '.join(common) or '(none)'}.", "",
             "| job | configuration | seed | best val acc | epoch of best | final train acc | final val loss | wall time "
             "| status |", "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for run in runs:
        lines.append(f"| {run.name} | {label[run.name]} | {run.seed} | {fmt(run.best_val_acc)} | "
                     f"{epoch_text(run.best_epoch)} | {fmt(run.final('train_acc'))} | {fmt(run.final('val_loss'))} | "
                     f"{seconds(run.wall_seconds)} | {run.status} |")
    return lines


def speed_table(runs: list[Run], label: dict[str, str]) -> list[str]:
    """Seconds per epoch and parameter updates per second of each run (validation time included), over its
    completed epochs: what equal wall-clock budgets buy each run."""
    lines = ["| job | run | passes over the training set | parameter updates | seconds per epoch | updates per second "
             "| final val loss |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for run in runs:
        epochs = run.final("epoch") * run.epoch_share
        updates, elapsed = run.final("step"), run.final("elapsed_s")
        lines.append(f"| {run.name} | {label[run.name]} | {epochs:g} | {fmt(updates, 0)} | {fmt(elapsed / epochs, 2)} | "
                     f"{fmt(updates / elapsed, 1)} | {fmt(run.final('val_loss'))} |")
    return lines


def fitting_table(runs: list[Run], label: dict[str, str]) -> list[str]:
    lines = ["| job | run | epoch of min val loss | last epoch | train−val acc gap at the end | verdict |",
             "| --- | --- | --- | --- | --- | --- |"]
    for run in runs:
        d = diagnose(run.history, run.epoch_share)
        lines.append(f"| {run.name} | {label[run.name]} | {epoch_text(d.min_val_loss_epoch)} | "
                     f"{epoch_text(d.last_epoch)} | {fmt(d.gap)} | {d.verdict} |")
    return lines


def search_lines(search: Search) -> list[str]:
    stops = ", ".join(str(trial.last_step) for trial in search.pruned) or "none"
    lines = ["", "## Search", "",
             f"{len(search.trials)} trials of study `{search.study_name}`: {len(search.completed)} completed, "
             f"{len(search.pruned)} pruned (after epoch {stops}). They trained {search.epochs} epochs in all, against "
             f"{len(search.trials) * search.longest} had each run as long as the longest ({search.longest}). Pruned "
             "trials are never selected. A search's winner is one run: `make confirm SWEEP=<this sweep>` reruns its top "
             "trials over fresh seeds.", "", "![search progress](search_progress.png)"]
    if search.importances is None:
        return lines + ["", f"Parameter importances: not computed ({search.importance_error})."]
    return lines + ["", f"Parameter importances over the {len(search.completed)} completed trials: "
                    + ", ".join(f"`{name}` {value:.2f}" for name, value in search.importances.items()) + ".", "",
                    "![parameter importances](search_importances.png)"]


def platform_lines(runs: list[Run]) -> list[str]:
    """What computed the runs (summary.json "platform"): the same seed gives other numbers on another CPU."""
    seen: dict[str, list[str]] = {}
    for run in runs:
        if run.platform:
            seen.setdefault(", ".join(f"{key} {value}" for key, value in run.platform.items()), []).append(run.name)
    if not seen:
        return []
    lines = ["", "## Platform", "", "What computed the runs (bit-for-bit reproducible only on the same machine and "
             "versions; docs/reliability.md):", ""]
    return lines + [f"- {platform} (jobs {', '.join(names)})" for platform, names in seen.items()]


def links_lines(sweep: Path, confirms: Path | None, confirmations: list[Path]) -> list[str]:
    """Links, relative to `sweep`'s report, between a sweep and the sweeps that reran its top configurations over
    fresh seeds (`make confirm`)."""

    def report(other: Path) -> str:
        return os.path.relpath(other.resolve() / "report.md", sweep.resolve())

    lines = [f"This sweep reruns the top configurations of `{confirms}` over fresh seeds "
             f"([its report]({report(confirms)}))."] if confirms else []
    lines += [f"Its top configurations were rerun over fresh seeds in `{other}` ([report]({report(other)}))."
              for other in confirmations]
    return [*lines, ""] if lines else []
