"""Stacked replicates: the runs of one configuration over several seeds trained in one batched step of one Trainer,
each member still its own run, with its own job folder, metrics, TensorBoard run and plain-run checkpoints.

The members' networks are drawn exactly as their standalone runs draw them (seed, then `instantiate(cfg.model)`), and
their parameters stacked with `torch.func.stack_module_state`: K copies as one leaf per tensor, shape (K, ...). The
forward pass walks the MLP's own layer list with a batched form of each layer (`StackedLinear`: one `baddbmm` for K
linear layers), so the network's definition stays fashionlab.model's. One optimizer steps the stacked leaves: every
optimizer of conf/optimizer/ updates each element from its own gradient and state alone, and the members' losses are
summed, so it is exactly K optimizers (up to the rounding of batched products). Each member's callbacks are the plain
run's own (RunRecorder, both ModelCheckpoints, LearningRateLogger), called with a view of the Trainer that shows that
member's metrics and saves that member's slice as a plain checkpoint.
"""

import copy
import logging
import time
from collections.abc import Sequence
from typing import Any

import lightning as L
import torch
from hydra.utils import instantiate
from lightning.pytorch.callbacks import ModelCheckpoint
from omegaconf import DictConfig, OmegaConf
from torch import Tensor, nn
from torch.func import stack_module_state
from torchmetrics import Metric

from fashionlab import draws
from fashionlab.cores import ShareCores
from fashionlab.model import Dropout, dropout_mask
from fashionlab.module import STAGES, Classifier
from fashionlab.quiet import quiet
from fashionlab.progress import progress_bar
from fashionlab.records import RunRecorder
from fashionlab.runfolder import Status, record_status
from fashionlab.tensorboard import log_overview

log = logging.getLogger(__name__)


class StackedLinear(torch.autograd.Function):
    """K linear layers, (K, N, in) to (K, N, out), with the weight gradient computed in the weight's own layout
    (K, out, in). `baddbmm` over the transposed weight is the same forward, but its backward returns the gradient
    transposed and AccumulateGrad copies it into the parameter's layout, at every step (docs/performance.md). Under
    autocast (bf16-mixed) the products run in the forward's dtype, the gradient's, and each gradient is cast back to
    its tensor's dtype, as autocast's own casts do for `baddbmm`."""

    @staticmethod
    def forward(ctx: Any, inputs: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
        ctx.save_for_backward(inputs, weight)
        return torch.baddbmm(bias.unsqueeze(1), inputs, weight.transpose(1, 2))

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, Tensor, Tensor]:
        inputs, weight = ctx.saved_tensors
        grad_inputs = torch.bmm(grad, weight.to(grad.dtype)).to(inputs.dtype) if ctx.needs_input_grad[0] else None
        grad_weight = torch.bmm(grad.transpose(1, 2), inputs.to(grad.dtype)).to(weight.dtype)
        return grad_inputs, grad_weight, grad.sum(1).to(weight.dtype)


