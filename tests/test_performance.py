"""Speed settings that must not change results: fused optimizer steps, the precision chosen for the hardware, the
class samples drawn without matplotlib, and `make gpu-check` (its no-GPU path, its host-copy recorder on a CPU and
every command it composes); what `make bench` counts as a fit's steady epoch."""

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.utils import instantiate
from torch.utils._python_dispatch import _get_current_dispatch_mode

from bench import gpu_check
from bench.gpu_check import HostCopyWatch, HostToDevice
from bench.pipelines import timing
from conftest import ROOT
from fashionlab.tensorboard import class_samples_grid
from fashionlab.precision import FALLBACK, choose, chosen, device_type, native_bf16
from fashionlab.preflight import CheckConfig
from fashionlab.resume import resume_command
from fashionlab.runfolder import Status, record_status
from fashionlab.sweeps import job_overrides
from fashionlab.training import train

OPTIMIZERS = sorted(path.stem for path in (ROOT / "conf" / "optimizer").glob("*.yaml"))
DEVICES = ["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"]
# float32: a fused kernel may order or fuse the arithmetic differently from the loop, nothing more.
RTOL, ATOL = 1e-5, 1e-7


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", OPTIMIZERS)
def test_configured_optimizer_step_equals_torchs_reference_loop(compose_train, name, device):
    cfg = compose_train(f"optimizer={name}", "model.hidden_sizes=[64]")
    configured = instantiate(cfg.optimizer)
    fast_path = "fused" if "fused" in cfg.optimizer else "foreach"
    reference = instantiate(cfg.optimizer, foreach=False, **({"fused": False} if "fused" in cfg.optimizer else {}))
    torch.manual_seed(0)
    nets = [instantiate(cfg.model).to(device) for _ in range(2)]
    nets[1].load_state_dict(nets[0].state_dict())
    optimizers = [configured(nets[0].parameters()), reference(nets[1].parameters())]
    assert optimizers[0].defaults[fast_path] is True, f"conf/optimizer/{name}.yaml should set {fast_path}: true"
    for step in range(3):  # later steps use the optimizer state (momentum, running averages) the first one built
        images = torch.randn(32, 784, generator=torch.Generator().manual_seed(step)).to(device)
        labels = torch.arange(32, device=device) % 10
        for net, optimizer in zip(nets, optimizers):
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(net(images), labels).backward()
            optimizer.step()
        for fast, slow in zip(*(net.parameters() for net in nets)):
            torch.testing.assert_close(fast, slow, rtol=RTOL, atol=ATOL)


def test_bf16_is_chosen_only_where_the_processor_has_it():
    assert choose("bf16-mixed", "cpu", bf16_native=True)[0] == "bf16-mixed"
    precision, reason = choose("bf16-mixed", "cpu", bf16_native=False)
    assert precision == FALLBACK == "32-true" and "no native bfloat16" in reason
    assert choose("32-true", "cuda", bf16_native=True)[0] == "32-true", "a precision that needs no bf16 stays"
    assert device_type("cpu") == "cpu" and device_type("auto") == ("cuda" if torch.cuda.is_available() else "cpu")


def test_best_mlp_trains_in_the_precision_chosen_for_this_machine(compose_train, caplog):
    cfg = compose_train("experiment=best_mlp", "model.hidden_sizes=[64,64]", "data.batch_size=100")
    assert compose_train().trainer.precision == "32-true", "the sheet's runs stay float32, bit for bit reproducible"
    expected = "bf16-mixed" if native_bf16(device_type("auto")) else "32-true"
    chosen.cache_clear()  # the choice is logged once per process: this test wants to see the line
    with caplog.at_level("INFO", logger="fashionlab.precision"):
        trainer = train(cfg)
    assert trainer.precision == expected
    assert [r.getMessage().split(":")[0] for r in caplog.records if r.name == "fashionlab.precision"] == [
        f"precision {expected}"], "one line says what was chosen"
    assert trainer.callback_metrics["val/acc"] > 0.5, "one epoch on separable data learns in either precision"


