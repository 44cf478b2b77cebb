"""FashionMNIST as a LightningDataModule: find and verify the IDX files, standardize once, serve batches from memory."""

import argparse
import gzip
import hashlib
import logging
import shutil
import subprocess
import sys
from pathlib import Path

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Sampler
from torchvision.transforms import v2

from fashionlab import draws
from fashionlab.augment import augment

MEAN, STD = 0.286, 0.353
CLASS_NAMES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
# The release's decompressed files: md5 and sample count.
RELEASE = {
    "train-images-idx3-ubyte": ("f4a8712d7a061bf5bd6d2ca38dc4d50a", 60_000),
    "train-labels-idx1-ubyte": ("9018921c3c673c538a1fc5bad174d6f9", 60_000),
    "t10k-images-idx3-ubyte": ("8181f5470baa50b63fa0f6fddb340f0a", 10_000),
    "t10k-labels-idx1-ubyte": ("15d484375f8d13e6eb1aabb0c3f46965", 10_000),
}
HOW_TO_GET = (
    "get the data in one of three ways: put the four decompressed IDX files in {raw}, "
    "or `apt-get install dataset-fashion-mnist` (gzip files in /usr/share/datasets/fashion-mnist/), "
    "or let torchvision download them (needs internet); `make data` tries all three"
)
IMAGE_MAGIC, LABEL_MAGIC = 2051, 2049
log = logging.getLogger(__name__)


class DataError(RuntimeError):
    """The data is missing or not FashionMNIST; the message says which file, what is wrong and how to fix it."""


def raw_dir(data_dir: str | Path) -> Path:
    """torchvision's layout, so a torchvision download and our files share one folder."""
    return Path(data_dir) / "FashionMNIST" / "raw"


def fetch(data_dir: str | Path, apt_get: bool = False) -> Path:
    """Make the four raw files exist in data_dir, trying in turn: already there, Debian's gzip files, torchvision's
    download and, with `apt_get` (`make data`), installing Debian's package. Each source tried is a progress line
    (logging, INFO); DataError, naming every failure, only when all of them failed."""
    raw = raw_dir(data_dir)
    if all((raw / name).is_file() for name in RELEASE):
        return raw
    log.info(f"FashionMNIST is not in {raw}: trying Debian's gzip files in {DEBIAN_DIR}/")
    if copy_debian_files(raw):
        return raw
    failures = [f"no Debian files in {DEBIAN_DIR}/"]
    log.info("They are not there: downloading with torchvision (needs internet)")
    try:
        from torchvision.datasets import FashionMNIST

        FashionMNIST(str(data_dir), download=True)
        return raw
    except Exception as error:  # torchvision raises RuntimeError or URLError subclasses
        failures.append(f"the download failed ({' '.join(str(error).split())})")
    if apt_get and shutil.which("apt-get"):
        log.info(f"{failures[-1].capitalize()}: installing Debian's dataset-fashion-mnist with apt-get")
        installed = all(subprocess.run(["apt-get", *command, "-qq"]).returncode == 0
                        for command in (["update"], ["install", "-y", "dataset-fashion-mnist"]))
        if installed and copy_debian_files(raw):
            return raw
        failures.append("apt-get install dataset-fashion-mnist failed")
    raise DataError(f"FashionMNIST not found in {raw}: {'; '.join(failures)}; " + HOW_TO_GET.format(raw=raw))


def copy_debian_files(raw: Path) -> bool:
    """Decompress Debian's gzip files into `raw`, each through a partial file; False if they are not all there."""
    if not all((DEBIAN_DIR / f"{name}.gz").is_file() for name in RELEASE):
        return False
    try:
        raw.mkdir(parents=True, exist_ok=True)
        for name in RELEASE:
            partial = raw / f"{name}.partial"
            with gzip.open(DEBIAN_DIR / f"{name}.gz") as src, open(partial, "wb") as dst:
                shutil.copyfileobj(src, dst)
            partial.rename(raw / name)
    except OSError as error:
        raise DataError(f"cannot write the data into {raw} ({error.strerror}); "
                        "pass a data_dir that is a folder you can write to") from None
    log.info(f"Decompressed Debian's files into {raw}")
    return True


def replace_it(path: Path) -> str:
    """The hint for a file that is there but not FashionMNIST's."""
    return "delete it and " + HOW_TO_GET.format(raw=path.parent)