class StackedMLP(nn.Module):
    """K MLPs of one architecture as stacked parameters (K, ...), run over K batches at once: (K, N, ...) images to
    (K, N, 10) logits; an (N, ...) batch (validation, test) goes to every member."""

    def __init__(self, members: Sequence[nn.Module]):
        super().__init__()
        self.size = len(members)
        self.generators: list[torch.Generator] = []  # each member's dropout generator (StackedClassifier's)
        self.template = [copy.deepcopy(members[0]).to("meta")]  # a list: not a submodule, holds the layer types
        params, buffers = stack_module_state(list(members))
        # key-value pairs keep the MLP's order (a dict would be sorted): the optimizer numbers its parameters as the
        # run alone's does, so a member's optimizer state fits its plain-run checkpoint
        self.stacked = nn.ParameterDict([(name.replace(".", "/"), nn.Parameter(value))
                                         for name, value in params.items()])
        for name, value in buffers.items():
            self.register_buffer(name.replace(".", "/"), value)

    def tensor(self, name: str) -> Tensor:
        key = name.replace(".", "/")
        return self.stacked[key] if key in self.stacked else getattr(self, key)

    def member_state(self, index: int) -> dict[str, Tensor]:
        """Member `index`'s state_dict, as its standalone MLP's."""
        state = self.template[0].state_dict()
        return {name: self.tensor(name)[index].detach().clone() for name in state}

    def forward(self, images: Tensor) -> Tensor:
        hidden = images.flatten(-3) if images.dim() >= 4 else images
        if hidden.dim() == 2:
            hidden = hidden.expand(self.size, *hidden.shape)
        for position, layer in enumerate(self.template[0].layers):
            prefix = f"layers.{position}."
            if isinstance(layer, nn.Linear):
                hidden = StackedLinear.apply(hidden, self.tensor(prefix + "weight"), self.tensor(prefix + "bias"))
            elif isinstance(layer, nn.BatchNorm1d):
                hidden = self._batch_norm(hidden, layer, prefix)
            elif isinstance(layer, nn.LayerNorm):
                hidden = nn.functional.layer_norm(hidden, layer.normalized_shape, eps=layer.eps)
                weight, bias = self.tensor(prefix + "weight"), self.tensor(prefix + "bias")
                hidden = hidden * weight.unsqueeze(1) + bias.unsqueeze(1)
            elif isinstance(layer, Dropout):
                if self.training:  # each member's mask from its own generator, as its standalone run draws it
                    hidden = hidden * torch.stack([dropout_mask(layer.p, hidden.shape[1:], generator, hidden.device)
                                                   for generator in self.generators])
            else:  # elementwise: activations
                hidden = layer(hidden)
        return hidden

    def _batch_norm(self, hidden: Tensor, layer: nn.BatchNorm1d, prefix: str) -> Tensor:
        """K batch norms as one over K x F features: (K, N, F) as (N, K*F), each member's running statistics a slice
        of one (K*F) buffer that F.batch_norm updates in place, exactly as each member's own would be."""
        members, count, features = hidden.shape
        if self.training:
            self.tensor(prefix + "num_batches_tracked").add_(1)
        flat = nn.functional.batch_norm(
            hidden.transpose(0, 1).reshape(count, members * features),
            self.tensor(prefix + "running_mean").view(-1), self.tensor(prefix + "running_var").view(-1),
            self.tensor(prefix + "weight").view(-1), self.tensor(prefix + "bias").view(-1),
            self.training, layer.momentum, layer.eps)
        return flat.reshape(count, members, features).transpose(0, 1)


class MemberMeans(Metric):
    """Per member, the mean of per-sample values over all updates (fashionlab.module.SampleMean, K at once)."""

    full_state_update = False

    def __init__(self, members: int):
        super().__init__()
        self.add_state("total", torch.zeros(members), dist_reduce_fx="sum")
        self.add_state("count", torch.zeros(members, dtype=torch.int64), dist_reduce_fx="sum")

    def update(self, values: Tensor) -> None:  # (K, N)
        self.total.add_(values.sum(1))
        self.count.add_(values.shape[1])

    def compute(self) -> Tensor:
        return self.total / self.count


def per_sample(loss_fn: nn.Module, logits: Tensor, labels: Tensor) -> Tensor:
    """`loss_fn`'s per-sample losses (reduction="none") of each member's logits (K, N, C) against its labels (K, N)."""
    return loss_fn(logits.flatten(0, 1), labels.flatten()).view(labels.shape)


