"""Click calibration of model frame timing (pitchprobe.models.calibrate), on real backends."""

import json

import numpy as np
import pytest
from transformers import HubertConfig

from pitchprobe.core.errors import PitchProbeError
from pitchprobe.core.timing import TIMING_TOLERANCE_MS
from pitchprobe.models import load_model
from pitchprobe.models.calibrate import ModelTiming, calibrate_model, click_response, place_frames

TOLERANCE_SAMPLES = TIMING_TOLERANCE_MS * 16  # 1 ms at 16 kHz
KALDI_WINDOW = 400  # samples, fbank's 25 ms frame
DELTA_REACH = 4 * 160  # samples: deltas (win_length 5) of deltas reach 2 + 2 frames of 10 ms each way


class Shifted:
    """A backend whose input is delayed by ``delay`` samples (advanced if negative), at the same length.

    Everything but ``forward`` is the wrapped backend's own.
    """

    def __init__(self, inner, delay: int):
        self.inner, self.delay = inner, delay

    def forward(self, wavs):
        d = self.delay
        zeros = np.zeros(abs(d), dtype=np.float32)
        shifted = [np.concatenate([zeros, w[:-d]]) if d > 0 else np.concatenate([w[-d:], zeros]) for w in wavs]
        return self.inner.forward(shifted)

    def __getattr__(self, name):
        return getattr(self.inner, name)


@pytest.fixture(scope="module")
def fbank():
    return load_model("fbank", device="cpu")


@pytest.fixture(scope="module")
def fbank_timing(fbank):
    return calibrate_model(fbank)


def test_fbank_frames_sit_at_their_nominal_centres(fbank, fbank_timing):
    t = fbank_timing
    assert isinstance(t, ModelTiming)
    assert (t.nominal_first_samples, t.hop_samples) == (fbank.grid.first, fbank.grid.hop) == (200.0, 160.0)
    # a symmetric 25 ms Kaldi window centred at sample 200 + 160 k, and deltas symmetric about their frame
    assert abs(t.offset_samples) <= TOLERANCE_SAMPLES
    assert t.offset_ms == pytest.approx(t.offset_samples / 16)
    assert t.tolerance_ms == TIMING_TOLERANCE_MS
    assert t.applied_offset_samples == 0
    assert t.grid == fbank.grid


def test_fbank_extent_is_its_window_widened_by_the_deltas(fbank, fbank_timing):
    # S3PRL's fbank is 80 log-mels + deltas + delta-deltas, each dimension unit-variance (CMVN): a click moves
    # the log-mels of frames whose 400-sample window holds it, and the deltas of frames up to 4 hops further.
    # The response's support is then +-(200 + 640) samples; the delta dims weigh as much as the log-mels, so
    # the central 90 % of it spans well beyond the window, and within the support.
    support = KALDI_WINDOW / 2 + DELTA_REACH
    assert KALDI_WINDOW < fbank_timing.extent_samples < 2 * support
    assert fbank_timing.extent_ms == pytest.approx(fbank_timing.extent_samples / 16)
    resp = click_response(fbank)
    d, r = np.abs(resp.distance_samples), resp.response
    peak = r[d < KALDI_WINDOW / 4].mean()
    assert r[d > support + 20].max() < 0.01 * peak  # beyond the support: only CMVN's utterance-wide floor
    assert r[(d > support - 200) & (d < support - 40)].mean() > 0.01 * peak  # delta-deltas alone still respond
    assert r[d < KALDI_WINDOW / 2 - 20].sum() / r.sum() < 0.9  # so the static window does not hold 90 %


def test_clicks_cover_one_hop_evenly(fbank):
    resp = click_response(fbank, clicks=16)
    phases = np.unique(np.round(resp.distance_samples % 160, 6))
    assert phases.size == 16 and np.allclose(np.diff(phases), 10)
    assert resp.sites > 1  # spread over separate stretches of the reference noise
    assert np.all(np.abs(resp.distance_samples) <= resp.half_width_samples)
    assert np.all(np.diff(resp.distance_samples) >= 0)


