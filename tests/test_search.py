"""The Optuna search (hydra/sweeper=search, hparams_search=mlp): trials are job folders, pruned trials are recorded
`pruned`, the study continues from its journal, a bad search space is refused with one line before any trial."""

import json
import os
import signal

import lightning as L
import optuna
import pytest
from omegaconf import OmegaConf

from helpers import FORCED, hparams_of, read_rows, run_cli, runs_csv, tensorboard_runs
from conftest import ROOT, tiny_overrides
from fashionlab.overrides import overrides_name
from fashionlab.runfolder import events_folder
from fashionlab.sweeps import journal_storage
from fashionlab.reporting.report import write_report
from hydra_plugins.fashionlab_search import search_sweeper
from hydra_plugins.fashionlab_search.search_sweeper import override_value


def search(data_dir, sweep, *overrides, env=None):
    return run_cli("train.py", "-m", "hparams_search=mlp", *tiny_overrides(data_dir), "trainer.max_epochs=2",
                   f"hydra.sweep.dir={sweep}", *overrides, env=env)


def summary(job) -> dict:
    return json.loads((job / "summary.json").read_text())


def study_trials(sweep) -> list[optuna.trial.FrozenTrial]:
    storage = journal_storage(sweep / "optuna.journal")
    return optuna.load_study(study_name="search", storage=storage).trials


class SigtermAfterEpoch(L.Callback):
    """Sends its own process SIGTERM after the epoch (from 1) in the environment's STOP_AFTER, if set, as `kill` would:
    a search whose trials run in its own process (Hydra's basic launcher) stops there, its trial left unfinished."""

    def __init__(self):
        self.epoch = int(os.environ.get("STOP_AFTER", 0))

    def on_train_epoch_end(self, trainer, pl_module):
        if trainer.current_epoch + 1 == self.epoch:
            os.kill(os.getpid(), signal.SIGTERM)


def test_search_continues_an_interrupted_trial_prunes_a_trial_behind_and_records_it_pruned(tiny_data_dir, tmp_path):
    sweep = tmp_path / "sweep"
    # Seed 40 draws the good rate for trial 0; the continued study's sampler, seeded past it (41), draws the good rate
    # for trials 1 and 2 and the hopeless one for trial 3.
    command = ["hydra.sweeper.n_trials=4", *FORCED, "hydra.sweeper.sampler.seed=40",
               "+callbacks.stop._target_=test_search.SigtermAfterEpoch"]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "tests")}  # the trials build SigtermAfterEpoch from this module
    result = search(tiny_data_dir, sweep, *command, env={**env, "STOP_AFTER": "1"})
    assert result.returncode == 143, result.stderr[-3000:]
    assert summary(sweep / "0")["status"] == "interrupted" and [t.state.name for t in study_trials(sweep)] == ["RUNNING"]
    result = search(tiny_data_dir, sweep, *command, env=env)  # the same command again
    assert result.returncode == 0, result.stderr[-3000:]
    trials = study_trials(sweep)
    assert [t.params["optimizer.lr"] for t in trials] == [0.3, 0.3, 0.3, 1e-7]
    assert [t.state.name for t in trials] == ["COMPLETE"] * 3 + ["PRUNED"]
    # Trial 0 went on from its last.ckpt in its own folder; trials 1 and 2, the same config never stopped, reached their
    # best in epoch 1, before trial 0's stop: trial 0 reports that best too, to Optuna and in summary.json.
    assert len(read_rows(sweep / "0")) == 2 and read_rows(sweep / "0") == read_rows(sweep / "1")
    assert trials[0].value == trials[1].value == trials[2].value == summary(sweep / "0")["best_val_acc"]
    assert trials[0].value > float(read_rows(sweep / "0")[1]["val_acc"]), "the best is epoch 1's"
    for trial in trials:  # job folder N is trial N, a complete run folder trained with the trial's parameters
        job = sweep / str(trial.number)
        assert f"++search.trial={trial.number}" in OmegaConf.load(job / ".hydra" / "overrides.yaml")
        assert OmegaConf.load(job / ".hydra" / "config.yaml").optimizer.lr == trial.params["optimizer.lr"]
        assert (job / "checkpoints" / "last.ckpt").is_file() and list(events_folder(job).glob("events.out.tfevents.*"))
        assert events_folder(job).name == f"optimizer.lr={trial.params['optimizer.lr']!r}", "named by what it drew"
    assert [summary(sweep / str(n))["status"] for n in range(3)] == ["completed"] * 3
    pruned = summary(sweep / "3")
    assert (pruned["status"], pruned["pruned_epoch"], pruned["epochs_run"]) == ("pruned", 1, 1)
    assert len((sweep / "3" / "metrics.csv").read_text().splitlines()) == 2  # header and the one epoch it trained

    # the report's runs.csv: the pruned trial has its row, the value each trial drew its column, and the study's
    # bookkeeping overrides (search.trial, ...) none; test numbers for the three trials that drew lr 0.3, one
    # configuration the report selects and tests replicate by replicate
    write_report(sweep)
    rows = runs_csv(sweep)
    assert [(row["status"], row["optimizer.lr"]) for row in rows.values()] == [("completed", "0.3")] * 3 + [
        ("pruned", "1e-07")]
    assert [job for job, row in rows.items() if row["test_acc"] is not None] == ["0", "1", "2"]
    assert not any(column.startswith("search.") for column in rows["0"])