class StackedClassifier(Classifier):
    """Classifier over a StackedMLP: the same losses, label smoothing and test-time mirror, per member; the training
    loss is the sum of the members' mean losses, so each member's gradient is its own run's. Members that left the
    stack (diverged) add nothing: their slice is computed still, but nothing of it reaches another member's."""

    def __init__(self, net: StackedMLP, seeds: Sequence[int] = (), **options):
        super().__init__(net, **options)
        self.dropout = draws.Generators(seeds, draws.DROPOUT)  # each member's
        self.mixup = draws.MixupDraws(seeds, self.mixup.alpha) if self.mixup is not None else None
        for stage in STAGES:
            setattr(self, f"{stage}_loss", MemberMeans(net.size))
            setattr(self, f"{stage}_acc", MemberMeans(net.size))
        self.register_buffer("in_stack", torch.ones(net.size, dtype=torch.bool), persistent=False)
        self.last_losses: Tensor | None = None  # each member's mean training loss of the last step

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        """Each member's forward pass over its own batch (K, N, ...) and its mean cross-entropy, summed."""
        images, labels = batch
        if self.mixup is not None:
            return self.mixup_step(images, labels, batch_idx)
        logits = self(images)  # (K, N, 10)
        losses = per_sample(self.train_loss_fn, logits, labels)
        self.record("train", batch_idx, logits, labels, losses)
        return self.summed(losses)

    def evaluate(self, batch: tuple[Tensor, Tensor], batch_idx: int, stage: str) -> None:
        """Every member over the same batch (N, ...)."""
        images, labels = batch
        logits = self(images)  # (K, N, 10)
        if self.tta:
            logits = (logits + self(images.flip(-1))) / 2
        labels = labels.expand(logits.shape[0], -1)
        self.record(stage, batch_idx, logits, labels, per_sample(self.loss_fn, logits, labels))

    def mixup_step(self, images: Tensor, labels: Tensor, batch_idx: int) -> Tensor:
        """Classifier's mixup for each member's batch (K, N, ...), with that member's weight and partners."""
        weights, partners = self.mixup.draw(images.shape[1], images.device)
        members = torch.arange(len(partners), device=images.device).unsqueeze(1)
        weight = weights.view(-1, *[1] * (images.dim() - 1))
        logits = self(weight * images + (1 - weight) * images[members, partners])
        paired = labels[members, partners]
        weights = weights.unsqueeze(1)
        losses = weights * per_sample(self.train_loss_fn, logits, labels) + \
            (1 - weights) * per_sample(self.train_loss_fn, logits, paired)
        self.record("train", batch_idx, logits, torch.where(weights >= 0.5, labels, paired), losses)
        return self.summed(losses)

    def record(self, stage: str, batch_idx: int, logits: Tensor, labels: Tensor, sample_losses: Tensor) -> None:
        getattr(self, f"{stage}_loss").update(sample_losses.detach())
        getattr(self, f"{stage}_acc").update((logits.detach().argmax(-1) == labels).float())

    def summed(self, sample_losses: Tensor) -> Tensor:
        """The sum of the members' mean losses, those that left the stack left out: each member's gradient is its
        own run's."""
        losses = sample_losses.mean(1)
        self.last_losses = losses.detach()
        return torch.where(self.in_stack, losses, torch.zeros_like(losses)).sum()

    def on_train_epoch_start(self) -> None:
        self.net.generators = self.dropout.on(self.device)
        self.train_loss.reset()
        self.train_acc.reset()

    def on_validation_epoch_start(self) -> None:
        self.val_loss.reset()
        self.val_acc.reset()

    def on_validation_epoch_end(self) -> None:
        """Each member's best is its recorder's (Members); nothing here is logged for the stack as a whole."""

    def member_state(self, index: int, best_val_acc: float | None) -> dict[str, Tensor]:
        """Member `index`'s state_dict as its standalone Classifier's."""
        state = {f"net.{name}": value for name, value in self.net.member_state(index).items()}
        state["best_val_acc.max_value"] = torch.tensor(-float("inf") if best_val_acc is None else best_val_acc)
        return state


