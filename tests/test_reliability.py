"""Bad input, divergence, failures, interruption and resume: what keeps a sweep from losing hours."""

import fnmatch
import inspect
import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import lightning as L
import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import OmegaConf
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from helpers import read_rows, run_cli
from conftest import ROOT, as_from_a_terminal, tiny_overrides
from fashionlab.config import FREE, RULES, TRAINER_ARGUMENTS, ConfigError, check, ruled_or_free
from fashionlab.reporting.report import write_report
from fashionlab.resolvers import register_resolvers
from fashionlab.runfolder import checkpoint, checkpoint_config, events_folder
from fashionlab.training import train


@pytest.mark.parametrize("override, message", [
    ("optimizer.lr=-1", "optimizer.lr=-1: not allowed, must be a number > 0"),
    ("optimizer.lr=0", "optimizer.lr=0: not allowed, must be a number > 0"),
    ("optimizer.lr=fast", "optimizer.lr=fast: not allowed, must be a number > 0"),
    ("data.batch_size=0", "data.batch_size=0: not allowed, must be an integer > 0"),
    ("data.val_size=0", "data.val_size=0: not allowed, must be an integer from 1 to 59999"),
    ("data.val_size=60000", "data.val_size=60000: not allowed, must be an integer from 1 to 59999"),
    ("model.hidden_sizes=[]", "model.hidden_sizes=[]: not allowed, must be a non-empty list of integers > 0"),
    ("model.hidden_sizes=[256,0]", "model.hidden_sizes=[256,0]: not allowed"),
    ("trainer.max_epochs=0", "trainer.max_epochs=0: not allowed, must be an integer > 0"),
    ("model.activation=swish", "model.activation=swish: not allowed, must be one of relu, gelu, silu, tanh"),
    ("model.dropout=1.0", "model.dropout=1.0: not allowed, must be a number in [0, 1)"),
    ("model.dropout=-0.1", "model.dropout=-0.1: not allowed"),
    ("model.norm=group", "model.norm=group: not allowed, must be null or one of batch, layer"),
    ("seed=-1", "seed=-1: not allowed, must be an integer from 0 to 4294967295"),
    ("seed=4294967296", "seed=4294967296: not allowed"),
    ("data.split_seed=1.5", "data.split_seed=1.5: not allowed, must be an integer from 0 to 4294967295"),
    ("data.augment_flip=2", "data.augment_flip=2: not allowed, must be true or false"),
    ("module.tta=yes", "module.tta=yes: not allowed, must be true or false"),
    ("optimizer.momentum=-1", "optimizer.momentum=-1: not allowed, must be a number from 0 to 1"),
    ("optimizer.weight_decay=-0.1", "optimizer.weight_decay=-0.1: not allowed, must be a number >= 0"),
    ("optimizer=adam optimizer.betas=[0.9,1.5]", "optimizer.betas=[0.9,1.5]: not allowed, must be two numbers in [0, 1)"),
    ("optimizer=rmsprop optimizer.alpha=2", "optimizer.alpha=2: not allowed, must be a number from 0 to 1"),
    ("scheduler=step scheduler.step_size=0", "scheduler.step_size=0: not allowed, must be an integer > 0"),
    ("scheduler=exponential scheduler.gamma=0", "scheduler.gamma=0: not allowed, must be a number in (0, 1]"),
    ("scheduler=warmup_cosine scheduler.warmup_fraction=1", "scheduler.warmup_fraction=1: not allowed"),
    ("module.scheduler_interval=batch", "module.scheduler_interval=batch: not allowed, must be epoch or step"),
    ("trainer.precision=8-true", "trainer.precision=8-true: not allowed, must be one of 32-true, 32, bf16-mixed"),
    ("trainer.accelerator=gpus", "trainer.accelerator=gpus: not allowed, must be one of auto, cpu, gpu, cuda"),
    ("trainer.devices=0", "trainer.devices=0: not allowed, must be an integer > 0 or auto"),
    ("+trainer.limit_train_batches=1.5", "trainer.limit_train_batches=1.5: not allowed"),
    ("data.eval_batch_size=-1", "data.eval_batch_size=-1: not allowed, must be an integer > 0"),
    ("+trainer.max_time=2h", "trainer.max_time=2h: not allowed, must be a duration \"DD:HH:MM:SS\""),
    ("trainer.max_epoch=3", "trainer.max_epoch=3: not allowed, lightning.Trainer takes no argument max_epoch; closest: "
                            "max_epochs"),
    ("+trainer.nonsense=1", "trainer.nonsense=1: not allowed, lightning.Trainer takes no argument nonsense; it takes "
                            "accelerator, strategy,"),
    ("module.label_smoothing=1", "module.label_smoothing=1: not allowed, must be a number in [0, 1)"),
    ("module.mixup=-0.2", "module.mixup=-0.2: not allowed, must be a number >= 0"),
    ("data.augment_shift=14", "data.augment_shift=14: not allowed, must be an integer from 0 to 13"),
    ("scheduler=onecycle scheduler.max_lr=abc", "scheduler.max_lr=abc: not allowed, must be a"),
    ("optimizer.fused=maybe", "optimizer.fused=maybe: not allowed, must be true, false or null"),
    ("data.data_dir=null", "data.data_dir=None: not allowed, must be a folder"),
    ("optimizer.lr=null", "optimizer.lr=None: not allowed, must be a number > 0"),
    ("report.x_axes=[epoch,time]", "report.x_axes=[epoch,time]: not allowed, must be a non-empty list of epoch"),
    ("report.margin=0", "report.margin=0: not allowed, must be a number in (0, 1), in accuracy"),
    ("report.margin=-0.002", "report.margin=-0.002: not allowed, must be a number in (0, 1)"),
    # an interpolated value is checked as it resolves; a bad value is named by the key it was given to
    ("scheduler=cosine trainer.max_epochs=2.5", "trainer.max_epochs=2.5: not allowed, must be an integer > 0"),
    ("seed=-1 data.shuffle_seed=${seed}", "seed=-1: not allowed"),
])
def test_bad_values_are_named_with_what_is_allowed(compose_train, override, message):
    with pytest.raises(ConfigError) as error:
        check(compose_train(*override.split()))
    assert str(error.value).startswith(message)


