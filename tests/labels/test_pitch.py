import subprocess
import sys
import warnings

import amfm_decompy.basic_tools as basic
import amfm_decompy.pYAAPT as pyaapt
import numpy as np
import pytest

from pitchprobe.core.audio import load_audio
from pitchprobe.core.errors import AudioError, PitchProbeError
from pitchprobe.data.fleurs import LocalSource, gather
from pitchprobe.data.manifest import read_manifest, write_manifest
from pitchprobe.data.synth import synth_utterance, true_f0_at
from pitchprobe.labels.make import make_labels
from pitchprobe.labels.pitch import PitchParams, track
from pitchprobe.labels.store import label_timing, read_labels
from pitchprobe.labels.trackers import track_placed
from tests.conftest import SHARED_EXAMPLES, write_bad_files


def reference(wav, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pyaapt.yaapt(basic.SignalObj(np.asarray(wav, dtype=np.float64), 16000), **kw).samp_values


def reference_frames_pos(wav, **kw) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.asarray(pyaapt.yaapt(basic.SignalObj(np.asarray(wav, dtype=np.float64), 16000), **kw).frames_pos)


def placement(wav, params) -> int:
    """Samples the pYAAPT placement rule moves this utterance's frames (pitchprobe.labels.yaapt_windows)."""
    return track_placed("pyaapt", wav, params=params).offset_samples


@pytest.mark.parametrize("f0", [90.0, 150.0, 240.0, 330.0])
def test_track_finds_known_f0_of_a_harmonic_tone(f0):
    n = 24000
    t = np.arange(n) / 16000
    tone = 0.3 * sum(np.sin(2 * np.pi * k * f0 * t + k - 1) / 2 ** (k - 1) for k in (1, 2, 3))
    burst = (t >= 0.5) & (t < 1.0)  # voiced burst between quiet noise, as in speech
    wav = np.where(burst, tone, 0.0) + np.random.default_rng(0).normal(scale=1e-2, size=n)
    got = track(wav)
    assert got.size == (n - 401) // 320 + 1
    centres = (200 + 320 * np.arange(got.size)) / 16000
    inner = got[(centres > 0.55) & (centres < 0.95)]
    assert (inner > 0).all()
    assert (got[centres < 0.4] == 0).all()
    assert np.median(np.abs(inner - f0) / f0) < 0.03


def test_track_follows_synthetic_speech_within_a_few_percent():
    wav, f0 = synth_utterance(style="contour", base_f0_hz=180.0, duration_s=2.0, rng=np.random.default_rng(5))
    got = track(wav)
    truth = true_f0_at(f0, 200 + 320 * np.arange(got.size))
    both = (got > 0) & (truth > 0)
    assert both.sum() > 0.3 * got.size
    assert np.median(np.abs(got[both] - truth[both]) / truth[both]) < 0.03


def test_labels_equal_amfm_decompy_frame_for_frame(labelled, table):
    code = "zz_level"
    params = PitchParams()
    records = read_manifest(labelled, code)
    stored = {split: read_labels(labelled, code, split) for split in ("train", "dev", "test")}
    assert sum(map(len, stored.values())) == len(records)
    for rec in records:
        lab = stored[rec["split"]][rec["id"]]
        assert lab.status == "ok"
        wav = load_audio(rec["path"])
        want = reference(wav, **params.yaapt_kwargs())
        np.testing.assert_array_equal(lab.f0_hz, want)
        # frame 0 is stored where it is placed: pYAAPT's frames_pos[0], plus this utterance's placement at its
        # correlation windows, plus the applied offset; only the position moves, never a value
        offset = label_timing(labelled, code)["applied_offset_samples"]
        first = reference_frames_pos(wav, **params.yaapt_kwargs())[0]
        assert first == 200 and lab.hop_samples == 320
        assert lab.first_centre_samples == first + placement(wav, params) + offset


def test_other_settings_are_passed_through(tmp_path, corpus, table):
    root = tmp_path / "d"
    gather([table["zz_contour"]], root=root, source=LocalSource(corpus), splits=("test",))
    params = PitchParams(frame_length_ms=35.0, frame_space_ms=10.0, f0_min_hz=70.0, f0_max_hz=300.0)
    make_labels("zz_contour", root=root, params=params, jobs=2, splits=("test",), progress=False)
    rec = read_manifest(root, "zz_contour")[0]
    lab = read_labels(root, "zz_contour", "test")[rec["id"]]
    wav = load_audio(rec["path"])
    np.testing.assert_array_equal(lab.f0_hz, reference(wav, **params.yaapt_kwargs()))
    offset = label_timing(root, "zz_contour")["applied_offset_samples"]
    assert (lab.hop_samples, lab.first_centre_samples) == (160, 280 + placement(wav, params) + offset)
    with pytest.raises(PitchProbeError, match="overwrite"):
        make_labels("zz_contour", root=root, splits=("test",), progress=False)


@pytest.fixture
def root_with_bad_files(tmp_path, corpus, table):
    root = tmp_path / "d"
    gather([table["zz_level"]], root=root, source=LocalSource(corpus), splits=("test",))
    records = read_manifest(root, "zz_level")
    template = records[0]
    for name, path in write_bad_files(tmp_path / "bad").items():
        records.append({**template, "id": f"bad_{name}", "path": str(path)})
    write_manifest(root, "zz_level", records)
    return root


def test_bad_files_are_recorded_and_the_run_goes_on(root_with_bad_files):
    s = make_labels("zz_level", root=root_with_bad_files, jobs=2, splits=("test",), progress=False)
    reasons = {f["id"]: f["reason"] for f in s.failed}
    assert reasons == {
        "bad_corrupt": "corrupt",
        "bad_empty": "empty",
        "bad_short": "too_short",
        "bad_stereo44k": "multichannel",
    }
    labels = read_labels(root_with_bad_files, "zz_level", "test")
    assert sum(lab.status == "ok" for lab in labels.values()) == s.total - 4
    again = make_labels("zz_level", root=root_with_bad_files, splits=("test",), progress=False)
    assert again.computed == 0 and again.already_done == s.total and len(again.failed) == 4


def test_fail_fast_stops_at_the_first_bad_file(root_with_bad_files):
    with pytest.raises(PitchProbeError, match="fail-fast"):
        make_labels("zz_level", root=root_with_bad_files, jobs=1, splits=("test",), fail_fast=True, progress=False)


def test_killed_run_resumes_and_gives_the_same_labels(tmp_path, corpus, table, labelled):
    root = tmp_path / "d"
    gather([table["zz_intonation"]], root=root, source=LocalSource(corpus))
    code = (
        "from pathlib import Path; from pitchprobe.labels.make import make_labels; import os, signal\n"
        "import pitchprobe.labels.make as p\n"
        "orig = p.write_part\n"
        "def write_then_die(*a, **k):\n"
        "    out = orig(*a, **k)\n"
        "    if len(list(Path(a[0]).parent.glob('*/part-*.parquet'))) >= 3: os.kill(os.getpid(), signal.SIGKILL)\n"
        "    return out\n"
        "p.write_part = write_then_die\n"
        f"make_labels('zz_intonation', root=Path({str(root)!r}), jobs=1, flush_every=1, progress=False)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == -9  # killed, mid-run
    assert not list(root.glob("labels/**/.*.tmp*")), "no temporary files left behind"
    s = make_labels("zz_intonation", root=root, jobs=1, progress=False)
    assert s.already_done == 3 and s.computed == s.total - 3
    for split in ("train", "dev", "test"):
        resumed, clean = (
            read_labels(root, "zz_intonation", split),
            read_labels(labelled, "zz_intonation", split),
        )
        assert resumed.keys() == clean.keys()
        for k in clean:
            np.testing.assert_array_equal(resumed[k].f0_hz, clean[k].f0_hz)


@pytest.mark.skipif(not SHARED_EXAMPLES.is_dir(), reason="../shared/data/fleurs-examples not present")
def test_real_fleurs_speech_matches_amfm_decompy():
    for path in sorted(SHARED_EXAMPLES.glob("*.wav")):
        wav = load_audio(path)
        got = track(wav)
        np.testing.assert_array_equal(got, reference(wav, frame_length=25.0, frame_space=20.0))
        assert got.size == (wav.size - 401) // 320 + 1
        voiced = got[got > 0]
        assert voiced.size > 0.2 * got.size and 60 <= voiced.min() and voiced.max() <= 400


def test_track_rejects_short_input_with_a_reason():
    with pytest.raises(AudioError) as e:
        track(np.random.default_rng(0).normal(size=1000) * 0.1)
    assert e.value.reason == "too_short"


def _frames_pos(wav, params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.asarray(pyaapt.yaapt(basic.SignalObj(wav, 16000), **params.yaapt_kwargs()).frames_pos)


@pytest.mark.parametrize(
    "length_ms, space_ms",
    [(25.0, 20.0), (25.0625, 12.5), (35.0, 10.0), (20.0, 12.5), (30.0, 5.0), (25.0, 12.5625)],
)
def test_stored_frame_centres_are_amfm_decompys_frames_pos(tmp_path, corpus, table, length_ms, space_ms):
    """Labels made with any accepted setting sit exactly where pYAAPT itself says (odd frame sizes included),
    moved by the utterance's placement and the measured offset of these settings."""
    root = tmp_path / "d"
    gather([table["zz_contour"]], root=root, source=LocalSource(corpus), splits=("test",))
    params = PitchParams(frame_length_ms=length_ms, frame_space_ms=space_ms)
    make_labels("zz_contour", root=root, params=params, jobs=1, splits=("test",), progress=False)
    labels = read_labels(root, "zz_contour", "test")
    for rec in read_manifest(root, "zz_contour")[:2]:
        lab = labels[rec["id"]]
        wav = load_audio(rec["path"])
        applied = label_timing(root, "zz_contour")["applied_offset_samples"]
        want = _frames_pos(wav, params) + placement(wav, params) + applied
        got = lab.first_centre_samples + lab.hop_samples * np.arange(lab.f0_hz.size)
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("field, ms", [("frame_space_ms", 12.55), ("frame_length_ms", 25.03), ("frame_space_ms", 0.01)])
def test_settings_pyaapt_would_truncate_are_refused(field, ms):
    with pytest.raises(PitchProbeError, match="whole number of samples"):
        PitchParams(**{field: ms})
