"""Lab fits running at once share the cores: each takes its share of torch threads while the others run, and its own
count back when alone; a process whose OMP_NUM_THREADS is set keeps it."""

import os

import lightning as L
import pytest
import torch

from fashionlab import cores
from fashionlab.training import train


class ThreadsSeen(L.Callback):
    """Torch's thread count at each training step of the fit."""

    def __init__(self):
        self.seen: list[int] = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        self.seen.append(torch.get_num_threads())


def threads_seen(compose_train) -> set[int]:
    trainer = train(compose_train("+callbacks.threads._target_=test_cores.ThreadsSeen"))
    return set(next(c for c in trainer.callbacks if isinstance(c, ThreadsSeen)).seen)


@pytest.fixture
def free_cores(monkeypatch, tmp_path):
    """The cores this process may run on, torch's threads set to match for the test, the registry its own."""
    monkeypatch.setattr(cores, "REGISTRY", tmp_path / "registry")
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)  # the suite sets it: one thread per worker
    count, before = len(os.sched_getaffinity(0)), torch.get_num_threads()
    torch.set_num_threads(count)
    yield count
    torch.set_num_threads(before)


def test_a_fit_takes_its_share_of_the_cores_while_another_lab_fit_runs(compose_train, free_cores, monkeypatch):
    registry = cores.REGISTRY
    registry.mkdir()
    (registry / "12345-1.lock").touch()  # left by a process that ended: not a fit running
    assert threads_seen(compose_train) == {free_cores}
    assert list(registry.iterdir()) == [], "the stale file removed, this fit's own released"

    other = cores.hold(registry)  # another lab fit, running
    try:
        assert cores.running_fits(registry) == 1
        assert threads_seen(compose_train) == {max(1, free_cores // 2)}
        assert torch.get_num_threads() == free_cores, "its own count back after the fit"
        monkeypatch.setenv("OMP_NUM_THREADS", str(free_cores))
        assert threads_seen(compose_train) == {free_cores}, "a count set by the user is kept"
    finally:
        cores.release(other)
    assert cores.running_fits(registry) == 0
