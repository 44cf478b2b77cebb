"""Messages that ask nothing of this lab's users, quieted around the lab's own calls that print them and never for
the whole process, so a notebook's or a script's own code still sees them: three Lightning prints on every fit (the
advice to add loader workers: batches are slices of tensors in memory, workers would only add copies; a deprecation
inside Lightning's own code under torch >= 2.10; tips advertising Lightning's cloud services), wherever Slurm is
installed the hint to start the command with srun (launcher=slurm submits whole jobs with sbatch), and, in a
notebook, tqdm's advice to install ipywidgets when Optuna is first imported (runs there show
fashionlab.progress.NotebookProgressBar)."""

import contextlib
import logging
import warnings

WARNINGS = (".*does not have many workers.*", r".*isinstance\(treespec, LeafSpec\)` is deprecated.*",
            ".*The `srun` command is available on your system.*", "IProgress not found")


def _not_a_tip(record: logging.LogRecord) -> bool:
    return not record.getMessage().startswith("💡 Tip")


@contextlib.contextmanager
def quiet():
    """Within it (also a decorator), the messages above are not shown; the filters as they were afterwards."""
    logger = logging.getLogger("lightning.pytorch.utilities.rank_zero")
    with warnings.catch_warnings():
        for message in WARNINGS:
            warnings.filterwarnings("ignore", message)
        logger.addFilter(_not_a_tip)
        try:
            yield
        finally:
            logger.removeFilter(_not_a_tip)
