"""The tracker agreement table on real FLEURS speech (English and Mandarin), against the trackers called directly.

Each language's example is cut into chunks, labelled by every tracker through ``pitchprobe labels``; the
table's numbers must equal the same definitions computed here from amfm_decompy, parselmouth and swift_f0
called directly, their frames put on pYAAPT's grid by a loop written out in this file.
"""

import amfm_decompy.basic_tools as basic
import amfm_decompy.pYAAPT as pyaapt
import numpy as np
import pytest
import soundfile as sf
from scipy.stats import pearsonr

from pitchprobe.analysis.agreement import agreement_table
from pitchprobe.cli.main import main
from pitchprobe.data.manifest import read_manifest
from tests.conftest import SHARED_EXAMPLES
from tests.test_real_speech import fleurs_folder

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not SHARED_EXAMPLES.is_dir(), reason="../shared/data/fleurs-examples not present"),
]
EXAMPLES = {"en_us": "en_us_3428105909614355760.wav", "cmn_hans_cn": "cmn_hans_cn_8942599177624850045.wav"}
CHUNK_SPLITS = ["train", "dev", "test", "test", "test"]
TRACKERS = ["pyaapt", "praat", "swift"]


def _on_grid(times, f0, n, hop):
    """Frame j (centre 200 + 320 j): voiced iff the nearest tracker frame is; log-linear between two voiced
    neighbours, else the nearest's value; 0 beyond one tracker hop from every tracker frame."""
    out = np.zeros(n)
    for j in range(n):
        c = 200 + 320 * j
        k = int(np.argmin(np.abs(times - c)))
        if abs(times[k] - c) > hop or f0[k] <= 0:
            continue
        right = int(np.searchsorted(times, c))
        left = right - 1
        if 0 <= left and right < times.size and f0[left] > 0 and f0[right] > 0 and times[right] > times[left]:
            w = (c - times[left]) / (times[right] - times[left])
            out[j] = np.exp((1 - w) * np.log(f0[left]) + w * np.log(f0[right]))
        else:
            out[j] = f0[k]
    return out


def _direct(wav):
    """Each tracker called directly on one waveform, on pYAAPT's grid (Praat: sample i sits at x1 + i / fs)."""
    import parselmouth
    from swift_f0 import SwiftF0

    signal = basic.SignalObj(wav.astype(np.float64), 16000)
    yaapt = np.asarray(pyaapt.yaapt(signal, frame_length=25.0, frame_space=20.0, f0_min=60.0, f0_max=400.0).samp_values)
    n = yaapt.size
    snd = parselmouth.Sound(wav.astype(np.float64), 16000)
    pitch = snd.to_pitch_ac(time_step=0.005, pitch_floor=60.0, pitch_ceiling=400.0)
    praat = _on_grid((np.asarray(pitch.xs()) - snd.x1) * 16000, pitch.selected_array["frequency"], n, 80)
    res = SwiftF0().detect(wav.astype(np.float32), 16000, 60.0, 400.0)
    f0 = np.where(res.confidence >= 0.5, res.pitch_hz, 0.0)
    swift = _on_grid(np.arange(res.pitch_hz.size) * 256.0, f0, n, 256)
    return {"pyaapt": yaapt, "praat": praat, "swift": swift}


def _metrics(a, b):
    both = (a > 0) & (b > 0)
    cents = 1200 * np.log2(b[both] / a[both])
    return {
        "frames": a.size,
        "voicing_agreement": np.mean((a > 0) == (b > 0)),
        "gpe": np.mean(np.abs(b[both] / a[both] - 1) > 0.2),
        "octave_down": np.mean(np.abs(cents + 1200) < 100),
        "octave_up": np.mean(np.abs(cents - 1200) < 100),
        "mad_cents": np.median(np.abs(cents)),
        "r": pearsonr(a[both], b[both])[0],
        "r_log": pearsonr(np.log(a[both]), np.log(b[both]))[0],
    }


def test_agreement_table_on_real_speech_equals_the_trackers_called_directly(tmp_path):
    src = fleurs_folder(tmp_path / "src", EXAMPLES, CHUNK_SPLITS)
    common = ["--data-dir", str(tmp_path / "d"), "-q"]
    assert main(["gather", "en_us,cmn_hans_cn", "--source", str(src), *common]) == 0
    assert main(["labels", "en_us,cmn_hans_cn", "--tracker", ",".join(TRACKERS), "--jobs", "2", *common]) == 0
    root = tmp_path / "d"
    table = agreement_table(root, list(EXAMPLES), TRACKERS)
    assert set(table.gender) >= {"all"}  # and each speaker gender the manifest records
    table = table[table.gender == "all"]
    assert len(table) == 2 * 3  # two languages, three pairs
    for code in EXAMPLES:
        direct = [_direct(sf.read(r["path"], dtype="float32")[0]) for r in read_manifest(root, code, splits=("test",))]
        for a, b in (("pyaapt", "praat"), ("pyaapt", "swift"), ("praat", "swift")):
            want = _metrics(np.concatenate([d[a] for d in direct]), np.concatenate([d[b] for d in direct]))
            row = table[(table.code == code) & (table.tracker_a == a) & (table.tracker_b == b)].iloc[0]
            assert row.utterances == len(direct)
            for key, value in want.items():
                assert row[key] == pytest.approx(value, rel=1e-6, abs=1e-12), (code, a, b, key)  # float32 audio
            assert row.voicing_agreement > 0.6  # real speech: the trackers broadly agree