@pytest.mark.slow
def test_the_same_command_continues_the_study_and_the_report_never_selects_a_pruned_trial(tiny_data_dir, tmp_path):
    sweep = tmp_path / "sweep"
    assert search(tiny_data_dir, sweep, "hydra.sweeper.n_trials=4", *FORCED).returncode == 0
    before = {n: (sweep / str(n) / "summary.json").read_text() for n in range(4)}
    result = search(tiny_data_dir, sweep, "hydra.sweeper.n_trials=5", *FORCED)  # the budget is the total
    assert result.returncode == 0, result.stderr[-3000:]
    assert [t.number for t in study_trials(sweep)] == [0, 1, 2, 3, 4]
    assert {n: (sweep / str(n) / "summary.json").read_text() for n in range(4)} == before, "no trial runs twice"
    assert sorted(path.name for path in sweep.iterdir() if path.name.isdigit()) == ["0", "1", "2", "3", "4"]

    report = write_report(sweep)
    assert summary(sweep / "3")["status"] == "pruned" and report["selected"] != "3"
    assert "search." not in report["label"], "the study's bookkeeping overrides are not what tells trials apart"
    assert (sweep / "search_progress.png").is_file() and "## Search" in (sweep / "report.md").read_text()


def test_bad_search_space_syntax_is_one_line_naming_the_override():
    # looked up now: Hydra's plugin scan may have executed the module again since this file was imported
    with pytest.raises(search_sweeper.SearchSpaceError) as error:
        search_sweeper.parse_search_space(["optimizer=choice(sgd,adam)", "optimizer.lr=interval(1e-4"])
    assert str(error.value) == ("search space: optimizer.lr=interval(1e-4: "
                                "no viable alternative at input 'interval(1e-4'")


def write_search_config(tmp_path, params: str):
    """A hparams_search option of the user's own, beside the project's configs (hydra.searchpath)."""
    folder = tmp_path / "conf" / "hparams_search"
    folder.mkdir(parents=True)
    (folder / "mine.yaml").write_text("# @package _global_\ndefaults:\n  - mlp\nhydra:\n  sweeper:\n"
                                      f"    params:\n      {params}\n")
    return [f"hydra.searchpath=[file://{tmp_path / 'conf'}]", "hparams_search=mine"]


