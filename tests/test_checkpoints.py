"""Checkpoints are opened safely: tensors and plain containers only, and one line for every file that is not one."""

import json
import os
import shutil
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import OmegaConf

from helpers import run_cli
from conftest import ROOT
from fashionlab import api
from fashionlab.config import ConfigError
from fashionlab.evaluation import evaluate_checkpoint
from fashionlab.preflight import CheckCheckpoint
from fashionlab.resume import resume_command
from fashionlab.runfolder import CheckpointError, checkpoint_config
from report import main as report_main
from fashionlab.training import train


class RunsAShell:
    """Pickled as a call of os.system, whose module the weights-only unpickler blocks outright."""

    def __reduce__(self):
        return os.system, ("true",)


class CreatesAFile:
    """Unpickling this calls open(path, "w"): a stand-in for any code a crafted checkpoint could run."""

    def __init__(self, path: Path):
        self.path = str(path)

    def __reduce__(self):
        return open, (self.path, "w")


@pytest.fixture
def trained(compose_train, tmp_path) -> Path:
    """A one-epoch run laid out as job 0 of a sweep, as src/report.py reads it."""
    cfg = compose_train()
    job = Path(cfg.paths.output_dir)
    train(cfg)
    (job / ".hydra").mkdir()
    OmegaConf.save(cfg, job / ".hydra" / "config.yaml")
    OmegaConf.save(OmegaConf.create([]), job / ".hydra" / "overrides.yaml")
    (tmp_path / "multirun.yaml").write_text("{}\n")
    return job


def crafted_checkpoint(real: Path, path: Path, marker: Path) -> Path:
    checkpoint = torch.load(real, weights_only=True)
    checkpoint["hyper_parameters"]["note"] = CreatesAFile(marker)
    torch.save(checkpoint, path)
    return path


def last_line(text: str) -> str:
    return text.strip().splitlines()[-1]


def test_a_crafted_checkpoint_is_refused_by_every_entry_point_and_runs_nothing(trained, tmp_path):
    marker = tmp_path / "created_by_unpickling"
    evil = crafted_checkpoint(trained / "checkpoints" / "best.ckpt", tmp_path / "evil.ckpt", marker)
    refusal = "refused, opening it could run code: it holds io.open, not only tensors and plain containers"

    result = run_cli("eval.py", f"ckpt_path={evil}", f"hydra.run.dir={tmp_path}/eval")
    assert result.returncode == 1 and last_line(result.stderr) == f"error: {evil}: {refusal}"
    assert not (tmp_path / "eval").exists()

    run = tmp_path / "copy"
    shutil.copytree(trained, run)
    shutil.copy(evil, run / "checkpoints" / "last.ckpt")
    result = run_cli("train.py", f"resume={run}")
    assert result.returncode == 1 and last_line(result.stderr) == f"error: {run}/checkpoints/last.ckpt: {refusal}"
    assert json.loads((run / "summary.json").read_text())["status"] == "completed", "the run folder is untouched"

    shutil.copy(evil, trained / "checkpoints" / "best.ckpt")  # the sweep's only run, selected by the report
    with pytest.raises(SystemExit) as refused:
        report_main([str(trained.parent)])
    assert refused.value.code == f"error: {trained}/checkpoints/best.ckpt: {refusal}"
    assert not marker.exists(), "nothing in the checkpoint was run"


def test_files_that_are_not_checkpoints_of_this_lab_get_one_line(trained, tmp_path):
    real = trained / "checkpoints" / "best.ckpt"
    (tmp_path / "truncated.ckpt").write_bytes(real.read_bytes()[:4096])
    shutil.copy(trained / "metrics.csv", tmp_path / "metrics.ckpt")
    (tmp_path / "notes.ckpt").write_text("# not a checkpoint: a byte the unpickler has no use for, not code\n")
    torch.save({"note": RunsAShell()}, tmp_path / "shell.ckpt")
    torch.save({"state_dict": {"weight": torch.zeros(3)}}, tmp_path / "foreign.ckpt")
    checkpoint = torch.load(real, weights_only=True)
    for key in ("optimizer", "scheduler"):
        del checkpoint["hyper_parameters"]["config"][key]
    torch.save(checkpoint, tmp_path / "old_config.ckpt")
    expected = {
        "missing": "no such file; pass a checkpoint of src/train.py",
        "truncated": "not a readable PyTorch checkpoint, truncated or another format",
        "metrics": "not a readable PyTorch checkpoint, truncated or another format",
        "notes": "not a readable PyTorch checkpoint, truncated or another format (UnpicklingError)",
        "shell": f"refused, opening it could run code: it holds {os.system.__module__}.system, not only tensors",
        "foreign": "a PyTorch file but not a checkpoint of src/train.py (it stores no config)",
        "old_config": "made by another version of the config, it lacks optimizer._target_, scheduler",
    }
    for name, message in expected.items():
        path = tmp_path / f"{name}.ckpt"
        with pytest.raises(CheckpointError) as error:
            checkpoint_config(path)
        assert str(error.value).startswith(f"{path}: {message}"), name


