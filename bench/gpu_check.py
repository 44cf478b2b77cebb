"""`make gpu-check` (`python -m bench.gpu_check`): what only a GPU can show, in one command (meant to take minutes; it
has never run, no GPU having been lent to this project yet, so its time is unmeasured).

Short fits of the default config and of best_mlp in 32-true and bf16-mixed on the GPU; the data on the device and no
batch copied from the host during training steps; a checkpoint tested by src/eval.py; a run interrupted (SIGTERM) and
resumed; 4 seeds stacked against the same seeds one at a time (each member within a tolerance of its run alone, the
speed-up); `make bench` (one round, without the sweep part; its stacking parts apart). Prints one table and exits 1
if any check failed. Without CUDA it says so and exits 0.
"""

import json
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import lightning as L
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from bench.pipelines import ROOT, fit

FAST = ["trainer.enable_progress_bar=false"]
PRECISIONS = ("32-true", "bf16-mixed")
MIN_VAL_ACC = 0.80  # two epochs of either network reach about 0.85
BF16_TOLERANCE = 0.015  # bf16-mixed against 32-true, same seed, after 2 epochs of best_mlp
BENCH = ["--rounds", "1", "--epochs", "2", "--only", "pipelines", "recipe", "optimizers"]
STACK_BENCH = ["--rounds", "1", "--epochs", "2", "--only", "stacked_step", "replicates"]
STACKED_SEEDS = 4
SEEDS = "seed=" + ",".join(map(str, range(STACKED_SEEDS)))
STACK_TOLERANCE = 0.005  # a member's best val acc against its run alone, after 2 epochs (rounding of batched products)


class CheckFailed(AssertionError):
    pass


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


class HostToDevice(TorchDispatchMode):
    """While active, records the element count of every copy of a host (CPU) tensor onto another device."""

    COPIES = {torch.ops.aten._to_copy.default: (0, None), torch.ops.aten.copy_.default: (1, 0)}  # source, target arg

    def __init__(self):
        super().__init__()
        self.copies: list[int] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        result = func(*args, **(kwargs or {}))
        if func in self.COPIES:
            source, target = self.COPIES[func]
            destination = result if target is None else args[target]
            if args[source].device.type == "cpu" and destination.device.type != "cpu":
                self.copies.append(args[source].numel())
        return result


class HostCopyWatch(L.Callback):
    """Records the host-to-device copies made while fetching and running training steps `first` to `last` - 1."""

    def __init__(self, first: int = 2, last: int = 12):
        self.first, self.last = first, last
        self.mode = HostToDevice()
        self.devices: dict[str, str] = {}

    def on_train_start(self, trainer, pl_module):
        self.devices = {name: str(split.images.device) for name, split in trainer.datamodule.splits.items()}

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if batch_idx == self.first - 1:  # from here on: the next batch's fetch, transfer and step
            self.mode.__enter__()
        elif batch_idx == self.last - 1:
            self.mode.__exit__(None, None, None)


def commands(out: Path) -> dict[str, list[str]]:
    """The overrides of every src/train.py command the check runs, and of the fit it composes itself (`watch`), by
    name, writing under `out`: data, so that a test composes each one on any machine, GPU or not."""
    fit = [*FAST, "trainer.max_epochs=2", "trainer.accelerator=gpu"]
    return {
        "default": [*fit, f"hydra.run.dir={out / 'default'}"],
        **{precision: [*fit, f"hydra.run.dir={out / precision}", "experiment=best_mlp", f"trainer.precision={precision}"]
           for precision in PRECISIONS},
        "watch": [f"data.data_dir={ROOT / 'data'}", *FAST, "trainer.max_epochs=1", "trainer.limit_val_batches=1",
                  "trainer.accelerator=gpu", "+callbacks.watch._target_=bench.gpu_check.HostCopyWatch"],
        "interrupted": [*FAST, "trainer.max_epochs=8", f"hydra.run.dir={out / 'resume'}"],
        "resumed": [f"resume={out / 'resume'}"],  # resume= takes no other overrides
        # sweeps (src/train.py -m): the same seeds one at a time, then stacked
        "one at a time": [*fit, SEEDS, f"hydra.sweep.dir={out / 'one_at_a_time'}"],
        "stacked": [*fit, SEEDS, "stack=true", f"hydra.sweep.dir={out / 'stacked'}"],
    }


