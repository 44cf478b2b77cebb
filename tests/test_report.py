"""The sweep report on a real tiny sweep (CLI runs on tiny IDX files) plus hand-made broken runs."""

import contextlib
import csv
import json
import re
import shutil
import statistics
import subprocess
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from helpers import CORE, hparams_of, run_cli, runs_csv, tensorboard_runs
from conftest import ROOT, TINY_TEST, TINY_TRAIN, TINY_VAL, tiny_overrides, tiny_split
from fashionlab.data import CLASS_NAMES
from fashionlab.evaluation import evaluate_checkpoint
from fashionlab.reporting import report as sweep_report
from fashionlab.reporting.diagnosis import diagnose
from fashionlab.reporting.figures import class_samples_figure, sweep_figure
from fashionlab.reporting.runs import load_sweep, read_lr, report_settings
from fashionlab.reporting.selection import Selection, select, varying_overrides
from fashionlab.runfolder import METRIC_COLUMNS, events_folder, read_metrics
from confirm import main as confirm_main
from fashionlab.command import sweep_main
from report import main as report_main

PNG = b"\x89PNG\r\n\x1a\n"


def write_metrics(path: Path, rows: list[tuple], tail: str = "") -> None:
    """A metrics.csv as the recorder writes it, rows given without the step column (one update per epoch here);
    `tail` appends raw text such as a half-written row."""
    with open(path, "w", newline="") as file:
        csv.writer(file).writerows([METRIC_COLUMNS, *(row + (row[0],) for row in rows)])
        file.write(tail)


@pytest.fixture(scope="module")
def sweep(tiny_data_dir, tmp_path_factory) -> Path:
    """Four real runs (jobs 0-3: SGD and Adam at lr 3e-4 and 1e-4, 2 epochs) and three broken ones.

    Adam at lr 3e-4 (job 2) is best on validation. Job 4 is a copy of it, checkpoints and all, whose
    metrics claim a higher val acc but which diverged: it must not be selected. Job 5 failed before its
    first epoch; job 6 crashed before the fit started (no summary.json, no metrics.csv).
    """
    folder = tmp_path_factory.mktemp("report") / "sweep"
    # any lightning.Trainer argument is set without `+`, such as deterministic, which docs/reliability.md suggests
    result = run_cli("train.py", "-m", "optimizer=sgd,adam", "optimizer.lr=0.0003,0.0001", "data.batch_size=250",
                     *tiny_overrides(tiny_data_dir), "trainer.max_epochs=2", "trainer.deterministic=true",
                     f"hydra.sweep.dir={folder}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert all(OmegaConf.load(folder / job / ".hydra" / "config.yaml").trainer.deterministic is True for job in "0123")
    shutil.copytree(folder / "2", folder / "4")
    write_metrics(folder / "4" / "metrics.csv", [(1, 1.0, 0.9, 0.5, 0.99, 3e-4, 1.0),
                                                 (2, "nan", 0.1, "nan", 0.1, 3e-4, 2.0)], tail="3,0.5")
    (folder / "4" / "summary.json").write_text(json.dumps({"status": "diverged", "wall_seconds": 2.0}))
    shutil.copytree(folder / "0" / ".hydra", folder / "5" / ".hydra")
    write_metrics(folder / "5" / "metrics.csv", [])
    (folder / "5" / "summary.json").write_text(json.dumps({"status": "failed", "error": "RuntimeError: boom"}))
    shutil.copytree(folder / "1" / ".hydra", folder / "6" / ".hydra")
    return folder


def table(markdown: str, heading: str, index: int = 0) -> list[list[str]]:
    """The body rows (cells) of the index-th table in the section under `heading`."""
    section = markdown.split(f"## {heading}", 1)[1].split("\n## ", 1)[0]
    tables = [block.splitlines() for block in section.split("\n\n") if block.startswith("|")]
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in tables[index][2:]]


