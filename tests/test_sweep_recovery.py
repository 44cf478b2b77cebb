"""A sweep that is stopped or lost: Ctrl-C and SIGTERM stop every worker cleanly, and `-m resume=<sweep folder>`
continues it, keeping completed jobs, continuing interrupted ones and running the rest."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import lightning as L
import pytest
from joblib import cpu_count
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from helpers import read_rows, run_cli, runs_csv
from conftest import ROOT, as_from_a_terminal, tiny_overrides
from fashionlab import api
from fashionlab.reporting.report import write_report
from fashionlab.runfolder import checkpoint_config, events_folder
from fashionlab.shutdown import StoppedWhileSettingUp, hold_sigterm, stop_on_sigterm_while_setting_up
from fashionlab.training import train
from fashionlab.sweepfolder import Sequential, Stop, read_plan
from hydra_plugins.fashionlab_search.confirm_sweeper import Clock
from report import main as report_main

JOBS, LRS = "012", ("0.01", "0.02", "0.03")


def launch(sweep: Path, *overrides: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    """A 3-job sweep in its own session, so that a signal to its process group reaches it alone, like Ctrl-C."""
    return subprocess.Popen([sys.executable, "src/train.py", "-m", f"optimizer.lr={','.join(LRS)}", *overrides,
                             f"hydra.sweep.dir={sweep}"], cwd=ROOT, start_new_session=True, env=env,
                            preexec_fn=as_from_a_terminal, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def summary(job: Path) -> dict:
    path = job / "summary.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def rows(job: Path) -> int:
    return len(read_rows(job)) if (job / "metrics.csv").is_file() else 0


def wait_until(condition, process: subprocess.Popen, what: str, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and process.poll() is None:
        if condition():
            return
        time.sleep(0.05)
    pytest.fail(f"the sweep ended or timed out before {what}: {process.stderr.read()[-2000:]}")


def live_processes(session: int) -> list[str]:
    """Processes of the session that still run (zombies, already ended, are not counted)."""
    ps = subprocess.run(["ps", "-o", "stat=,pid=,args=", "-s", str(session)], capture_output=True, text=True).stdout
    return [line for line in ps.splitlines() if not line.lstrip().startswith("Z")]


def test_killed_sweep_resumes_to_the_metrics_of_an_uninterrupted_one(tiny_data_dir, tmp_path, compose_train):
    epochs = 4
    args = [*tiny_overrides(tiny_data_dir), f"trainer.max_epochs={epochs}"]
    sweep = tmp_path / "sweep"
    process = launch(sweep, *args)
    wait_until(lambda: rows(sweep / "1") >= 2 and (sweep / "1" / "checkpoints" / "last.ckpt").is_file(), process,
               "job 1 finished 2 epochs")
    process.kill()  # SIGKILL: no handler runs, job 1 is left 'running' and job 2 never starts
    process.wait()
    assert [summary(sweep / job).get("status") for job in JOBS] == ["completed", "running", None]
    reference = {}  # each job's config, run here to the end without a stop
    for job, lr in zip(JOBS, LRS):
        config = compose_train(f"optimizer.lr={lr}", f"trainer.max_epochs={epochs}")
        config.paths.output_dir = str(tmp_path / "reference" / job)
        train(config)
        reference[job] = read_rows(tmp_path / "reference" / job)

    result = run_cli("train.py", f"resume={sweep / '1'}")  # one run continued on its own, with its stored config
    assert result.returncode == 0, result.stderr[-3000:]
    assert read_rows(sweep / "1") == reference["1"], "one continuous metrics.csv, as if never stopped"
    events = EventAccumulator(str(events_folder(sweep / "1"))).Reload()
    assert len({event.step for event in events.Scalars("val/acc")}) == epochs, "the same TensorBoard run, every epoch"
    assert len(events.Images("data/class_samples")) == 1, "the class samples once, not again when resumed"

    result = run_cli("train.py", "-m", f"resume={sweep}")  # the rest of the sweep: job 2 never started
    assert result.returncode == 0, result.stderr[-3000:]
    shared = summary(sweep / "0")["overrides"][1:]  # as job 0, which never stopped, recorded them
    for job, lr in zip(JOBS, LRS):
        assert read_rows(sweep / job) == reference[job], f"job {job}"
        assert summary(sweep / job)["status"] == "completed"
        assert summary(sweep / job)["overrides"] == [f"optimizer.lr={lr}", *shared], "its own, not resume="
    event_files = [len(list((sweep / job).rglob("events.out.tfevents.*"))) for job in JOBS]
    assert event_files == [1, 2, 1], "job 0 kept as it was, job 1 continued in its own TensorBoard run, job 2 ran"


PARALLEL = ("launcher=parallel", "hydra.launcher.n_jobs=2", "+omp_threads=${oc.env:OMP_NUM_THREADS,unset}")
SUBMITIT = ("hydra/launcher=submitit_local",)  # submitit's job processes; a real Slurm cluster: test_slurm.py


@pytest.mark.parametrize("launcher, sent, to_group, exit_code", [
    # a SIGTERM to a parallel sweep's parent, and its resume, are also in the default run's setting-up test below
    pytest.param(PARALLEL, signal.SIGTERM, False, 143, id="parallel-sigterm-to-parent", marks=pytest.mark.slow),
    pytest.param(PARALLEL, signal.SIGINT, True, 130, id="parallel-ctrl-c"),
    # three job processes at once, twice: about 40 s on 2 cores, so kept out of the default run
    pytest.param(SUBMITIT, signal.SIGTERM, False, 143, id="submitit_local-sigterm-to-parent",
                 marks=pytest.mark.slow),
])
def test_sweep_in_worker_processes_stops_every_worker_cleanly_and_resumes(tiny_data_dir, tmp_path, monkeypatch,
                                                                           launcher, sent, to_group, exit_code):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    sweep = tmp_path / "sweep"
    epochs = 40
    process = launch(sweep, *launcher, *tiny_overrides(tiny_data_dir), f"trainer.max_epochs={epochs}")
    started = lambda: [job for job in JOBS if summary(sweep / job).get("status") == "running" and rows(sweep / job)]
    wait_until(lambda: len(started()) == 2, process, "two jobs were training at once")
    (os.killpg if to_group else os.kill)(process.pid, sent)
    assert process.wait(timeout=30) == exit_code
    statuses = {job: summary(sweep / job).get("status") for job in JOBS}
    assert "running" not in statuses.values() and list(statuses.values()).count("interrupted") >= 1, statuses
    for job in [job for job, status in statuses.items() if status == "interrupted"]:
        if summary(sweep / job)["epochs_run"]:  # a job stopped in its first epoch has no epoch to checkpoint
            assert checkpoint_config(sweep / job / "checkpoints" / "last.ckpt").trainer.max_epochs == epochs
    deadline = time.monotonic() + 10  # loky's resource tracker ends by itself once the parent has gone
    while live_processes(process.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert live_processes(process.pid) == [], "no worker is left behind"
    # TensorBoard names each event file after the process that wrote it (...<host>.<pid>.<n>)
    writers = {int(events.name.split(".")[-2]) for events in sweep.rglob("events.out.tfevents.*")}
    assert writers and process.pid not in writers, "the jobs ran in worker processes, not in the sweep's parent"
    if sent == signal.SIGINT:
        return  # resuming is the same after either signal; the SIGTERM case checks it

    result = run_cli("train.py", "-m", f"resume={sweep}")
    assert result.returncode == 0, result.stderr[-3000:]
    for job in JOBS:
        assert summary(sweep / job)["status"] == "completed"
        assert [int(row["epoch"]) for row in read_rows(sweep / job)] == list(range(1, epochs + 1)), f"job {job}"
    if launcher == PARALLEL:  # each of the n_jobs workers gets its share of the cores (loky sets the thread limit)
        threads = {checkpoint_config(sweep / job / "checkpoints" / "last.ckpt").omp_threads for job in JOBS}
        assert threads == {str(max(cpu_count() // 2, 1))}


class SetupPause(L.Callback):
    """Built with a run's callbacks, after its data is loaded and before its fit: touches `marker`, then waits
    `seconds`, a job that is still setting up for as long as a test needs."""

    def __init__(self, marker: str, seconds: str):
        Path(marker).touch()
        time.sleep(float(seconds))


def test_parallel_jobs_stopped_while_setting_up_record_interrupted_and_a_resume_runs_them(tiny_data_dir, tmp_path,
                                                                                          monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    sweep = tmp_path / "sweep"
    pause = ("+callbacks.pause._target_=test_sweep_recovery.SetupPause",
             "+callbacks.pause.marker=${paths.output_dir}/setting_up", "+callbacks.pause.seconds=${oc.env:PAUSE,0}")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "tests")}  # the workers build SetupPause from this module
    process = launch(sweep, *PARALLEL, *pause, *tiny_overrides(tiny_data_dir), "trainer.max_epochs=2",
                     env={**env, "PAUSE": "120"})
    wait_until(lambda: all((sweep / job / "setting_up").exists() for job in "01"), process, "two jobs set up")
    os.kill(process.pid, signal.SIGTERM)
    assert process.wait(timeout=30) == 143
    assert [summary(sweep / job).get("status") for job in JOBS] == ["interrupted", "interrupted", None]
    write_report(sweep)  # nothing to select: the report lists each job as it stopped, and so does runs.csv
    assert {job: (row["status"], row["best_val_acc"]) for job, row in runs_csv(sweep).items()} == {
        "0": ("interrupted", None), "1": ("interrupted", None)}

    result = subprocess.run([sys.executable, "src/train.py", "-m", f"resume={sweep}"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=300)  # without PAUSE: no pause this time
    assert result.returncode == 0, result.stderr[-3000:]
    assert [summary(sweep / job)["status"] for job in JOBS] == ["completed"] * 3
    assert all(rows(sweep / job) == 2 for job in JOBS)
    threads = {checkpoint_config(sweep / job / "checkpoints" / "last.ckpt").omp_threads for job in JOBS}
    assert threads == {str(max(cpu_count() // 2, 1))}, "each of the n_jobs workers gets its share of the cores"


def sweep_command(*args: str) -> subprocess.Popen:
    """src/sweep.py in its own session, as a user's terminal runs it."""
    return subprocess.Popen([sys.executable, "src/sweep.py", *args], cwd=ROOT, start_new_session=True,
                            preexec_fn=as_from_a_terminal, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.fixture(scope="module")
def sequential_sweep(tiny_data_dir, tmp_path_factory) -> dict:
    """SEEDS=auto:5 BUDGET on two configurations that train identically (the model summary changes nothing), so that a
    margin of 1e-6 cannot be shown in 5 seeds: round 1 runs 3 seeds each (jobs 0-5; job 4 fails, its folder taken by
    another sweep's run) and stops at its tiny budget;
    `--resume --budget 5` gives it 5 more minutes, and round 2 (jobs 6-9) is stopped by SIGTERM while job 7 trains; a
    lost job of round 1 removed, a plain `--resume` finishes it. What each step left, for the tests below."""
    sweep, seen = tmp_path_factory.mktemp("sequential") / "sweep", {}
    (sweep / "4").mkdir(parents=True)  # job 4's folder taken by another sweep's run: the job fails (a lab error)
    (sweep / "4" / "summary.json").write_text(json.dumps({"status": "failed", "overrides": ["seed=99"]}))
    first = sweep_command("--seeds", "auto:5", "--budget", "0.01", "trainer.enable_model_summary=true,false",
                          "report.margin=0.000001", *tiny_overrides(tiny_data_dir), "trainer.max_epochs=4",
                          "--dir", str(sweep))
    seen["budget_stop"] = (first.communicate(timeout=300), first.returncode, read_plan(sweep),
                           (sweep / "report.md").read_text())
    extended = sweep_command("--resume", str(sweep), "--budget", "5")
    wait_until(lambda: rows(sweep / "7") >= 1, extended, "job 7, in round 2, trained an epoch", seconds=300)
    extended.send_signal(signal.SIGTERM)  # the command passes it on to its sweep, then writes the report
    output = extended.communicate(timeout=120)
    seen["interrupted"] = (extended.returncode, output, read_plan(sweep), (sweep / "report.md").read_text(),
                           runs_csv(sweep), [summary(sweep / job).get("status") for job in ("6", "7", "8")])
    shutil.rmtree(sweep / "4")  # a job of round 1 lost: the replay launches it again before it decides
    last = sweep_command("--resume", str(sweep))
    seen["finished"] = (last.communicate(timeout=300), last.returncode, read_plan(sweep))
    modified = {job: (sweep / str(job) / "summary.json").stat().st_mtime for job in range(10)}
    replay = sweep_command("--resume", str(sweep), "--budget", "0.001")  # no time left for any job: none is needed
    seen["replayed"] = (replay.communicate(timeout=300), replay.returncode, read_plan(sweep), modified,
                        {job: (sweep / str(job) / "summary.json").stat().st_mtime for job in range(10)})
    seen["sweep"] = sweep
    return seen


def test_a_budget_stopped_sequential_sweep_records_its_plan_and_says_how_to_give_it_more(sequential_sweep):
    (out, err), status, plan, report = sequential_sweep["budget_stop"]
    assert plan.sequential.stopped == Stop.BUDGET and len(plan.sequential.trail) == 1
    assert sorted(plan.jobs) == list(range(6)) and plan.sequential.budget_minutes == 0.01
    assert plan.sequential.minutes_spent > 0 and plan.sequential.seconds_per_job > 0
    assert "Stopped at the time budget (BUDGET)" in report and "BUDGET=<minutes>` gives it more time" in report
    assert "**Provisional" not in report


def test_a_failed_replicate_is_a_missing_value_the_sweep_goes_on_and_the_command_says_so(sequential_sweep):
    (out, err), status, plan, report = sequential_sweep["budget_stop"]
    assert status == 1 and err.strip().splitlines()[-1].startswith("error: 1 jobs failed (4): their rows in ")
    (look,) = plan.sequential.trail
    assert look.failed == {"trainer.enable_model_summary=False": [1]}
    assert look.comparisons[0].n == (3, 2), "the failed seed left out of the statistics"
    assert "| 1 | 3 each (trainer.enable_model_summary=False: seed 1 failed) |" in report
    assert "| trainer.enable_model_summary=False | 3, 4, 5 | 2 |" in report and "job 4 (seed 1): failed" in report


def test_an_extended_sweep_stopped_mid_round_is_provisional_and_lists_every_planned_job(sequential_sweep):
    status, (out, err), plan, report, table, statuses = sequential_sweep["interrupted"]
    spent_before = sequential_sweep["budget_stop"][2].sequential.minutes_spent
    assert status == 143, err[-2000:]
    assert f"Budget: {spent_before:.1f} minutes spent, 5 more" in out
    assert plan.sequential.budget_minutes == pytest.approx(spent_before + 5, abs=0.01)
    assert plan.sequential.stopped == Stop.INTERRUPTED and sorted(plan.jobs) == list(range(10))
    assert [[c.verdict for c in look.comparisons] for look in plan.sequential.trail] == [["undecided"]]
    assert statuses == ["completed", "interrupted", None]
    assert "**Provisional:** 7 of 10 planned jobs ran to their end (not started: jobs 8, 9)" in report
    assert [(job, row["status"], row["seed"]) for job, row in table.items()][6:] == [
        ("6", "completed", 3), ("7", "interrupted", 4), ("8", "not started", 3), ("9", "not started", 4)]


def test_a_resumed_sequential_sweep_replays_its_rounds_and_reports_its_trail(sequential_sweep, capsys):
    sweep = sequential_sweep["sweep"]
    (out, err), status, plan = sequential_sweep["finished"]
    assert status == 0, err[-3000:]
    assert [look.seeds for look in plan.sequential.trail] == [
        {"trainer.enable_model_summary=True": n, "trainer.enable_model_summary=False": n} for n in (3, 5)]
    assert plan.sequential.stopped == Stop.MAX_SEEDS and plan.sequential.seeds_spent == 10
    seeds = [(job, summary(sweep / str(job))["status"], summary(sweep / str(job))["overrides"][-1]) for job in range(10)]
    assert seeds == [(job, "completed", f"seed={seed}") for job, seed in enumerate((0, 1, 2, 0, 1, 2, 3, 4, 3, 4))]
    assert [int(row["epoch"]) for row in read_rows(sweep / "7")] == [1, 2, 3, 4], "continued, not restarted"

    report_main([str(sweep)])
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert printed["plan"] == {"looks": [3, 5], "look": 2, "alpha": 0.05, "stopped": "max_seeds"}
    assert [v["verdict"] for v in printed["verdicts"]] == ["undecided"] and printed["margin"] == 0.000001
    assert printed["provisional"] is False and printed["planned"] == 10 and printed["failed"] == []
    trail = (sweep / "report.md").read_text().split("## Decision trail", 1)[1].split("\n## ", 1)[0]
    assert [line.split("|")[1].strip() for line in trail.splitlines() if line.startswith("| ") and "---" not in line][1:] \
        == ["1", "2"], "one row per look"
    assert "Seeds spent: 10 in all; a fixed design at the plan's maximum would have run 2 × 5 = 10." in trail
    loaded = api.load_sweep(sweep).selection  # from Python, the same plan, look and verdicts as the report
    assert (loaded.plan.looks, loaded.look) == ((3, 5), 1)
    assert [v.comparison.verdict for v in loaded.verdicts] == ["undecided"]


def test_replaying_finished_rounds_costs_no_budget(sequential_sweep):
    """The finished sweep resumed with almost no budget left: its rounds replay from the runs, none is stopped by the
    budget (their jobs take no time), and no job runs again."""
    (out, err), status, plan, before, after = sequential_sweep["replayed"]
    assert status == 0, err[-3000:]
    assert plan.sequential.stopped == Stop.MAX_SEEDS and len(plan.sequential.trail) == 2
    assert after == before, "every job kept as it was"


def test_sequential_budget_counts_the_minutes_of_earlier_commands_and_starts_no_round_past_it():
    record = Sequential(0.002, (3, 5), 0.05, 0, budget_minutes=0.5)
    clock = Clock(record)
    assert not clock.over(upcoming_jobs=100), "no job timed yet: the first rounds always run"
    clock.ran(jobs=2, seconds=10.0)  # 5 s per job
    clock.ran(jobs=0, seconds=3.0)  # a replayed round: finished jobs, not launched again, say nothing of speed
    assert not clock.over(upcoming_jobs=5) and clock.over(upcoming_jobs=7)  # 25 s and 35 s against 30 s
    clock.save()
    assert record.seconds_per_job == 5.0 and record.minutes_spent < 0.01
    record.minutes_spent = 0.25  # a resumed sweep: the earlier commands spent 15 s; this one, at 5 s a job, has 15 left
    later = Clock(record)
    assert not later.over(upcoming_jobs=2) and later.over(upcoming_jobs=4)
    assert not Clock(Sequential(0.002, (3, 5), 0.05, 0, budget_minutes=None)).over(upcoming_jobs=10 ** 6)
    record.minutes_spent = 60.0  # far past the budget: a round with nothing left to run still goes on
    assert not Clock(record).over(upcoming_jobs=0) and Clock(record).over(upcoming_jobs=1)


def test_a_sigterm_held_while_a_slurm_job_starts_stops_its_run_as_soon_as_it_listens():
    """launcher=slurm's jobs start holding SIGTERM (a real cluster: test_slurm.py); this part needs no cluster."""
    default = signal.getsignal(signal.SIGTERM)
    try:
        hold_sigterm()
        os.kill(os.getpid(), signal.SIGTERM)  # noted, not acted on: the launcher's and Hydra's code go on
        with pytest.raises(StoppedWhileSettingUp) as stop:
            stop_on_sigterm_while_setting_up()
        assert stop.value.code == 128 + signal.SIGTERM
    finally:
        signal.signal(signal.SIGTERM, default)
