"""Stacked replicates (stack=true): each member of a stack is its seed's run, as if trained alone, in its own job
folder; faults stay inside one member; a stopped stack resumes its members as plain runs."""

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from conftest import ROOT, as_from_a_terminal, tiny_overrides
from helpers import read_metrics, run_cli, runs_csv
from fashionlab.stacking import train_stack
from fashionlab.training import train

OPTIMIZERS = sorted(path.stem for path in (ROOT / "conf" / "optimizer").glob("*.yaml"))
SCHEDULERS = sorted(path.stem for path in (ROOT / "conf" / "scheduler").glob("*.yaml"))
NORMS = ["null", "batch", "layer"]
# Every optimizer, every scheduler and every norm, each at least once, in as many cases as there are optimizers.
CASES = [(optimizer, scheduler, NORMS[index % len(NORMS)], ())
         for index, (optimizer, scheduler) in enumerate(zip(OPTIMIZERS, SCHEDULERS))]
# and with every draw a run makes while training: dropout masks (inputs and hidden units), all augmentations, mixup
DRAWS = ("model.dropout=0.3", "model.input_dropout=0.1", "data.augment_flip=true", "data.augment_shift=2",
         "data.augment_erase=0.5", "module.mixup=0.4")
CASES += [("adam", "warmup_cosine", "batch", DRAWS), ("sgd", "none", "null", DRAWS)]


def resolved(compose_train, folder: Path, *overrides: str):
    """The run config of `overrides` writing into `folder`, resolved there (as a stack's members are)."""
    cfg = compose_train(*overrides)
    cfg.paths.output_dir = str(folder)
    return OmegaConf.create(OmegaConf.to_container(cfg, resolve=True))


def test_the_cases_cover_every_optimizer_scheduler_and_norm():
    assert len(OPTIMIZERS) >= 6 and len(SCHEDULERS) == len(OPTIMIZERS)
    assert {case[2] for case in CASES} == set(NORMS)


BUFFERS = ("running_mean", "running_var", "num_batches_tracked")


def not_compared(name: str, state_dict: dict) -> bool:
    """The bias of a linear layer that feeds a batch norm, and that norm's running mean (why: the test below)."""
    layer = name.removeprefix("net.layers.").split(".")[0]
    return name.endswith(".running_mean") or \
        name.endswith(".bias") and f"net.layers.{int(layer) + 1}.running_mean" in state_dict


def assert_members_equal_their_runs_alone(compose_train, folder: Path, overrides: list[str], tolerance: float):
    """Seeds 3 and 11 of `overrides` trained alone and as one stack for 3 steps: each member's last.ckpt against its
    run alone's, every state_dict tensor and every tensor of the optimizer's state (what a member resumed alone goes
    on from) within `tolerance` of its norm (bar what the test below says is not compared), the same step, the same
    callback and random-state keys, and as many mixup draws."""
    overrides = [*overrides, "+trainer.limit_train_batches=3", "trainer.max_epochs=1"]
    seeds = (3, 11)
    for seed in seeds:
        train(resolved(compose_train, folder / f"alone-{seed}", f"seed={seed}", *overrides))
    train_stack([resolved(compose_train, folder / f"stacked-{seed}", f"seed={seed}", *overrides) for seed in seeds])
    for seed in seeds:
        alone, stacked = (torch.load(folder / f"{kind}-{seed}" / "checkpoints" / "last.ckpt", weights_only=True)
                          for kind in ("alone", "stacked"))
        assert stacked["state_dict"].keys() == alone["state_dict"].keys()
        assert stacked["global_step"] == alone["global_step"] == 3
        for name, expected in alone["state_dict"].items():
            if not_compared(name, alone["state_dict"]):
                continue
            got = stacked["state_dict"][name]
            if expected.is_floating_point():
                assert (got - expected).norm() <= tolerance * expected.norm().clamp(min=1e-12), (seed, name)
            else:
                assert torch.equal(got, expected), (seed, name)
        # the optimizer state a member resumed alone continues from, per parameter (the optimizer's order)
        parameters = [name for name in alone["state_dict"] if name.startswith("net.") and not name.endswith(BUFFERS)]
        for stacked_state, alone_state in zip(stacked["optimizer_states"], alone["optimizer_states"], strict=True):
            assert stacked_state["state"].keys() == alone_state["state"].keys()
            for key, entry in alone_state["state"].items():
                if not_compared(parameters[key], alone["state_dict"]):
                    continue
                for name, expected in entry.items():
                    got = stacked_state["state"][key][name]
                    if expected is None:  # SGD without momentum keeps no buffer
                        assert got is None
                        continue
                    assert got.shape == expected.shape and got.is_contiguous(), (seed, key, name)
                    assert (got - expected).norm() <= tolerance * expected.norm().clamp(min=1e-12) + 1e-9, \
                        (seed, key, name)
        assert stacked["callbacks"].keys() == alone["callbacks"].keys()
        assert stacked["random_states"].keys() == alone["random_states"].keys()
        assert stacked["random_states"].get("mixup") == alone["random_states"].get("mixup"), "as many mixup draws"


