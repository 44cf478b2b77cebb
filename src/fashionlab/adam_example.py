"""The sheet's Adam worked example (Exercise 1, task 4b), computed rather than typed into docs/concepts.md, and the
same step taken by torch.optim.Adam (the test suite and notebooks/exercise2.ipynb compare them).

`python -m fashionlab.adam_example` rewrites the example's block in docs/concepts.md from these numbers.
"""

import math
import sys
from pathlib import Path
from typing import NamedTuple

BLOCK_START, BLOCK_END = "<!-- adam-example:start -->", "<!-- adam-example:end -->"
SHEET = {"m_prev": 0.5, "v_prev": 0.2, "v_prev_large": 20.0, "grad": 2.0,
         "beta1": 0.9, "beta2": 0.99, "alpha": 0.01, "eps": 1e-8}


class AdamStep(NamedTuple):
    m: float
    v: float
    delta: float


def adam_step(m_prev: float, v_prev: float, grad: float, beta1: float, beta2: float, alpha: float,
              eps: float) -> AdamStep:
    """One Adam update with bias correction taken as 1 (many steps into training), as the sheet asks."""
    m = beta1 * m_prev + (1 - beta1) * grad
    v = beta2 * v_prev + (1 - beta2) * grad ** 2
    return AdamStep(m, v, -alpha * m / (math.sqrt(v) + eps))


STEPS_BEFORE = 5000  # torch_adam_step's moments are this many steps in: 1 - beta^t within 1e-6 of 1 for both betas


def torch_adam_step(m_prev: float, v_prev: float, grad: float, beta1: float, beta2: float, alpha: float,
                    eps: float) -> AdamStep:
    """The same step taken by torch.optim.Adam itself (float64), its moments set to m_prev and v_prev STEPS_BEFORE
    steps into training, where its bias correction is about 1."""
    import torch  # here: the worked example and docs/concepts.md's block go without torch

    weight = torch.nn.Parameter(torch.tensor(1.0, dtype=torch.float64))
    optimizer = torch.optim.Adam([weight], lr=alpha, betas=(beta1, beta2), eps=eps)
    optimizer.state[weight] = {"step": torch.tensor(float(STEPS_BEFORE)),
                               "exp_avg": torch.tensor(m_prev, dtype=torch.float64),
                               "exp_avg_sq": torch.tensor(v_prev, dtype=torch.float64)}
    weight.grad = torch.tensor(grad, dtype=torch.float64)
    optimizer.step()
    state = optimizer.state[weight]
    return AdamStep(state["exp_avg"].item(), state["exp_avg_sq"].item(), weight.item() - 1.0)


def worked_example() -> str:
    """The example as Markdown: both parameters' moments and steps, and what their ratio shows."""
    s = SHEET
    shared = dict(grad=s["grad"], beta1=s["beta1"], beta2=s["beta2"], alpha=s["alpha"], eps=s["eps"])
    w = adam_step(s["m_prev"], s["v_prev"], **shared)
    w_large = adam_step(s["m_prev"], s["v_prev_large"], **shared)
    return "\n".join([
        f"- i. m_t = {s['beta1']} * {s['m_prev']} + {1 - s['beta1']:.1f} * {s['grad']} = **{w.m:.4f}**; "
        f"v_t = {s['beta2']} * {s['v_prev']} + {1 - s['beta2']:.2f} * {s['grad']}^2 = **{w.v:.4f}**",
        f"- ii. Delta w_t = -{s['alpha']} * {w.m:.4f} / (sqrt({w.v:.4f}) + 1e-8) = **{w.delta:.6f}**",
        f"- iii. With v'_(t-1) = {s['v_prev_large']:g}: v'_t = **{w_large.v:.4f}** (about {w_large.v / w.v:.0f} times "
        f"v_t), so Delta w'_t = **{w_large.delta:.6f}**, {w.delta / w_large.delta:.1f} times smaller than Delta w_t "
        "for the same gradient and first moment.",
    ])


def write_into(doc: Path) -> None:
    text = doc.read_text()
    head, rest = text.split(BLOCK_START, 1)
    _, tail = rest.split(BLOCK_END, 1)
    doc.write_text(f"{head}{BLOCK_START}\n{worked_example()}\n{BLOCK_END}{tail}")


if __name__ == "__main__":
    write_into(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/concepts.md"))
