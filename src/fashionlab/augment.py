"""Training-batch augmentation on whole tensors, on whatever device the batch is: no per-sample PIL work."""

import math

import torch
from torch import Tensor

ERASED_AREA = (0.02, 0.25)  # share of the image a random erasing covers
ERASED_ASPECT = (0.3, 3.3)  # its height / width, drawn log-uniformly (random erasing's usual ranges)


def augment(images: Tensor, flip: bool, max_shift: int, fill: float, erase: float = 0.0,
            generator: torch.Generator | None = None) -> Tensor:
    """Randomly mirror each image left-right (probability 1/2) and translate it by up to `max_shift` pixels
    in each direction, filling the uncovered border with `fill` (the standardized value of a black pixel);
    then, with probability `erase`, blacken a random rectangle of it (random erasing: a garment partly hidden).

    images: (N, 1, H, W). Draws from `generator`, the run's own (fashionlab.draws; None: torch's global one).
    """
    if flip:
        mirrored = torch.rand(len(images), generator=generator, device=images.device) < 0.5
        images = torch.where(mirrored[:, None, None, None], images.flip(-1), images)
    if max_shift:
        n, _, height, width = images.shape
        padded = torch.nn.functional.pad(images, [max_shift] * 4, value=fill)
        dy, dx = torch.randint(0, 2 * max_shift + 1, (2, n, 1), generator=generator, device=images.device)
        rows = torch.arange(height, device=images.device) + dy  # (N, H): source row of each output row
        cols = torch.arange(width, device=images.device) + dx
        images = padded[torch.arange(n, device=images.device)[:, None, None], 0, rows[:, :, None], cols[:, None, :]]
        images = images.unsqueeze(1)
    if erase:
        images = random_erase(images, erase, fill, generator)
    return images


def random_erase(images: Tensor, probability: float, fill: float, generator: torch.Generator | None = None) -> Tensor:
    """Each image, with `probability`, gets one rectangle set to `fill`: its area a uniform share ERASED_AREA of the
    image, its aspect log-uniform in ERASED_ASPECT, its place uniform among those that fit."""
    n, _, height, width = images.shape
    draws = torch.rand(5, n, generator=generator, device=images.device)  # area, aspect, top, left, whether to erase
    area = (ERASED_AREA[0] + draws[0] * (ERASED_AREA[1] - ERASED_AREA[0])) * height * width
    low, high = map(math.log, ERASED_ASPECT)
    aspect = (low + draws[1] * (high - low)).exp()
    box_h = (area * aspect).sqrt().round().clamp(1, height)
    box_w = (area / aspect).sqrt().round().clamp(1, width)
    top, left = (draws[2] * (height - box_h + 1)).floor(), (draws[3] * (width - box_w + 1)).floor()
    rows = torch.arange(height, device=images.device)
    cols = torch.arange(width, device=images.device)
    in_rows = (rows >= top[:, None]) & (rows < (top + box_h)[:, None])  # (N, H)
    in_cols = (cols >= left[:, None]) & (cols < (left + box_w)[:, None])  # (N, W)
    erased = in_rows[:, :, None] & in_cols[:, None, :] & (draws[4] < probability)[:, None, None]
    return images.masked_fill(erased[:, None], fill)
