"""A run's own random generators, one per kind of draw made while training (augmentation, dropout masks), seeded from
its seed: what a run draws does not depend on what else its process draws, so each member of a stack
(fashionlab.stacking) draws what it would draw alone."""

import numpy as np
import torch

AUGMENTATION, DROPOUT = 1, 2  # the streams: numpy SeedSequence spawn keys, apart from the batch order's entropy


def generator(seed: int, stream: int, device: torch.device | str = "cpu") -> torch.Generator:
    """The generator of `stream` for the run of `seed`, on `device` (where the draws are made)."""
    mixed = np.random.SeedSequence(seed, spawn_key=(stream,)).generate_state(1, np.uint64)[0]
    return torch.Generator(device).manual_seed(int(mixed))
