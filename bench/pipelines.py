"""The four pipelines the benchmark times, each returning start-up, training and validation seconds.

A: this project as a user runs it (fashionlab.training's train(), what src/train.py runs, on the composed Hydra
config); B: the pipeline the PyTorch and Lightning tutorials teach; C: a hand-written loop over tensors in memory, the
floor for any framework; D: Lightning's own floor, a bare LightningModule on the same in-memory batches with nothing
logged or saved. All four train the same MLP (784-256-128-10) with SGD (lr 0.05) on 50,000 samples and validate on
10,000; A, C and D with the fused SGD step of conf/optimizer/sgd.yaml, B with torch's default, as the tutorials do.
"""

import functools
import statistics
from dataclasses import dataclass
from pathlib import Path
from time import perf_counter

import lightning as L
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import open_dict
from torch.nn import functional as F
from torch.utils.data import DataLoader, random_split
from torchvision import datasets, transforms

from fashionlab.data import MEAN, STD, FashionMNISTDataModule
from fashionlab.model import MLP
from fashionlab.resolvers import register_resolvers
from fashionlab.training import train  # what src/train.py runs: pipeline A runs exactly the code of the command line

ROOT = Path(__file__).resolve().parents[1]

LR = 0.05
FUSED_SGD = functools.partial(torch.optim.SGD, lr=LR, fused=True)  # conf/optimizer/sgd.yaml, as pipeline A has it


@dataclass
class Timing:
    startup: float  # from building data, model and trainer to the first training step
    first: float    # the first epoch, training and validation: includes compiling, where the network is compiled
    train: float    # 50,000 training samples with their logging and checkpointing: the mean over the epochs after the
                    # first (the first, for a 1-epoch fit)
    val: float      # validation on 10,000 samples, the mean over the same epochs
    val_acc: float  # after the last epoch: the pipelines should learn alike

    @property
    def epoch(self) -> float:
        return self.train + self.val


def timing(started: float, epoch_starts: list[float], val_seconds: list[float], end: float, val_acc: float) -> Timing:
    """A fit's Timing from when each epoch started, how long each validation took and when training ended."""
    steady = slice(1 if len(epoch_starts) > 1 else 0, None)
    epochs = [end - start for start, end in zip(epoch_starts, [*epoch_starts[1:], end])]
    return Timing(epoch_starts[0] - started, epochs[0], statistics.mean(epochs[steady]) - statistics.mean(
        val_seconds[steady]), statistics.mean(val_seconds[steady]), val_acc)


def now(device: torch.device) -> float:
    """Wall time once queued GPU work is done; on the CPU work is already done when a call returns."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return perf_counter()


class EpochClock(L.Callback):
    """Records when each epoch starts, how long its validation takes and when training ends (Lightning validates
    inside the training epoch, at its end)."""

    def __init__(self):
        self.epoch_starts: list[float] = []
        self.val_seconds: list[float] = []
        self.val_start = self.end = 0.0

    def on_train_epoch_start(self, trainer, pl_module):
        self.epoch_starts.append(now(trainer.strategy.root_device))

    def on_validation_epoch_start(self, trainer, pl_module):
        self.val_start = now(trainer.strategy.root_device)

    def on_validation_epoch_end(self, trainer, pl_module):
        if not trainer.sanity_checking:
            self.val_seconds.append(now(trainer.strategy.root_device) - self.val_start)

    def on_train_end(self, trainer, pl_module):
        self.end = now(trainer.strategy.root_device)

    def timing(self, started: float, trainer: L.Trainer, val_acc_key: str) -> Timing:
        return timing(started, self.epoch_starts, self.val_seconds, self.end,
                      float(trainer.callback_metrics[val_acc_key]))


class CompileNet(L.Callback):
    """Compiles the LightningModule's network in place (`nn.Module.compile`, torch.compile's default mode) before
    the fit: the bench's way to time torch.compile, which the project does not adopt (docs/performance.md)."""

    def setup(self, trainer, pl_module, stage):
        pl_module.net.compile()


def project(data_dir: Path, real: bool, batch_size: int, epochs: int, output_dir: Path, *extra: str) -> Timing:
    """A: the composed config with its logger and checkpoints; only the progress bar is off. `extra`: more overrides,
    e.g. `experiment=best_mlp`."""
    started = perf_counter()
    trainer = fit([*extra, f"data.data_dir={data_dir}", f"data.batch_size={batch_size}",
                   f"data.verify_checksums={real}", f"trainer.max_epochs={epochs}", "trainer.enable_progress_bar=false",
                   "+callbacks.clock._target_=bench.pipelines.EpochClock"], output_dir)
    return next(c for c in trainer.callbacks if isinstance(c, EpochClock)).timing(started, trainer, "val/acc")