def test_good_values_pass(compose_train):
    check(compose_train("optimizer.lr=0.3", "model.dropout=0.5", "model.activation=gelu", "model.hidden_sizes=[8]"))
    check(compose_train("scheduler=onecycle", "optimizer.fused=null", "model.norm=null", "+trainer.max_time=null"))


def every_composed_config() -> list[dict]:
    """The config of every option of every group, every experiment and every ablation, as containers (unresolved)."""
    groups = ("optimizer", "scheduler", "launcher", "experiment", "data", "model", "trainer", "logger", "callbacks")
    runs = [[f"{group}={option.stem}"] for group in groups for option in sorted((ROOT / "conf" / group).glob("*.yaml"))]
    ablations = sorted((ROOT / "conf" / "ablation").glob("*.yaml"))
    runs += [["experiment=best_mlp", f"ablation={option.stem}"] for option in ablations]
    runs += [[f"+gd_variant={option.stem}"] for option in sorted((ROOT / "conf" / "gd_variant").glob("*.yaml"))]
    runs.append(["hydra/sweeper=confirm"])  # SEEDS=auto's sweeper, whose keys the rules check
    runs += [["hparams_search=mlp", f"hparams_search/pruner={option.stem}"]
             for option in sorted((ROOT / "conf" / "hparams_search" / "pruner").glob("*.yaml"))]
    register_resolvers()
    GlobalHydra.instance().clear()
    with initialize_config_dir(version_base="1.3", config_dir=str(ROOT / "conf")):
        configs = [OmegaConf.to_container(compose("train", overrides=run, return_hydra_config=True)) for run in runs]
    GlobalHydra.instance().clear()
    return configs