@pytest.mark.parametrize("optimizer, scheduler, norm, draws", CASES)
def test_each_member_after_three_steps_equals_its_seed_trained_alone(compose_train, tmp_path, optimizer, scheduler,
                                                                     norm, draws):
    """Compared: every tensor of each member's state_dict (weights, biases, batch norm's running statistics) after 3
    optimizer steps, against the same seed trained alone. Tolerance 1e-5 of the tensor's norm: a batched product sums
    in another order than a single one (float32 rounding, about 1e-7 relative per product), which 3 steps of the
    optimizer carry on; a wrong seed, batch order, slice, dropout mask or augmentation draw, or an averaged (not
    summed) loss is off by 1e-2 or more.
    Not compared: the bias of a linear layer that feeds a batch norm, which subtracts it again. Its gradient is zero
    but for rounding, which Adam, RMSprop and Adagrad scale up to steps of the full learning rate, so any two ways of
    summing (two processors, too) move it apart; nothing downstream sees it but the batch norm's running mean, which
    adds it up (not compared either; its running variance is)."""
    assert_members_equal_their_runs_alone(
        compose_train, tmp_path, [f"optimizer={optimizer}", f"scheduler={scheduler}", f"model.norm={norm}", *draws],
        tolerance=1e-5)


def test_a_stack_in_bf16_mixed_trains_each_member_as_its_run_alone(compose_train, tmp_path):
    """bf16-mixed (best_mlp's precision where bfloat16 is native): the stack's products run in bfloat16 under autocast
    and its gradients come back to float32, as its runs' alone do. Tolerance 1e-3 of each tensor's norm: bfloat16
    keeps 8 significant bits (about 4e-3 relative per product), and 3 steps move a weight by a small share of its
    norm; a wrong seed or slice is off by far more."""
    assert_members_equal_their_runs_alone(
        compose_train, tmp_path, ["optimizer=adam", "model.norm=batch", "trainer.precision=bf16-mixed"],
        tolerance=1e-3)


def test_why_alone_names_what_keeps_a_configuration_out_of_a_stack(compose_train):
    from fashionlab.sweeps import why_alone

    assert why_alone(compose_train()) is None
    assert why_alone(compose_train("model.dropout=0.2", "data.augment_flip=true", "module.mixup=0.2")) is None
    assert why_alone(compose_train("+trainer.gradient_clip_val=1.0")) == "trainer.gradient_clip_val=1.0"
    assert why_alone(compose_train("+trainer.gradient_clip_val=1.0",
                                   "+trainer.gradient_clip_algorithm=value")) is None


RATES, SEEDS = (0.05, 5), (0, 1, 2)  # at lr 5 some seeds diverge at once


