"""fashionlab: multilayer perceptrons on FashionMNIST with Lightning, Hydra and TensorBoard.

Importing it quiets four messages Lightning prints on every fit that ask nothing of this lab's users: the advice to
add loader workers (batches are slices of tensors in memory; workers would only add copies), a deprecation inside
Lightning's own code under torch >= 2.10, tips advertising Lightning's cloud services, and, wherever Slurm is
installed, the hint to start the command with srun (launcher=slurm submits whole jobs with sbatch).
"""

import logging
import warnings

warnings.filterwarnings("ignore", ".*does not have many workers.*")
warnings.filterwarnings("ignore", r".*isinstance\(treespec, LeafSpec\)` is deprecated.*")
warnings.filterwarnings("ignore", ".*The `srun` command is available on your system.*")
logging.getLogger("lightning.pytorch.utilities.rank_zero").addFilter(
    lambda record: not record.getMessage().startswith("💡 Tip"))
