"""The MLP: shapes and layer structure from the config."""

import pytest
import torch
from torch import nn

from fashionlab.model import MLP


@pytest.mark.parametrize("hidden_sizes", [[], [32], [256, 128], [64, 64, 64]])
def test_mlp_maps_images_to_ten_logits_through_k_hidden_relu_layers(hidden_sizes):
    mlp = MLP(hidden_sizes)
    linears = [m for m in mlp.modules() if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == list(zip([784, *hidden_sizes], [*hidden_sizes, 10]))
    assert sum(isinstance(m, nn.ReLU) for m in mlp.modules()) == len(hidden_sizes)
    assert mlp(torch.randn(5, 1, 28, 28)).shape == (5, 10)


def test_norm_activation_and_dropout_are_placed_in_each_hidden_block():
    mlp = MLP([32, 16], activation="gelu", dropout=0.2, norm="batch")
    kinds = [type(m).__name__ for m in mlp.layers]
    assert kinds == ["Linear", "BatchNorm1d", "GELU", "Dropout"] * 2 + ["Linear"]
    assert [type(m).__name__ for m in MLP([8], norm="layer").layers] == ["Linear", "LayerNorm", "ReLU", "Linear"]