def test_a_stacked_sweep_equals_the_same_runs_alone_divergence_included(compose_train, tiny_data_dir, tmp_path):
    """A sweep of 6 jobs (2 configurations x 3 seeds) with stack=true against the same runs alone: every job's status
    and per-epoch metrics match; a seed that diverges alone diverges in its stack, and the other members' numbers are
    unchanged; each job folder is a plain one, and the report reads the sweep as any other."""
    stacked = tmp_path / "stacked"
    done = run_cli("train.py", "-m", *tiny_overrides(tiny_data_dir), "trainer.max_epochs=2",
                   f"optimizer.lr={','.join(map(str, RATES))}", f"seed={','.join(map(str, SEEDS))}", "stack=true",
                   f"hydra.sweep.dir={stacked}")
    assert done.returncode == 0, done.stderr
    assert "Stacking jobs 0 1 2 (seed 0 1 2): one process" in done.stdout
    assert "Stacking jobs 3 4 5 (seed 0 1 2): one process" in done.stdout
    statuses = {}
    for job, (rate, seed) in enumerate((rate, seed) for rate in RATES for seed in SEEDS):
        alone = tmp_path / f"alone-{job}"
        train(resolved(compose_train, alone, "trainer.max_epochs=2", f"optimizer.lr={rate}", f"seed={seed}"))
        summaries = [json.loads((folder / "summary.json").read_text()) for folder in (stacked / str(job), alone)]
        assert summaries[0]["status"] == summaries[1]["status"]
        assert summaries[0]["stacked_members"] == 3 and "stacked_members" not in summaries[1]
        statuses[job] = summaries[0]["status"]
        rows = [read_metrics(folder) for folder in (stacked / str(job), alone)]
        assert len(rows[0]) == len(rows[1])
        for got, expected in zip(*rows):
            assert got["val_acc"] == pytest.approx(expected["val_acc"], abs=1e-4, nan_ok=True)
            if expected["val_loss"] < 1e6:  # a diverging member's losses are huge, their rounding too
                assert got["val_loss"] == pytest.approx(expected["val_loss"], rel=1e-4, abs=1e-6)
        overrides = list(OmegaConf.load(stacked / str(job) / ".hydra" / "overrides.yaml"))
        assert overrides == summaries[0]["overrides"] and f"seed={seed}" in overrides and "stack=True" in overrides
        assert (stacked / str(job) / "checkpoints" / "best.ckpt").is_file()
        assert list((stacked / str(job)).glob("*/events.out.tfevents.*"))
    assert set(statuses.values()) == {"completed", "diverged"}  # the case it tests is there
    assert all(statuses[job] == "completed" for job in range(3))
    assert run_cli("report.py", str(stacked)).returncode == 0
    assert [row["status"] for row in runs_csv(stacked).values()] == [statuses[job] for job in range(6)]


@pytest.mark.slow
def test_a_stopped_stack_leaves_every_member_interrupted_and_resuming_the_sweep_continues_each_alone(
        tiny_data_dir, tmp_path):
    folder = tmp_path / "sweep"
    args = ["-m", *tiny_overrides(tiny_data_dir), "seed=0,1,2,3", "trainer.max_epochs=60", "stack=true",
            f"hydra.sweep.dir={folder}"]
    process = subprocess.Popen([sys.executable, "src/train.py", *args], cwd=ROOT, preexec_fn=as_from_a_terminal,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not all((folder / str(job) / "checkpoints" / "last.ckpt").is_file() for job in range(4)):
        assert process.poll() is None and time.monotonic() < deadline, "the stack did not save its first epoch"
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) != 0
    for job in range(4):
        summary = json.loads((folder / str(job) / "summary.json").read_text())
        assert summary["status"] == "interrupted"
        checkpoint = torch.load(folder / str(job) / "checkpoints" / "last.ckpt", weights_only=True)
        assert checkpoint["hyper_parameters"]["config"]["seed"] == job
    # one member as a plain run: its checkpoint is a plain run's
    done = run_cli("train.py", f"resume={folder / '0'}")
    assert done.returncode == 0, done.stderr
    assert [row["epoch"] for row in read_metrics(folder / "0")] == list(range(1, 61))
    # the sweep again: the finished member is kept, the others continue alone from their own epochs; one whose
    # checkpoint cannot be read fails alone, after the others ran; one whose folder is gone is the group's only job
    # still to train, alone
    (folder / "1" / "checkpoints" / "last.ckpt").write_bytes(b"not a checkpoint")
    shutil.rmtree(folder / "3")
    done = run_cli("train.py", "-m", f"resume={folder}")
    assert done.returncode != 0 and "job 1: " in done.stdout + done.stderr, done.stderr
    assert "Job 2 alone: continues from its checkpoint" in done.stdout + done.stderr, "the sweep says why"
    assert "Job 3 alone: the one job of its group still to train" in done.stdout + done.stderr
    for job in (0, 2, 3):
        assert json.loads((folder / str(job) / "summary.json").read_text())["status"] == "completed"
        assert [row["epoch"] for row in read_metrics(folder / str(job))] == list(range(1, 61))
    assert json.loads((folder / "1" / "summary.json").read_text())["status"] == "failed"
