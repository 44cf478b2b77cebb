"""fashionlab: multilayer perceptrons on FashionMNIST with Lightning, Hydra and TensorBoard.

From Python (a notebook): `from fashionlab import compose, train, sweep, load_sweep, evaluate_checkpoint`
(fashionlab.api, docs/notebook.md). They are imported on first use (PEP 562), so `import fashionlab`, which every
command pays at its start, stays light. Importing any part of the lab changes nothing in the process (matplotlib's
backend, warning and logging filters): fashionlab.quiet acts only around the lab's own calls.
"""

import importlib

_API = {"compose": "fashionlab.api", "train": "fashionlab.api", "sweep": "fashionlab.api",
        "load_sweep": "fashionlab.api", "evaluate_checkpoint": "fashionlab.evaluation"}
__all__ = list(_API)


def __getattr__(name: str):
    if name in _API:
        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
