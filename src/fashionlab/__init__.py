"""fashionlab: multilayer perceptrons on FashionMNIST with Lightning, Hydra and TensorBoard."""
