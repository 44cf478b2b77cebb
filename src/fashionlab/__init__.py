"""fashionlab: multilayer perceptrons on FashionMNIST with Lightning, Hydra and TensorBoard.

From Python (a notebook): `from fashionlab import compose, train, sweep, load_sweep, evaluate_checkpoint`
(fashionlab.api, docs/notebook.md). They are imported on first use (PEP 562), so `import fashionlab`, which every
command pays at its start, stays light.

Importing it quiets messages that ask nothing of this lab's users: three Lightning prints on every fit (the advice to
add loader workers: batches are slices of tensors in memory, workers would only add copies; a deprecation inside
Lightning's own code under torch >= 2.10; tips advertising Lightning's cloud services), wherever Slurm is installed
the hint to start the command with srun (launcher=slurm submits whole jobs with sbatch), and, in a notebook, tqdm's
advice to install ipywidgets when Optuna imports it (runs there show fashionlab.monitor.NotebookProgressBar).
"""

import importlib
import logging
import warnings

warnings.filterwarnings("ignore", ".*does not have many workers.*")
warnings.filterwarnings("ignore", r".*isinstance\(treespec, LeafSpec\)` is deprecated.*")
warnings.filterwarnings("ignore", ".*The `srun` command is available on your system.*")
warnings.filterwarnings("ignore", "IProgress not found")
logging.getLogger("lightning.pytorch.utilities.rank_zero").addFilter(
    lambda record: not record.getMessage().startswith("💡 Tip"))

_API = {"compose": "fashionlab.api", "train": "fashionlab.api", "sweep": "fashionlab.api",
        "load_sweep": "fashionlab.api", "evaluate_checkpoint": "fashionlab.evaluation"}
__all__ = list(_API)


def __getattr__(name: str):
    if name in _API:
        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
