"""The report's tables and sections, as markdown lines: numbers in, strings out, no file I/O."""

import math
import os
import statistics
from collections.abc import Callable, Sequence
from pathlib import Path

from fashionlab.data import CLASS_NAMES
from fashionlab.overrides import override_key, override_values
from fashionlab.sweepfolder import Sequential, Stop
from fashionlab.reporting.diagnosis import diagnose, epochs_to, max_drop
from fashionlab.reporting.runs import Run
from fashionlab.reporting.selection import Configuration, Selection, Verdict, varying_overrides
from fashionlab.reporting.decisions import BETTER, EQUIVALENT, UNDECIDED, WORDS
from fashionlab.reporting.stats import LEVEL, MAX_REPLICATES, POWER
from fashionlab.reporting.study import Search
from fashionlab.reporting.sweep import NOT_STARTED, ReportedSweep

PROTOCOL = ("**Protocol.** Runs that differ only in `seed` or `data.split_seed` are replicates of one configuration. "
            "The configuration is chosen on validation accuracy only: the one with the highest mean best val acc "
            "over its completed replicates (each at its best epoch, `checkpoints/best.ckpt`), never its luckiest "
            "replicate. The test set is evaluated once for each replicate of the selected configuration, by the code "
            "behind `src/eval.py`; training runs never evaluate the test set. Runs that did not complete are listed "
            "with their status but never count.")
NOISE = ("one run each cannot separate this difference from seed noise (the spread of best val acc over seeds, "
         "as measured for this lab's configurations, is as large as most such gaps: docs/report.md)")


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
        others = [f"job {run.name} (seed {run.seed}): {run.status}" for run in c.runs if not run.selectable]
        lines.append(f"| {c.label} | {jobs(c)} | {sample.n} | {mean_std(c.values)} | {ci} | "
                     f"{mean_std([run.best_epoch for run in c.replicates], 1)} | "
                     f"{mean_std([run.wall_seconds for run in c.replicates], 0)} s | {', '.join(others) or '–'} |")
    short = selection.short_of_replicates
    if short and selection.replicated:
        most = max(c.sample.n for c in selection.configurations)
        lines += ["", f"Fewer completed replicates than the {most} of the others: "
                  + "; ".join(f"{c.label} (n = {c.sample.n})" for c in short)
                  + ". Their statistics rest on the completed ones only."]
    platforms = {c.label: len({repr(run.platform) for run in c.replicates}) for c in selection.configurations}
    mixed = [f"{label} ({n} platforms)" for label, n in platforms.items() if n > 1]
    if mixed:
        lines += ["", "Replicates computed on more than one platform (the same seed gives other numbers on another CPU; "
                  "see Platform below): " + "; ".join(mixed) + "."]
    return lines


def verdict_cell(verdict: Verdict, margin: float) -> str:
    comparison = verdict.comparison
    if comparison.verdict == WORDS[BETTER]:
        return "**better**"
    if comparison.verdict == WORDS[EQUIVALENT]:
        return f"**equivalent** within ±{abs_pp(margin)}"
    if min(verdict.winner.sample.n, verdict.other.sample.n) < 2:
        return "undecided: fewer than 2 completed replicates"
    needed = comparison.replicates_needed
    if needed is None:
        return "undecided: no spread measured"
    return f"undecided: about {f'> {MAX_REPLICATES}' if needed > MAX_REPLICATES else needed} replicates each would decide it"


def interval(bounds: tuple[float, float]) -> str:
    """An interval of a difference of accuracies; one wider than the whole scale (an early look's strict level on
    few seeds) says so instead of printing thousands of points."""
    if not math.isfinite(bounds[0]):
        return "–"
    return "wider than ±100 pp" if bounds[1] - bounds[0] > 2 else f"[{pp(bounds[0])}, {pp(bounds[1])}]"


def level_text(level: float) -> str:
    """A test's nominal level; one that underflows to 0 (an early look among many pairs) says what that means."""
    return f"{level:.3g}" if level > 0 else "below 1e-15 (no comparison can be decided at this look)"


def abs_pp(value: float) -> str:
    return f"{100 * value:.2f} pp"