def leaves(node, prefix: str = "") -> list[str]:
    """Dotted keys of a container's leaves; lists and null are leaves."""
    if isinstance(node, dict) and node:
        return [key for name, child in node.items() for key in leaves(child, f"{prefix}{name}.")]
    return [prefix.removesuffix(".")]


def test_every_config_leaf_is_ruled_or_listed_free_and_every_rule_names_a_real_key():
    configs = every_composed_config()
    task_leaves = {key for config in configs for key in leaves({k: v for k, v in config.items() if k != "hydra"})}
    all_leaves = task_leaves | {key for config in configs for key in leaves(config["hydra"], "hydra.")}
    assert sorted(key for key in task_leaves if not ruled_or_free(key)) == [], "neither ruled nor listed in FREE"
    assert sorted(set(RULES) - all_leaves) == [], "rules whose key no config has (renamed in the YAML?)"
    assert [p for p in FREE if not fnmatch.filter(task_leaves, p)] == [], "FREE patterns that match no key"


def test_the_trainer_arguments_the_checks_know_are_those_of_the_installed_lightning_trainer():
    assert TRAINER_ARGUMENTS == tuple(inspect.signature(L.Trainer).parameters)


def test_cli_refuses_a_bad_value_in_one_line_before_any_folder_exists(tiny_data_dir, tmp_path):
    result = run_cli("train.py", "optimizer.lr=-1", f"hydra.run.dir={tmp_path}/run")
    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1] == "error: optimizer.lr=-1: not allowed, must be a number > 0"
    result = run_cli("train.py", "scheduler=onecycle", "scheduler.max_lr=abc", f"hydra.run.dir={tmp_path}/run")
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        "error: scheduler.max_lr=abc: not allowed, must be a number > 0"]
    result = run_cli("train.py", "trainer.max_epoch=3", f"hydra.run.dir={tmp_path}/run")  # any Trainer argument, no +
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        "error: trainer.max_epoch=3: not allowed, lightning.Trainer takes no argument max_epoch; closest: max_epochs, "
        "min_epochs, max_steps"]
    result = run_cli("train.py", "-m", "optimizer.lr=0.1,-2", *tiny_overrides(tiny_data_dir),
                     f"hydra.sweep.dir={tmp_path}/sweep")
    assert result.returncode != 0 and "optimizer.lr=-2: not allowed" in result.stderr
    result = run_cli("train.py", "-m", "optimizer=glob(*)", "optimizer.lr=-2", *tiny_overrides(tiny_data_dir),
                     f"hydra.sweep.dir={tmp_path}/glob_sweep")  # the jobs of a glob sweep are checked too
    assert result.returncode != 0 and "optimizer.lr=-2: not allowed" in result.stderr
    sequential = ("-m", "optimizer=sgd,adam", "hydra/sweeper=confirm", *tiny_overrides(tiny_data_dir),
                  f"hydra.sweep.dir={tmp_path}/sequential")  # SEEDS=auto's sweeper: its own settings, and seeds
    for extra, line in ((["hydra.sweeper.max_seeds=1"], "error: hydra.sweeper.max_seeds=1: not allowed, must be null "
                          "(seeds given as seed=...) or an integer >= 2, the most seeds per configuration"),
                        (["hydra.sweeper.max_seeds=4", "hydra.sweeper.budget_minutes=-1"],
                         "error: hydra.sweeper.budget_minutes=-1: not allowed, must be null or minutes > 0"),
                        (["hydra.sweeper.max_seeds=4", "seed=0,1"], "error: seed=0,1: not allowed with "
                         "hydra.sweeper.max_seeds (SEEDS=auto), which draws fresh seeds from "
                         "hydra.sweeper.first_seed=0 on; drop it")):
        result = run_cli("train.py", *sequential, *extra)
        assert result.returncode != 0 and result.stderr.strip().splitlines()[-1] == line
        assert not (tmp_path / "sequential" / "0").exists()
    assert not any((tmp_path / name).exists() for name in ("run", "sweep", "glob_sweep")), "no job may start"


