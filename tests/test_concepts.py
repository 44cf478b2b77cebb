"""The sheet's Adam worked example: our arithmetic against one real torch.optim.Adam step, and the guide's numbers."""

import pytest
import torch

from conftest import ROOT
from fashionlab.adam_example import BLOCK_END, BLOCK_START, SHEET, adam_step, worked_example


@pytest.mark.parametrize("v_prev", [SHEET["v_prev"], SHEET["v_prev_large"]])
def test_adam_example_matches_a_torch_adam_step_with_the_same_moments(v_prev):
    s = SHEET
    expected = adam_step(s["m_prev"], v_prev, s["grad"], s["beta1"], s["beta2"], s["alpha"], s["eps"])

    weight = torch.nn.Parameter(torch.tensor(1.0, dtype=torch.float64))
    optimizer = torch.optim.Adam([weight], lr=s["alpha"], betas=(s["beta1"], s["beta2"]), eps=s["eps"])
    # 5000 steps in, 1 - beta^t differs from 1 by less than 1e-6 for both betas: bias correction ~ 1.
    optimizer.state[weight] = {"step": torch.tensor(5000.0), "exp_avg": torch.tensor(s["m_prev"], dtype=torch.float64),
                               "exp_avg_sq": torch.tensor(v_prev, dtype=torch.float64)}
    assert 1 - s["beta2"] ** 5001 > 1 - 1e-6
    weight.grad = torch.tensor(s["grad"], dtype=torch.float64)
    optimizer.step()

    state = optimizer.state[weight]
    assert state["exp_avg"].item() == pytest.approx(expected.m, abs=1e-12)
    assert state["exp_avg_sq"].item() == pytest.approx(expected.v, abs=1e-12)
    assert weight.item() - 1.0 == pytest.approx(expected.delta, abs=1e-6)


def test_concepts_guide_shows_the_computed_example():
    guide = (ROOT / "docs" / "concepts.md").read_text()
    block = guide.split(BLOCK_START, 1)[1].split(BLOCK_END, 1)[0]
    assert block.strip() == worked_example(), "regenerate with: python -m fashionlab.adam_example"
