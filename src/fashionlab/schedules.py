"""Learning-rate schedules that torch does not ship as one class."""

import math

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR


def warmup_cosine(optimizer: Optimizer, total_steps: int, warmup_fraction: float = 0.05) -> LambdaLR:
    """Linear warm-up from 0 over the first `warmup_fraction` of the steps, then cosine annealing to 0.

    Stepped every batch: eta_t = eta_0 * t / T_w while t < T_w, else eta_0 * (1 + cos(pi * (t - T_w) / (T - T_w))) / 2.
    """
    warmup_steps = max(1, round(warmup_fraction * total_steps))

    def factor(step: int) -> float:
        if step < warmup_steps:
            return step / warmup_steps
        progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
        return 0.5 * (1 + math.cos(math.pi * progress))

    return LambdaLR(optimizer, factor)
