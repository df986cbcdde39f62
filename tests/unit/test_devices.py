"""``dtype: auto`` follows what the processor multiplies natively, read from the instruction sets Linux lists."""

from pathlib import Path

import pytest
import torch

from recbole_ilora.devices import auto_dtype, native_bf16

CPUINFO = Path("/proc/cpuinfo")


@pytest.mark.skipif(not CPUINFO.is_file(), reason="needs Linux's /proc/cpuinfo to read the CPU's flags")
def test_native_bf16_on_the_cpu_is_avx512_bf16_or_amx():
    """oneDNN's own bf16 answer is yes on any AVX-512 CPU, where it emulates bf16 (2.5x slower than float32 on an
    Ice Lake Xeon): only the AVX-512 BF16 or AMX instructions make it native."""
    flags = {flag for line in CPUINFO.read_text().splitlines() if line.startswith("flags")
             for flag in line.split(":", 1)[1].split()}
    native = bool(flags & {"avx512_bf16", "amx_bf16"})
    assert native_bf16(torch.device("cpu")) == native
    assert auto_dtype(torch.device("cpu")) == ("bfloat16" if native else "float32")
