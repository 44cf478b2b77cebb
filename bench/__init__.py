"""`make bench` (`python -m bench`): this project's speed against the tutorial pipeline and a raw PyTorch loop."""
