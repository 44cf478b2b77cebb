"""Batch augmentation: every output is the input mirrored and/or shifted within the allowed range."""

import torch

from fashionlab.augment import augment


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