def read_idx(path: Path, verify_checksum: bool) -> torch.Tensor:
    """Read one IDX file as uint8, checking magic number, shape, size, labels and (for the real release) md5."""
    if not path.is_file():
        raise DataError(f"{path}: file missing; " + HOW_TO_GET.format(raw=path.parent))
    data = path.read_bytes()
    is_images = "images" in path.name
    magic = int.from_bytes(data[:4], "big")
    expected_magic = IMAGE_MAGIC if is_images else LABEL_MAGIC
    if magic != expected_magic:
        raise DataError(f"{path}: magic number {magic}, expected {expected_magic}; not an IDX "
                        f"{'image' if is_images else 'label'} file. " + HOW_TO_GET.format(raw=path.parent))
    ndim = 3 if is_images else 1
    header = 4 + 4 * ndim
    shape = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    if is_images and shape[1:] != [28, 28]:
        raise DataError(f"{path}: images are {shape[1]}x{shape[2]}, expected 28x28; " + replace_it(path))
    expected_size = header + shape[0] * (784 if is_images else 1)
    if len(data) != expected_size:
        raise DataError(f"{path}: {len(data)} bytes, header promises {expected_size} (truncated or padded file); "
                        + HOW_TO_GET.format(raw=path.parent))
    if verify_checksum:
        md5, count = RELEASE[path.name]
        if shape[0] != count:
            raise DataError(f"{path}: {shape[0]} samples, the FashionMNIST release has {count}; " + replace_it(path))
        if hashlib.md5(data).hexdigest() != md5:
            raise DataError(f"{path}: md5 differs from the FashionMNIST release; " + replace_it(path))
    tensor = torch.frombuffer(bytearray(data[header:]), dtype=torch.uint8).reshape(shape)
    if not is_images and tensor.numel() and int(tensor.max()) > 9:
        raise DataError(f"{path}: label {int(tensor.max())} out of range, allowed 0-9; " + replace_it(path))
    return tensor


