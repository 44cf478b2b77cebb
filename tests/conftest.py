"""Tiny FashionMNIST-format IDX files and the real Hydra config composed over them."""

import gzip
import os
import signal
from pathlib import Path

import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict

from fashionlab.resolvers import register_resolvers

# pytest-xdist runs one test process per core; torch's own threads on top of that would oversubscribe the cores, each
# process's idle threads spinning for the other's (a sixth of the suite's time, measured). One thread per test
# process, and per run it starts (which inherit this), unless the environment says otherwise. Set before torch loads.
os.environ.setdefault("OMP_NUM_THREADS", "1")

ROOT = Path(__file__).resolve().parents[1]
TINY_TRAIN, TINY_TEST, TINY_VAL = 600, 200, 100


def write_idx(path: Path, array: np.ndarray, compress: bool = False) -> None:
    """IDX format: magic (0x08 = uint8, then the number of dimensions), each dimension big-endian, raw bytes."""
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    data = header + array.astype(np.uint8).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(data) if compress else data)


def tiny_split(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Learnable images: each class lights its own band of rows, plus noise."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, count)
    images = rng.integers(0, 60, (count, 28, 28))
    for index, label in enumerate(labels):
        images[index, 2 * label + 4: 2 * label + 7] += 180
    return images, labels


def write_tiny_dataset(raw: Path, compress: bool = False) -> None:
    suffix = ".gz" if compress else ""
    for split, count, seed in (("train", TINY_TRAIN, 0), ("t10k", TINY_TEST, 1)):
        images, labels = tiny_split(count, seed)
        write_idx(raw / f"{split}-images-idx3-ubyte{suffix}", images, compress)
        write_idx(raw / f"{split}-labels-idx1-ubyte{suffix}", labels, compress)


@pytest.fixture(scope="session")
def tiny_data_dir(tmp_path_factory) -> Path:
    data_dir = tmp_path_factory.mktemp("data")
    write_tiny_dataset(data_dir / "FashionMNIST" / "raw")
    return data_dir


def as_from_a_terminal() -> None:
    """preexec_fn of a run a test stops with SIGINT: it listens to Ctrl-C as when started from a terminal. A suite
    started in the background (nohup, `&`, some CI runners) inherits SIGINT ignored, and so would every run it starts:
    Python then installs no KeyboardInterrupt handler, and the run would go on to its end."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def tiny_overrides(data_dir: Path) -> list[str]:
    """What turns the real config into a seconds-long run: tiny data, one epoch, no progress bar."""
    return [f"data.data_dir={data_dir}", f"data.val_size={TINY_VAL}", "data.verify_checksums=false",
            "trainer.max_epochs=1", "trainer.enable_progress_bar=false", "trainer.log_every_n_steps=1"]


@pytest.fixture
def compose_train(tiny_data_dir, tmp_path):
    """compose_train(*overrides) -> the real train config over tiny data, writing into tmp_path/run."""

    def compose_with(*overrides: str) -> DictConfig:
        register_resolvers()  # as src/train.py does before Hydra composes
        GlobalHydra.instance().clear()
        with initialize_config_dir(version_base="1.3", config_dir=str(ROOT / "conf")):
            cfg = compose("train", overrides=[*tiny_overrides(tiny_data_dir), *overrides], return_hydra_config=True)
        HydraConfig().set_config(cfg)
        with open_dict(cfg):  # as in a real run: the task sees no `hydra` key, `${hydra:...}` still resolves
            del cfg.hydra
            cfg.paths.output_dir = str(tmp_path / "run")
        return cfg

    yield compose_with
    GlobalHydra.instance().clear()
