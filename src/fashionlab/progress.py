"""A run's progress while it trains: in a terminal Lightning's tqdm bar without what means nothing here, in a Jupyter
notebook one display updated in place."""

import html
import sys
import time

import lightning as L
from lightning.pytorch.callbacks import ProgressBar as LightningProgressBar
from lightning.pytorch.callbacks import TQDMProgressBar


class ProgressBar(TQDMProgressBar):
    """Lightning's progress bar without `v_num`, the logger's version, which here is the run name and would show as
    its last four characters (`v_num: =sgd`). The way Lightning documents (ProgressBar.get_metrics)."""

    def get_metrics(self, trainer: L.Trainer, pl_module: L.LightningModule) -> dict:
        items = super().get_metrics(trainer, pl_module)
        items.pop("v_num", None)
        return items


class NotebookProgressBar(LightningProgressBar):
    """A run's progress in a Jupyter notebook: one display, updated in place (IPython's display_id), instead of tqdm's
    lines, which a notebook cannot redraw (a bar per validation, cursor moves it prints as text). It shows the epoch,
    the batch, the time so far and the last epoch's metrics, as HTML and as text; a saved or exported notebook keeps
    its last state."""

    def __init__(self, refresh_seconds: float = 0.5):
        super().__init__()
        self.refresh_seconds = refresh_seconds  # between updates within an epoch; each epoch's end is always shown
        self.enabled = True
        self.handle = None
        self.started = self.shown = 0.0

    def disable(self) -> None:
        self.enabled = False

    def enable(self) -> None:
        self.enabled = True

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        from IPython.display import display

        self.started = time.perf_counter()
        if self.enabled:
            self.handle = display(self._bundle(trainer, 0), raw=True, display_id=True)

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs, batch, batch_idx: int):
        if time.perf_counter() - self.shown >= self.refresh_seconds:
            self._show(trainer, batch_idx + 1)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._show(trainer, self.total_train_batches)  # after the epoch's validation: its metrics are in

    def _show(self, trainer: L.Trainer, batches: float) -> None:
        if self.handle is not None:
            self.handle.update(self._bundle(trainer, batches), raw=True)
            self.shown = time.perf_counter()

    def _bundle(self, trainer: L.Trainer, batches: float) -> dict[str, str]:
        """The display as text and as HTML: a <progress> bar over the whole run (epochs and batches), then the text."""
        epochs, total, logged = trainer.max_epochs, self.total_train_batches, trainer.callback_metrics
        metrics = [f"{stage} loss {float(logged[f'{stage}/loss']):.4f}, acc {float(logged[f'{stage}/acc']):.4f}"
                   for stage in ("train", "val") if f"{stage}/acc" in logged]
        text = " | ".join([f"epoch {trainer.current_epoch + 1}/{epochs}", f"batch {batches:g}/{total:g}",
                           time.strftime("%H:%M:%S", time.gmtime(time.perf_counter() - self.started)), *metrics])
        done = (trainer.current_epoch + batches / total) / epochs
        bar = f'<progress max="1" value="{done:.4f}" style="width: 20em"></progress>'
        return {"text/plain": text, "text/html": f"{bar} <code>{html.escape(text)}</code>"}


def in_jupyter() -> bool:
    """Whether this process is a Jupyter kernel (ipykernel), whose displays a notebook can update in place; IPython in
    a terminal is not one."""
    ipython = sys.modules.get("IPython")
    return getattr(ipython.get_ipython() if ipython else None, "kernel", None) is not None


def progress_bar() -> LightningProgressBar:
    """The progress display of a run: in a Jupyter kernel one that updates in place, elsewhere Lightning's tqdm bar."""
    return NotebookProgressBar() if in_jupyter() else ProgressBar()
