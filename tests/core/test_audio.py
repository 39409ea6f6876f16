import numpy as np
import pytest
import soundfile as sf

from pitchprobe.core.audio import load_audio, to_mono_16k
from pitchprobe.core.errors import AudioError
from tests.conftest import write_bad_files


@pytest.mark.parametrize(
    ("name", "reason"),
    [("corrupt", "corrupt"), ("empty", "empty"), ("short", "too_short"), ("stereo44k", "multichannel")],
)
def test_bad_files_are_rejected_with_their_reason(tmp_path, name, reason):
    path = write_bad_files(tmp_path)[name]
    with pytest.raises(AudioError) as e:
        load_audio(path)
    assert e.value.reason == reason
    assert str(path) in str(e.value)


def test_zero_byte_file_is_empty_not_corrupt(tmp_path):
    (tmp_path / "zero.wav").write_bytes(b"")
    with pytest.raises(AudioError) as e:
        load_audio(tmp_path / "zero.wav")
    assert e.value.reason == "empty"


def test_missing_nan_silent_and_wrong_rate(tmp_path):
    with pytest.raises(AudioError) as e:
        load_audio(tmp_path / "nope.wav")
    assert e.value.reason == "missing"
    x = np.full(16000, 0.1, dtype=np.float32)
    x[100] = np.nan
    sf.write(tmp_path / "nan.wav", x, 16000, subtype="FLOAT")
    sf.write(tmp_path / "silent.wav", np.zeros(16000, dtype=np.float32), 16000)
    sf.write(tmp_path / "rate.wav", np.full(8000, 0.1), 8000)
    for name, reason in (("nan", "not_finite"), ("silent", "silent"), ("rate", "wrong_rate")):
        with pytest.raises(AudioError) as e:
            load_audio(tmp_path / f"{name}.wav")
        assert e.value.reason == reason


def test_good_file_roundtrip(tmp_path):
    x = 0.3 * np.sin(2 * np.pi * 200 * np.arange(16000) / 16000)
    sf.write(tmp_path / "ok.wav", x, 16000, subtype="FLOAT")
    y = load_audio(tmp_path / "ok.wav")
    assert y.dtype == np.float64 and y.shape == (16000,)
    np.testing.assert_allclose(y, x, atol=1e-7)


def test_to_mono_16k_mixes_down_and_resamples_a_tone():
    rate = 44100
    t = np.arange(rate) / rate
    stereo = np.stack([np.sin(2 * np.pi * 440 * t), np.sin(2 * np.pi * 440 * t)], axis=1)
    y = to_mono_16k(stereo, rate)
    assert y.shape == (16000,)
    spectrum = np.abs(np.fft.rfft(y * np.hanning(y.size)))
    assert abs(np.argmax(spectrum) * 16000 / y.size - 440) <= 1.0