@pytest.mark.slow
@pytest.mark.parametrize("param, message", [
    ("optimizer.lr: interval(1e-4", "error: search space: optimizer.lr=interval(1e-4: no viable alternative at input"),
    ("model.dropout: interval(0, 1.5)", "error: search space: model.dropout can be 1.5: model.dropout=1.5: not"),
    ("optimizer: choice(sgd, adamm)", "error: search space: optimizer can be adamm: In 'train': Could not find"),
    ("optimizer.lr: tag(log, interval(0, 1))", "error: search space: optimizer.lr=tag(log, interval(0, 1)): `low > 0`"),
])
def test_a_bad_search_space_gets_one_line_and_no_trial_runs(tiny_data_dir, tmp_path, param, message):
    sweep = tmp_path / "sweep"
    result = search(tiny_data_dir, sweep, *write_search_config(tmp_path, param))
    assert result.returncode != 0
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(message)
    assert not sweep.exists()


@pytest.mark.slow
def test_the_search_preset_runs_its_trials_side_by_side_under_the_parallel_launcher(tiny_data_dir, tmp_path):
    sweep = tmp_path / "sweep"
    result = run_cli("train.py", "-m", "experiment=search", "launcher=parallel", "hydra.launcher.n_jobs=2",
                     "hydra.sweeper.n_jobs=2", "hydra.sweeper.n_trials=4", *tiny_overrides(tiny_data_dir),
                     "trainer.max_epochs=3", f"hydra.sweep.dir={sweep}")
    assert result.returncode == 0, result.stderr[-3000:]
    trials = study_trials(sweep)
    assert len(trials) == 4 and all(t.state.name in {"COMPLETE", "PRUNED"} for t in trials)
    assert [summary(sweep / str(t.number))["status"] for t in trials] == [
        "completed" if t.state.name == "COMPLETE" else "pruned" for t in trials]
    # TensorBoard: each trial named by the values it drew, which HPARAMS show too (dropout is no core knob)
    runs = tensorboard_runs(sweep)
    for trial in trials:
        name = overrides_name([f"{key}={override_value(value)}" for key, value in trial.params.items()])
        shown = hparams_of(runs, f"{trial.number}/{name}")
        assert shown["model.dropout"] == pytest.approx(trial.params["model.dropout"])


def test_a_trial_count_below_one_is_refused_in_one_line(tiny_data_dir, tmp_path):
    sweep = tmp_path / "sweep"
    result = search(tiny_data_dir, sweep, "hydra.sweeper.n_trials=-3")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "error: hydra.sweeper.n_trials=-3: not allowed, must be an integer > 0"]
    assert not (sweep / "optuna.journal").exists()


def test_a_damaged_journal_is_one_line_naming_the_file(tiny_data_dir, tmp_path):
    sweep = tmp_path / "sweep"
    journal = sweep / "optuna.journal"
    sweep.mkdir()
    optuna.create_study(study_name="search", storage=journal_storage(journal))  # what a first run leaves
    with open(journal, "a") as file:
        file.write("garbage\n")
    result = search(tiny_data_dir, sweep)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"error: {journal}: line 2 is not a journal record (b'garbage'): the study is damaged; restore the file from a "
        "copy, or start the search in a new sweep folder (a new hydra.sweep.dir)"]
    assert not (sweep / "0").exists()


@pytest.mark.slow
def test_a_last_line_cut_short_by_a_killed_writer_does_not_stop_a_resume(tiny_data_dir, tmp_path):
    sweep = tmp_path / "sweep"
    assert search(tiny_data_dir, sweep, "hydra.sweeper.n_trials=1", *FORCED).returncode == 0
    journal = sweep / "optuna.journal"
    whole = journal.read_bytes()
    journal.write_bytes(whole + b'{"op_code": 4, "worker_id": "cut')  # a writer killed in the middle of a line
    result = search(tiny_data_dir, sweep, "hydra.sweeper.n_trials=2", *FORCED)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "dropped its last line, cut short by a writer that was killed" in result.stdout + result.stderr
    trials = study_trials(sweep)
    assert len(trials) == 2 and trials[0].state.name == "COMPLETE" and trials[1].state.name in ("COMPLETE", "PRUNED")
    assert journal.read_bytes().startswith(whole)
