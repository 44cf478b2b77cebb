"""A real Lightning fit from the real Hydra config on tiny IDX files: what a run folder holds and means."""

import json
from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from conftest import tiny_overrides
from helpers import read_metrics, run_cli
from fashionlab.runfolder import events_folder
from fashionlab.evaluation import evaluate_checkpoint
from fashionlab.runfolder import METRIC_COLUMNS
from fashionlab.training import train


def test_fit_writes_metrics_summary_checkpoints_and_tensorboard(compose_train):
    cfg = compose_train("trainer.max_epochs=3", "optimizer=adam", "trainer.enable_progress_bar=true")
    trainer = train(cfg)
    run = Path(cfg.paths.output_dir)
    shown = trainer.progress_bar_callback.get_metrics(trainer, trainer.lightning_module)
    assert "v_num" not in shown, "the progress bar shows no version (here the run name's tail, `=adam`)"

    rows = read_metrics(run)
    assert list(rows[0]) == list(METRIC_COLUMNS)
    assert [row["epoch"] for row in rows] == [1, 2, 3]
    assert rows[-1]["val_acc"] > 0.5, "three epochs on separable data should beat chance (0.1) by far"
    assert rows[-1]["train_loss"] < rows[0]["train_loss"]
    assert all(row["lr"] == 0.001 for row in rows)

    summary = json.loads((run / "summary.json").read_text())
    best = max(rows, key=lambda row: row["val_acc"])
    assert summary["status"] == "completed" and summary["epochs_run"] == 3
    assert summary["best_val_acc"] == pytest.approx(best["val_acc"]) and summary["best_epoch"] == best["epoch"]
    assert "optimizer=adam" in summary["overrides"] and summary["wall_seconds"] > 0

    assert (run / "checkpoints" / "best.ckpt").is_file() and (run / "checkpoints" / "last.ckpt").is_file()

    events = EventAccumulator(str(events_folder(run))).Reload()
    scalars = events.Tags()["scalars"]
    assert {"train/loss", "train/acc", "val/loss", "val/acc", "val/acc_best"} <= set(scalars)
    assert "epoch" not in scalars, "no chart of the epoch number (Lightning logs it with every metric)"
    assert [e.value for e in events.Scalars("val/acc")] == pytest.approx([row["val_acc"] for row in rows])


def test_epoch_metrics_are_sample_averages_not_batch_means(compose_train):
    # 100 validation samples in batches of 64 and 36: a mean of batch means would differ from the sample mean.
    cfg = compose_train("data.eval_batch_size=64")
    trainer = train(cfg)
    module, datamodule = trainer.lightning_module, trainer.datamodule
    val = datamodule.splits["val"]
    with torch.no_grad():
        logits = module(val.images)
    row = read_metrics(Path(cfg.paths.output_dir))[-1]
    assert row["val_loss"] == pytest.approx(torch.nn.functional.cross_entropy(logits, val.labels).item(), rel=1e-5)
    assert row["val_acc"] == pytest.approx((logits.argmax(1) == val.labels).float().mean().item())


@pytest.mark.parametrize("scheduler, extra, expected_lrs", [
    ("none", [], [0.1, 0.1, 0.1]),
    ("step", ["scheduler.step_size=1"], [0.1, 0.05, 0.025]),
    ("exponential", ["scheduler.gamma=0.8"], [0.1, 0.08, 0.064]),
    ("cosine", [], [0.1, 0.075, 0.025]),
])
def test_scheduler_group_sets_the_learning_rate_per_epoch(compose_train, scheduler, extra, expected_lrs):
    cfg = compose_train("trainer.max_epochs=3", "optimizer.lr=0.1", f"scheduler={scheduler}", *extra)
    train(cfg)
    assert [row["lr"] for row in read_metrics(Path(cfg.paths.output_dir))] == pytest.approx(expected_lrs)


def test_a_scheduler_key_is_overridden_as_short_as_an_optimizer_key_in_a_sweep_too(tiny_data_dir, tmp_path):
    done = run_cli("train.py", "-m", *tiny_overrides(tiny_data_dir), "trainer.max_epochs=2", "optimizer.lr=0.1",
                   "scheduler=step", "scheduler.step_size=1,2", f"hydra.sweep.dir={tmp_path}")
    assert done.returncode == 0, done.stderr
    assert [[row["lr"] for row in read_metrics(tmp_path / job)] for job in "01"] == [[0.1, 0.05], [0.1, 0.1]]


def test_best_checkpoint_reloads_and_evaluates_the_test_set(compose_train):
    cfg = compose_train("trainer.max_epochs=2")
    train(cfg)
    ckpt = Path(cfg.paths.output_dir) / "checkpoints" / "best.ckpt"
    metrics = evaluate_checkpoint(ckpt)

    module = instantiate(cfg.module)
    module.load_state_dict(torch.load(ckpt, weights_only=False)["state_dict"])
    datamodule = instantiate(cfg.data)
    datamodule.setup()
    test = datamodule.splits["test"]
    with torch.no_grad():
        predictions = module(test.images).argmax(1)
    assert metrics["test/acc"] == pytest.approx((predictions == test.labels).float().mean().item())


