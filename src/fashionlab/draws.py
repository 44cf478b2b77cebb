"""A run's own random generators, one per kind of draw made while training (augmentation, dropout masks, mixup),
seeded from its seed: what a run draws does not depend on what else its process draws, so each member of a stack
(fashionlab.stacking) draws what it would draw alone."""

import numpy as np
import torch

AUGMENTATION, DROPOUT, MIXUP = 1, 2, 3  # the streams: numpy SeedSequence spawn keys, apart from the batch order's entropy


def sequence(seed: int, stream: int) -> np.random.SeedSequence:
    """The entropy of `stream` for the run of `seed`: every generator of the run's own is seeded from it."""
    return np.random.SeedSequence(seed, spawn_key=(stream,))


def generator(seed: int, stream: int, device: torch.device | str = "cpu") -> torch.Generator:
    """The generator of `stream` for the run of `seed`, on `device` (where the draws are made)."""
    return torch.Generator(device).manual_seed(int(sequence(seed, stream).generate_state(1, np.uint64)[0]))


class Generators:
    """The generators of one stream for one run or for each member of a stack, made on the device of their first
    draw; their states for checkpoints, restored whether the checkpoint is read before or after they are made."""

    def __init__(self, seeds: list[int], stream: int):
        self.seeds, self.stream = list(seeds), stream
        self.made: list[torch.Generator] | None = None
        self.saved: list[torch.Tensor] | None = None  # from a checkpoint read before they were made

    def on(self, device: torch.device | str) -> list[torch.Generator]:
        if self.made is None:
            self.made = [generator(seed, self.stream, device) for seed in self.seeds]
            self.load(self.saved)
        return self.made

    def states(self) -> list[torch.Tensor] | None:
        return [made.get_state() for made in self.made] if self.made is not None else self.saved

    def load(self, states: list[torch.Tensor] | None) -> None:
        self.saved = states
        for made, state in zip(self.made or [], states or []):
            made.set_state(state)


class MixupDraws:
    """Mixup's draws for one run or each member of a stack: per batch, a Beta(alpha, alpha) weight and a partner for
    each image, from a numpy generator of the run's own (torch samples Beta only from its global generator)."""

    def __init__(self, seeds: list[int], alpha: float):
        self.alpha = alpha
        self.made = [np.random.default_rng(sequence(seed, MIXUP)) for seed in seeds]

    def draw(self, size: int, device: torch.device | str) -> tuple[torch.Tensor, torch.Tensor]:
        """Each run's weight (K,) and partners (K, size), a permutation of the batch."""
        weights = torch.tensor([made.beta(self.alpha, self.alpha) for made in self.made], dtype=torch.float32)
        partners = torch.from_numpy(np.stack([made.permutation(size) for made in self.made]))
        return weights.to(device), partners.to(device)

    def states(self) -> list[dict]:
        return [made.bit_generator.state for made in self.made]

    def load(self, states: list[dict] | None) -> None:
        for made, state in zip(self.made, states or []):
            made.bit_generator.state = state
