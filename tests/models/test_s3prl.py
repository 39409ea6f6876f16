import numpy as np
import pytest

from pitchprobe.core.errors import PitchProbeError, UnknownNameError
from pitchprobe.models import load_model, resolve_device


@pytest.fixture(scope="module")
def fbank():
    return load_model("fbank", device="cpu")


@pytest.mark.parametrize("n", [16000, 16399, 16400, 16401, 16560])
def test_fbank_runs_for_real_with_exact_frames(fbank, n):
    (states,) = fbank.forward([np.random.default_rng(n).normal(size=n) * 0.1])
    assert len(states) == 1
    # kaldi frames: 25 ms windows every 10 ms, no padding frame (S3PRL's wrapper would give (n - 1) // 160 + 1)
    assert states[0].shape == ((n - 400) // 160 + 1, 240)
    assert not np.isnan(states[0].numpy()).any()


def test_fbank_geometry_is_measured_from_the_model(fbank):
    assert (fbank.window, fbank.hop, fbank.grid.first) == (400, 160, 200.0)
    assert not fbank.model.training


def test_mfcc_has_its_own_size():
    m = load_model("mfcc", device="cpu")
    assert m.hidden_sizes == [39] and m.hop == 160


def test_unknown_model_lists_valid_names():
    with pytest.raises(UnknownNameError) as e:
        load_model("hubbert")
    msg = str(e.value)
    assert "hubbert" in msg and "hubert" in msg and "fbank" in msg and "wavlm" in msg and "Hugging Face" in msg


def test_device_choice():
    assert str(resolve_device("cpu")) == "cpu"
    with pytest.raises(UnknownNameError):
        resolve_device("tpu")
    with pytest.raises(UnknownNameError):
        resolve_device("cuda:x")
    import torch

    if not torch.cuda.is_available():
        with pytest.raises(PitchProbeError, match="no CUDA device"):
            resolve_device("cuda:0")
    else:
        with pytest.raises(PitchProbeError, match="CUDA devices"):
            resolve_device(f"cuda:{torch.cuda.device_count()}")
