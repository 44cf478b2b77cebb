"""fashionlab: multilayer perceptrons on FashionMNIST with Lightning, Hydra and TensorBoard.

Importing it quiets three messages Lightning prints on every fit that ask nothing of this lab's users: the advice to
add loader workers (batches are slices of tensors in memory; workers would only add copies), a deprecation inside
Lightning's own code under torch >= 2.10, and tips advertising Lightning's cloud services.
"""

import logging
import warnings

warnings.filterwarnings("ignore", ".*does not have many workers.*")
warnings.filterwarnings("ignore", r".*isinstance\(treespec, LeafSpec\)` is deprecated.*")
logging.getLogger("lightning.pytorch.utilities.rank_zero").addFilter(
    lambda record: not record.getMessage().startswith("💡 Tip"))
