"""The network: a multilayer perceptron from 784 pixels to 10 class logits."""

from collections.abc import Sequence

from torch import Tensor, nn


class MLP(nn.Module):
    """784 inputs, one fully connected layer + ReLU per entry of `hidden_sizes`, 10 outputs (logits)."""

    def __init__(self, hidden_sizes: Sequence[int] = (256, 128), in_features: int = 784, num_classes: int = 10):
        super().__init__()
        sizes = [in_features, *hidden_sizes]
        layers: list[nn.Module] = []
        for fan_in, fan_out in zip(sizes, sizes[1:]):
            layers += [nn.Linear(fan_in, fan_out), nn.ReLU()]
        layers.append(nn.Linear(sizes[-1], num_classes))
        self.layers = nn.Sequential(*layers)

    def forward(self, images: Tensor) -> Tensor:
        """(N, 1, 28, 28) or (N, 784) images to (N, 10) logits; no softmax, CrossEntropyLoss takes logits."""
        return self.layers(images.flatten(1))