def summary(run: Path) -> dict:
    return json.loads((run / "summary.json").read_text())


def train_cli(args: list[str], timeout: int = 120) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "src/train.py", *args], cwd=ROOT, capture_output=True, text=True,
                            timeout=timeout)
    expect(result.returncode == 0, f"src/train.py exited {result.returncode}: {result.stderr.strip()[-300:]}")
    return result


def used_the_gpu(result: subprocess.CompletedProcess) -> None:
    expect("GPU available: True (cuda), used: True" in result.stdout + result.stderr, "Lightning did not use the GPU")


def fitted(run: Path, args: list[str]) -> float:
    """Best validation accuracy of a 2-epoch run of src/train.py on the GPU into `run`, checked to have learned."""
    used_the_gpu(train_cli(args))
    best = summary(run)["best_val_acc"]
    expect(summary(run)["status"] == "completed" and best >= MIN_VAL_ACC,
           f"status {summary(run)['status']}, best val acc {best} (expected >= {MIN_VAL_ACC})")
    return best


def stacked_as_alone(out: Path, alone: list[str], stacked: list[str]) -> str:
    """The same seeds as a sweep one at a time, then stacked: each member completed, a member of the stack, and within
    STACK_TOLERANCE of its run alone; the speed-up per replicate."""
    timed = {}
    for name, args in (("one_at_a_time", alone), ("stacked", stacked)):
        started = time.perf_counter()
        used_the_gpu(train_cli(["-m", *args], timeout=600))
        timed[name] = time.perf_counter() - started
    jobs = sorted(folder.name for folder in (out / "stacked").iterdir() if folder.name.isdigit())
    runs = {name: [summary(out / name / job) for job in jobs] for name in timed}
    completed = all(run["status"] == "completed" for group in runs.values() for run in group)
    expect(len(jobs) == STACKED_SEEDS and completed, f"jobs {jobs}: not {STACKED_SEEDS} completed runs each way")
    expect(all(run.get("stacked_members") == STACKED_SEEDS for run in runs["stacked"]),
           f"the stacked runs were not one stack of {STACKED_SEEDS}")
    gap = max(abs(a["best_val_acc"] - b["best_val_acc"]) for a, b in zip(*runs.values()))
    expect(gap <= STACK_TOLERANCE, f"a member's best val acc {gap:.4f} from its run alone (at most {STACK_TOLERANCE})")
    alone, stacked = timed["one_at_a_time"], timed["stacked"]
    return (f"{STACKED_SEEDS} seeds, 2 epochs: one at a time {alone:.1f} s, stacked {stacked:.1f} s "
            f"({alone / stacked:.2f}x); members at most {gap:.4f} from their runs alone")


