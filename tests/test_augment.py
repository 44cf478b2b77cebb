"""Batch augmentation: every output is the input mirrored and/or shifted within the allowed range, or partly erased."""

from pathlib import Path

import lightning as L
import pytest
import torch

from helpers import read_metrics
from fashionlab.augment import ERASED_AREA, augment, random_erase
from fashionlab.training import train


def variants(image: torch.Tensor, flip: bool, max_shift: int, fill: float) -> list[torch.Tensor]:
    """Every image the augmentation may produce from `image`, built one by one."""
    sources = [image, image.flip(-1)] if flip else [image]
    padded = [torch.nn.functional.pad(source, [max_shift] * 4, value=fill) for source in sources]
    size = image.shape[-1]
    return [p[..., dy:dy + size, dx:dx + size] for p in padded
            for dy in range(2 * max_shift + 1) for dx in range(2 * max_shift + 1)]


def test_each_image_is_mirrored_or_shifted_within_range_and_all_variants_occur():
    torch.manual_seed(0)
    images = torch.randn(400, 1, 6, 6)
    out = augment(images, flip=True, max_shift=1, fill=-0.81)
    assert out.shape == images.shape
    seen = set()
    for image, result in zip(images, out):
        matches = [i for i, v in enumerate(variants(image, True, 1, -0.81)) if torch.equal(v, result)]
        assert matches, "output is not a mirrored/shifted copy of its input"
        seen.add(matches[0])
    assert seen == set(range(18)), "both mirror states and all 9 shifts occur"


def test_switched_off_augmentation_returns_the_batch_unchanged():
    images = torch.randn(8, 1, 28, 28)
    assert torch.equal(augment(images, flip=False, max_shift=0, fill=0.0), images)
    assert torch.equal(augment(images, flip=False, max_shift=0, fill=0.0, erase=0.0), images)


def test_random_erasing_blackens_one_rectangle_of_the_allowed_area_in_about_the_given_share_of_images():
    torch.manual_seed(0)
    images = torch.randn(2000, 1, 28, 28)  # no pixel equals the fill by chance
    out = random_erase(images, probability=0.5, fill=-0.81)
    erased = out == -0.81
    assert torch.equal(out[~erased], images[~erased]), "pixels outside the rectangle are untouched"
    counts = erased.flatten(1).sum(1)
    assert 0.45 < (counts > 0).float().mean() < 0.55, "about half the images are erased"
    for mask in erased[counts > 0, 0]:
        rows, cols = mask.any(1).nonzero().flatten(), mask.any(0).nonzero().flatten()
        height, width = len(rows), len(cols)
        assert mask.sum() == height * width, "one solid rectangle"
        assert rows[-1] - rows[0] + 1 == height and cols[-1] - cols[0] + 1 == width
        assert ERASED_AREA[0] * 784 - 28 <= height * width <= ERASED_AREA[1] * 784 + 28, "area in range, rounding apart"



class TrainingBatches(L.Callback):
    """Keeps the images of every training batch as the module receives them."""

    def __init__(self):
        self.images: list[torch.Tensor] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self.images.append(batch[0])


def test_fit_augments_training_batches_only(compose_train):
    cfg = compose_train("data.augment_flip=true", "data.augment_shift=3", "data.eval_batch_size=64",
                        "+callbacks.batches._target_=test_augment.TrainingBatches")
    trainer = train(cfg)
    datamodule, module = trainer.datamodule, trainer.lightning_module
    stored = {tuple(image.flatten().tolist()) for image in datamodule.splits["train"].images}
    (batches,) = [callback for callback in trainer.callbacks if isinstance(callback, TrainingBatches)]
    received = [tuple(image.flatten().tolist()) for batch in batches.images for image in batch]
    assert sum(image not in stored for image in received) > len(received) / 2, "training batches are augmented"

    val = datamodule.splits["val"]
    with torch.no_grad():
        val_loss = torch.nn.functional.cross_entropy(module(val.images), val.labels).item()
    assert read_metrics(Path(cfg.paths.output_dir))[-1]["val_loss"] == pytest.approx(val_loss, rel=1e-5), \
        "validation sees the stored images, not augmented ones"