@pytest.mark.parametrize("scheduler", ["warmup_cosine", "onecycle"])
def test_per_step_schedule_spans_the_whole_run(compose_train, scheduler):
    cfg = compose_train("trainer.max_epochs=3", "optimizer.lr=0.1", f"scheduler={scheduler}")
    trainer = train(cfg)
    lrs = [e.value for e in EventAccumulator(str(events_folder(Path(cfg.paths.output_dir)))).Reload().Scalars("lr")]
    assert len(lrs) == trainer.global_step == trainer.estimated_stepping_batches, "logged at every step"
    peak = lrs.index(max(lrs))
    assert 0 < peak < len(lrs) - 1 and max(lrs) == pytest.approx(0.1, rel=0.01)
    assert lrs[0] < 0.1 * max(lrs) and lrs[-1] < 0.01 * max(lrs)
    assert all(a <= b for a, b in zip(lrs[:peak], lrs[1:peak + 1])), "warms up monotonically"
    assert all(a >= b for a, b in zip(lrs[peak:], lrs[peak + 1:])), "then anneals monotonically"


def test_label_smoothing_shapes_the_training_loss_and_tta_applies_to_val_and_test_alike(compose_train):
    cfg = compose_train("module.label_smoothing=0.3", "module.tta=true", "data.eval_batch_size=64")
    trainer = train(cfg)
    module, datamodule = trainer.lightning_module, trainer.datamodule
    module.eval()

    images, labels = datamodule.splits["train"].images[:64], datamodule.splits["train"].labels[:64]
    with torch.no_grad():
        smoothed = torch.nn.functional.cross_entropy(module(images), labels, label_smoothing=0.3)
        assert module.training_step((images, labels), batch_idx=1) == pytest.approx(smoothed.item(), rel=1e-5)

    def tta_logits(split):
        with torch.no_grad():
            return (module(split.images) + module(split.images.flip(-1))) / 2

    val = datamodule.splits["val"]
    row = read_metrics(Path(cfg.paths.output_dir))[-1]
    assert row["val_loss"] == pytest.approx(torch.nn.functional.cross_entropy(tta_logits(val), val.labels).item(),
                                            rel=1e-5), "validation loss: plain cross-entropy of averaged logits"
    assert row["val_acc"] == pytest.approx((tta_logits(val).argmax(1) == val.labels).float().mean().item())

    test = datamodule.splits["test"]
    metrics = evaluate_checkpoint(Path(cfg.paths.output_dir) / "checkpoints" / "last.ckpt")
    assert metrics["test/acc"] == pytest.approx((tta_logits(test).argmax(1) == test.labels).float().mean().item())
    assert metrics["test/loss"] == pytest.approx(
        torch.nn.functional.cross_entropy(tta_logits(test), test.labels).item(), rel=1e-5)


def test_mixup_trains_on_blended_pairs_with_blended_losses_and_leaves_evaluation_alone(compose_train):
    """Image i lights pixel i alone, so a blended input shows its own weight and its partner's index."""
    seen = []
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 10))
    net.register_forward_pre_hook(lambda _, inputs: seen.append(inputs[0].flatten(1).clone()))
    module = instantiate(compose_train("module.label_smoothing=0.1", "module.mixup=0.4").module, net=net)
    images, labels = torch.eye(784)[:8].reshape(8, 1, 28, 28), torch.arange(8)
    loss = module.training_step((images, labels), batch_idx=1)
    (blended,) = seen
    own = blended[torch.arange(8), torch.arange(8)]
    partner = torch.where(own < 1, (blended * (torch.arange(784) != torch.arange(8)[:, None])).argmax(1),
                          torch.arange(8))
    weight = own[own < 1].unique()
    assert len(weight) == 1 and 0 < weight < 1, "one weight for the whole batch, on each image's own pixel"
    assert sorted(partner.tolist()) == list(range(8)) and not torch.equal(partner, torch.arange(8)), "a permutation"
    assert torch.allclose(blended[torch.arange(8), partner][partner != torch.arange(8)], 1 - weight)
    with torch.no_grad():
        logits = net(blended)
        expected = weight * torch.nn.functional.cross_entropy(logits, labels, label_smoothing=0.1) + (1 - weight) * \
            torch.nn.functional.cross_entropy(logits, partner, label_smoothing=0.1)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    counted = labels if weight >= 0.5 else partner
    assert module.train_acc.compute() == (logits.argmax(1) == counted).float().mean(), "the label of larger weight"

    module.validation_step((images, labels), batch_idx=1)
    assert torch.equal(seen[-1], images.flatten(1)), "validation sees the images as they are"