def interrupted_and_resumed(run: Path, interrupted: list[str], resumed: list[str]) -> str:
    process = subprocess.Popen([sys.executable, "src/train.py", *interrupted], cwd=ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while process.poll() is None and time.monotonic() < deadline:
        if (run / "checkpoints" / "last.ckpt").exists() and (run / "summary.json").exists() \
                and summary(run)["epochs_run"] >= 2:
            process.send_signal(signal.SIGTERM)
            break
        time.sleep(0.05)
    code = process.wait(timeout=60)
    status = summary(run)
    expect(code == 143 and status["status"] == "interrupted",
           f"the run ended with exit code {code} and status {status['status']}, not interrupted by SIGTERM")
    train_cli(resumed, timeout=180)
    resumed = summary(run)
    epochs = [int(line.split(",")[0]) for line in (run / "metrics.csv").read_text().splitlines()[1:]]
    expect(resumed["status"] == "completed" and epochs == list(range(1, 9)),
           f"after resuming: status {resumed['status']}, metrics.csv epochs {epochs}")
    return f"stopped after epoch {status['epochs_run']}, resumed to epoch 8, one metrics.csv"


def main() -> int:
    if not torch.cuda.is_available():
        print("gpu-check: no CUDA device here (torch.cuda.is_available() is False); nothing to check, "
              "run `make gpu-check` on a machine with an NVIDIA GPU")
        return 0
    rows: list[tuple[str, bool, float, str]] = []

    def check(name: str, run: Callable[[], str]) -> None:
        started = time.perf_counter()
        try:
            ok, detail = True, run()
        except Exception as error:  # a failed check is a row of the table, and the next check still runs
            ok, detail = False, f"{type(error).__name__}: {error}"
        rows.append((name, ok, time.perf_counter() - started, detail))
        print(f"{'ok  ' if ok else 'FAIL'} {name}: {detail}", flush=True)

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        runs = commands(out)
        accs: dict[str, float] = {}

        def best_mlp(precision: str) -> str:
            accs[precision] = fitted(out / precision, runs[precision])
            if len(accs) == 2:
                gap = abs(accs["bf16-mixed"] - accs["32-true"])
                expect(gap <= BF16_TOLERANCE, f"val acc {accs['bf16-mixed']:.4f} in bf16-mixed, "
                                              f"{accs['32-true']:.4f} in 32-true: apart by more than {BF16_TOLERANCE}")
            return f"best val acc {accs[precision]:.4f}"

        def no_host_copies() -> str:
            trainer = fit(runs["watch"], out / "watch")
            watch = next(c for c in trainer.callbacks if isinstance(c, HostCopyWatch))
            expect(all(device.startswith("cuda") for device in watch.devices.values()), f"data on {watch.devices}")
            batches = [n for n in watch.mode.copies if n >= 784]  # an image or more: a batch, or part of one
            expect(not batches, f"host-to-device copies of {batches} elements in steps {watch.first}-{watch.last - 1}")
            return (f"data on {sorted(set(watch.devices.values()))}; in steps {watch.first}-{watch.last - 1}: no batch "
                    f"copied from the host, {len(watch.mode.copies)} scalar copies")

        def evaluated() -> str:
            ckpt = out / "default" / "checkpoints" / "best.ckpt"
            result = subprocess.run([sys.executable, "src/eval.py", f"ckpt_path={ckpt}", f"hydra.run.dir={out}/eval"],
                                    cwd=ROOT, capture_output=True, text=True, timeout=120)
            expect(result.returncode == 0, f"src/eval.py exited {result.returncode}: {result.stderr.strip()[-300:]}")
            accuracy = json.loads(result.stdout.strip().splitlines()[-1])["test/acc"]
            expect(accuracy >= MIN_VAL_ACC, f"test acc {accuracy}")
            return f"test acc {accuracy:.4f} of the default run's best.ckpt"

        def bench(args: list[str], timeout: int, summary_line: str) -> str:
            result = subprocess.run([sys.executable, "-m", "bench", *args], cwd=ROOT, capture_output=True, text=True,
                                    timeout=timeout)
            print(result.stdout, flush=True)
            expect(result.returncode == 0, f"exited {result.returncode}: {result.stderr.strip()[-300:]}")
            return next((line for line in result.stdout.splitlines() if line.startswith(summary_line)), "")

        check("fit: default config, 2 epochs", lambda: f"best val acc {fitted(out / 'default', runs['default']):.4f}")
        for precision in PRECISIONS:
            check(f"fit: best_mlp, {precision}, 2 epochs", lambda precision=precision: best_mlp(precision))
        check("data on the GPU, no batch from the host", no_host_copies)
        check("src/eval.py on a checkpoint", evaluated)
        check("interrupt (SIGTERM) and resume",
              lambda: interrupted_and_resumed(out / "resume", runs["interrupted"], runs["resumed"]))
        check(f"{STACKED_SEEDS} seeds stacked against one at a time",
              lambda: stacked_as_alone(out, runs["one at a time"], runs["stacked"]))
        check(f"python -m bench {' '.join(BENCH)}", lambda: bench(BENCH, 240, "adopted vs before"))
        check(f"python -m bench {' '.join(STACK_BENCH)}", lambda: bench(STACK_BENCH, 900, "speed-up at"))

    print(f"\n{torch.cuda.get_device_name()}, torch {torch.__version__}, Lightning {L.__version__}")
    width = max(len(name) for name, *_ in rows)
    print(f"{'check':<{width}}  result  seconds  detail")
    for name, ok, seconds, detail in rows:
        print(f"{name:<{width}}  {'ok' if ok else 'FAIL':<6}  {seconds:7.1f}  {detail}")
    failed = sum(not ok for _, ok, _, _ in rows)
    print(f"{len(rows) - failed} of {len(rows)} checks passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
