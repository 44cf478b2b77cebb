"""Sweeps through the launcher group: launcher=parallel (joblib, local processes) and launcher=slurm (submitit)."""

import json
import os
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from joblib import cpu_count

from conftest import ROOT, tiny_overrides
from fashionlab.config import checkpoint_config
from fashionlab.dashboard import events_folder
from test_cli import run_cli


def job_pid(job: Path) -> int:
    """The process that ran the job, as TensorBoard writes it into the event file's name (...<host>.<pid>.<n>)."""
    (events,) = events_folder(job).glob("events.out.tfevents.*")
    return int(events.name.split(".")[-2])


def assert_completed(sweep: Path, jobs: int) -> None:
    summaries = [json.loads((sweep / str(job) / "summary.json").read_text()) for job in range(jobs)]
    assert [s["status"] for s in summaries] == ["completed"] * jobs


def test_parallel_launcher_runs_jobs_in_worker_processes_with_a_share_of_the_cores(tiny_data_dir, tmp_path, monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    sweep = tmp_path / "sweep"
    # The resolved config, stored in each checkpoint, records the thread limit each worker saw.
    result = run_cli("train.py", "-m", "launcher=parallel", "hydra.launcher.n_jobs=2", "optimizer=sgd,adam",
                     "+omp_threads=${oc.env:OMP_NUM_THREADS,unset}", *tiny_overrides(tiny_data_dir),
                     f"hydra.sweep.dir={sweep}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert_completed(sweep, 2)
    assert os.getpid() not in {job_pid(sweep / job) for job in ("0", "1")}
    configs = [checkpoint_config(sweep / job / "checkpoints" / "last.ckpt") for job in ("0", "1")]
    assert [c.omp_threads for c in configs] == [str(max(cpu_count() // 2, 1))] * 2


def test_slurm_launcher_sets_the_cluster_keys_and_submits_through_submitit(tiny_data_dir, tmp_path):
    GlobalHydra.instance().clear()
    with initialize_config_dir(version_base="1.3", config_dir=str(ROOT / "conf")):
        cfg = compose("train", overrides=["launcher=slurm", "hydra.launcher.partition=gpu"], return_hydra_config=True)
    GlobalHydra.instance().clear()
    launcher = cfg.hydra.launcher
    assert launcher._target_.endswith("SlurmLauncher")
    assert (launcher.partition, launcher.gpus_per_node, launcher.timeout_min) == ("gpu", 1, 60)
    # The same config with submitit's local executor in place of Slurm: jobs are submitted, run and collected.
    sweep = tmp_path / "sweep"
    result = run_cli("train.py", "-m", "launcher=slurm", "hydra/launcher=submitit_local", "hydra.launcher.gpus_per_node=0",
                     "optimizer=sgd,adam", *tiny_overrides(tiny_data_dir), f"hydra.sweep.dir={sweep}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert_completed(sweep, 2)
    assert len(list((sweep / ".submitit").glob("*/*_result.pkl"))) == 2
