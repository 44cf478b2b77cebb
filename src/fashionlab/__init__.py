"""fashionlab: multilayer perceptrons on FashionMNIST with Lightning, Hydra and TensorBoard.

From Python (a notebook), the public API: `from fashionlab import compose, datamodule, train, sweep, load_sweep,
evaluate_checkpoint` (fashionlab.api; a sweep reads as the report does: curves, table, verdict, diagnoses), the
class names and the sheet's preprocessing (`CLASS_NAMES`, `standardize`), the report's class grid and confusion
figures, and the sheet's Adam example (`SHEET`, `adam_step`, `torch_adam_step`, `worked_example`); docs/notebook.md.
They are imported on first use (PEP 562), so `import fashionlab`, which every command pays at its start, stays
light. Importing any part of the lab changes nothing in the process (matplotlib's backend, warning and logging
filters): fashionlab.quiet acts only around the lab's own calls.
"""

import importlib

_API = {**dict.fromkeys(["compose", "datamodule", "train", "sweep", "load_sweep", "evaluate_checkpoint"], "fashionlab.api"),
        **dict.fromkeys(["CLASS_NAMES", "standardize"], "fashionlab.data"),
        **dict.fromkeys(["class_samples_figure", "confusion_figure"], "fashionlab.reporting.figures"),
        **dict.fromkeys(["SHEET", "adam_step", "torch_adam_step", "worked_example"], "fashionlab.adam_example")}
__all__ = list(_API)


def __getattr__(name: str):
    if name in _API:
        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
