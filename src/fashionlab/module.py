"""The LightningModule: cross-entropy training of a network, with per-epoch metrics for each stage."""

import functools
from collections.abc import Callable, Iterable
from typing import Any

import lightning as L
import torch
from torch import Tensor, nn
from torchmetrics import MaxMetric, Metric
from torchmetrics.classification import MulticlassConfusionMatrix

from fashionlab import draws
from fashionlab.model import Dropout


STAGES = ("train", "val", "test")


class SampleMean(Metric):
    """The mean of per-sample values (losses, or 1 for a correct prediction and 0 otherwise) over all updates.

    torchmetrics' MeanMetric and MulticlassAccuracy give the same numbers at two to three times the cost per update
    (input checks, weights, per-class counts, several module attribute sets), which matters at batch 64, where a
    whole training step takes about a millisecond on a CPU (docs/performance.md).
    """

    full_state_update = False

    def __init__(self):
        super().__init__()
        self.add_state("total", torch.tensor(0.0), dist_reduce_fx="sum")
        self.add_state("count", torch.tensor(0, dtype=torch.int64), dist_reduce_fx="sum")

    def update(self, values: Tensor) -> None:
        self.total.add_(values.sum())  # in place: no module attribute set per step
        self.count.add_(values.numel())

    def compute(self) -> Tensor:
        return self.total / self.count


