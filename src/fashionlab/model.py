"""The network: a multilayer perceptron from 784 pixels to 10 class logits."""

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from fashionlab.config import ACTIVATIONS, NORMS


def dropout_mask(p: float, shape: Sequence[int], generator: torch.Generator | None, device: torch.device) -> Tensor:
    """Dropout's multiplier: 0 for a dropped unit (probability p), 1/(1-p) for a kept one, drawn from `generator`."""
    return (torch.rand(shape, generator=generator, device=device) >= p) / (1 - p)


class Dropout(nn.Dropout):
    """nn.Dropout drawing its masks from the run's own generator (`generator`, set by fashionlab.module.Classifier;
    fashionlab.draws) rather than the process's: a run's masks do not depend on what else its process draws."""

    generator: torch.Generator | None = None

    def forward(self, inputs: Tensor) -> Tensor:
        return inputs * dropout_mask(self.p, inputs.shape, self.generator, inputs.device) if self.training else inputs


class MLP(nn.Module):
    """784 inputs (+ dropout of pixels), per entry of `hidden_sizes` a fully connected layer (+ norm) + activation
    (+ dropout), 10 outputs.

    The defaults are the sheet's plain ReLU MLP; `norm` ("batch" or "layer"), `dropout` and `input_dropout` are opt-in.
    """

    def __init__(self, hidden_sizes: Sequence[int] = (256, 128), activation: str = "relu", dropout: float = 0.0,
                 norm: str | None = None, input_dropout: float = 0.0, in_features: int = 784, num_classes: int = 10):
        super().__init__()
        sizes = [in_features, *hidden_sizes]
        layers: list[nn.Module] = [Dropout(input_dropout)] if input_dropout else []
        for fan_in, fan_out in zip(sizes, sizes[1:]):
            layers.append(nn.Linear(fan_in, fan_out))
            if norm:
                layers.append(getattr(nn, NORMS[norm])(fan_out))
            layers.append(getattr(nn, ACTIVATIONS[activation])())
            if dropout:
                layers.append(Dropout(dropout))
        layers.append(nn.Linear(sizes[-1], num_classes))
        self.layers = nn.Sequential(*layers)

    def forward(self, images: Tensor) -> Tensor:
        """(N, 1, 28, 28) or (N, 784) images to (N, 10) logits; no softmax, CrossEntropyLoss takes logits."""
        return self.layers(images.flatten(1))
