"""Training-batch augmentation on whole tensors, on whatever device the batch is: no per-sample PIL work."""

import torch
from torch import Tensor


def augment(images: Tensor, flip: bool, max_shift: int, fill: float) -> Tensor:
    """Randomly mirror each image left-right (probability 1/2) and translate it by up to `max_shift` pixels
    in each direction, filling the uncovered border with `fill` (the standardized value of a black pixel).

    images: (N, 1, H, W). Draws from torch's global generator, which the run's seed sets.
    """
    if flip:
        mirrored = torch.rand(len(images), device=images.device) < 0.5
        images = torch.where(mirrored[:, None, None, None], images.flip(-1), images)
    if max_shift:
        n, _, height, width = images.shape
        padded = torch.nn.functional.pad(images, [max_shift] * 4, value=fill)
        dy, dx = torch.randint(0, 2 * max_shift + 1, (2, n, 1), device=images.device)
        rows = torch.arange(height, device=images.device) + dy  # (N, H): source row of each output row
        cols = torch.arange(width, device=images.device) + dx
        images = padded[torch.arange(n, device=images.device)[:, None, None], 0, rows[:, :, None], cols[:, None, :]]
        images = images.unsqueeze(1)
    return images