class Classifier(L.LightningModule):
    """A network trained with cross-entropy: the model, the loss, one metric object per stage and metric, the optimizer
    and an optional learning-rate scheduler. The lab builds it from the config: `instantiate(cfg.module)`.

    Where the sheet's loop calls model.train(), model.eval() and torch.no_grad(): Lightning does all three,
    switching to train mode before training_step, to eval mode with gradients disabled for validation
    and test, and back to train mode afterwards.
    """

    def __init__(self, net: nn.Module, optimizer: Callable[[Iterable[nn.Parameter]], torch.optim.Optimizer] | None = None,
                 scheduler: Callable[[torch.optim.Optimizer], Any] | None = None, scheduler_interval: str = "epoch",
                 num_classes: int = 10, label_smoothing: float = 0.0, tta: bool = False, mixup: float = 0.0,
                 seed: int = 0):
        """`optimizer` takes the parameters, `scheduler` the optimizer (Hydra partials: conf/optimizer/,
        conf/scheduler/); `scheduler_interval`: the scheduler steps after each epoch or each batch (`step`: it is
        also given the run's total_steps). `label_smoothing` softens the training loss only, so validation and test
        losses stay comparable across runs; `tta` makes validation and test average the logits of each image and its
        mirror image; `mixup` > 0 trains on mixed pairs of images (mixup, its Beta(mixup, mixup) weight drawn per
        batch); `seed`: the run's, from which its dropout masks and mixup draws are drawn (fashionlab.draws)."""
        super().__init__()
        self.net = net
        self.dropout = draws.Generators([seed], draws.DROPOUT)
        self.optimizer_factory, self.scheduler_factory = optimizer, scheduler
        self.scheduler_interval = scheduler_interval
        self.tta = tta
        self.mixup = draws.MixupDraws([seed], mixup) if mixup else None
        # Per-sample losses: the loss metric averages them over the epoch's samples.
        self.loss_fn = nn.CrossEntropyLoss(reduction="none")
        self.train_loss_fn = nn.CrossEntropyLoss(reduction="none", label_smoothing=label_smoothing)
        # One metric object per stage (train_loss, val_acc, ...): updated every step, computed over all samples
        # of the epoch. No argument checks or NaN checks: those would synchronize with the device every step.
        for stage in STAGES:
            setattr(self, f"{stage}_loss", SampleMean())
            setattr(self, f"{stage}_acc", SampleMean())
        # The best validation accuracy so far (val/acc_best), kept in checkpoints (torchmetrics keeps no metric state
        # by default): a resumed run goes on from the best of the epochs before the stop. A checkpoint of an earlier
        # version, without it, still loads (torchmetrics takes a missing state as none so far).
        self.best_val_acc = MaxMetric()
        self.best_val_acc.persistent(True)
        # Test only: rows are true classes, columns predictions; read by fashionlab.evaluation after trainer.test.
        self.test_confusion = MulticlassConfusionMatrix(num_classes, validate_args=False)

    def forward(self, images: Tensor) -> Tensor:
        return self.net(images)

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        """The forward pass over a batch and its mean cross-entropy, which the optimizer minimizes."""
        images, labels = batch
        if self.mixup is not None:
            return self.mixup_step(images, labels, batch_idx)
        logits = self(images)
        losses = self.train_loss_fn(logits, labels)  # one per image
        self.record("train", batch_idx, logits, labels, losses)
        return losses.mean()

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        self.evaluate(batch, batch_idx, "val")

    def test_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        self.evaluate(batch, batch_idx, "test")

    def evaluate(self, batch: tuple[Tensor, Tensor], batch_idx: int, stage: str) -> None:
        """Validation or test: plain cross-entropy of the logits (with `tta`, averaged with the mirror image's)."""
        images, labels = batch
        logits = self(images)
        if self.tta:
            logits = (logits + self(images.flip(-1))) / 2
        self.record(stage, batch_idx, logits, labels, self.loss_fn(logits, labels))

    def mixup_step(self, images: Tensor, labels: Tensor, batch_idx: int) -> Tensor:
        """Mixup: each image blended with another of the batch, weight `weight` on its own (one Beta draw per batch),
        the loss blended alike. Train accuracy counts the label of the larger weight. Draws from the run's own
        generator (fashionlab.draws), which checkpoints keep."""
        (weight,), (partner,) = self.mixup.draw(len(images), images.device)
        logits = self(weight * images + (1 - weight) * images[partner])
        losses = weight * self.train_loss_fn(logits, labels) + (1 - weight) * self.train_loss_fn(logits, labels[partner])
        self.record("train", batch_idx, logits, torch.where(weight >= 0.5, labels, labels[partner]), losses)
        return losses.mean()

    def record(self, stage: str, batch_idx: int, logits: Tensor, labels: Tensor, sample_losses: Tensor) -> None:
        """Update the stage's metrics with the batch; Lightning logs them once per epoch."""
        loss_metric, acc_metric = getattr(self, f"{stage}_loss"), getattr(self, f"{stage}_acc")
        loss_metric.update(sample_losses.detach())
        acc_metric.update(logits.detach().argmax(1) == labels)
        if stage == "test":
            self.test_confusion.update(logits.detach(), labels)
        if batch_idx == 0:
            # Lightning computes a logged metric object over all its updates when the epoch ends, so logging it
            # once per epoch gives the same numbers; every step it would cost ~0.3 ms (self.log moves and
            # detaches the whole metric on each call), a third of a training step at batch 64 on a CPU.
            self.log(f"{stage}/loss", loss_metric, on_step=False, on_epoch=True)
            self.log(f"{stage}/acc", acc_metric, on_step=False, on_epoch=True)

    def on_validation_epoch_end(self) -> None:
        if self.trainer.sanity_checking:
            return
        self.best_val_acc.update(self.val_acc.compute())
        self.log("val/acc_best", self.best_val_acc.compute())

    def on_train_epoch_start(self) -> None:
        """The run's own dropout generator on its device, for every dropout layer: from the checkpoint a run resumes
        from, else fresh."""
        (generator,) = self.dropout.on(self.device)
        for layer in self.net.modules():
            if isinstance(layer, Dropout):
                layer.generator = generator

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        """Every checkpoint keeps the states of the run's dropout and mixup generators and those of torch's global
        generators (the CPU's, and each CUDA device's once used), for draws of a network of the user's own; Lightning
        keeps none. Batch order and augmentation have generators of their own (fashionlab.data). Here rather than in
        a callback: Lightning calls every callback at every step."""
        cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else []
        checkpoint["random_states"] = {"torch": torch.get_rng_state(), "cuda": cuda}
        if states := self.dropout.states():
            checkpoint["random_states"]["dropout"] = states[0]
        if self.mixup is not None:
            checkpoint["random_states"]["mixup"] = self.mixup.states()[0]

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        """A resumed run draws, from its first batch on, the numbers a run that never stopped would have drawn."""
        states = checkpoint.get("random_states")  # none in checkpoints of earlier versions
        if states:
            torch.set_rng_state(states["torch"])
            if states["cuda"] and torch.cuda.is_available():
                torch.cuda.set_rng_state_all(states["cuda"])
            self.dropout.load([states["dropout"]] if "dropout" in states else None)
            if self.mixup is not None:
                self.mixup.load([states["mixup"]] if "mixup" in states else None)

    def configure_optimizers(self):
        optimizer = self.optimizer_factory(self.parameters())
        if self.scheduler_factory is None:
            return optimizer
        make_scheduler = self.scheduler_factory
        if self.scheduler_interval == "step":
            # A per-step schedule spans the whole run, whose length in steps is known only now.
            make_scheduler = functools.partial(make_scheduler, total_steps=self.trainer.estimated_stepping_batches)
        return {"optimizer": optimizer,
                "lr_scheduler": {"scheduler": make_scheduler(optimizer), "interval": self.scheduler_interval}}
