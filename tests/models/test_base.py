"""bfloat16 on a CPU without native bf16 is refused unless forced: it would run about 100x slower than float32."""

import pytest
import torch

from pitchprobe.core.errors import PitchProbeError
from pitchprobe.models import load_model
from pitchprobe.models.base import BF16_CPU_FLAGS, CPUINFO, check_dtype, cpu_flags

AVX2_ONLY = "processor\t: 0\nflags\t\t: fpu sse2 avx avx2 fma\n\nprocessor\t: 1\nflags\t\t: fpu sse2 avx avx2 fma\n"
SAPPHIRE = "processor\t: 0\nflags\t\t: avx2 avx512f avx512_bf16 amx_bf16 amx_tile\n"
GRAVITON3 = "processor\t: 0\nFeatures\t: fp asimd sve bf16 i8mm\n"
CPU = torch.device("cpu")


def test_cpu_flags_are_read_from_cpuinfo_text():
    assert cpu_flags(AVX2_ONLY) == {"fpu", "sse2", "avx", "avx2", "fma"}
    assert "bf16" in cpu_flags(GRAVITON3) and "amx_bf16" in cpu_flags(SAPPHIRE)
    assert cpu_flags("") == frozenset()  # unknown


def test_bf16_is_refused_on_a_cpu_without_native_bf16_unless_forced():
    with pytest.raises(PitchProbeError, match="--force-dtype") as e:
        check_dtype("bfloat16", CPU, flags=cpu_flags(AVX2_ONLY))
    assert "--dtype float32" in str(e.value) and "avx512_bf16" in str(e.value)
    check_dtype("bfloat16", CPU, flags=cpu_flags(AVX2_ONLY), force=True)
    for native in (SAPPHIRE, GRAVITON3):
        check_dtype("bfloat16", CPU, flags=cpu_flags(native))
    check_dtype("bfloat16", CPU, flags=frozenset())  # flags unknown: not refused
    check_dtype("float32", CPU, flags=cpu_flags(AVX2_ONLY))
    check_dtype("float16", CPU, flags=cpu_flags(AVX2_ONLY))
    check_dtype("bfloat16", torch.device("cuda"), flags=cpu_flags(AVX2_ONLY))  # a GPU is not the CPU


def test_load_model_on_this_cpu_follows_its_flags():
    native = not CPUINFO.is_file() or bool(cpu_flags() & BF16_CPU_FLAGS)
    if native:
        assert load_model("fbank", device="cpu", dtype="bfloat16").dtype == "bfloat16"
    else:
        with pytest.raises(PitchProbeError, match="--force-dtype"):
            load_model("fbank", device="cpu", dtype="bfloat16")
    assert load_model("fbank", device="cpu", dtype="bfloat16", force_dtype=True).dtype == "bfloat16"
