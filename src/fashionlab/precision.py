"""Numeric precision that fits the hardware: `trainer.precision: ${fastest_precision:bf16-mixed}` in a config.

bf16-mixed pays where the processor multiplies bfloat16 natively (a GPU with bf16 support; a CPU with AVX512-BF16 or
AMX): best_mlp's epoch takes about two thirds of the float32 time on such a CPU. Elsewhere bfloat16 is emulated and
slower than float32, so such a machine gets 32-true. The choice is logged once per process.
"""

import functools
import logging

from omegaconf import DictConfig

log = logging.getLogger(__name__)
MIXED = ("bf16-mixed", "bf16-true")  # the choices that need native bfloat16 to pay off
FALLBACK = "32-true"


def device_type(accelerator: str) -> str:
    """The device Lightning's `accelerator` setting trains on: cuda for auto, gpu and cuda when CUDA is present."""
    import torch  # here, not at the top: the resolver is registered by every start, torch is needed by few

    if accelerator in ("auto", "gpu", "cuda") and torch.cuda.is_available():
        return "cuda"
    return "cpu" if accelerator in ("auto", "gpu", "cpu") else accelerator


def native_bf16(device: str) -> bool:
    """Whether `device` ("cpu", "cuda") computes in bfloat16 in hardware rather than by emulation."""
    import torch

    if device == "cuda":
        return torch.cuda.is_bf16_supported(including_emulation=False)
    if device == "cpu":  # oneDNN's own bf16 check also says yes to plain AVX512, which only emulates it
        return torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()
    return False


def choose(preferred: str, device: str, bf16_native: bool) -> tuple[str, str]:
    """The precision to train in, and why: `preferred` unless it needs native bfloat16 that `device` lacks."""
    if preferred not in MIXED:
        return preferred, "as configured"
    if bf16_native:
        return preferred, f"this {device.upper()} computes in bfloat16 natively"
    return FALLBACK, f"this {device.upper()} has no native bfloat16, where {preferred} would be slower"


@functools.cache
def chosen(preferred: str, accelerator: str) -> str:
    device = device_type(accelerator)
    precision, reason = choose(preferred, device, native_bf16(device))
    log.info("precision %s: %s", precision, reason)
    return precision


def fastest_precision(preferred: str, _parent_: DictConfig) -> str:
    """OmegaConf resolver (fashionlab.resolvers); `_parent_` is the trainer node, whose `accelerator`
    says which device trains."""
    return chosen(preferred, str(_parent_.get("accelerator", "auto")))