def verdict_lines(selection: Selection, confirm_command: str) -> list[str]:
    """The verdict: the selected configuration against every other one, better, equivalent or undecided, with the
    statistics when both have replicates, else what one run each can and cannot say and how to rerun with replicates."""
    winner = selection.selected
    if winner is None:
        return ["No completed run: nothing selected, test set not evaluated."]
    head = f"**{winner.label}** has the highest mean best val acc: {mean_std(winner.values)} (n = {winner.sample.n})"
    if not selection.verdicts:
        return [f"**Verdict:** {head}; there is no other completed configuration to compare it with."]
    if not selection.replicated:
        others = "; ".join(f"{fmt(v.other.sample.mean)} for {v.other.label} ({v.role}, {pp(v.comparison.difference)})"
                           for v in selection.verdicts if v.role)
        return [f"**Verdict:** {head.replace(' (n = 1)', '')}, against {others}. But {NOISE}. To tell, rerun the top "
                f"configurations with replicates until each comparison is decided: `{confirm_command} SEEDS=auto`."]
    plan, m = selection.plan, len(selection.verdicts) + 1
    better_alpha, equivalent_alpha = plan.levels(selection.look, m)
    pairs = m * (m - 1) // 2
    sharing = ("its one pair of configurations gets the whole error rate" if pairs == 1 else
               f"each of the {pairs} pairs of the {m} configurations gets an equal share of the error rate (Bonferroni)")
    looks = len(plan.looks)
    design = (f"look {selection.look + 1} of {looks} of a sequential plan ({', '.join(map(str, plan.looks))} seeds per "
              "configuration), its error rates spent O'Brien–Fleming-style over the looks (Lan–DeMets)"
              if looks > 1 else "one look: a fixed number of replicates")
    lines = [f"**Verdict:** {head}. Against each other configuration below: **better** where the selected one's lead "
             "holds (its interval lies above 0), **equivalent** where both lie within the margin of "
             f"±{abs_pp(plan.margin)} (`report.margin`; the equivalence interval inside it: two one-sided tests), "
             "else **undecided**, with the replicates that would decide it; **better** is said where both hold (a "
             "real lead smaller than the margin). Equivalent means equivalent to the selected configuration: two "
             "configurations each equivalent to it can be up to two margins apart. Welch's t (unequal variances; "
             "the interval for better at min(n₁, n₂) − 1 degrees of freedom, which holds its level when one "
             "configuration's seeds spread several times more than the other's) and "
             "P(selected > other), the share of replicate pairs in which the selected one is higher (Mann–Whitney "
             f"U / n₁n₂). The selected configuration was picked from these same runs, so {sharing}: "
             f"\"better\" at two-sided level {level_text(better_alpha)}, each equivalence test at one-sided "
             f"{level_text(equivalent_alpha)}, so that a false \"better\" and a false \"equivalent\" each stay at "
             "or below "
             f"{plan.alpha:.0%}; {design}.", "",
             "| against | role | n | difference | interval for better | equivalence interval | p (Welch, uncorrected) | "
             "P(selected > other) | verdict |", "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for verdict in selection.verdicts:
        c = verdict.comparison
        lines.append(f"| {verdict.other.label} | {verdict.role or '–'} | {winner.sample.n} vs {verdict.other.sample.n} | "
                     f"{pp(c.difference)} | {interval(c.better_interval)} | {interval(c.equivalent_interval)} | "
                     f"{fmt(c.p_value, 4)} | {fmt(c.p_superiority, 2)} | {verdict_cell(verdict, plan.margin)} |")
    if any(v.comparison.verdict == WORDS[UNDECIDED] for v in selection.verdicts):
        lines += ["", f"Replicates each: what a fixed number of replicates per configuration would need to decide the "
                  f"comparison with probability {POWER:.0%}, by the same tests at these levels as a single look, if "
                  "the true difference and spread were the measured ones (Student's t with the pooled standard "
                  "deviation, df = 2n − 2, noncentral t; better's critical value at n − 1 degrees of freedom, as "
                  "its interval reads it): a plan from estimates, not a promise. To add seeds only "
                  f"where a comparison is undecided, until each is decided: `{confirm_command} SEEDS=auto`."]
    return lines


def trail_lines(sequential: Sequential, configurations: int) -> list[str]:
    """A sequential sweep's decision trail (its plan's record, fashionlab.sweepfolder): each look's seeds, winner and
    verdicts, why it stopped, and the seeds spent against those of a fixed design at the plan's maximum."""
    lines = [f"Each look decides every comparison with the winner of that look (the highest mean so far) at the plan's "
             f"levels; the next round gives fresh seeds, up to the next look's count, only to the configurations "
             f"still undecided and to the winner. A verdict is judged again at every look and can change while the "
             f"sweep goes on; the verdicts above are those of the last look taken. Plan: looks at "
             f"{', '.join(map(str, sequential.looks))} seeds per configuration, margin ±{abs_pp(sequential.margin)}, "
             f"each error rate {sequential.alpha:.0%}.", "",
             "| look | seeds per configuration | winner | against | n | difference | interval for better | "
             "equivalence interval | verdict | next round |", "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for look in sequential.trail:
        first = f"| {look.look} | {seeds_text(look.seeds, look.failed)} | {look.winner} |"
        for comparison in look.comparisons:
            going = "seeds" if comparison.against in look.next else "–"
            lines.append(f"{first} {comparison.against} | {comparison.n[0]} vs {comparison.n[1]} | "
                         f"{pp(comparison.difference)} | {interval(comparison.better_interval)} | "
                         f"{interval(comparison.equivalent_interval)} | {comparison.verdict} | {going} |")
            first = "| | | |"
    fixed = configurations * sequential.max_seeds
    budget = (f" Time: {sequential.minutes_spent:.1f} of {sequential.budget_minutes:g} budgeted minutes."
              if sequential.budget_minutes else f" Time: {sequential.minutes_spent:.1f} minutes.")
    lines += ["", f"{STOPS[sequential.stopped]} Seeds spent: {sequential.seeds_spent} in all; a fixed design at the "
              f"plan's maximum would have run {configurations} × {sequential.max_seeds} = {fixed}.{budget}"]
    return lines


def seeds_text(seeds: dict[str, int], failed: dict[str, list[int]]) -> str:
    """`3 each`, or each configuration's count where they differ; the seeds that failed (missing values)."""
    counts = set(seeds.values())
    text = (f"{counts.pop()} each" if len(counts) == 1 else
            ", ".join(f"{label}: {n}" for label, n in seeds.items()) or "–")
    lost = "; ".join(f"{label}: seed {', '.join(map(str, found))} failed" for label, found in failed.items())
    return f"{text} ({lost})" if lost else text


STOPS = {Stop.DECIDED: "Stopped: every comparison decided.",
         Stop.MAX_SEEDS: "Stopped at the plan's maximum of seeds per configuration, with comparisons still undecided.",
         Stop.BUDGET: "Stopped at the time budget (BUDGET), with comparisons still undecided; `make resume "
                      "SWEEP=<this sweep> BUDGET=<minutes>` gives it more time toward a decision.",
         Stop.INTERRUPTED: "Interrupted during a round: `make resume SWEEP=<this sweep>` continues it from that round, "
                           "and these verdicts are provisional.",
         None: "Not finished: stopped or lost during a round; `make resume SWEEP=<this sweep>` continues it from that "
               "round, and these verdicts are provisional."}


def provisional_lines(sweep: ReportedSweep) -> list[str]:
    """What a sweep stopped before its plan was done has run, and how to continue it."""
    if not sweep.provisional:
        return []
    waiting = [str(number) for number, _ in sweep.not_started]
    return [f"**Provisional:** {sweep.ended} of {sweep.planned} planned jobs ran to their end"
            + (f" (not started: jobs {', '.join(waiting)})" if waiting else "")
            + f"; `make resume SWEEP={sweep.folder}` continues the sweep, and the verdicts below may change.", ""]


def group_table(configurations: list[Configuration], threshold: float) -> list[str]:
    """The best configuration of each group side by side: speed, stability, final validation loss and accuracy,
    each a mean over the configuration's completed replicates."""

    def mean(values: Callable[[Run], float | None], digits: int = 4) -> list[str]:
        return [mean_std([values(run) for run in c.drawn], digits) for c in configurations]

    def reached(c: Configuration) -> str:
        hits = [hit for hit in (epochs_to(run, threshold) for run in c.drawn) if hit]
        if not hits:
            return "not reached"
        text = f"{statistics.fmean(h[0] for h in hits):.3g} ({statistics.fmean(h[1] for h in hits):.0f} s)"
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


def runs_table(runs: list[Run], label: dict[str, str], not_started: list[tuple[str, list[str]]]) -> list[str]:
    """Every run by best val acc, named by its configuration (`label`, by job) and its replicate keys, then the
    planned jobs that have not started (by their overrides)."""
    varying = set(varying_overrides(runs))
    common = [f"`{o}`" for o in runs[0].overrides if o.lstrip("+").split("=", 1)[0] not in varying]
    lines = [f"Overrides of every run: {' '.join(common) or '(none)'}.", "",
             "| job | configuration | seed | best val acc | epoch of best | final train acc | final val loss | wall time "
             "| status |", "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for run in runs:
        lines.append(f"| {run.name} | {label[run.name]} | {run.seed} | {fmt(run.best_val_acc)} | "
                     f"{epoch_text(run.best_epoch)} | {fmt(run.final('train_acc'))} | {fmt(run.final('val_loss'))} | "
                     f"{seconds(run.wall_seconds)} | {run.status} |")
    for number, overrides in not_started:
        varied = " ".join(o for o in overrides if override_key(o) in varying and override_key(o) != "seed")
        lines.append(f"| {number} | {varied or '–'} | {override_values(overrides).get('seed', '–')} | – | – | – | – | – "
                     f"| {NOT_STARTED} |")
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