def member_optimizer_state(state: dict, index: int, members: int) -> dict:
    """An optimizer state_dict of stacked parameters, cut to member `index`: each per-parameter tensor of the stacked
    shape (K, ...) to its slice; scalars (Adam's step count) as they are."""
    def cut(value):
        if isinstance(value, Tensor) and value.dim() and value.shape[0] == members:
            return value[index].clone()
        return value

    return {"state": {key: {name: cut(value) for name, value in entry.items()}
                      for key, entry in state["state"].items()},
            "param_groups": copy.deepcopy(state["param_groups"])}


class MemberTrainer:
    """The Trainer as one member's callbacks see it: that member's metrics, loggers and stop flag; `save_checkpoint`
    writes the member's own plain-run checkpoint. Anything else is the stack's Trainer."""

    def __init__(self, trainer: L.Trainer, member: "Member"):
        self._trainer, self._member = trainer, member
        self.callback_metrics: dict[str, Tensor] = {}
        self.should_stop = False

    def __getattr__(self, name: str):
        return getattr(self._trainer, name)

    @property
    def loggers(self) -> list:
        return [self._member.logger]

    @property
    def logger(self):
        return self._member.logger

    def save_checkpoint(self, filepath, weights_only: bool = False, storage_options: Any = None) -> None:
        trainer, member = self._trainer, self._member
        module: StackedClassifier = trainer.lightning_module
        # what a plain run's checkpoint holds (loops, schedulers, versions, random states) from the stack's own
        checkpoint = trainer._checkpoint_connector.dump_checkpoint(weights_only)
        checkpoint["state_dict"] = module.member_state(member.index, member.recorder.summary["best_val_acc"])
        if "optimizer_states" in checkpoint:
            checkpoint["optimizer_states"] = [member_optimizer_state(state, member.index, module.net.size)
                                              for state in checkpoint["optimizer_states"]]
        checkpoint["callbacks"] = {callback.state_key: state for callback in member.callbacks
                                   if (state := callback.state_dict())}
        checkpoint["hyper_parameters"] = {"config": member.config}
        if states := module.dropout.states():
            checkpoint["random_states"]["dropout"] = states[member.index]
        if module.mixup is not None:
            checkpoint["random_states"]["mixup"] = module.mixup.states()[member.index]
        data = type(trainer.datamodule).__qualname__
        if data in checkpoint:  # the augmentation generators, one per member
            checkpoint[data] = {"augmentation": [checkpoint[data]["augmentation"][member.index]]}
        trainer.strategy.save_checkpoint(checkpoint, filepath, storage_options=storage_options)


class Member:
    """One run of the stack: its config, its plain callbacks and logger, and the Trainer as they see it."""

    def __init__(self, index: int, cfg: DictConfig):
        self.index, self.cfg = index, cfg
        self.config = OmegaConf.to_container(cfg, resolve=True)
        self.logger = instantiate(cfg.logger)
        built = [instantiate(callback) for callback in cfg.callbacks.values()]
        # Lightning's order: checkpoints after every other callback (after RunRecorder's row)
        self.callbacks = [c for c in built if not isinstance(c, ModelCheckpoint)] + \
                         [c for c in built if isinstance(c, ModelCheckpoint)]
        self.recorder = next(c for c in self.callbacks if isinstance(c, RunRecorder))
        self.trainer: MemberTrainer | None = None  # set up with the stack's Trainer
        self.in_stack = True
        self.best = None

    def call(self, hook: str, module: L.LightningModule, *args) -> None:
        for callback in self.callbacks:
            if getattr(type(callback), hook) is not getattr(L.Callback, hook):  # Callback's own hooks do nothing
                getattr(callback, hook)(self.trainer, module, *args)


