"""What the machine computes fast, for settings whose best value depends on it (``dtype: auto``).

bf16 halves the memory of a frozen backbone and is fast where the hardware multiplies it natively: CUDA GPUs of
compute capability 8 and later, and CPUs with the AVX-512 BF16 or AMX instructions. Elsewhere torch emulates it:
measured on an AVX2-only AMD EPYC at one thread, a 256 x 576 x 1536 bf16 matmul ran at 1 GFLOP/s against 38 in
float32, and a SmolLM2-135M forward pass was 8x slower in bf16. oneDNN's own "bf16 supported" answers yes on any
AVX-512 CPU, emulating the products there: on an Intel Xeon (Ice Lake: AVX-512 without BF16) an 800 x 576 x 1536
bf16 matmul ran at 13 GFLOP/s against 52 in float32, and an iLoRA training step was 2.5x slower in bf16.
"""

import torch


def native_bf16(device):
    """Whether ``device`` (a ``torch.device``) multiplies bf16 natively."""
    if device.type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported(including_emulation=False)
    return torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()


# What ``dtype: auto`` can resolve to, on one machine or another.
AUTO_DTYPES = ("bfloat16", "float32")


def auto_dtype(device):
    """The backbone dtype of ``dtype: auto`` on ``device``: bfloat16 where native, else float32."""
    return "bfloat16" if native_bf16(device) else "float32"
