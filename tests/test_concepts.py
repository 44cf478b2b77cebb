"""The sheet's Adam worked example: our arithmetic against one real torch.optim.Adam step, and the guide's numbers."""

import pytest

from conftest import ROOT
from fashionlab.adam_example import (BLOCK_END, BLOCK_START, SHEET, STEPS_BEFORE, adam_step, torch_adam_step,
                                     worked_example)


@pytest.mark.parametrize("v_prev", [SHEET["v_prev"], SHEET["v_prev_large"]])
def test_adam_example_matches_a_torch_adam_step_with_the_same_moments(v_prev):
    s = SHEET
    arguments = (s["m_prev"], v_prev, s["grad"], s["beta1"], s["beta2"], s["alpha"], s["eps"])
    expected, taken = adam_step(*arguments), torch_adam_step(*arguments)
    assert 1 - s["beta2"] ** (STEPS_BEFORE + 1) > 1 - 1e-6, "bias correction ~ 1"
    assert taken.m == pytest.approx(expected.m, abs=1e-12)
    assert taken.v == pytest.approx(expected.v, abs=1e-12)
    assert taken.delta == pytest.approx(expected.delta, abs=1e-6)


def test_concepts_guide_shows_the_computed_example():
    guide = (ROOT / "docs" / "concepts.md").read_text()
    block = guide.split(BLOCK_START, 1)[1].split(BLOCK_END, 1)[0]
    assert block.strip() == worked_example(), "regenerate with: python -m fashionlab.adam_example"