def load_split(raw: Path, split: str, verify_checksum: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 images (N, 28, 28) and int64 labels (N,) of 'train' or 't10k'."""
    images = read_idx(raw / f"{split}-images-idx3-ubyte", verify_checksum)
    labels = read_idx(raw / f"{split}-labels-idx1-ubyte", verify_checksum)
    if len(images) != len(labels):
        raise DataError(f"{raw}: {len(images)} {split} images but {len(labels)} labels; delete both files and "
                        + HOW_TO_GET.format(raw=raw))
    return images, labels.long()


def standardize() -> v2.Compose:
    """The sheet's preprocessing: to float in [0, 1], then (x - 0.286) / 0.353. Works on a whole (N, 1, 28, 28) batch."""
    return v2.Compose([v2.ToImage(), v2.ToDtype(torch.float32, scale=True), v2.Normalize([MEAN], [STD])])


class TensorPairs(torch.utils.data.Dataset):
    """Images and labels held in memory; indexing with a tensor of indices or a slice returns a whole batch."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor):
        self.images, self.labels = images, labels

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index):
        if not isinstance(index, torch.Tensor):  # a slice (an unshuffled batch) or one sample
            return self.images[index], self.labels[index]
        rows = index.flatten()  # one index_select gathers faster than indexing with a (K, N) tensor (a stack's batch)
        return (self.images.index_select(0, rows).view(*index.shape, *self.images.shape[1:]),
                self.labels.index_select(0, rows).view(index.shape))

    def to(self, device: torch.device) -> "TensorPairs":
        return TensorPairs(self.images.to(device), self.labels.to(device))


class BatchIndices(Sampler):
    """Yields one index tensor (or slice) per batch, so a batch is one gather instead of batch_size lookups.

    Shuffling draws a fresh permutation per epoch from the pair (seed, epoch), mixed by numpy's SeedSequence, so each
    seed's orders are independent of every other seed's (`seed + epoch`, until 2026-12-06, gave seed s at epoch e the
    order of seed s+1 at epoch e-1); Lightning calls `set_epoch`, so a run resumed from a checkpoint sees the same
    batches as one that never stopped. The permutation is drawn on `device`, where the data is, so a GPU run shuffles
    without the host.
    """

    def __init__(self, size: int, batch_size: int, shuffle: bool, seed: int = 0, device: torch.device | str = "cpu"):
        self.size, self.batch_size, self.shuffle, self.seed = size, batch_size, shuffle, seed
        self.device = torch.device(device)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return -(-self.size // self.batch_size)

    def __iter__(self):
        starts = range(0, self.size, self.batch_size)
        if not self.shuffle:
            yield from (slice(start, start + self.batch_size) for start in starts)
            return
        mixed = np.random.SeedSequence([self.seed, self.epoch]).generate_state(1, np.uint64)[0]
        generator = torch.Generator(self.device).manual_seed(int(mixed))
        order = torch.randperm(self.size, generator=generator, device=self.device)
        yield from (order[start:start + self.batch_size] for start in starts)


class StackedBatchIndices(Sampler):
    """One batch per member of a stack (fashionlab.stacking), each in its own seed's order: a (K, N) index tensor,
    so a batch is one gather of (K, N, 1, 28, 28) images."""

    def __init__(self, members: list[BatchIndices]):
        self.members = members

    def set_epoch(self, epoch: int) -> None:
        for member in self.members:
            member.set_epoch(epoch)

    def __len__(self) -> int:
        return len(self.members[0])

    def __iter__(self):
        yield from (torch.stack(batches) for batches in zip(*self.members))


class FashionMNISTDataModule(L.LightningDataModule):
    """50,000 train / 10,000 validation (fixed by split_seed) / 10,000 test, standardized once and kept in memory.

    Augmentation draws from a generator of the shuffle seed's own (fashionlab.draws), kept in checkpoints. A list of
    shuffle seeds serves a stack of runs (fashionlab.stacking): each training batch is one per seed, each augmented
    with that seed's generator."""

    def __init__(self, data_dir: str = "data", batch_size: int = 64, eval_batch_size: int = 1000,
                 val_size: int = 10_000, split_seed: int = 0, shuffle_seed: int | list[int] = 0,
                 verify_checksums: bool = True,
                 augment_flip: bool = False, augment_shift: int = 0, augment_erase: float = 0.0):
        super().__init__()
        self.augment_flip, self.augment_shift, self.augment_erase = augment_flip, augment_shift, augment_erase
        self.data_dir, self.batch_size, self.eval_batch_size = data_dir, batch_size, eval_batch_size
        self.val_size, self.split_seed, self.shuffle_seed = val_size, split_seed, shuffle_seed
        self.verify_checksums = verify_checksums
        self.splits: dict[str, TensorPairs] = {}
        self.seeds = [shuffle_seed] if isinstance(shuffle_seed, int) else list(shuffle_seed)
        self.augmentation = draws.Generators(self.seeds, draws.AUGMENTATION)

    def prepare_data(self) -> None:
        fetch(self.data_dir)

    def setup(self, stage: str | None = None) -> None:
        """Loads once. Under a Trainer on a GPU all splits move there once (about 0.2 GB), so each batch is a
        gather on the device: no per-batch host-to-device copy."""
        if not self.splits:
            self.splits = self._load()
        device = self.trainer.strategy.root_device if self.trainer else torch.device("cpu")
        self.splits = {name: split.to(device) for name, split in self.splits.items()}

    def _load(self) -> dict[str, TensorPairs]:
        raw = raw_dir(self.data_dir)
        images, labels = load_split(raw, "train", self.verify_checksums)
        if not 0 < self.val_size < len(labels):
            raise DataError(f"data.val_size={self.val_size}: allowed 1 to {len(labels) - 1} "
                            f"(the training file has {len(labels)} samples)")
        order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(self.split_seed))
        val_index, train_index = order[:self.val_size], order[self.val_size:]
        images = standardize()(images.unsqueeze(1)).as_subclass(torch.Tensor)
        test_images, test_labels = load_split(raw, "t10k", self.verify_checksums)
        return {
            "train": TensorPairs(images[train_index], labels[train_index]),
            "val": TensorPairs(images[val_index], labels[val_index]),
            "test": TensorPairs(standardize()(test_images.unsqueeze(1)).as_subclass(torch.Tensor), test_labels),
        }

    def _loader(self, split: str, batch_size: int, shuffle: bool) -> DataLoader:
        data = self.splits[split]
        samplers = [BatchIndices(len(data), batch_size, shuffle, seed, device=data.labels.device)
                    for seed in self.seeds]
        stacked = shuffle and not isinstance(self.shuffle_seed, int)  # a stack's training batches, one per seed
        sampler = StackedBatchIndices(samplers) if stacked else samplers[0]
        # batch_size=None: the sampler already yields whole batches, the loader passes them through.
        return DataLoader(data, batch_size=None, sampler=sampler)

    def on_after_batch_transfer(self, batch, dataloader_idx: int):
        """Augments training batches only, where they already are (GPU or CPU); validation and test stay as they are."""
        if not self.trainer.training or not (self.augment_flip or self.augment_shift or self.augment_erase):
            return batch
        images, labels = batch
        generators = self.augmentation.on(images.device)
        settings = (self.augment_flip, self.augment_shift, -MEAN / STD, self.augment_erase)
        if images.dim() == 5:  # a stack's batches, (K, N, 1, H, W)
            return torch.stack([augment(member, *settings, generator=generator)
                                for member, generator in zip(images, generators)]), labels
        return augment(images, *settings, generator=generators[0]), labels

    def state_dict(self) -> dict:
        """What a checkpoint keeps of the data: the augmentation generators' states (one per seed)."""
        states = self.augmentation.states()
        return {"augmentation": states} if states else {}

    def load_state_dict(self, state: dict) -> None:
        self.augmentation.load(state.get("augmentation"))

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", self.batch_size, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", self.eval_batch_size, shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", self.eval_batch_size, shuffle=False)


def main() -> None:
    """`python -m fashionlab.data`: fetch and verify the data, as `make data` does, saying which source it tries;
    exit 1 with one `error:` line if every source failed."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--data-dir", default="data")
    parser.add_argument("--apt-get", action="store_true",
                        help="as a last resort, install Debian's dataset-fashion-mnist with apt-get (make data)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        raw = fetch(args.data_dir, args.apt_get)
        for split in ("train", "t10k"):
            load_split(raw, split, verify_checksum=True)
    except DataError as error:
        sys.exit(f"error: {error}")
    print(f"FashionMNIST verified in {raw} (60,000 train + 10,000 test, md5 as released)")


if __name__ == "__main__":
    main()
