"""Sweeps through the launcher group: launcher=slurm (submitit). launcher=parallel, which runs jobs in worker processes
with a share of the cores each, is tested with stopping and resuming, in test_sweep_recovery.py."""

import json
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

from conftest import ROOT, tiny_overrides
from test_cli import run_cli


def assert_completed(sweep: Path, jobs: int) -> None:
    summaries = [json.loads((sweep / str(job) / "summary.json").read_text()) for job in range(jobs)]
    assert [s["status"] for s in summaries] == ["completed"] * jobs


def test_slurm_launcher_sets_the_cluster_keys():
    GlobalHydra.instance().clear()
    with initialize_config_dir(version_base="1.3", config_dir=str(ROOT / "conf")):
        cfg = compose("train", overrides=["launcher=slurm", "hydra.launcher.partition=gpu"], return_hydra_config=True)
    GlobalHydra.instance().clear()
    launcher = cfg.hydra.launcher
    assert launcher._target_.endswith("SlurmLauncher")
    assert (launcher.partition, launcher.gpus_per_node, launcher.timeout_min) == ("gpu", 1, 60)


@pytest.mark.slow  # submitit's jobs are processes of their own: about 13 s on 2 cores
def test_slurm_launcher_config_submits_runs_and_collects_jobs_through_submitit_local(tiny_data_dir, tmp_path):
    sweep = tmp_path / "sweep"
    result = run_cli("train.py", "-m", "launcher=slurm", "hydra/launcher=submitit_local", "hydra.launcher.gpus_per_node=0",
                     "optimizer=sgd,adam", *tiny_overrides(tiny_data_dir), f"hydra.sweep.dir={sweep}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert_completed(sweep, 2)
    assert len(list((sweep / ".submitit").glob("*/*_result.pkl"))) == 2