def test_report_selects_on_validation_tests_once_and_lists_every_run(sweep, monkeypatch, capsys):
    evaluated, evaluate = [], sweep_report.evaluate_checkpoint

    def evaluate_and_record(ckpt_path, data_dir=None):
        evaluated.append(Path(ckpt_path))
        return evaluate(ckpt_path, data_dir)

    monkeypatch.setattr(sweep_report, "evaluate_checkpoint", evaluate_and_record)
    report_main([str(sweep)])
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])

    assert evaluated == [sweep / "2" / "checkpoints" / "best.ckpt"], "test set evaluated once, for the selected run"
    assert printed["selected"] == "2" and printed["title"] == "Adam lr=0.0003, constant lr"
    assert printed["groups"] == ["optimizer"]
    for name in ("loss_curves", "accuracy_curves", "sweep_curves", "confusion_matrix", "class_samples"):
        assert (sweep / f"{name}.png").read_bytes().startswith(PNG)
    markdown = (sweep / "report.md").read_text()
    assert "Model to use: **job 2: Adam lr=0.0003, constant lr**" in markdown

    best_sgd = max("01", key=lambda job: max(read_metrics(sweep / job / "metrics.csv")["val_acc"]))
    compared = table(markdown, "Best configuration of each group (one group per optimizer)")
    sgd_lr = ("0.0003", "0.0001")[int(best_sgd)]
    assert "| | optimizer=adam | optimizer=sgd |" in markdown
    # a run that did not complete still belongs to its configuration (job 4 to job 2's, 5 to 0's, 6 to 1's)
    sgd_jobs = {"0": "0, 5", "1": "1, 6"}[best_sgd]
    assert compared[0][1:] == ["Adam lr=0.0003, constant lr, jobs 2, 4", f"SGD lr={sgd_lr}, constant lr, jobs {sgd_jobs}"]
    assert compared[1][1:] == ["optimizer.lr=0.0003", f"optimizer.lr={sgd_lr}"]
    # one run per configuration: the verdict names the better one, says it cannot tell it from seed noise, and how to
    verdict = markdown.split("## Verdict", 1)[1].split("\n## ", 1)[0]
    assert "**optimizer=adam optimizer.lr=0.0003** has the highest mean best val acc" in verdict
    assert "one run each cannot separate this difference from seed noise" in verdict
    assert f"`make confirm SWEEP={sweep} SEEDS=auto`" in verdict
    against = {verdict["against"]: verdict["role"] for verdict in printed["verdicts"]}
    assert list(against.values())[0] == "runner-up" and f"optimizer=sgd optimizer.lr={sgd_lr}" in against
    assert all(verdict["p_value"] is None for verdict in printed["verdicts"]), "unknown with one run each: null, not NaN"

    runs = table(markdown, "All runs")
    assert sorted(row[0] for row in runs) == [str(job) for job in range(7)]
    assert {row[0]: row[1] for row in runs}["2"] == "optimizer=adam optimizer.lr=0.0003", "named by what varies"
    assert "Overrides of every run: `data.batch_size=250`" in markdown
    assert {row[0]: row[-1] for row in runs if row[-1] != "completed"} == {
        "4": "diverged", "5": "failed", "6": "no summary.json"}
    best_accs = [float(row[3]) for row in runs if row[3] != "–"]
    assert best_accs == sorted(best_accs, reverse=True) and runs[0][0] == "4" and runs[1][0] == "2"
    verdicts = {row[0]: row[-1] for row in table(markdown, "Over- and underfitting")}
    assert verdicts["4"] == "loss is NaN or infinite: training diverged"
    assert verdicts["5"] == verdicts["6"] == "no finished epoch"

    # runs.csv: every job in job order, its configuration and what varies, the test numbers of the one tested run
    rows = runs_csv(sweep)
    assert list(rows) == [str(job) for job in range(7)]
    assert {job: (row["status"], row["configuration"]) for job, row in rows.items()} == {
        row[0]: (row[-1], row[1]) for row in runs}, "as the report's table of all runs says"
    assert [(row["optimizer"], row["optimizer.lr"]) for row in rows.values()] == [
        ("sgd", "0.0003"), ("sgd", "0.0001"), ("adam", "0.0003"), ("adam", "0.0001"), ("adam", "0.0003"),
        ("sgd", "0.0003"), ("sgd", "0.0001")]
    assert {job: (row["seed"], row["split_seed"]) for job, row in rows.items()} == {job: (0, 0) for job in rows}
    assert rows["4"]["best_val_acc"] == 0.99 and rows["4"]["best_epoch"] == 1, "as the report reads metrics.csv"
    assert [(rows[job]["best_val_acc"], rows[job]["best_epoch"], rows[job]["wall_seconds"]) for job in "56"] == [
        (None, None, None)] * 2, "no epoch, no wall time recorded: empty cells"
    assert {job: (row["test_acc"], row["test_loss"]) for job, row in rows.items() if row["test_acc"] is not None} == {
        "2": (printed["test_acc"], json.loads((sweep / "test_metrics.json").read_text())["test/loss"])}

    # The test numbers are those of `python src/eval.py`, on the whole test set; eval.py prints them and writes them
    # into its run folder, and says nothing about training callbacks or srun
    stored = json.loads((sweep / "test_metrics.json").read_text())
    result = run_cli("eval.py", f"ckpt_path={evaluated[0]}", f"hydra.run.dir={sweep.parent}/eval")
    assert result.returncode == 0, result.stderr[-3000:]
    from_eval = json.loads(result.stdout.strip().splitlines()[-1])
    assert json.loads((sweep.parent / "eval" / "test_metrics.json").read_text()) == from_eval
    assert "callbacks used to create the checkpoint" not in result.stderr, "testing needs no training callbacks"
    assert "`srun` command is available" not in result.stderr
    assert from_eval["test/acc"] == stored["test/acc"] == printed["test_acc"]
    assert from_eval["test/confusion_matrix"] == stored["test/confusion_matrix"]
    confusion = torch.tensor(stored["test/confusion_matrix"])
    assert confusion.sum() == TINY_TEST
    assert confusion.trace() / TINY_TEST == pytest.approx(stored["test/acc"])
    per_class = [float(cell) for cell in table(markdown, "Selected configuration", index=1)[0][1:]]
    assert per_class == pytest.approx((confusion.diagonal() / confusion.sum(1)).tolist(), abs=5e-4)

    # Training itself never evaluated the test set, and logged the class samples to TensorBoard once.
    for job in "0123":
        tags = EventAccumulator(str(events_folder(sweep / job)), size_guidance={"images": 0}).Reload().Tags()
        assert not any(tag.startswith("test/") for tag in tags["scalars"])
        assert tags["images"] == ["data/class_samples"]