@pytest.mark.parametrize("delay", [80, -48])
def test_a_planted_delay_is_recovered(fbank, fbank_timing, delay):
    # The input delayed by D samples: what the model sees at sample s is the original at s - D, so frame k
    # describes original content D samples earlier than before: the offset moves by -D.
    shifted = calibrate_model(Shifted(fbank, delay))
    assert abs(shifted.offset_samples - fbank_timing.offset_samples - (-delay)) <= TOLERANCE_SAMPLES
    # 5 ms and 3 ms, both beyond the tolerance: corrected by the rounded offset
    assert shifted.applied_offset_samples == round(shifted.offset_samples) != 0
    assert shifted.grid.first == 200.0 + shifted.applied_offset_samples


def test_a_placed_model_is_measured_against_its_nominal_grid(fbank_timing):
    """A model already placed 32 samples late is measured as it is, not against its placed grid (which would
    read -32 from a 'nominal' of 232)."""
    placed = load_model("fbank", device="cpu")
    placed.grid_offset = 32.0
    t = calibrate_model(placed)
    assert t.nominal_first_samples == 200.0 and placed.grid.first == 232.0
    assert t.offset_samples == pytest.approx(fbank_timing.offset_samples, abs=1e-9)


def test_frames_are_placed_from_the_cache_or_measured_once(fbank_timing, tmp_path):
    backend = load_model("fbank", device="cpu")
    cache = tmp_path / "calibration" / "models" / "fbank.json"
    first = place_frames(backend, cache=cache)
    assert first["offset_samples"] == pytest.approx(fbank_timing.offset_samples)
    assert json.loads(cache.read_text()) == first and backend.grid_offset == first["applied_offset_samples"] == 0
    cache.write_text(json.dumps({**first, "applied_offset_samples": 24}))  # as if measured there at 24
    assert place_frames(backend, cache=cache)["applied_offset_samples"] == 24 and backend.grid.first == 224.0
    cache.write_text("{not json")  # unreadable: measured again and replaced
    assert place_frames(backend, cache=cache)["applied_offset_samples"] == 0 and backend.grid.first == 200.0
    cache.write_text(json.dumps({**first, "applied_offset_samples": 24, "calibration": 1}))  # an older calibration
    assert place_frames(backend, cache=cache)["applied_offset_samples"] == 0 and backend.grid.first == 200.0


def test_as_dict_is_json_ready(fbank_timing):
    d = json.loads(json.dumps(fbank_timing.as_dict()))
    assert d["model"] == "fbank" and d["clicks"] == fbank_timing.clicks
    assert d["offset_samples"] == fbank_timing.offset_samples
    assert isinstance(d["applied_offset_samples"], int)


def test_too_short_or_too_few_clicks_are_refused(fbank):
    with pytest.raises(PitchProbeError, match="too short"):
        calibrate_model(fbank, seconds=0.1)
    with pytest.raises(PitchProbeError, match="at least 2"):
        calibrate_model(fbank, clicks=1)


def test_tiny_random_hubert_is_calibrated(tmp_path):
    HubertConfig(
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        conv_dim=(16,) * 7,
        num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=4,
    ).save_pretrained(tmp_path / "hubert")
    backend = load_model(str(tmp_path / "hubert"), device="cpu", random_init=True)
    t = calibrate_model(backend, clicks=16)
    assert (t.nominal_first_samples, t.hop_samples) == (200.0, 320.0)
    assert np.isfinite(t.offset_samples)
    # the conv stack's receptive field is 400 samples centred on the nominal centre: the local response, and so
    # its centroid, lies within it (the positional convolution's spread is cut symmetrically)
    assert abs(t.offset_samples) < KALDI_WINDOW / 2
    assert 0 < t.extent_samples <= 2 * t.half_width_samples
    assert t.applied_offset_samples in (0, round(t.offset_samples))
