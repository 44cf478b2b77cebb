"""Checks on the real FashionMNIST; skipped where `make data` has not put it in data/."""

from pathlib import Path

import pytest
import torch

from conftest import ROOT
from fashionlab.data import RELEASE, FashionMNISTDataModule, raw_dir
from fashionlab.training import train

REAL_DATA = ROOT / "data"
pytestmark = pytest.mark.skipif(not all((raw_dir(REAL_DATA) / name).is_file() for name in RELEASE),
                                reason="real FashionMNIST not in data/ (run `make data`)")


@pytest.fixture(scope="module")
def real_datamodule() -> FashionMNISTDataModule:
    datamodule = FashionMNISTDataModule(str(REAL_DATA))  # verifies counts and md5 of the release
    datamodule.setup()
    return datamodule


def test_real_split_is_50k_10k_10k_and_standardized(real_datamodule):
    assert {name: len(split) for name, split in real_datamodule.splits.items()} == {
        "train": 50_000, "val": 10_000, "test": 10_000}
    train_images = real_datamodule.splits["train"].images
    assert train_images.shape[1:] == (1, 28, 28)
    assert abs(train_images.mean().item()) < 0.01 and abs(train_images.std().item() - 1) < 0.01
    assert torch.bincount(real_datamodule.splits["test"].labels).tolist() == [1000] * 10


def test_one_epoch_of_the_default_config_learns_the_real_data(compose_train):
    cfg = compose_train(f"data.data_dir={REAL_DATA}", "data.val_size=10000", "data.verify_checksums=true")
    trainer = train(cfg)
    # learned: far above chance (0.1); one epoch's val acc varies with the seed's batch order (0.778, 0.793 and 0.830
    # for seeds 2, 0 and 1 on 2026-12-06, after batch orders were drawn from (seed, epoch)), so the bar sits below that
    assert trainer.callback_metrics["val/acc"] > 0.75
    assert Path(cfg.paths.output_dir, "checkpoints", "best.ckpt").is_file()
