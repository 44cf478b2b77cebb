"""The command line as users type it: multirun, help, config printing, errors (eval.py: test_report.py)."""

import json
import subprocess
import sys

import pytest
from omegaconf import OmegaConf

from conftest import ROOT, tiny_overrides
from test_dashboard import CORE, custom_scalars, hparams_of, tensorboard_runs


def run_cli(script: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, f"src/{script}", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, env=env)


def test_multirun_sgd_and_adam_writes_one_complete_run_folder_per_job(tiny_data_dir, tmp_path):
    sweep = tmp_path / "sweep"
    # any lightning.Trainer argument is set without `+`, such as deterministic, which docs/reliability.md suggests
    result = run_cli("train.py", "-m", "optimizer=sgd,adam", *tiny_overrides(tiny_data_dir), "trainer.deterministic=true",
                     f"hydra.sweep.dir={sweep}")
    assert result.returncode == 0, result.stderr[-3000:]
    summaries = [json.loads((sweep / job / "summary.json").read_text()) for job in ("0", "1")]
    assert [s["status"] for s in summaries] == ["completed", "completed"]
    assert all(OmegaConf.load(sweep / job / ".hydra" / "config.yaml").trainer.deterministic is True for job in "01")
    assert [s["overrides"][0] for s in summaries] == ["optimizer=sgd", "optimizer=adam"]
    assert all(len((sweep / job / "metrics.csv").read_text().splitlines()) == 2 for job in ("0", "1"))
    # TensorBoard: runs named by what varies across the sweep (not by the overrides every job shares), HPARAMS with
    # what the optimizer presets vary, and one lr tag for both optimizers
    board = tensorboard_runs(tmp_path)
    runs = ["sweep/0/optimizer=sgd", "sweep/1/optimizer=adam"]
    assert sorted(board.Runs()) == sorted(runs)
    sgd, adam = (hparams_of(board, run) for run in runs)
    assert set(sgd) == set(adam) == CORE | {"optimizer.momentum", "optimizer.betas"}
    assert (sgd["optimizer.momentum"], sgd["optimizer.betas"], adam["optimizer.momentum"]) == (0, "-", "-")
    assert (sgd["optimizer"], adam["optimizer"]) == ("sgd", "adam"), "by group option: momentum, not its class SGD"
    assert all("val/acc_best" in board.GetAccumulator(run).Tags()["scalars"] for run in runs), "HPARAMS' metric"
    assert all(len(board.Scalars(run, "lr")) == 1 for run in runs), "tag `lr` for every optimizer, once an epoch"
    assert custom_scalars(board, runs[0]) == {"loss": {"train/loss", "val/loss"}, "accuracy": {"train/acc", "val/acc"}}
    # Lightning's cloud tips, the deprecation inside its own code and (where Slurm is installed, as make slurm-up
    # leaves it) its hint to prepend srun are not printed to our users
    assert "💡 Tip" not in result.stdout + result.stderr and "LeafSpec" not in result.stderr
    assert "`srun` command is available" not in result.stderr


def test_help_and_cfg_job_show_the_config_groups():
    result = run_cli("train.py", "--help")
    assert result.returncode == 0
    assert all(f"{group}:" in result.stdout for group in ("optimizer", "scheduler", "data", "model"))
    result = run_cli("train.py", "--cfg", "job", "optimizer=adam")
    assert result.returncode == 0 and "_target_: torch.optim.Adam" in result.stdout


@pytest.mark.parametrize("args", [["--help"], ["--cfg", "job"], ["optimizer.lr=-1"], ["trainer.max_epoch=3"],
                                  ["resume=no/such/run"], ["-m", "optimizer.lr=0.1,,"]], ids=" ".join)
def test_help_and_mistakes_are_answered_without_importing_torch_or_lightning(args, tmp_path):
    """The training stack takes seconds to import; these answers need none of it (make bench times them)."""
    result = subprocess.run([sys.executable, "-X", "importtime", "src/train.py", *args, f"hydra.run.dir={tmp_path}/run"],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    imported = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time")}
    assert not imported & {"torch", "lightning", "torchvision"}, result.stderr[-2000:]
    assert not (tmp_path / "run").exists()


def test_unknown_option_is_refused_by_hydra_before_training(tmp_path):
    result = run_cli("train.py", "optimizer=adamm", f"hydra.run.dir={tmp_path}/run")
    assert result.returncode != 0
    assert "Could not find 'optimizer/adamm'" in result.stderr
    assert not (tmp_path / "run").exists()
