"""The command line as users type it: help, config printing, errors (a sweep of SGD and Adam: test_notebook.py, whose
notebook runs it in its kernel; eval.py: test_report.py)."""

import subprocess
import sys

import pytest

from helpers import run_cli
from conftest import ROOT


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
