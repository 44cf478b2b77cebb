"""What computed a run: torch version, processor, instruction set, precision and how the optimizer step was computed.

The same seed gives slightly different numbers on another processor (fused optimizer kernels and bfloat16 products
round differently), so summary.json records this beside the numbers, and the report lists it.
"""

import platform
from pathlib import Path

import lightning as L
import torch


def processor() -> str:
    """The processor's model name (/proc/cpuinfo on Linux), else what the platform module says."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def platform_record(trainer: L.Trainer) -> dict[str, str]:
    """The platform of a fit, for summary.json."""
    device = trainer.strategy.root_device
    step = trainer.optimizers[0].defaults if trainer.optimizers else {}
    return {
        "torch": str(torch.__version__),  # a TorchVersion, which a weights_only checkpoint load refuses
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else processor(),
        "instruction_set": torch.backends.cpu.get_cpu_capability()
        + (" + AMX" if torch.cpu._is_amx_tile_supported() else "")
        + (" + AVX512-BF16" if torch.cpu._is_avx512_bf16_supported() else ""),
        "precision": str(trainer.precision),
        "optimizer_step": "fused" if step.get("fused") else "foreach" if step.get("foreach") else "single-tensor",
    }