@pytest.mark.skipif(torch.cuda.is_available(), reason="with CUDA, `make gpu-check` runs the full check (minutes)")
def test_gpu_check_without_cuda_says_so_and_succeeds(capsys):
    assert gpu_check.main() == 0
    assert "no CUDA device" in capsys.readouterr().out


def test_every_command_of_the_gpu_check_composes_and_passes_the_pre_flight_checks(compose_train, tmp_path):
    out = tmp_path / "gpu_check"
    runs = gpu_check.commands(out)
    # `resumed` continues the folder of `interrupted`: here a 1-epoch run of it on the CPU, over the tiny data, then
    # recorded as the check's SIGTERM leaves it (resume= refuses a finished run)
    interrupted = compose_train(*runs["interrupted"], "trainer.max_epochs=1")
    interrupted.paths.output_dir = str(out / "resume")
    train(interrupted)
    record_status(out / "resume", runs["interrupted"], Status.INTERRUPTED)
    GlobalHydra.instance().clear()
    with initialize_config_dir(version_base="1.3", config_dir=str(ROOT / "conf")):
        for name, overrides in runs.items():
            argv = resume_command(["src/train.py", *overrides])  # as src/train.py rewrites `resume=` for Hydra
            for job in job_overrides(OverridesParser.create(), argv[1:]):  # a sweep's: each of its jobs
                config = compose("train", overrides=job, return_hydra_config=True)
                try:
                    CheckConfig().on_run_start(config)  # as Hydra calls it in src/train.py, before the run folder
                except SystemExit as refused:
                    pytest.fail(f"{name}: {refused.code}")


def test_host_copy_watch_sees_copies_from_the_host_to_another_device():
    with HostToDevice() as mode:
        torch.ones(3, 784).to("meta")  # the meta device stands in for a GPU: a copy without data
        torch.empty(5, device="meta").copy_(torch.ones(5))
        torch.ones(4).to("cpu"), torch.ones(4).clone(), torch.ones(4).to(torch.float64)  # host only
    assert mode.copies == [3 * 784, 5]


def test_host_copy_watch_follows_training_steps_and_leaves_no_mode_behind(compose_train):
    cfg = compose_train("+callbacks.watch._target_=bench.gpu_check.HostCopyWatch", "+callbacks.watch.last=6")
    trainer = train(cfg)
    watch = next(callback for callback in trainer.callbacks if isinstance(callback, HostCopyWatch))
    assert watch.devices == {"train": "cpu", "val": "cpu", "test": "cpu"} and watch.mode.copies == []
    assert _get_current_dispatch_mode() is None, "the watch's mode ends with its last watched step"


def test_class_samples_grid_puts_the_first_image_of_each_class_in_its_tile():
    images = torch.arange(12 * 28 * 28, dtype=torch.float32).reshape(12, 1, 28, 28)
    labels = torch.tensor([3, 0, 1, 2, 4, 5, 6, 7, 8, 0, 3, 1])  # no class 9; class 0 first at index 1
    grid = class_samples_grid(images, labels)
    assert grid.shape == (1, 5 * 28, 2 * 28) and 0 <= grid.min() and grid.max() <= 1
    tile = grid[0, 28:56, 0:28]  # row 1, column 0: class 2, at index 3
    expected = images[3, 0]
    torch.testing.assert_close(tile, (expected - expected.min()) / (expected.max() - expected.min()))
    assert grid[0, 112:140, 28:56].eq(0).all(), "class 9 is absent: a black tile"


@pytest.mark.parametrize("epoch_starts, val_seconds, expected", [
    # epochs of 3, 2 and 3 s: the steady ones (2 and 3 s) are averaged, their mean validation (0.3 s) taken apart
    ([1.0, 4.0, 6.0], [0.5, 0.2, 0.4], (1.0, 3.0, 2.2, 0.3)),
    ([1.0], [0.5], (1.0, 2.0, 1.5, 0.5)),  # a 1-epoch fit: its only epoch is the timed one
])
def test_bench_times_the_mean_of_the_epochs_after_the_first(epoch_starts, val_seconds, expected):
    measured = timing(0.0, epoch_starts, val_seconds, end=9.0 if len(epoch_starts) > 1 else 3.0, val_acc=0.8)
    assert (measured.startup, measured.first, measured.train, measured.val) == pytest.approx(expected)
