"""launcher=slurm on a real single-node Slurm cluster, started by scripts/slurm_cluster.sh (skipped, with the script's
reason, where it cannot start: not root, no apt-get): a CPU sweep, a refused submission, a job cancelled while it
starts, Ctrl-C and preemption, a time limit and the cap on requeues, a search with two trials at a time, a sweep
resumed, a sequential (SEEDS=auto) sweep's rounds."""

import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest

from helpers import FORCED, read_rows
from conftest import ROOT, tiny_overrides
from fashionlab import slurm
from fashionlab.runfolder import checkpoint_config, events_folder
from fashionlab.sweepfolder import Stop, read_plan
from fashionlab.sweeps import journal_storage

UP_TIMEOUT_S = 600  # a fresh machine installs slurm-wlm, slurmdbd, MariaDB and munge first


@pytest.fixture(scope="session")
def cluster():
    try:
        up = subprocess.run([str(ROOT / "scripts" / "slurm_cluster.sh"), "up"], capture_output=True, text=True,
                            timeout=UP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        pytest.skip(f"the local Slurm cluster did not come up within {UP_TIMEOUT_S} s")
    if up.returncode != 0:
        pytest.skip((up.stderr.strip().splitlines() or ["scripts/slurm_cluster.sh up failed"])[-1])


@pytest.fixture
def sweep(cluster, tmp_path, tmp_path_factory):
    """A sweep folder whose Slurm jobs are cancelled after the test, whatever happened in it. One test at a time uses
    the cluster, whichever pytest-xdist worker runs it: their timings assume the node's CPUs are theirs."""
    with open(tmp_path_factory.getbasetemp().parent / "slurm-tests.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        folder = tmp_path / "sweep"
        yield folder
        slurm.cancel(slurm.sweep_jobs(folder), grace_seconds=60)


def command(sweep: Path, *overrides: str) -> list[str]:
    return [sys.executable, "src/train.py", "-m", "launcher=slurm", *overrides, f"hydra.sweep.dir={sweep}"]


def run(sweep: Path, *overrides: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(command(sweep, *overrides), cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def start(sweep: Path, *overrides: str) -> subprocess.Popen:
    """The sweep in its own session, so that a signal to its process group reaches it alone, like Ctrl-C."""
    return subprocess.Popen(command(sweep, *overrides), cwd=ROOT, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


def summary(job: Path) -> dict:
    path = job / "summary.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def epochs(job: Path) -> list[int]:
    return [int(row["epoch"]) for row in read_rows(job)] if (job / "metrics.csv").is_file() else []


def wait_until(condition, what: str, seconds: float = 180) -> None:
    """Polls `condition`; also after a sweep returns: Slurm may still be ending a job whose result it collected."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {seconds} s waiting until {what}; squeue: {squeue()}")
        time.sleep(0.5)


def submitted(sweep: Path) -> list[str]:
    """The Slurm jobs (arrays) submitted into the sweep: submitit names a folder after each (`<array id>_<task>`)."""
    return sorted({folder.name.split("_")[0] for folder in (sweep / ".submitit").glob("[0-9]*") if folder.is_dir()})


def squeue() -> str:
    return subprocess.run(["squeue"], capture_output=True, text=True, timeout=30).stdout


def sacct_states(sweep: Path) -> list[str]:
    """The state of each job (not step) of the sweep, as sacct, which submitit polls, reports it (a job whose result
    the sweep has collected may still be RUNNING there for a moment, while Slurm ends it)."""
    out = subprocess.run(["sacct", "--noheader", "--parsable2", "--format=JobID,State", "--allocations",
                          f"--jobs={','.join(submitted(sweep))}"], capture_output=True, text=True,
                         timeout=30, check=True).stdout
    return [line.split("|")[1] for line in out.splitlines()]


def test_cpu_sweep_runs_each_job_as_a_slurm_job_with_the_threads_it_was_given(tiny_data_dir, sweep):
    result = run(sweep, "optimizer=sgd,adam", *tiny_overrides(tiny_data_dir),
                 "+omp_threads=${oc.env:OMP_NUM_THREADS,unset}", "+slurm_cpus=${oc.env:SLURM_CPUS_PER_TASK,unset}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert [summary(sweep / job)["status"] for job in "01"] == ["completed", "completed"]
    for job in "01":
        config = checkpoint_config(sweep / job / "checkpoints" / "last.ckpt")
        assert (config.slurm_cpus, config.omp_threads) == ("1", "1"), "torch's threads: the CPUs Slurm gave the job"
        assert config.trainer.plugins[0].auto_requeue is False, "submitit alone owns the requeue signal"
    wait_until(lambda: sacct_states(sweep) == ["COMPLETED", "COMPLETED"], "sacct says both COMPLETED", seconds=60)
    assert "Bypassing sacct error" not in result.stderr + result.stdout
    wait_until(lambda: slurm.sweep_jobs(sweep) == [], "squeue lists none of its jobs", seconds=60)


def test_a_submission_slurm_refuses_ends_in_one_line_quoting_sbatch(tiny_data_dir, sweep):
    result = run(sweep, "hydra.launcher.partition=nosuchpartition", *tiny_overrides(tiny_data_dir))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "error: Slurm refused the sweep's jobs: invalid partition specified: nosuchpartition; Batch job submission "
        "failed: Invalid partition name specified (hydra.launcher: partition=nosuchpartition cpus_per_task=1 "
        "mem_gb=4 timeout_min=60)"]
    assert submitted(sweep) == [] and not (sweep / "0").exists()


def submitit_log(sweep: Path) -> str:
    return "".join(path.read_text() for path in (sweep / ".submitit").rglob("*_log.err"))


def read_when_written(fifo: Path) -> None:
    """Waits until a job opens the FIFO to write it, then reads what it writes, so that the job goes on."""
    subprocess.run(["cat", str(fifo)], capture_output=True, timeout=180, check=True)


def test_a_job_cancelled_while_the_launcher_sets_it_up_records_interrupted(tiny_data_dir, sweep):
    """scancel between submitit installing its handlers and the run listening to SIGTERM (the job composing its
    config, Hydra making its folder): submitit only logs a SIGTERM there, so the job used to train on until Slurm
    killed it (KillWait, 30 s), its run left `running`. Two of the files Hydra writes into the job folder are FIFOs
    here: the job waits at the second until the test reads it, so the signal comes in that window every time."""
    hydra_dir = sweep / "0" / ".hydra"
    hydra_dir.mkdir(parents=True)
    for name in ("config.yaml", "hydra.yaml"):
        os.mkfifo(hydra_dir / name)
    process = start(sweep, *tiny_overrides(tiny_data_dir), "trainer.max_epochs=300")
    read_when_written(hydra_dir / "config.yaml")  # the job is in Hydra's hands, and waits to write hydra.yaml
    subprocess.run(["scancel", *submitted(sweep)], check=True, timeout=30)
    wait_until(lambda: "CANCELLED AT" in submitit_log(sweep), "slurmstepd signalled the job", seconds=60)
    read_when_written(hydra_dir / "hydra.yaml")
    wait_until(lambda: summary(sweep / "0").get("status") == "interrupted", "the job recorded interrupted",
               seconds=25)  # before Slurm's KillWait: a job that ignored the signal is then still `running`
    assert "Bypassing signal SIGTERM" not in submitit_log(sweep), "the signal was acted on, not ignored"
    process.kill()  # the submitting command would wait 15 s more for a result (submitit), then end in one line
    process.wait()


@pytest.mark.slow  # about 2 minutes: a requeue, Ctrl-C, then the rest of the sweep
def test_preempted_job_continues_ctrl_c_cancels_the_sweep_and_resume_submits_only_unfinished_jobs(tiny_data_dir,
                                                                                                   sweep):
    long = 250  # job 1: about 30 s of training, job 0 finishes at once
    process = start(sweep, *tiny_overrides(tiny_data_dir), f"trainer.max_epochs=2,{long}")
    job0, job1 = sweep / "0", sweep / "1"
    wait_until(lambda: summary(job0).get("status") == "completed" and len(epochs(job1)) >= 20, "job 1 trained a while")
    (array_job,) = submitted(sweep)

    # preemption: Slurm requeues the running job, which continues from its last.ckpt in its own folder
    subprocess.run(["scontrol", "requeue", f"{array_job}_1"], check=True, timeout=30)
    wait_until(lambda: summary(job1).get("status") == "interrupted", "the requeued job recorded interrupted")
    before = len(epochs(job1))
    wait_until(lambda: summary(job1).get("status") == "running" and len(epochs(job1)) > before + 5,
               "the requeued job trained again")
    assert epochs(job1) == list(range(1, len(epochs(job1)) + 1)), "continued, not started over"

    os.killpg(process.pid, signal.SIGINT)  # Ctrl-C in the terminal that submitted the sweep
    assert process.wait(timeout=120) == 130
    assert "stopping 1 Slurm jobs of the sweep" in process.stderr.read()
    assert slurm.queued([array_job]) == [], f"nothing left in the queue: {squeue()}"
    assert summary(job1)["status"] == "interrupted" and (job1 / "checkpoints" / "last.ckpt").is_file()
    stopped_at = len(epochs(job1))

    result = subprocess.run([sys.executable, "src/train.py", "-m", f"resume={sweep}"], cwd=ROOT, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Keeping 1 finished jobs (0), submitting the others" in result.stdout + result.stderr
    assert len(submitted(sweep)) == 2, "one new Slurm job: job 1 alone"
    assert [summary(sweep / job)["status"] for job in "01"] == ["completed", "completed"]
    assert epochs(job1) == list(range(1, long + 1)) and stopped_at < long
    assert len(list(events_folder(job0).glob("events.out.tfevents.*"))) == 1, "job 0 was not run again"
    assert len(list(events_folder(job1).glob("events.out.tfevents.*"))) == 3, "one TensorBoard run, 3 sessions"


@pytest.mark.slow  # about 3 minutes: Slurm's time limit has a resolution of a minute
def test_a_job_at_its_time_limit_is_requeued_and_completes_from_last_ckpt(tiny_data_dir, sweep):
    # 2 minutes allowed, USR2 30 s before the end; 700 epochs of batch 4 outlast one allocation on any CPU seen here
    # (2.2 min on an AVX-512 EPYC, 2026-12-06, where 400 finished before the signal; about 3.5 on slower ones) and end
    # within the default 3 requeues
    result = run(sweep, "hydra.launcher.timeout_min=2", "hydra.launcher.signal_delay_s=30",
                 *tiny_overrides(tiny_data_dir), "data.batch_size=4", "trainer.max_epochs=700", timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    job = sweep / "0"
    assert summary(job)["status"] == "completed"
    assert epochs(job) == list(range(1, 701)), "one continuous metrics.csv"
    log = submitit_log(sweep)
    assert "Caught signal SIGUSR2" in log and "Restored all states from the checkpoint" in log
    assert "SLURM auto-requeueing enabled" not in log, "Lightning's requeue stays off"
    assert len(list(events_folder(job).glob("events.out.tfevents.*"))) >= 2, "the same TensorBoard run continued"
    wait_until(lambda: slurm.sweep_jobs(sweep) == [], "squeue lists none of its jobs", seconds=60)


@pytest.mark.slow  # about 2 minutes: Slurm's time limit has a resolution of a minute
def test_a_job_out_of_requeues_stops_interrupted_and_the_command_says_so_in_one_line(tiny_data_dir, sweep):
    result = run(sweep, "hydra.launcher.timeout_min=2", "hydra.launcher.signal_delay_s=30",
                 "hydra.launcher.max_num_timeout=0", *tiny_overrides(tiny_data_dir), "data.batch_size=4",
                 "trainer.max_epochs=1000", timeout=600)
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: a Slurm job of the sweep ended without a result: ")
    assert "timed-out too many times. Out of requeues (hydra.launcher.max_num_timeout)" in line
    assert line.endswith(f"-m resume={sweep} continues the sweep")
    job = sweep / "0"
    assert summary(job)["status"] == "interrupted" and (job / "checkpoints" / "last.ckpt").is_file()
    wait_until(lambda: slurm.sweep_jobs(sweep) == [], "squeue lists none of its jobs", seconds=60)


@pytest.mark.slow  # about a minute: four trials, two at a time
def test_search_runs_two_trials_at_a_time_as_slurm_jobs_and_prunes_one(tiny_data_dir, sweep):
    result = run(sweep, "hparams_search=mlp", "hydra.sweeper.n_jobs=2", "hydra.sweeper.n_trials=4", *FORCED,
                 *tiny_overrides(tiny_data_dir), "trainer.max_epochs=2")
    assert result.returncode == 0, result.stderr[-3000:]
    trials = optuna.load_study(study_name="search", storage=journal_storage(sweep / "optuna.journal")).trials
    assert [t.state.name for t in trials] == ["COMPLETE"] * 3 + ["PRUNED"]
    assert summary(sweep / "3")["status"] == "pruned"
    arrays = submitted(sweep)
    assert len(arrays) == 2, "two batches, each one array of two Slurm jobs"
    wait_until(lambda: sacct_states(sweep) == ["COMPLETED"] * 4, "sacct says all four COMPLETED", seconds=60)


@pytest.mark.slow  # a minute or two: two rounds, each a Slurm job array
def test_a_sequential_sweep_runs_its_rounds_as_slurm_jobs_and_reports_its_trail(tiny_data_dir, sweep):
    """SEEDS=auto:5 under launcher=slurm, through the sweep command: two configurations that train alike (a margin of
    1e-6 cannot be shown in 5 seeds), so both rounds run, each as one submission, and the report gives the trail."""
    result = subprocess.run([sys.executable, "src/sweep.py", "--seeds", "auto:5", "launcher=slurm",
                             "trainer.enable_model_summary=true,false", "report.margin=0.000001",
                             *tiny_overrides(tiny_data_dir), "--dir", str(sweep)],
                            cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    plan = read_plan(sweep)
    assert plan.sequential.stopped == Stop.MAX_SEEDS and sorted(plan.jobs) == list(range(10))
    assert [set(look.seeds.values()) for look in plan.sequential.trail] == [{3}, {5}]
    assert [summary(sweep / str(job))["status"] for job in range(10)] == ["completed"] * 10
    assert f"Report: {sweep}/report.md" in result.stdout and "## Decision trail" in (sweep / "report.md").read_text()
    wait_until(lambda: slurm.sweep_jobs(sweep) == [], "squeue lists none of its jobs", seconds=60)



@pytest.mark.slow  # about a minute: two stacks, as one Slurm array of two jobs
def test_each_stack_is_one_slurm_job_and_each_member_its_own_run(tiny_data_dir, sweep):
    result = run(sweep, "seed=0,1,2", "optimizer=sgd,adam", "stack=true", *tiny_overrides(tiny_data_dir))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Stacking jobs 0 2 4 (seed 0 1 2): one process" in result.stdout
    tasks = [folder.name for folder in (sweep / ".submitit").glob("*_*") if folder.is_dir()]
    assert len(submitted(sweep)) == 1 and len(tasks) == 2, "one array, one task per stack"
    for job in range(6):
        assert summary(sweep / str(job))["status"] == "completed"
        assert summary(sweep / str(job))["stacked_members"] == 3