def in_old_shape(config: dict) -> dict:
    """A run config as the lab stored it before 2026-12-07: Lightning's scheduler dict, the module's options only,
    the logger and the lr callback in fashionlab.monitor."""
    built = ("_target_", "net", "optimizer", "scheduler", "seed", "scheduler_interval")
    callbacks = {**config["callbacks"], "learning_rate": {"_target_": "fashionlab.monitor.LearningRateLogger"}}
    return {**config, "module": {key: value for key, value in config["module"].items() if key not in built},
            "scheduler": {"scheduler": config["scheduler"], "interval": config["module"]["scheduler_interval"]},
            "logger": {**config["logger"], "_target_": "fashionlab.monitor.TensorBoardLogger"}, "callbacks": callbacks}


def test_checkpoints_and_sweeps_of_the_config_before_the_module_node_still_open_or_get_one_line(compose_train,
                                                                                                 tmp_path):
    """A checkpoint and a run folder of the earlier config shape read as today's (eval, resume and the report build
    the same run from them); a sweep launched with a renamed key is refused in one line when resumed."""
    cfg = compose_train("scheduler=warmup_cosine", "scheduler.warmup_fraction=0.2")
    train(cfg)
    new = Path(cfg.paths.output_dir) / "checkpoints" / "best.ckpt"
    checkpoint = torch.load(new, weights_only=True)
    checkpoint["hyper_parameters"]["config"] = in_old_shape(checkpoint["hyper_parameters"]["config"])
    torch.save(checkpoint, tmp_path / "old.ckpt")
    assert "interval" in torch.load(tmp_path / "old.ckpt", weights_only=True)["hyper_parameters"]["config"]["scheduler"]
    read = [OmegaConf.to_container(checkpoint_config(path), resolve=True) for path in (tmp_path / "old.ckpt", new)]
    assert read[0] == read[1]
    assert read[0]["module"]["scheduler_interval"] == "step" and read[0]["scheduler"]["warmup_fraction"] == 0.2
    assert evaluate_checkpoint(tmp_path / "old.ckpt") == evaluate_checkpoint(new)

    sweep = tmp_path / "sweep"
    sweep.mkdir()
    OmegaConf.save({"hydra": {"overrides": {"task": ["scheduler=step", "scheduler.scheduler.step_size=2"],
                                            "hydra": []}}}, sweep / "multirun.yaml")
    with pytest.raises(ConfigError) as refused:
        resume_command(["src/train.py", "-m", f"resume={sweep}"])
    assert str(refused.value) == (f"resume={sweep}: the sweep was launched with scheduler.scheduler.step_size=2, a key "
                                  "renamed since (scheduler.step_size); it cannot be continued: launch it again with "
                                  "the new name")


def test_eval_without_a_checkpoint_says_what_to_pass():
    GlobalHydra.instance().clear()
    with initialize_config_dir(version_base="1.3", config_dir=str(ROOT / "conf")):
        cfg = compose("eval", return_hydra_config=True)
    GlobalHydra.instance().clear()
    with pytest.raises(SystemExit) as refused:
        CheckCheckpoint().on_run_start(cfg)  # as Hydra calls it, before the output folder is made
    assert refused.value.code == "error: ckpt_path is missing: pass ckpt_path=<run folder>/checkpoints/best.ckpt"


def test_resuming_a_finished_run_is_one_line_and_leaves_its_folder_as_it_was(trained):
    before = {path: path.read_bytes() for path in trained.rglob("*") if path.is_file()}
    with pytest.raises(ConfigError) as refused:
        api.train(f"resume={trained}")
    assert str(refused.value) == (f"resume={trained}: not allowed, the run has finished (completed after 1 epochs); "
                                  "resume= continues an interrupted run: for more epochs, train a new run with a "
                                  "higher trainer.max_epochs")
    assert {path: path.read_bytes() for path in trained.rglob("*") if path.is_file()} == before