def tiny_sweep(folder: Path, data_dir: Path, *overrides: str, epochs: int = 1) -> Path:
    """A real `python src/train.py -m` sweep over the tiny data, `epochs` epochs per job."""
    tiny = [override for override in tiny_overrides(data_dir) if not override.startswith("trainer.max_epochs=")]
    result = run_cli("train.py", "-m", *tiny, f"trainer.max_epochs={epochs}", *overrides, f"hydra.sweep.dir={folder}")
    assert result.returncode == 0, result.stderr[-3000:]
    return folder


def report_of(sweep: Path, capsys) -> tuple[dict, str, Selection]:
    """Run src/report.py on `sweep`; what it printed, its report.md, and the sweep's configurations as it chose."""
    report_main([str(sweep)])
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    return printed, (sweep / "report.md").read_text(), select(load_sweep(sweep))


def plotted(figure, xlabel: str) -> dict[str, list[float]]:
    """The x data of every configuration's line in the panels of `figure` whose x label starts with `xlabel`, by
    configuration label."""
    lines = [line for ax in figure.axes if ax.get_xlabel().startswith(xlabel) for line in ax.get_lines()]
    return {line.get_label().split(" (")[0]: list(line.get_xdata()) for line in lines}


def test_gd_variants_report_compares_per_epoch_per_second_and_per_update(tiny_data_dir, tmp_path, capsys):
    """Batch GD (one update per epoch), stochastic GD (4% of the data per epoch) and mini-batches, 2 epochs each."""
    sweep = tiny_sweep(tmp_path / "sweep", tiny_data_dir, "experiment=gd_variants", "trainer.max_time=00:00:00:30",
                       epochs=2)
    printed, markdown, selection = report_of(sweep, capsys)
    runs = load_sweep(sweep)
    assert printed["groups"] == ["gd_variant"] and printed["selected"] is not None
    assert (sweep / "sweep_curves.png").read_bytes().startswith(PNG)

    train = TINY_TRAIN - TINY_VAL
    updates = {"batch": 1, "stochastic": round(0.04 * train), "minibatch": -(-train // 64)}  # per epoch
    passes = {"batch": 1, "stochastic": 0.04, "minibatch": 1}
    speed = {row[1]: row for row in table(markdown, "Every configuration")}
    assert sorted(speed) == [f"gd_variant={variant}" for variant in sorted(updates)]
    for variant, per_epoch in updates.items():
        row = speed[f"gd_variant={variant}"]
        assert float(row[2]) == pytest.approx(2 * passes[variant]) and int(row[3]) == 2 * per_epoch
        assert float(row[4]) > 0 and float(row[5]) > 0, "seconds per epoch, updates per second"

    assert report_settings(runs) == (["epoch", "elapsed_s", "step"], False)
    figure = sweep_figure(selection.configurations, set(), ["epoch", "elapsed_s", "step"])
    for c in selection.configurations:
        variant = c.group.split("=")[1]
        assert plotted(figure, "epoch")[c.label] == pytest.approx([passes[variant], 2 * passes[variant]])
        assert plotted(figure, "parameter updates")[c.label] == [updates[variant], 2 * updates[variant]]
        assert plotted(figure, "wall-clock seconds")[c.label] == c.runs[0].history["elapsed_s"]


def test_lr_schedules_report_draws_the_lr_of_every_step_beside_val_loss(tiny_data_dir, tmp_path, capsys):
    sweep = tiny_sweep(tmp_path / "sweep", tiny_data_dir, "experiment=lr_schedules", "scheduler=none,warmup_cosine",
                       "data.batch_size=100", epochs=2)
    printed, markdown, selection = report_of(sweep, capsys)
    assert printed["groups"] == ["scheduler"]
    assert (sweep / "sweep_curves.png").read_bytes().startswith(PNG)
    assert "updates per second" not in markdown, "no speed table: the experiment asks for epochs only"

    warmup = next(c.runs[0] for c in selection.configurations if c.group == "scheduler=warmup_cosine")
    total = int(warmup.history["step"][-1])
    assert total == 2 * (TINY_TRAIN - TINY_VAL) // 100
    steps, lrs = read_lr(warmup.path)
    assert steps == list(range(total)), "one point per step"
    assert lrs[0] == 0 and lrs[1] == pytest.approx(0.05), "warm-up from 0 to the configured lr"
    assert all(before > after for before, after in zip(lrs[1:], lrs[2:])), "then cosine annealing"

    assert report_settings(load_sweep(sweep)) == (["epoch"], True)
    figure = sweep_figure(selection.configurations, set(), ["epoch"],
                          {c.label: read_lr(c.runs[0].path) for c in selection.configurations})
    panel = next(ax for ax in figure.axes if ax.get_title() == "learning rate per step")
    drawn = {line.get_label().split(" (")[0]: list(line.get_xdata()) for line in panel.get_lines()}
    assert drawn["scheduler=warmup_cosine"] == steps + [total], "every step, held to the last update"


def test_optimizer_sweep_groups_by_the_varying_config_group_with_lr_inside(tiny_data_dir, tmp_path, capsys):
    """Every optimizer of the optimizers experiment at two learning rates (its own lr axis: the same machinery). SGD
    and SGD with momentum are both torch.optim.SGD: the groups come from the overrides, not the class."""
    sweep = tiny_sweep(tmp_path / "sweep", tiny_data_dir, "experiment=optimizers", "optimizer.lr=0.01,0.123456789",
                       "data.batch_size=100")
    printed, markdown, selection = report_of(sweep, capsys)
    configurations = selection.configurations
    assert printed["groups"] == ["optimizer"] and (sweep / "test_metrics.json").is_file()
    assert len(configurations) == 12 and all(run.status == "completed" for run in load_sweep(sweep))
    # the title says what the group says: momentum is torch's SGD class with momentum
    assert {c.group: c.runs[0].optimizer for c in configurations} == {
        "optimizer=sgd": "SGD", "optimizer=momentum": "SGD (momentum)", "optimizer=rmsprop": "RMSprop",
        "optimizer=adagrad": "Adagrad", "optimizer=adam": "Adam", "optimizer=adamw": "AdamW"}
    # a long number (one a search draws) shows 4 significant digits, a short one as typed
    assert sorted(c.setting for c in configurations) == ["optimizer.lr=0.01"] * 6 + ["optimizer.lr=0.1235"] * 6
    # HPARAMS: the core knobs and what the optimizers' presets vary
    board = tensorboard_runs(sweep)
    shown = {key for name in board.Runs() for key in hparams_of(board, name)}
    assert shown == CORE | {"optimizer.momentum", "optimizer.betas", "optimizer.weight_decay", "optimizer.alpha"}

    best = selection.group_best
    for group, c in best.items():
        assert c.sample.mean == max(other.sample.mean for other in configurations if other.group == group)
    compared = table(markdown, "Best configuration of each group (one group per optimizer)")
    header = next(line for line in markdown.splitlines() if line.startswith("| | optimizer="))
    assert sorted(cell.strip() for cell in header.strip("|").split("|")[1:]) == sorted(best)
    assert sorted(compared[0][1:]) == sorted(f"{c.runs[0].title}, jobs {c.runs[0].name}" for c in best.values())

    figure = sweep_figure(configurations, {c.label for c in best.values()}, ["epoch"])
    lines = figure.axes[0].get_lines()
    assert len(lines) == 12 and len({line.get_color() for line in lines}) == 6, "one color per group"
    for line in lines:
        c = next(c for c in configurations if line.get_label().startswith(f"{c.label} ("))
        assert (line.get_linewidth() > 2) == (c is best[c.group])
        assert line.get_color() == next(other.get_color() for other in lines if c.group in other.get_label())


ABLATED = {"data.augment_flip", "data.augment_shift", "model.dropout", "model.norm", "module.label_smoothing",
           "module.tta", "module.scheduler_interval", "scheduler.warmup_fraction"}


@pytest.mark.parametrize("overrides, jobs, groups, hparams", [
    # experiment=optimizers: test_optimizer_sweep_groups_by_the_varying_config_group_with_lr_inside; grid_search is the
    # same machinery over batch sizes too, kept out of the default run for time
    pytest.param(["experiment=grid_search"], 12, ["optimizer"], {"optimizer.momentum", "optimizer.betas"},
                 marks=pytest.mark.slow),
    # make ablation: best_mlp's ingredients, each switched off, grouped by the config group that varies (the
    # optimizer test's grouping), kept out of the default run for time as well
    pytest.param(["experiment=best_mlp", "ablation=glob(*)", "seed=0"], 10, ["ablation"], ABLATED,
                 marks=pytest.mark.slow),
])
def test_whole_experiment_grid_runs_and_the_report_picks_one_winner(tiny_data_dir, tmp_path, capsys, overrides, jobs,
                                                                    groups, hparams):
    """The jobs of the experiment's own grid, each cut to one batch of training and of validation; TensorBoard
    names each run by its job and the overrides that vary, and HPARAMS show, besides the core knobs, every config
    key the grid varies (`hparams`), its presets applied."""
    sweep = tiny_sweep(tmp_path / "sweep", tiny_data_dir, *overrides, "+trainer.limit_train_batches=1",
                       "+trainer.limit_val_batches=1")
    printed, markdown, _ = report_of(sweep, capsys)
    runs = load_sweep(sweep)
    assert len(runs) == jobs and all(run.status == "completed" for run in runs)
    assert len(table(markdown, "All runs")) == jobs
    assert printed["groups"] == groups and (sweep / "test_metrics.json").is_file()
    assert [c["n"] for c in printed["configurations"]] == [1] * jobs, "runs that differ in more than a seed: no replicates"
    board = tensorboard_runs(sweep)
    varying = varying_overrides(runs)
    assert sorted(board.Runs()) == sorted(
        f"{run.name}/" + ",".join(f"{key}={run.override_values[key]}" for key in varying) for run in runs)
    shown = {key for name in board.Runs() for key in hparams_of(board, name)}
    assert shown == CORE | hparams, "HPARAMS: the core knobs and every key the sweep varies"


@pytest.mark.slow  # each replicate tested once, mean and std: the default run's replicate sweep; this is make best's
def test_seed_sweep_of_the_recipe_tests_every_seed_once_and_gives_mean_and_std(tiny_data_dir, tmp_path, capsys):
    """make best: experiment=best_mlp over its own seeds 0, 1, 2; each seed is a final model and gets its test number."""
    sweep = tiny_sweep(tmp_path / "sweep", tiny_data_dir, "experiment=best_mlp", "data.batch_size=100", epochs=2)
    printed, markdown, _ = report_of(sweep, capsys)
    runs = load_sweep(sweep)
    assert [run.config.seed for run in runs] == [0, 1, 2] and runs[0].config.model.norm == "batch"
    summary = printed["replicates"]
    assert summary["seeds"] == [0, 1, 2]
    weights = torch.load(runs[0].checkpoint, weights_only=False)["state_dict"]  # parameters, norm statistics, metrics
    buffers = ("running_mean", "running_var", "num_batches_tracked")
    assert summary["parameters"] == sum(value.numel() for key, value in weights.items()
                                        if key.startswith("net.") and not key.endswith(buffers))
    assert summary["val_acc"] == pytest.approx([run.best_val_acc for run in runs])
    for run, test_acc in zip(runs, summary["test_acc"]):  # the same number eval.py prints for that checkpoint
        assert test_acc == pytest.approx(evaluate_checkpoint(run.checkpoint)["test/acc"])
    assert printed["test_acc"] == summary["test_acc"][int(printed["selected"])], "the selected seed is not retested"
    mean, std = (statistics.mean(summary["test_acc"]), statistics.stdev(summary["test_acc"]))
    assert summary["test_acc_mean_std"] == f"{mean:.4f} ± {std:.4f}"
    rows = table(markdown, "Selected configuration")
    assert [row[0] for row in rows] == ["0", "1", "2", "**mean ± std**"]


@pytest.fixture(scope="module")
def replicate_sweep(tiny_data_dir, tmp_path_factory) -> Path:
    """SGD and Adam at lr 3e-4, 3 seeds each, 2 epochs: two configurations of three replicates."""
    return tiny_sweep(tmp_path_factory.mktemp("replicates") / "sweep", tiny_data_dir, "optimizer=sgd,adam",
                      "seed=0,1,2", "optimizer.lr=0.0003", "data.batch_size=250", epochs=2)


def test_replicate_sweep_report_aggregates_by_configuration_then_confirm_reruns_its_top(replicate_sweep, monkeypatch,
                                                                                          capsys, tmp_path):
    sweep = replicate_sweep
    evaluated, evaluate = [], sweep_report.evaluate_checkpoint
    monkeypatch.setattr(sweep_report, "evaluate_checkpoint",
                        lambda ckpt_path, data_dir=None: evaluated.append(Path(ckpt_path)) or evaluate(ckpt_path, data_dir))
    printed, markdown, selection = report_of(sweep, capsys)
    best = {job: json.loads((sweep / job / "summary.json").read_text())["best_val_acc"] for job in "012345"}
    by_label = {c["label"]: c for c in printed["configurations"]}
    assert sorted(by_label) == ["optimizer=adam", "optimizer=sgd"]
    for label, jobs in (("optimizer=sgd", "012"), ("optimizer=adam", "345")):
        values = [best[job] for job in jobs]
        assert by_label[label]["n"] == 3
        assert by_label[label]["mean"] == pytest.approx(statistics.mean(values))
        assert by_label[label]["std"] == pytest.approx(statistics.stdev(values))
    winner = selection.selected
    assert printed["configuration"] == winner.label == max(by_label, key=lambda label: by_label[label]["mean"])
    assert sorted(evaluated) == sorted(run.checkpoint for run in winner.runs), "each replicate tested once"
    stored = json.loads((sweep / "test_metrics.json").read_text())
    assert [entry["job"] for entry in stored["replicates"]] == [run.name for run in winner.runs]
    assert printed["replicates"]["seeds"] == [0, 1, 2] and len(printed["replicates"]["test_acc"]) == 3
    rows = table(markdown, "Selected configuration")
    assert [row[0] for row in rows] == ["0", "1", "2", "**mean ± std**"]
    rows = runs_csv(sweep)  # replicates: the seed in its own column, what varies besides it in its own
    assert [(row["configuration"], row["optimizer"], row["seed"]) for row in rows.values()] == [
        (f"optimizer={optimizer}", optimizer, seed) for optimizer in ("sgd", "adam") for seed in range(3)]
    assert {job: row["test_acc"] for job, row in rows.items() if row["test_acc"] is not None} == {
        entry["job"]: entry["test/acc"] for entry in stored["replicates"]}

    (verdict,) = printed["verdicts"]  # the runner-up is also the other group's best: one comparison
    assert verdict["role"] == "runner-up" and 0 <= verdict["p_superiority"] <= 1
    assert verdict["verdict"] in ("better", "equivalent", "undecided") and printed["margin"] == 0.002
    assert printed["plan"] == {"looks": [3], "look": 1, "alpha": 0.05, "stopped": None}, "one look: 3 replicates"
    loser = [c for c in selection.configurations if c is not winner][0]
    assert verdict["difference"] == pytest.approx(winner.sample.mean - loser.sample.mean)
    verdicts = table(markdown, "Verdict")
    assert verdicts[0][:3] == [loser.label, "runner-up", "3 vs 3"]
    assert "Fewer completed replicates" not in markdown

    # TensorBoard: an aggregate run per configuration, mean and band per logged step, in a margin chart
    for c in selection.configurations:
        events = EventAccumulator(str(sweep / "aggregate" / c.label)).Reload()
        assert "custom_scalars__config__" in events.Tags()["tensors"]
        mean = [point.value for point in events.Scalars("aggregate/val_acc")]
        upper = [point.value for point in events.Scalars("aggregate/val_acc_upper")]
        epochs = [[run.history["val_acc"][i] for run in c.runs] for i in range(2)]
        assert mean == pytest.approx([statistics.mean(v) for v in epochs], abs=1e-6)
        assert upper == pytest.approx([statistics.mean(v) + statistics.stdev(v) for v in epochs], abs=1e-6)
        assert [point.step for point in events.Scalars("aggregate/val_acc")] == c.runs[0].history["step"]
    names = sorted(tensorboard_runs(sweep).Runs())
    assert [name.split("/", 1)[1] for name in names if name[0].isdigit()] == [
        f"optimizer={optimizer},seed={seed}" for optimizer in ("sgd", "adam") for seed in range(3)]
    figure = sweep_figure(selection.configurations, set(), ["epoch"])
    assert figure.axes[0].collections, "a band around each mean curve"

    # make confirm: the top configuration over 2 fresh seeds (the sweep used 0-2), into a sweep linked both ways
    for args, message in (([str(tmp_path)], "is not a sweep folder"), ([str(sweep), "--top", "0"], "--top: '0'"),
                          ([str(sweep), "--seeds", "x"], "--seeds: 'x': not allowed, must be a positive integer")):
        with pytest.raises(SystemExit) if len(args) > 1 else contextlib.nullcontext():  # argparse's own exit
            assert confirm_main(args) == 1
        error = capsys.readouterr().err.strip()
        assert error.startswith("error: ") and message in error and "\n" not in error
    confirm = tmp_path / "confirm"
    # an override of the source sweep given again (ARGS): it replaces the source's, rather than Hydra's duplicate error
    result = run_cli("confirm.py", str(sweep), "--top", "1", "--seeds", "2", "--sweep-dir", str(confirm),
                     "data.batch_size=200")
    assert result.returncode == 0, result.stderr[-3000:]
    again = load_sweep(confirm)
    assert [run.config.data.batch_size for run in again] == [200, 200]
    assert [(run.seed, run.choices["optimizer"]) for run in again] == [(3, winner.runs[0].choices["optimizer"]),
                                                                       (4, winner.runs[0].choices["optimizer"])]
    assert all(run.status == "completed" for run in again)
    assert f"reruns the top configurations of `{sweep}`" in (confirm / "report.md").read_text()
    assert f"rerun over fresh seeds in `{confirm}`" in (sweep / "report.md").read_text()
    # a confirmation resumes as any sweep, a lost job included: test_sweep_recovery's sequential sweep


@pytest.mark.slow  # one more confirmation (two processes) for a path the default run's confirmation shares mostly
def test_confirm_writes_the_report_of_a_confirmation_whose_jobs_failed_and_exits_with_its_status(replicate_sweep,
                                                                                                 tmp_path):
    # a value no config rule knows, which Lightning rejects when the Trainer is built: every job fails
    result = run_cli("confirm.py", str(replicate_sweep), "--top", "1", "--seeds", "2", "--sweep-dir",
                     str(tmp_path / "confirm"), "+trainer.gradient_clip_algorithm=bogus")
    assert result.returncode != 0
    assert [run.status for run in load_sweep(tmp_path / "confirm")] == ["failed", "failed"]
    markdown = (tmp_path / "confirm" / "report.md").read_text()
    assert "No completed run: nothing selected, test set not evaluated." in markdown


def test_confirm_refuses_a_sweep_without_a_completed_run_before_writing(replicate_sweep, tmp_path, capsys):
    shutil.copytree(replicate_sweep / "0" / ".hydra", tmp_path / "sweep" / "0" / ".hydra")
    shutil.copy(replicate_sweep / "multirun.yaml", tmp_path / "sweep")
    (tmp_path / "sweep" / "0" / "summary.json").write_text(json.dumps({"status": "failed"}))
    assert confirm_main([str(tmp_path / "sweep")]) == 1
    assert capsys.readouterr().err.strip() == (
        f"error: {tmp_path / 'sweep'} has no completed run: nothing to confirm (its report lists each run's status)")
    assert [path.name for path in (tmp_path / "sweep").glob("*.yaml")] == ["multirun.yaml"], "nothing written"
    # seeds until decided for the top configuration alone: nothing to compare, refused before either sweep is touched
    listed = (replicate_sweep / "confirmations.yaml").read_text() if (replicate_sweep / "confirmations.yaml").is_file() \
        else None
    assert confirm_main([str(replicate_sweep), "--top", "1", "--seeds", "auto", "--sweep-dir", str(tmp_path / "c")]) == 1
    assert capsys.readouterr().err.strip() == (
        "error: hydra.sweeper.max_seeds=20 (SEEDS=auto): not allowed for a sweep of one configuration, which has "
        "nothing to compare; give it a number of seeds (SEEDS=5)")
    assert not (tmp_path / "c").exists() and listed == (
        (replicate_sweep / "confirmations.yaml").read_text() if listed is not None else None)


def test_compare_tunes_reports_then_confirms_each_group_even_when_a_tuning_job_failed(tiny_data_dir, tmp_path,
                                                                                      monkeypatch, capsys):
    """make compare's shape, `src/sweep.py --then-confirm groups`, on three optimizers of which two cannot run
    Nesterov (plain SGD has no momentum, Adam no such argument): the tuning report is written, momentum, the one
    group left, is confirmed on fresh seeds in a new sweep linked to it, and the command exits non-zero."""
    monkeypatch.chdir(tmp_path)  # the confirmation's new folder goes under ./outputs/multirun
    tune = tmp_path / "tune"
    status = sweep_main(["--then-confirm", "groups", "--seeds", "2", "optimizer=sgd,momentum,adam",
                         "+optimizer.nesterov=true", *tiny_overrides(tiny_data_dir), "--dir", str(tune)])
    assert status == 1
    assert [run.status for run in load_sweep(tune)] == ["failed", "completed", "failed"]
    assert "error: 2 jobs failed (0, 2)" in capsys.readouterr().err
    (confirmation,) = (tmp_path / "outputs" / "multirun").glob("*/*")
    assert OmegaConf.load(tune / "confirmations.yaml") == [str(confirmation.relative_to(tmp_path))]
    assert [(run.seed, run.choices["optimizer"], run.status) for run in load_sweep(confirmation)] == [
        (1, "momentum", "completed"), (2, "momentum", "completed")]
    assert (tune / "report.md").is_file() and (confirmation / "report.md").is_file()


@pytest.mark.parametrize("args, message", [
    (["--seeds", "abc"], "--seeds: 'abc': not allowed, must be a positive integer (that many seeds), auto or auto:N"),
    (["--seeds", "-2"], "--seeds: '-2': not allowed"), (["--seeds", "auto:1"], "--seeds: 'auto:1': not allowed"),
    (["--seeds", "auto", "--budget", "-1"], "--budget: '-1': not allowed, must be a number of minutes > 0"),
    (["--seeds", "5", "--budget", "10"], "--budget 10 (BUDGET): not allowed with --seeds 5: a budget stops the rounds"),
    (["--budget", "10"], "--budget 10 (BUDGET): not allowed with no --seeds"),
    (["--seeds", "3", "seed=4"], "seed=4: not allowed with --seeds, which sets seed; drop one of them"),
    (["--seeds", "3", "experiment=search"], "--seeds 3 (SEEDS): not allowed for a search, whose trials are drawn one "
                                            "run each: confirm its top trials over seeds with make confirm"),
    (["--then-confirm", "top:0"], "--then-confirm: 'top:0': not allowed, must be top:N (N a positive integer) or groups"),
    (["--resume", "outputs", "--seeds", "auto:30"], "--seeds: not allowed with --resume, which continues the sweep's own "
                                                    "plan"),
    (["--resume", "nowhere", "--budget", "5"], "--resume nowhere: not a sweep folder (no multirun.yaml)"),
])
def test_the_sweep_command_refuses_bad_arguments_in_one_line_before_any_folder(args, message, tmp_path):
    folder = [] if "--resume" in args else ["--dir", str(tmp_path / "sweep")]
    result = run_cli("sweep.py", *args, *folder)
    assert not (tmp_path / "sweep").exists()
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("error: ") and message in result.stderr


def test_every_sweep_target_is_one_line_over_the_sweep_command():
    for target, values, line in (
            ("sweep", ["SEEDS=auto:30", "BUDGET=45"], "src/sweep.py --seeds auto:30 --budget 45 optimizer=sgd,adam"),
            ("best", ["SEEDS=5"], "src/sweep.py --seeds 5 experiment=best_mlp"),
            ("ablation", [], "src/sweep.py --seeds 1 experiment=best_mlp 'ablation=glob(*)'"),
            ("ablation", ["SEEDS=auto", "BUDGET=60"], "src/sweep.py --seeds auto --budget 60 experiment=best_mlp"),
            ("compare", [], "src/sweep.py --then-confirm groups --seeds auto --budget 25 experiment=compare"),
            ("compare", ["SEEDS=5"], "src/sweep.py --then-confirm groups --seeds 5 experiment=compare"),
            ("resume", ["SWEEP=x", "BUDGET=10"], "src/sweep.py --budget 10 --resume x"),
            ("compare", ["SEEDS=5", "BUDGET=10"], "src/sweep.py --then-confirm groups --seeds 5 --budget 10"),
            ("search", ["SEEDS=3"], "src/sweep.py --seeds 3 experiment=search")):
        made = subprocess.run(["make", "-n", "--no-print-directory", target, *values], cwd=ROOT, capture_output=True,
                              text=True)
        assert made.returncode == 0 and line in " ".join(made.stdout.split()), (target, made.stdout, made.stderr)
    listed = subprocess.run(["make", "help"], cwd=ROOT, capture_output=True, text=True).stdout
    for target in ("sweep", "ablation", "compare", "confirm", "resume", "gd_variants"):
        help_line = next(line for line in listed.splitlines() if line.split()[1] == target)
        assert "BUDGET" in help_line and ("SEEDS" in help_line or target == "resume"), help_line


EPOCHS = range(1, 11)


@pytest.mark.parametrize("rows, verdict", [
    # val loss bottoms out at epoch 4 and climbs while train loss keeps falling
    ([(e, 1 / e, 0.8 + 0.02 * e, 0.5 + 0.05 * abs(e - 4), 0.85, 0.1, e) for e in EPOCHS],
     re.escape("val loss rising since epoch 4 (last 3 epochs +50% above the minimum) while train loss falls: "
               "overfitting")),
    # both losses climb after epoch 4: not overfitting but instability
    ([(e, 0.3 + 0.05 * abs(e - 4), 0.9, 0.5 + 0.05 * abs(e - 4), 0.85, 0.1, e) for e in EPOCHS],
     re.escape("val loss (last 3 epochs +50% above the minimum) and train loss both above their level at "
               "epoch 4: unstable training")),
    # everything still improving at the end
    ([(e, 1 / e, 0.5 + 0.03 * e, 1 / e, 0.5 + 0.03 * e, 0.1, e) for e in EPOCHS],
     re.escape("train acc still rising at the last epoch (+9.0 pp over the last 3 epochs): underfitting")),
    # flat curves, train and val close
    ([(e, 0.30, 0.90, 0.32, 0.89, 0.1, e) for e in EPOCHS], "converged, fits well"),
    # val loss flat but a large train-val gap
    ([(e, 0.05, 0.99, 0.40, 0.90, 0.1, e) for e in EPOCHS], re.escape("9.0 pp above val acc at the end: overfitting")),
    ([(1, 0.5, 0.8, 0.6, 0.7, 0.1, 1)], "too few to judge"),
])
def test_verdict_from_hand_made_metrics(tmp_path, rows, verdict):
    write_metrics(tmp_path / "metrics.csv", rows, tail="11,0.1,0.9")  # a half-written last row is ignored
    diagnosis = diagnose(read_metrics(tmp_path / "metrics.csv"))
    assert re.search(verdict, diagnosis.verdict), diagnosis.verdict
    assert diagnosis.last_epoch == rows[-1][0]


def test_not_a_sweep_is_one_line_error(tmp_path, sweep):
    shutil.copytree(sweep / "0" / ".hydra", tmp_path / "run" / ".hydra")  # a folder holding one run is no sweep
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "multirun.yaml").write_text("hydra: {}\n")
    for folder, message in ((tmp_path, "is not a sweep folder: no multirun.yaml"),
                            (sweep / "0", f"it is one run, its sweep is {sweep}"),
                            (tmp_path / "missing", "is not a folder"), (tmp_path / "empty", "holds no job folders")):
        with pytest.raises(SystemExit) as exit_info:
            report_main([str(folder)])
        assert exit_info.value.code.startswith("error: ") and message in exit_info.value.code
        assert "\n" not in exit_info.value.code
    assert not list(tmp_path.glob("**/report.md")) and not list(tmp_path.glob("**/*.png")), "nothing written"


def test_job_folders_hydra_had_not_finished_writing_are_jobs_that_did_not_start(sweep, tmp_path, capsys):
    """A grid of 4 stopped while Hydra wrote a job's .hydra/ (config.yaml, hydra.yaml, then overrides.yaml): job 0 ran,
    job 1 has a config.yaml cut short, job 2 no overrides.yaml, job 3 an empty one (opened, never written)."""
    stopped = tmp_path / "stopped"
    shutil.copytree(sweep / "0", stopped / "0")
    for name in ("multirun.yaml", "plan.json"):  # the grid's 4 jobs, recorded before the first one started
        shutil.copy(sweep / name, stopped / name)
    for job in "123":
        (stopped / job / ".hydra").mkdir(parents=True)
    (stopped / "1" / ".hydra" / "config.yaml").write_text((sweep / "1" / ".hydra" / "config.yaml").read_text()[:300])
    for job in "23":
        for name in ("config.yaml", "hydra.yaml"):
            shutil.copy(sweep / job / ".hydra" / name, stopped / job / ".hydra" / name)
    (stopped / "3" / ".hydra" / "overrides.yaml").write_text("")

    assert [run.name for run in load_sweep(stopped)] == ["0"]
    printed, markdown, _ = report_of(stopped, capsys)
    assert printed["selected"] == "0"
    assert "1 of 4 planned jobs ran to their end (not started: jobs 1, 2, 3)" in markdown
    assert {row[0]: row[-1] for row in table(markdown, "All runs")} == {
        "0": "completed", "1": "not started", "2": "not started", "3": "not started"}
    assert {job: row["status"] for job, row in runs_csv(stopped).items()} == {
        "0": "completed", "1": "not started", "2": "not started", "3": "not started"}


def test_class_samples_grid_shows_the_first_image_of_each_class_under_its_name(tiny_data_dir, tmp_path):
    images, labels = (torch.from_numpy(array) for array in tiny_split(100, seed=5))
    axes = class_samples_figure(images, labels).axes
    assert [ax.get_title() for ax in axes] == [f"{label}: {name}" for label, name in enumerate(CLASS_NAMES)]
    for label, ax in enumerate(axes):
        first = images[(labels == label).nonzero()[0]].reshape(28, 28).float().numpy()
        assert (ax.get_images()[0].get_array() == first).all()

    report_main(["--samples-only", str(tmp_path / "samples.png"), "--data-dir", str(tiny_data_dir)])
    assert (tmp_path / "samples.png").read_bytes().startswith(PNG)
