"""The LightningModule: cross-entropy training of a network, with per-epoch metrics for each stage."""

from collections.abc import Callable, Iterable, Mapping

import lightning as L
import torch
from lightning.pytorch.loggers import TensorBoardLogger
from torch import Tensor, nn
from torchmetrics import MaxMetric, MeanMetric
from torchmetrics.classification import MulticlassAccuracy

STAGES = ("train", "val", "test")


class Classifier(L.LightningModule):
    """Wraps `net` with nn.CrossEntropyLoss, the optimizer and an optional learning-rate scheduler.

    Where the sheet's loop calls model.train(), model.eval() and torch.no_grad(): Lightning does all three,
    switching to train mode before training_step, to eval mode with gradients disabled for validation
    and test, and back to train mode afterwards.
    """

    def __init__(self, net: nn.Module, optimizer: Callable[[Iterable[nn.Parameter]], torch.optim.Optimizer] | None = None,
                 scheduler: Mapping | None = None, num_classes: int = 10):
        """`optimizer` takes the parameters (a Hydra partial); `scheduler` is Lightning's lr_scheduler dict
        whose "scheduler" entry takes the optimizer (also a partial), e.g. {"scheduler": ..., "interval": "epoch"}."""
        super().__init__()
        self.net = net
        self.optimizer_factory = optimizer
        self.scheduler_config = scheduler
        # Per-sample losses: the loss metric averages them over the epoch's samples (torchmetrics 1.9's MeanMetric
        # drops `weight` when NaN checks are disabled, so weighting batch means is not an option).
        self.loss_fn = nn.CrossEntropyLoss(reduction="none")
        # One metric object per stage (train_loss, val_acc, ...): updated every step, computed over all samples
        # of the epoch. No argument checks or NaN checks: those would synchronize with the device every step.
        for stage in STAGES:
            setattr(self, f"{stage}_loss", MeanMetric(nan_strategy="disable"))
            setattr(self, f"{stage}_acc", MulticlassAccuracy(num_classes, average="micro", validate_args=False))
        self.best_val_acc = MaxMetric()

    def forward(self, images: Tensor) -> Tensor:
        return self.net(images)

    def _step(self, batch: tuple[Tensor, Tensor], stage: str) -> Tensor:
        images, labels = batch
        logits = self(images)
        sample_losses = self.loss_fn(logits, labels)
        loss_metric, acc_metric = getattr(self, f"{stage}_loss"), getattr(self, f"{stage}_acc")
        loss_metric.update(sample_losses.detach())
        acc_metric.update(logits.detach(), labels)
        self.log(f"{stage}/loss", loss_metric, on_step=False, on_epoch=True)
        self.log(f"{stage}/acc", acc_metric, on_step=False, on_epoch=True)
        return sample_losses.mean()

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        return self._step(batch, "train")

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        self._step(batch, "val")

    def test_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        self._step(batch, "test")

    def on_validation_epoch_end(self) -> None:
        if self.trainer.sanity_checking:
            return
        self.best_val_acc.update(self.val_acc.compute())
        self.log("val/acc_best", self.best_val_acc.compute())

    def on_fit_start(self) -> None:
        # TensorBoard's CUSTOM SCALARS tab: train and val on one chart, for loss and for accuracy.
        if isinstance(self.logger, TensorBoardLogger):
            self.logger.experiment.add_custom_scalars({"train vs val": {
                "loss": ["Multiline", ["train/loss", "val/loss"]],
                "accuracy": ["Multiline", ["train/acc", "val/acc"]],
            }})

    def configure_optimizers(self):
        optimizer = self.optimizer_factory(self.parameters())
        if not self.scheduler_config or self.scheduler_config.get("scheduler") is None:
            return optimizer
        scheduler = {**self.scheduler_config, "scheduler": self.scheduler_config["scheduler"](optimizer)}
        return {"optimizer": optimizer, "lr_scheduler": scheduler}