class Members(L.Callback):
    """Runs each member's plain callbacks at the stack's hooks, with that member's metrics; a member whose loss is no
    longer finite is recorded `diverged` by its own recorder and leaves the stack; the fit ends when none is left."""

    def __init__(self, members: list[Member]):
        self.members = members

    def _active(self):
        return [member for member in self.members if member.in_stack]

    def setup(self, trainer, pl_module, stage: str) -> None:
        for member in self.members:
            member.trainer = MemberTrainer(trainer, member)
            for callback in member.callbacks:
                callback.setup(member.trainer, pl_module, stage)

    def on_fit_start(self, trainer, pl_module) -> None:
        for member in self.members:
            member.call("on_fit_start", pl_module)
            member.recorder.note(stacked_members=len(self.members))

    def on_train_start(self, trainer, pl_module) -> None:
        for member in self._active():
            member.call("on_train_start", pl_module)

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        for member in self._active():
            member.call("on_train_epoch_start", pl_module)

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx: int) -> None:
        for member in self._active():
            member.call("on_train_batch_start", pl_module, batch, batch_idx)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        for member in self._active():
            member.call("on_train_batch_end", pl_module, {"loss": pl_module.last_losses[member.index]}, batch,
                        batch_idx)

    def on_validation_epoch_end(self, trainer, pl_module) -> None:
        if trainer.sanity_checking:
            return
        losses, accuracies = pl_module.val_loss.compute(), pl_module.val_acc.compute()
        for member in self._active():
            acc = accuracies[member.index]
            member.best = acc if member.best is None or acc > member.best else member.best
            member.trainer.callback_metrics.update({"val/loss": losses[member.index], "val/acc": acc,
                                                    "val/acc_best": member.best})
            member.call("on_validation_epoch_end", pl_module)

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        losses, accuracies = pl_module.train_loss.compute(), pl_module.train_acc.compute()
        for member in self._active():
            metrics = member.trainer.callback_metrics
            metrics.update({"train/loss": losses[member.index], "train/acc": accuracies[member.index]})
            member.call("on_train_epoch_end", pl_module)
            member.logger.log_metrics({key: float(value) for key, value in metrics.items()}, step=trainer.global_step)
            if member.trainer.should_stop:  # its recorder found its loss no longer finite
                member.in_stack = pl_module.in_stack[member.index] = False
                member.call("on_train_end", pl_module)
                member.logger.finalize("success")
        trainer.should_stop = trainer.should_stop or not self._active()

    def on_train_end(self, trainer, pl_module) -> None:
        for member in self._active():
            member.call("on_train_end", pl_module)
            member.logger.finalize("success")

    def on_exception(self, trainer, pl_module, exception: BaseException) -> None:
        for member in self._active():
            member.call("on_exception", pl_module, exception)


@quiet()
def train_stack(configs: list[DictConfig]) -> L.Trainer:
    """Fit the runs of `configs` (one configuration, each its own seed and job folder) as one stack. A stack that
    fails before training starts records `failed` with the error in every member's folder."""
    first = configs[0]
    try:
        nets = []
        for cfg in configs:  # each member's initial weights as its standalone run draws them
            L.seed_everything(cfg.seed, workers=True, verbose=False)
            nets.append(instantiate(cfg.model))
        datamodule = instantiate(first.data, shuffle_seed=[cfg.data.shuffle_seed for cfg in configs])
        datamodule.prepare_data()
        datamodule.setup("fit")
        module = instantiate(first.module, _target_=f"{__name__}.StackedClassifier", net=StackedMLP(nets),
                             seeds=[cfg.seed for cfg in configs])
        members = [Member(index, cfg) for index, cfg in enumerate(configs)]
        callbacks = [Members(members), ShareCores(), *([progress_bar()] if first.trainer.enable_progress_bar else [])]
        trainer = instantiate(first.trainer, logger=False, enable_checkpointing=False, callbacks=callbacks)
    except Exception as error:
        for cfg in configs:
            record_status(cfg.paths.output_dir, list(cfg.callbacks.records.overrides), Status.FAILED,
                          error=f"{type(error).__name__}: {error}")
        raise
    for member in members:
        log_overview(member.logger, member.cfg, datamodule, first_session=True)
    started = time.perf_counter()
    trainer.fit(module, datamodule=datamodule)
    log.info(f"Trained {len(configs)} stacked runs in {time.perf_counter() - started:.1f} s")
    return trainer

