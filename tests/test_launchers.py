"""Sweeps through the launcher group: launcher=slurm (submitit). launcher=parallel, which runs jobs in worker processes
with a share of the cores each, is tested with stopping and resuming, in test_sweep_recovery.py."""

import json
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

from conftest import ROOT, tiny_overrides
from fashionlab.dashboard import events_folder
from test_cli import run_cli


def job_pid(job: Path) -> int:
    """The process that ran the job, as TensorBoard writes it into the event file's name (...<host>.<pid>.<n>)."""
    (events,) = events_folder(job).glob("events.out.tfevents.*")
    return int(events.name.split(".")[-2])


def assert_completed(sweep: Path, jobs: int) -> None:
    summaries = [json.loads((sweep / str(job) / "summary.json").read_text()) for job in range(jobs)]
    assert [s["status"] for s in summaries] == ["completed"] * jobs


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