def fit(overrides: list[str], output_dir: Path) -> L.Trainer:
    """fashionlab.training's train() on the config composed from `overrides`, in this process, writing into output_dir."""
    register_resolvers()
    GlobalHydra.instance().clear()
    with initialize_config_dir(version_base="1.3", config_dir=str(ROOT / "conf")):
        cfg = compose("train", overrides=overrides, return_hydra_config=True)
    HydraConfig().set_config(cfg)
    with open_dict(cfg):  # what @hydra.main hands to the task
        del cfg.hydra
        cfg.paths.output_dir = str(output_dir)
    return train(cfg)


class TutorialClassifier(L.LightningModule):
    """The docs' LightningModule: loss and accuracy computed and logged with self.log at every step."""

    def __init__(self):
        super().__init__()
        self.net = MLP()

    def _step(self, batch, stage: str):
        images, labels = batch
        logits = self.net(images)
        loss = F.cross_entropy(logits, labels)
        self.log(f"{stage}_loss", loss)
        self.log(f"{stage}_acc", (logits.argmax(1) == labels).float().mean())
        return loss

    def training_step(self, batch, batch_idx):
        return self._step(batch, "train")

    def validation_step(self, batch, batch_idx):
        self._step(batch, "val")

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=LR)


def tutorial(data_dir: Path, real: bool, batch_size: int, epochs: int, output_dir: Path) -> Timing:
    """B: torchvision's dataset with per-sample transforms, random_split, shuffling DataLoaders, Trainer defaults."""
    started = perf_counter()
    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((MEAN,), (STD,))])
    full = datasets.FashionMNIST(str(data_dir), train=True, transform=transform)
    train_set, val_set = random_split(full, [50_000, 10_000], generator=torch.Generator().manual_seed(0))
    clock = EpochClock()
    trainer = L.Trainer(max_epochs=epochs, enable_progress_bar=False, enable_model_summary=False,
                        default_root_dir=output_dir, callbacks=[clock])
    trainer.fit(TutorialClassifier(), DataLoader(train_set, batch_size=batch_size, shuffle=True),
                DataLoader(val_set, batch_size=batch_size))
    return clock.timing(started, trainer, "val_acc")


class BareClassifier(L.LightningModule):
    """Only what Lightning needs to train and validate: no metric objects, logger, checkpoints or callbacks."""

    def __init__(self):
        super().__init__()
        self.net = MLP()
        self.correct = 0

    def training_step(self, batch, batch_idx):
        images, labels = batch
        return F.cross_entropy(self.net(images), labels)

    def validation_step(self, batch, batch_idx):
        images, labels = batch
        self.correct += (self.net(images).argmax(1) == labels).sum()

    def on_validation_epoch_end(self):
        self.log("val_acc", self.correct / 10_000)
        self.correct = 0

    def configure_optimizers(self):
        return FUSED_SGD(self.parameters())


def bare_lightning(data_dir: Path, real: bool, batch_size: int, epochs: int, output_dir: Path) -> Timing:
    """D: Lightning's automatic optimization loop over the project's DataModule; what A adds on top is A - D."""
    started = perf_counter()
    L.seed_everything(0, verbose=False)
    clock = EpochClock()
    trainer = L.Trainer(max_epochs=epochs, enable_progress_bar=False, enable_model_summary=False, logger=False,
                        enable_checkpointing=False, num_sanity_val_steps=0, default_root_dir=output_dir,
                        callbacks=[clock])
    trainer.fit(BareClassifier(), datamodule=FashionMNISTDataModule(str(data_dir), batch_size=batch_size,
                                                                    verify_checksums=real))
    return clock.timing(started, trainer, "val_acc")


def raw_loop(data_dir: Path, real: bool, batch_size: int, epochs: int, output_dir: Path) -> Timing:
    """C: the project's preprocessed tensors on the device, shuffled index slices, no framework, no logging."""
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    started = now(device)
    datamodule = FashionMNISTDataModule(str(data_dir), verify_checksums=real)
    datamodule.setup()
    (images, labels), (val_images, val_labels) = (
        (split.images.to(device), split.labels.to(device)) for split in map(datamodule.splits.get, ("train", "val")))
    torch.manual_seed(0)
    model = MLP().to(device)
    optimizer = FUSED_SGD(model.parameters())
    epoch_starts, val_seconds = [], []
    for _ in range(epochs):
        epoch_starts.append(now(device))
        model.train()
        for batch in torch.randperm(len(labels), device=device).split(batch_size):
            loss = F.cross_entropy(model(images[batch]), labels[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        val_start = now(device)
        model.eval()
        with torch.no_grad():
            logits = torch.cat([model(chunk) for chunk in val_images.split(1000)])
        val_acc = float((logits.argmax(1) == val_labels).float().mean())
        val_seconds.append(now(device) - val_start)
    return timing(started, epoch_starts, val_seconds, now(device), val_acc)