def test_damaged_data_is_one_line_before_training_and_fails_only_its_job_in_a_sweep(tiny_data_dir, tmp_path):
    shutil.copytree(tiny_data_dir, tmp_path / "data")
    labels = tmp_path / "data" / "FashionMNIST" / "raw" / "train-labels-idx1-ubyte"
    labels.write_bytes(labels.read_bytes()[:-10])
    result = run_cli("train.py", *tiny_overrides(tmp_path / "data"), f"hydra.run.dir={tmp_path}/run")
    assert result.returncode != 0
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith(f"error: {labels}: ") and "truncated" in last_line
    assert not (tmp_path / "run" / "metrics.csv").exists()

    # In a sweep the jobs with the damaged data fail alone: their line, their summary.json, and the others run; a
    # diverging job is stopped and recorded, without failing the sweep
    sweep = tmp_path / "sweep"
    result = run_cli("train.py", "-m", "optimizer=sgd", "optimizer.lr=0.05,1e6", *tiny_overrides(tiny_data_dir),
                     f"data.data_dir={tmp_path / 'data'},{tiny_data_dir}", "trainer.max_epochs=3",
                     f"hydra.sweep.dir={sweep}")
    assert result.returncode == 1
    failed, sane, _, diverged = (json.loads((sweep / job / "summary.json").read_text()) for job in "0123")
    assert [s["status"] for s in (failed, sane, _, diverged)] == ["failed", "completed", "failed", "diverged"]
    assert failed["error"] == f"DataError: {last_line.removeprefix('error: ')}"
    assert result.stderr.count(last_line) == 3, "said when each of the two jobs fails, and the first again at the end"
    assert "Traceback" not in result.stderr
    assert sane["epochs_run"] == 3 and diverged["diverged_epoch"] == 1 and diverged["epochs_run"] == 1
    report = write_report(sweep)
    assert report["selected"] == "1" and "| 0 | optimizer.lr=0.05 data.data_dir=" in (sweep / "report.md").read_text()


def test_failing_jobs_are_recorded_before_and_during_the_fit_the_others_run_and_the_sweep_exits_nonzero(
        tiny_data_dir, tmp_path):
    sweep = tmp_path / "sweep"
    # Values no config rule knows: Lightning rejects the clipping algorithm when the Trainer is built, before the fit;
    # torch.optim.SGD rejects Nesterov without momentum when the optimizer is built, inside the fit.
    result = run_cli("train.py", "-m", "+trainer.gradient_clip_algorithm=bogus,norm", "+optimizer.nesterov=true,false",
                     *tiny_overrides(tiny_data_dir), f"hydra.sweep.dir={sweep}")
    assert result.returncode != 0
    summaries = [json.loads((sweep / job / "summary.json").read_text()) for job in "0123"]
    assert [s["status"] for s in summaries] == ["failed", "failed", "failed", "completed"]
    assert "`gradient_clip_algorithm` bogus is invalid" in summaries[0]["error"]
    assert summaries[0]["overrides"][:2] == ["+trainer.gradient_clip_algorithm=bogus", "+optimizer.nesterov=True"]
    assert "Nesterov momentum requires a momentum" in summaries[2]["error"]


