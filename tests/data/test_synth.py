"""Tests of pitchprobe.data.synth: the FLEURS layout, determinism, and F0 truth that pYAAPT agrees with."""

from __future__ import annotations

import csv
import io
import tarfile

import numpy as np
import pytest
import soundfile as sf
from amfm_decompy import basic_tools, pYAAPT

from pitchprobe.core.errors import UnknownNameError
from pitchprobe.data.synth import DEMO_LANGUAGES, SAMPLING_RATE, synth_utterance, true_f0_at, write_corpus

SPLITS = ("train", "dev", "test")
SMALL = {"train": 3, "dev": 2, "test": 2}
HOP = 320  # samples, 20 ms frame space
HALF = 200  # samples, half of a 25 ms frame


def frame_centres(n_samples: int) -> np.ndarray:
    """Centres (samples) of 25 ms frames every 20 ms that fit in n_samples."""
    return HALF + HOP * np.arange((n_samples - 2 * HALF) // HOP + 1)


def read_tsv(path) -> list[list[str]]:
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))


def read_tar(path) -> dict[str, bytes]:
    with tarfile.open(path, "r:gz") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers()}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return write_corpus(tmp_path_factory.mktemp("synth"), utterances_per_split=SMALL, seed=3)


def test_demo_languages():
    assert [lang.code for lang in DEMO_LANGUAGES] == ["zz_level", "zz_contour", "zz_intonation"]
    assert [lang.style for lang in DEMO_LANGUAGES] == ["level", "contour", "intonation"]
    assert [lang.tone_class for lang in DEMO_LANGUAGES] == ["tonal", "tonal", "non_tonal"]
    assert len({lang.lang_group for lang in DEMO_LANGUAGES}) == 3


def test_layout(corpus):
    table = read_tsv(corpus / "languages.tsv")
    assert table[0] == "lang_id code language lang_group_id lang_group tone_class tone_source".split()
    assert [row[:2] for row in table[1:]] == [["0", "zz_contour"], ["1", "zz_intonation"], ["2", "zz_level"]]
    assert sorted(row[3] for row in table[1:]) == ["0", "1", "2"]
    for lang in DEMO_LANGUAGES:
        base = corpus / "data" / lang.code
        all_names = []
        for split in SPLITS:
            rows = read_tsv(base / f"{split}.tsv")
            assert len(rows) == SMALL[split]
            assert all(len(row) == 7 for row in rows)
            assert all(row[0].isdigit() for row in rows)  # no header line
            assert all(row[6] in ("MALE", "FEMALE") for row in rows)
            assert all(row[1].endswith(".wav") for row in rows)
            assert all(row[4] == " ".join("|" if c == " " else c for c in row[3]) for row in rows)
            members = read_tar(base / "audio" / f"{split}.tar.gz")
            assert sorted(members) == sorted(f"{split}/{row[1]}" for row in rows)
            for row in rows:
                info = sf.info(io.BytesIO(members[f"{split}/{row[1]}"]))
                assert (info.samplerate, info.channels, info.subtype) == (SAMPLING_RATE, 1, "PCM_16")
                assert info.frames == int(row[5])
                assert info.frames >= SAMPLING_RATE  # at least 1.0 s
                truth = np.load(corpus / "truth" / lang.code / split / row[1].replace(".wav", ".npy"))
                assert truth.dtype == np.float64
                assert truth.shape == (info.frames,)
            all_names += [row[1] for row in rows]
        assert len(set(all_names)) == len(all_names)


def test_determinism(tmp_path):
    small = {"train": 2, "dev": 1, "test": 1}
    a = write_corpus(tmp_path / "a", utterances_per_split=small, seed=7)
    b = write_corpus(tmp_path / "b", utterances_per_split=small, seed=7)
    c = write_corpus(tmp_path / "c", utterances_per_split=small, seed=8)
    tsv = "data/zz_contour/train.tsv"
    assert (a / tsv).read_bytes() == (b / tsv).read_bytes()
    assert (a / tsv).read_bytes() != (c / tsv).read_bytes()
    tar = "data/zz_contour/audio/train.tar.gz"
    assert (a / tar).read_bytes() == (b / tar).read_bytes()  # no time stamps in the archive
    audio_a = [sf.read(io.BytesIO(v))[0] for v in read_tar(a / tar).values()]
    audio_b = [sf.read(io.BytesIO(v))[0] for v in read_tar(b / tar).values()]
    audio_c = [sf.read(io.BytesIO(v))[0] for v in read_tar(c / tar).values()]
    assert len(audio_a) == 2
    assert all(np.array_equal(x, y) for x, y in zip(audio_a, audio_b, strict=True))
    assert not any(x.shape == y.shape and np.array_equal(x, y) for x, y in zip(audio_a, audio_c, strict=True))


def test_truth_range_and_voicing(corpus):
    for lang in DEMO_LANGUAGES:
        for split in SPLITS:
            for row in read_tsv(corpus / "data" / lang.code / f"{split}.tsv"):
                f0 = np.load(corpus / "truth" / lang.code / split / row[1].replace(".wav", ".npy"))
                voiced = f0[f0 > 0]
                assert voiced.min() >= 60.0 and voiced.max() <= 400.0
                # two registers: MALE base 100-130 Hz, FEMALE 190-240 Hz, styles span 0.68-1.38 x base
                if row[6] == "MALE":
                    assert voiced.max() <= 1.38 * 130.0
                else:
                    assert voiced.min() >= 0.68 * 190.0
                frames = true_f0_at(f0, frame_centres(f0.size))
                assert 0.2 <= np.mean(frames > 0) <= 0.8


