"""One training step of K copies of the default MLP (batch 64, forward, backward, fused Adam), three ways: K separate
modules and optimizers, torch.func's vmap(functional_call) over stacked parameters (the "Model ensembling" tutorial),
and fashionlab.stacking.StackedMLP's batched layers; milliseconds per member and step."""

import copy
import time

import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from fashionlab.model import MLP
from fashionlab.stacking import StackedMLP

BATCH = 64


def step_functions(size: int) -> dict:
    torch.manual_seed(0)
    nets = [MLP() for _ in range(size)]
    images, labels = torch.randn(size, BATCH, 784), torch.randint(0, 10, (size, BATCH))
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


def time_stacked_step(rounds: int, sizes: tuple[int, ...] = (1, 8, 16)) -> str:
    lines = [f"{'members':<10}{'separate ms':>13}{'vmap ms':>10}{'batched ms':>12}   per member and step, "
             f"{torch.get_num_threads()} threads"]
    for size in sizes:
        functions = step_functions(size)
        times: dict[str, list[float]] = {name: [] for name in functions}
        for function in functions.values():
            for _ in range(5):
                function()  # warm-up
        steps = max(200 // size, 10)
        for round_ in range(rounds):
            for name, function in list(functions.items())[round_ % 3:] + list(functions.items())[:round_ % 3]:
                started = time.perf_counter()
                for _ in range(steps):
                    function()
                times[name].append((time.perf_counter() - started) / steps / size * 1e3)
        medians = [sorted(values)[len(values) // 2] for values in times.values()]
        lines.append(f"{size:<10}" + "".join(f"{value:{width}.3f}" for value, width in zip(medians, (13, 10, 12))))
    return "\n".join(lines)