def start_run(tiny_data_dir: Path, run: Path, epochs: int) -> subprocess.Popen:
    args = [*tiny_overrides(tiny_data_dir), f"trainer.max_epochs={epochs}", f"hydra.run.dir={run}"]
    return subprocess.Popen([sys.executable, "src/train.py", *args], cwd=ROOT, preexec_fn=as_from_a_terminal,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_for_epochs(run: Path, epochs: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if (run / "checkpoints" / "last.ckpt").exists() and (run / "metrics.csv").exists() \
                and len(read_rows(run)) >= epochs:
            return
        time.sleep(0.02)
    pytest.fail(f"the run did not reach {epochs} epochs while running")


@pytest.mark.parametrize("sent, exit_code", [
    (signal.SIGINT, 1),
    # a SIGTERM's interrupted job, last.ckpt and resume: also test_sweep_recovery's sequential sweep, in the default run
    pytest.param(signal.SIGTERM, 143, marks=pytest.mark.slow)])
def test_interrupt_leaves_checkpoint_logs_and_status(tiny_data_dir, tmp_path, sent, exit_code):
    run = tmp_path / "run"
    process = start_run(tiny_data_dir, run, epochs=500)
    wait_for_epochs(run, 2, process)
    process.send_signal(sent)
    assert process.wait(timeout=60) == exit_code
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "interrupted" and summary["epochs_run"] >= 2
    # last.ckpt is a whole checkpoint of a completed epoch; it may lag metrics.csv by the epoch being saved.
    checkpoint = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    (recorder_state,) = [state for key, state in checkpoint["callbacks"].items() if key.startswith("RunRecorder")]
    assert summary["epochs_run"] - 1 <= checkpoint["epoch"] + 1 <= summary["epochs_run"]
    assert len(recorder_state["rows"]) == checkpoint["epoch"] + 1 and "state_dict" in checkpoint
    events = EventAccumulator(str(events_folder(run))).Reload()
    assert len(events.Scalars("val/acc")) >= 2


def test_same_config_and_seed_give_identical_metrics_on_cpu(compose_train, tmp_path):
    first = compose_train("trainer.max_epochs=2")
    train(first)
    second = compose_train("trainer.max_epochs=2")
    second.paths.output_dir = str(tmp_path / "again")
    train(second)
    assert read_rows(Path(first.paths.output_dir)) == read_rows(tmp_path / "again")


class StopAfterEpoch(L.Callback):
    """Stops the fit after epoch `epoch` (from 1), as a run stopped there; resumed, it goes on past it."""

    def __init__(self, epoch: int):
        self.epoch = epoch

    def on_train_epoch_end(self, trainer, pl_module):
        if trainer.current_epoch + 1 == self.epoch:
            trainer.should_stop = True


def best_so_far(run: Path) -> list[float]:
    """The val/acc_best series of the run's TensorBoard events, one value per epoch."""
    return [event.value for event in EventAccumulator(str(events_folder(run))).Reload().Scalars("val/acc_best")]


def test_a_run_stopped_and_resumed_equals_one_that_never_stopped_with_augmentation_mixup_and_dropout(compose_train, tmp_path):
    # Adam at lr 0.3 learns the tiny data unsteadily: its best val acc is epoch 1's, before the stop, so the resumed
    # run's val/acc_best (TensorBoard, HPARAMS, what src/train.py returns to a sweeper) must remember it.
    recipe = ("data.augment_flip=true", "data.augment_shift=2", "data.augment_erase=0.5", "model.dropout=0.3",
              "model.input_dropout=0.1", "module.mixup=0.2", "optimizer=adam", "optimizer.lr=0.3",
              "trainer.max_epochs=3")
    reference = compose_train(*recipe)
    reference.paths.output_dir = str(tmp_path / "reference")
    never_stopped = train(reference)
    stopped = compose_train(*recipe, "+callbacks.stop._target_=test_reliability.StopAfterEpoch",
                            "+callbacks.stop.epoch=1")
    run = Path(stopped.paths.output_dir)
    train(stopped)
    assert len(read_rows(run)) == 1
    # What `src/train.py resume=<run>` does in a fresh process: the stored config, seeded anew by train()
    resumed = train(checkpoint_config(checkpoint(run)), checkpoint(run))
    rows = read_rows(tmp_path / "reference")
    assert read_rows(run) == rows, "epochs 2 and 3 draw the same flips, shifts, erasings, mixup, dropout"
    assert max(float(row["val_acc"]) for row in rows) == float(rows[0]["val_acc"]), "the best epoch is before the stop"
    assert best_so_far(run) == best_so_far(tmp_path / "reference")
    assert resumed.callback_metrics["val/acc_best"] == never_stopped.callback_metrics["val/acc_best"]
