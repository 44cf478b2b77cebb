"""The DataModule: preprocessing, split, loaders, and the checks on what it reads."""

import shutil

import numpy as np
import pytest
import torch
from torchvision import transforms

from conftest import TINY_TEST, TINY_TRAIN, TINY_VAL, tiny_split, write_idx, write_tiny_dataset
from fashionlab import data
from fashionlab.data import DataError, FashionMNISTDataModule, standardize


def datamodule(data_dir, **kwargs) -> FashionMNISTDataModule:
    dm = FashionMNISTDataModule(str(data_dir), val_size=TINY_VAL, verify_checksums=False, **kwargs)
    dm.prepare_data()
    dm.setup()
    return dm


def test_batch_standardization_equals_per_sample_totensor_normalize():
    images, _ = tiny_split(50, seed=3)
    images = torch.from_numpy(images.astype(np.uint8))
    per_sample = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.286,), (0.353,))])
    expected = torch.stack([per_sample(image.numpy()) for image in images])
    assert torch.allclose(standardize()(images.unsqueeze(1)), expected, atol=1e-6)


def test_split_sizes_disjoint_and_fixed_by_split_seed(tiny_data_dir):
    dm = datamodule(tiny_data_dir)
    sizes = {name: len(split) for name, split in dm.splits.items()}
    assert sizes == {"train": TINY_TRAIN - TINY_VAL, "val": TINY_VAL, "test": TINY_TEST}
    train, val = dm.splits["train"].images.flatten(1), dm.splits["val"].images.flatten(1)
    assert not (torch.cdist(train, val) == 0).any(), "a validation image is also in the training split"
    same_split = datamodule(tiny_data_dir, shuffle_seed=7)
    assert torch.equal(same_split.splits["val"].labels, dm.splits["val"].labels)
    other_split = datamodule(tiny_data_dir, split_seed=1)
    assert not torch.equal(other_split.splits["val"].images, dm.splits["val"].images)


def test_train_loader_shuffles_each_epoch_and_covers_every_sample(tiny_data_dir):
    dm = datamodule(tiny_data_dir, batch_size=64)
    loader = dm.train_dataloader()
    epochs = []
    for epoch in range(2):
        loader.sampler.set_epoch(epoch)
        batches = list(loader)
        assert [len(labels) for _, labels in batches][:-1] == [64] * (len(batches) - 1)
        epochs.append(torch.cat([images for images, _ in batches]))
    train_images = dm.splits["train"].images
    assert sorted(map(tuple, epochs[0].flatten(1).tolist())) == sorted(map(tuple, train_images.flatten(1).tolist()))
    assert not torch.equal(epochs[0], epochs[1])
    assert not torch.equal(epochs[0], train_images)


def test_batch_order_is_drawn_from_seed_and_epoch_together_and_repeats_for_the_same_pair(tiny_data_dir):
    def order(seed: int, epoch: int) -> torch.Tensor:
        sampler = datamodule(tiny_data_dir, shuffle_seed=seed).train_dataloader().sampler
        sampler.set_epoch(epoch)
        return torch.cat(list(sampler))

    for seed, epoch in ((0, 1), (1, 5), (41, 2)):
        assert torch.equal(order(seed, epoch), order(seed, epoch)), "a resumed run draws its epoch's order again"
        assert not torch.equal(order(seed, epoch), order(seed + 1, epoch - 1)), "seed s+1 one epoch behind seed s"
        assert not torch.equal(order(seed, epoch), order(seed + 1, epoch))


def test_val_and_test_loaders_keep_order(tiny_data_dir):
    dm = datamodule(tiny_data_dir, eval_batch_size=64)
    for split, loader in (("val", dm.val_dataloader()), ("test", dm.test_dataloader())):
        labels = torch.cat([labels for _, labels in loader])
        assert torch.equal(labels, dm.splits[split].labels)


def test_debian_gzip_files_are_decompressed_into_data_dir(tmp_path, monkeypatch, caplog):
    debian = tmp_path / "debian"
    write_tiny_dataset(debian, compress=True)
    monkeypatch.setattr(data, "DEBIAN_DIR", debian)
    caplog.set_level("INFO", logger="fashionlab.data")
    dm = datamodule(tmp_path / "data")
    raw = tmp_path / "data" / "FashionMNIST" / "raw"
    assert (raw / "train-images-idx3-ubyte").is_file()
    assert caplog.messages == [f"FashionMNIST is not in {raw}: trying Debian's gzip files in {debian}/",
                               f"Decompressed Debian's files into {raw}"], "progress lines, no error"
    assert len(dm.splits["test"]) == TINY_TEST


@pytest.mark.parametrize("damage, message", [
    (lambda raw: (raw / "t10k-labels-idx1-ubyte").unlink(), "file missing"),
    (lambda raw: (raw / "train-images-idx3-ubyte").write_bytes(
        (raw / "train-images-idx3-ubyte").read_bytes()[:-100]), "truncated"),
    (lambda raw: (raw / "train-labels-idx1-ubyte").write_bytes(
        b"\x00\x00\x08\x03" + (raw / "train-labels-idx1-ubyte").read_bytes()[4:]), "magic number 2051, expected 2049"),
    (lambda raw: write_idx(raw / "t10k-labels-idx1-ubyte", np.full(TINY_TEST, 12)), "label 12 out of range"),
    (lambda raw: write_idx(raw / "t10k-labels-idx1-ubyte", np.zeros(TINY_TEST - 1)), "200 t10k images but 199 labels"),
    (lambda raw: write_idx(raw / "t10k-images-idx3-ubyte", np.zeros((TINY_TEST, 32, 32))), "images are 32x32"),
])
def test_damaged_files_are_refused_with_file_reason_and_how_to_get_good_data(tiny_data_dir, tmp_path, monkeypatch,
                                                                             damage, message):
    monkeypatch.setattr(data, "DEBIAN_DIR", tmp_path / "nowhere")
    raw = tmp_path / "FashionMNIST" / "raw"
    shutil.copytree(tiny_data_dir / "FashionMNIST" / "raw", raw)
    damage(raw)
    dm = FashionMNISTDataModule(str(tmp_path), val_size=TINY_VAL, verify_checksums=False)
    with pytest.raises(DataError, match=message) as error:
        dm.setup()
    assert str(error.value).endswith("`make data` tries all three"), "the hint on getting good data"


def test_tiny_files_fail_the_release_checks(tiny_data_dir):
    dm = FashionMNISTDataModule(str(tiny_data_dir), val_size=TINY_VAL, verify_checksums=True)
    with pytest.raises(DataError, match="600 samples, the FashionMNIST release has 60000") as error:
        dm.setup()
    assert str(error.value).endswith("`make data` tries all three")
