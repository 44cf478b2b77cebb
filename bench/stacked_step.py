"""One training step of K copies of the default MLP (batch 64, forward, backward, fused Adam), three ways: K separate
modules and optimizers, torch.func's vmap(functional_call) over stacked parameters (the "Model ensembling" tutorial),
and fashionlab.stacking.StackedMLP's batched layers; milliseconds per member and step, with torch's threads and with
one thread, as each worker of `launcher=parallel` runs (a process per core); on a GPU, on the device."""

import copy
import math
import time

import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from bench.variants import rotated
from fashionlab.model import MLP
from fashionlab.stacking import StackedMLP

BATCH = 64


def step_functions(size: int, device: str = "cpu") -> dict:
    torch.manual_seed(0)
    nets = [MLP().to(device) for _ in range(size)]
    images = torch.randn(size, BATCH, 784, device=device)
    labels = torch.randint(0, 10, (size, BATCH), device=device)
    separate = [torch.optim.Adam(net.parameters(), fused=True) for net in nets]

    def alone():
        for net, optimizer, x, y in zip(nets, separate, images, labels):
            loss = nn.functional.cross_entropy(net(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

    params, buffers = stack_module_state(nets)
    template = copy.deepcopy(nets[0]).to("meta")
    batched_call = vmap(lambda p, b, x: functional_call(template, (p, b), (x,)))
    vmap_optimizer = torch.optim.Adam(list(params.values()), fused=True)
    stacked = StackedMLP(nets)
    stacked_optimizer = torch.optim.Adam(stacked.parameters(), fused=True)

    def summed_step(logits, optimizer):
        losses = nn.functional.cross_entropy(logits.flatten(0, 1), labels.flatten(), reduction="none")
        optimizer.zero_grad()
        losses.view(size, BATCH).mean(1).sum().backward()
        optimizer.step()

    return {"separate": alone, "vmap": lambda: summed_step(batched_call(params, buffers, images), vmap_optimizer),
            "batched layers": lambda: summed_step(stacked(images), stacked_optimizer)}


WIDTHS = (10, 10, 10, 20, 17)


def step_times(functions: dict, size: int, rounds: int, device: str = "cpu") -> list[float]:
    """Median milliseconds per member and step of each function, rounds rotated (bench.variants.rotated)."""
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    for function in functions.values():
        for _ in range(5):
            function()  # warm-up
    steps = max(200 // size, 10)

    def timed(name: str, round_: int) -> float:
        sync()
        started = time.perf_counter()
        for _ in range(steps):
            functions[name]()
        sync()
        return (time.perf_counter() - started) / steps / size * 1e3

    return [sorted(values)[len(values) // 2] for values in rotated(list(functions), rounds, timed).values()]


def time_stacked_step(rounds: int, sizes: tuple[int, ...] = (1, 8, 16)) -> str:
    """On a GPU the three ways on the device; on a CPU also with one thread, and the ratio that bounds what a stack
    saves in arithmetic against launcher=parallel."""
    if torch.cuda.is_available():
        lines = [f"ms per member and step on {torch.cuda.get_device_name()}",
                 f"{'members':<10}{'separate':>10}{'vmap':>10}{'batched':>10}"]
        for size in sizes:
            row = step_times(step_functions(size, "cuda"), size, rounds, "cuda")
            lines.append(f"{size:<10}" + "".join(f"{value:{width}.3f}" for value, width in zip(row, WIDTHS)))
        return "\n".join(lines)
    threads = torch.get_num_threads()
    lines = [f"ms per member and step: {threads} threads (separate, vmap, batched), 1 thread (separate, batched)",
             f"{'members':<10}{'separate':>10}{'vmap':>10}{'batched':>10}{'1-thread separate':>20}"
             f"{'1-thread batched':>17}"]
    ceiling = math.nan
    for size in sizes:
        functions = step_functions(size)
        row = step_times(functions, size, rounds)
        torch.set_num_threads(1)
        try:
            alone = step_times({name: functions[name] for name in ("separate", "batched layers")}, size, rounds)
        finally:
            torch.set_num_threads(threads)
        lines.append(f"{size:<10}" + "".join(f"{value:{width}.3f}" for value, width in zip(row + alone, WIDTHS)))
        ceiling = alone[0] / threads / row[2]
    lines.append(f"the arithmetic a stack saves against launcher=parallel at {sizes[-1]} members (a process per core, "
                 f"one thread each: separate 1-thread / {threads}, against batched): {ceiling:.2f}x")
    return "\n".join(lines)