def voiced_runs(f0: np.ndarray) -> list[np.ndarray]:
    edges = np.flatnonzero(np.diff(np.concatenate([[0], (f0 > 0).astype(int), [0]])))
    return [f0[a:b] for a, b in zip(edges[::2], edges[1::2], strict=True)]


@pytest.mark.parametrize("style", ["level", "contour", "intonation"])
def test_utterance_shape_and_style(style):
    wave, f0 = synth_utterance(style=style, base_f0_hz=120.0, duration_s=2.0, rng=np.random.default_rng(1))
    assert wave.shape == f0.shape and wave.dtype == f0.dtype == np.float64
    assert 2.0 * SAMPLING_RATE <= wave.size < 2.6 * SAMPLING_RATE
    assert 0.45 <= np.max(np.abs(wave)) <= 0.55
    assert np.all(wave != 0.0)  # a noise floor everywhere, never digital silence
    edge = int(0.1 * SAMPLING_RATE)
    assert np.max(np.abs(wave[:edge])) < 0.01 and np.max(np.abs(wave[-edge:])) < 0.01
    assert np.all(f0[: int(0.1 * SAMPLING_RATE)] == 0) and np.all(f0[-int(0.1 * SAMPLING_RATE) :] == 0)
    runs = voiced_runs(f0)
    assert len(runs) >= 5
    assert all(0.12 * SAMPLING_RATE - 1 <= run.size <= 0.25 * SAMPLING_RATE for run in runs)
    if style == "level":
        assert all(np.ptp(run) == 0 for run in runs)
        assert {round(run[0] / 120.0, 6) for run in runs} <= {0.8, 1.0, 1.25}
    elif style == "contour":
        assert all(np.ptp(run) >= 0.19 * 120.0 for run in runs)  # at least 0.85 -> 1.05 x base
    else:
        assert runs[0].mean() > runs[-2].mean()  # declination
        assert runs[0][0] <= 1.15 * 120.0 and runs[-2][-1] >= 0.85 * 120.0


def test_short_request_still_one_second():
    wave, f0 = synth_utterance(style="level", base_f0_hz=200.0, duration_s=0.3, rng=np.random.default_rng(0))
    assert wave.size >= SAMPLING_RATE and f0.size == wave.size


def test_unknown_names():
    with pytest.raises(UnknownNameError):
        synth_utterance(style="sung", base_f0_hz=100.0, duration_s=1.0, rng=np.random.default_rng(0))
    with pytest.raises(UnknownNameError):
        write_corpus("/nonexistent-unused", utterances_per_split={"validation": 1})


def test_pyaapt_agrees_with_truth():
    errors, detected = [], []
    for i, (style, base) in enumerate([(s, b) for s in ("level", "contour", "intonation") for b in (110, 220)]):
        wave, f0 = synth_utterance(style=style, base_f0_hz=base, duration_s=2.0, rng=np.random.default_rng(i))
        pitch = pYAAPT.yaapt(basic_tools.SignalObj(wave, SAMPLING_RATE), frame_length=25, frame_space=20)
        est = np.asarray(pitch.samp_values, dtype=np.float64)
        truth = true_f0_at(f0, HALF + HOP * np.arange(est.size))
        both = (truth > 0) & (est > 0)
        rel = np.abs(est[both] - truth[both]) / truth[both]
        det = both.sum() / (truth > 0).sum()
        print(f"{style:10s} {base:3d} Hz: median rel err {np.median(rel):.4f}, voiced detected {det:.3f}")
        assert np.median(rel) < 0.03
        assert det >= 0.8
        errors.append(rel)
        detected.append(det)
    pooled = np.concatenate(errors)
    print(f"pooled: median rel err {np.median(pooled):.4f}, 90th pct {np.quantile(pooled, 0.9):.4f}")
    print(f"        voiced detected mean {np.mean(detected):.3f}, min {np.min(detected):.3f}")


def test_true_f0_at_window_rule():
    f0 = np.zeros(1000)
    f0[300:500] = 150.0
    f0[500:700] = 200.0
    centres = np.array([400, 399, 400.4, 600, 601, 500, 50, 950])
    got = true_f0_at(f0, centres, half_window=100)
    assert got.shape == (8,)
    # 400: [300, 500) voiced; 399: sample 299 unvoiced; 400.4 rounds to 400; 600: [500, 700) voiced;
    # 601: sample 700 unvoiced; 500: [400, 600) voiced, value at 500; 50 and 950: window leaves the array
    np.testing.assert_array_equal(got, [150.0, 0.0, 150.0, 200.0, 0.0, 200.0, 0.0, 0.0])
    np.testing.assert_array_equal(true_f0_at(np.full(10, 100.0), np.array([5, 6, 4]), half_window=5), [100, 0, 0])
    np.testing.assert_array_equal(true_f0_at(np.zeros(0), np.array([3])), [0.0])
