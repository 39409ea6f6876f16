"""A small speech-like corpus with known F0, in the FLEURS repository layout.

Used by the offline demo and the tests. :func:`write_corpus` writes::

    <root>/languages.tsv                          language table (with header)
    <root>/data/<code>/<split>.tsv                FLEURS metadata (no header, 7 columns)
    <root>/data/<code>/audio/<split>.tar.gz       members <split>/<file name>, 16 kHz mono PCM_16 WAV
    <root>/truth/<code>/<split>/<file stem>.npy   true F0 per sample, Hz, 0 = unvoiced

An utterance is a run of syllables: a band-passed noise onset (a fricative)
then a voiced nucleus, some of them followed by a short near-silence. The nucleus F0
follows the pseudo-language's style: ``level`` tones, ``contour`` tones, or ``intonation`` only.

Voicing is a zero-phase harmonic synthesis (:func:`harmonic_signal`): every harmonic's
amplitude follows a vowel's formant envelope at that harmonic's *instantaneous* frequency,
and its phase is exactly ``k`` times the phase of the true F0. No filter stands between
the true F0 and the audio, so the truth has no delay: a causal formant filter would delay
the audio by its group delay (1.7-3.4 ms near the formants), which a tracker's timing,
measured against the truth, would then wrongly include.
"""

from __future__ import annotations

import gzip
import io
import os
import tarfile
import zlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import butter, sosfilt

from pitchprobe.core.atomic import atomic_path, write_text
from pitchprobe.core.errors import UnknownNameError

SAMPLING_RATE = 16000  # Hz
SPLITS = ("train", "dev", "test")
STYLES = ("level", "contour", "intonation")
DEFAULT_UTTERANCES = {"train": 24, "dev": 8, "test": 8}  # utterances per split and language
EDGE_S = 0.1  # s of near-silence at each end of an utterance
ONSET_S = (0.04, 0.10)  # s, unvoiced onset length range
NUCLEUS_S = (0.12, 0.25)  # s, voiced nucleus length range
PAUSE_S = (0.03, 0.08)  # s, pause length range
PAUSE_PROB = 0.4  # chance of a pause after a syllable
RAMP_S = 0.015  # s, raised-cosine amplitude ramp at each nucleus edge
N_HARMONICS = 16  # harmonics of the voiced source, amplitude 1/k
FLOOR = 1e-4  # full scale 1.0; rms of the noise floor in pauses
SNR_DB = 40.0  # dB, white noise over the whole file
PEAK = 0.5  # full scale 1.0; peak of the clean signal
VOWELS = {  # letter: formant (frequency Hz, bandwidth Hz) pairs
    "a": ((730, 90), (1090, 110), (2440, 170)),
    "e": ((530, 60), (1840, 100), (2480, 160)),
    "i": ((270, 60), (2290, 100), (3010, 170)),
    "o": ((570, 70), (840, 80), (2410, 160)),
    "u": ((300, 60), (870, 80), (2240, 150)),
}
CONSONANTS = {"s": (4000, 7000), "f": (1500, 6000), "h": (600, 3000), "x": (2000, 4500)}  # noise band, Hz


@dataclass(frozen=True)
class PseudoLanguage:
    """A synthetic language: FLEURS-like code and names, and an F0 ``style`` (one of :data:`STYLES`)."""

    code: str
    language: str
    lang_group: str
    tone_class: str
    style: str


DEMO_LANGUAGES = (
    PseudoLanguage("zz_level", "Synthetic level-tone", "synthetic_level", "tonal", "level"),
    PseudoLanguage("zz_contour", "Synthetic contour-tone", "synthetic_contour", "tonal", "contour"),
    PseudoLanguage("zz_intonation", "Synthetic intonation", "synthetic_intonation", "non_tonal", "intonation"),
)


def _nucleus_f0(style: str, base: float, n: int, rng: np.random.Generator) -> np.ndarray:
    """F0 in Hz, shape (n,), of one nucleus; for ``intonation`` the flat 1.0 that the phrase shape scales."""
    u = np.linspace(0.0, 1.0, n)
    if style == "level":
        return np.full(n, base * rng.choice([0.8, 1.0, 1.25]))
    if style == "contour":
        kind = rng.integers(3)
        if kind == 0:  # rising
            return base * (0.85 + 0.35 * u)
        if kind == 1:  # falling
            return base * (1.2 - 0.35 * u)
        return base * (0.85 + 0.2 * (2 * u - 1) ** 2)  # dipping: 1.05 -> 0.85 -> 1.05
    return np.full(n, base)


@lru_cache(maxsize=32)
def _noise_band(consonant: str, fs: int) -> np.ndarray:
    """Second-order sections of the band-pass filter for ``consonant``'s onset noise."""
    return butter(4, CONSONANTS[consonant], btype="bandpass", fs=fs, output="sos")


def formant_gain(freq_hz: np.ndarray, vowel: str, *, sampling_rate: int = SAMPLING_RATE) -> np.ndarray:
    """Magnitude response of ``vowel``'s formants (Klatt resonators, unity gain at DC) at ``freq_hz`` (any shape)."""
    w = 2 * np.pi * np.asarray(freq_hz, dtype=np.float64) / sampling_rate
    gain = np.ones(w.shape)
    for freq, bw in VOWELS[vowel]:
        r = np.exp(-np.pi * bw / sampling_rate)
        c = 2 * r * np.cos(2 * np.pi * freq / sampling_rate)
        gain *= (1 - c + r * r) / np.abs(1 - c * np.exp(-1j * w) + r * r * np.exp(-2j * w))
    return gain


def _voiced(f0: np.ndarray, vowel: str, rng: np.random.Generator, fs: int) -> np.ndarray:
    """A zero-phase harmonic nucleus for F0 track ``f0`` (Hz, shape (n,)), ramped, rms about 1."""
    phase = 2 * np.pi * np.cumsum(f0) / fs + rng.uniform(0, 2 * np.pi)
    k = np.arange(1, N_HARMONICS + 1)[:, None]
    freq = k * f0[None, :]
    amp = (freq < 0.45 * fs) / k * formant_gain(freq, vowel, sampling_rate=fs)  # none near Nyquist
    x = np.sum(amp * np.sin(k * phase[None, :]), axis=0)
    ramp = min(int(RAMP_S * fs), f0.size // 2)
    env = np.ones(f0.size)
    env[:ramp] = 0.5 - 0.5 * np.cos(np.pi * np.arange(ramp) / ramp)
    env[f0.size - ramp :] = env[:ramp][::-1]
    return env * x / np.sqrt(np.mean(x**2))


def _with_noise(wave: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``wave`` scaled to peak :data:`PEAK`, plus white noise :data:`SNR_DB` below its rms."""
    wave = wave * PEAK / np.max(np.abs(wave))
    return wave + np.sqrt(np.mean(wave**2)) * 10 ** (-SNR_DB / 20) * rng.standard_normal(wave.size)


def synth_utterance(
    *,
    style: str,
    base_f0_hz: float,
    duration_s: float,
    rng: np.random.Generator,
    sampling_rate: int = SAMPLING_RATE,
) -> tuple[np.ndarray, np.ndarray]:
    """Synthesise one utterance of about ``max(duration_s, 1.0)`` seconds (a little longer, whole syllables).

    Parameters
    ----------
    style : str
        One of :data:`STYLES`.
    base_f0_hz : float
        The speaker's base F0 in Hz; the track stays within 0.68x to 1.38x of it.
    duration_s : float
        Target length in seconds.
    rng : np.random.Generator
        The only source of randomness.

    Returns
    -------
    (wave, f0) : tuple of np.ndarray
        ``wave`` float64 (N,), peak about 0.5; ``f0`` float64 (N,), Hz per sample, 0 = unvoiced.
    """
    wave, f0, _ = _synth(style, base_f0_hz, duration_s, rng, sampling_rate)
    return wave, f0


def _synth(style: str, base_f0_hz: float, duration_s: float, rng: np.random.Generator, fs: int):
    """:func:`synth_utterance`, also returning the syllables as text (consonant + vowel letters)."""
    if style not in STYLES:
        raise UnknownNameError("style", style, STYLES)
    edge = int(EDGE_S * fs)
    target = int(max(duration_s, 1.0) * fs) - edge
    parts, f0s, nuclei, syllables = [FLOOR * rng.standard_normal(edge)], [np.zeros(edge)], [], []
    pos = edge
    while pos < target:
        cons, vowel = rng.choice(list(CONSONANTS)), rng.choice(list(VOWELS))
        syllables.append(cons + vowel)
        n_on = int(rng.uniform(*ONSET_S) * fs)
        onset = sosfilt(_noise_band(cons, fs), rng.standard_normal(n_on))
        onset *= rng.uniform(0.1, 0.25) * np.hanning(n_on) ** 0.25 / np.max(np.abs(onset))
        n_nuc = int(rng.uniform(*NUCLEUS_S) * fs)
        nuclei.append((pos + n_on, n_nuc, vowel))
        f0s += [np.zeros(n_on), _nucleus_f0(style, base_f0_hz, n_nuc, rng)]
        parts += [onset, np.zeros(n_nuc)]  # nucleus filled in once the F0 track is final
        pos += n_on + n_nuc
        if rng.random() < PAUSE_PROB:
            n_pause = int(rng.uniform(*PAUSE_S) * fs)
            parts.append(FLOOR * rng.standard_normal(n_pause))
            f0s.append(np.zeros(n_pause))
            pos += n_pause
    parts.append(FLOOR * rng.standard_normal(edge))
    f0s.append(np.zeros(edge))
    wave, f0 = np.concatenate(parts), np.concatenate(f0s)
    if style == "intonation":  # declination 1.15 -> 0.85 over the file, final rise or fall
        f0 *= 1.15 - 0.30 * np.arange(f0.size) / f0.size
        start, n, _ = nuclei[-1]
        f0[start : start + n] *= np.linspace(1.0, rng.choice([0.8, 1.2]), n)
    for start, n, vowel in nuclei:
        wave[start : start + n] = _voiced(f0[start : start + n], vowel, rng, fs)
    wave = _with_noise(wave, rng)
    return wave, f0, syllables


def moving_utterance(
    *,
    low_hz: float,
    high_hz: float,
    duration_s: float,
    rng: np.random.Generator,
    sampling_rate: int = SAMPLING_RATE,
) -> tuple[np.ndarray, np.ndarray]:
    """An utterance of voiced stretches whose F0 keeps moving, for timing trackers: every stretch carries its F0
    with no delay (:func:`harmonic_signal`) and curves, so that where its labels sit can be told from its level.

    Each stretch (0.3-0.8 s) follows a register drawn log-uniformly from ``low_hz`` to ``high_hz`` (kept 3
    semitones inside them), moved by two sinusoids of 1.5-6 Hz and 1-2.5 semitones each, clipped to the range;
    stretches are parted by 60-150 ms of noise floor (an unvoiced gap).

    Returns
    -------
    (wave, f0) : tuple of np.ndarray
        ``wave`` float64 (N,), peak 0.5, SNR about 40 dB; ``f0`` float64 (N,), Hz per sample, 0 = unvoiced.
    """
    fs = sampling_rate
    edge = int(EDGE_S * fs)
    waves, f0s = [FLOOR * rng.standard_normal(edge)], [np.zeros(edge)]
    total, lo, hi = edge, np.log(low_hz) + 0.25 * np.log(2), np.log(high_hz) - 0.25 * np.log(2)
    while total < duration_s * fs:
        n = int(rng.uniform(0.3, 0.8) * fs)
        t = np.arange(n) / fs
        st = sum(rng.uniform(1.0, 2.5) * np.sin(2 * np.pi * rng.uniform(1.5, 6.0) * t + rng.uniform(0, 2 * np.pi))
                 for _ in range(2))  # fmt: skip
        f0 = np.clip(np.exp(rng.uniform(lo, hi)) * 2 ** (st / 12), low_hz, high_hz)
        gap = int(rng.uniform(0.06, 0.15) * fs)
        waves += [_voiced(f0, str(rng.choice(list(VOWELS))), rng, fs), FLOOR * rng.standard_normal(gap)]
        f0s += [f0, np.zeros(gap)]
        total += n + gap
    waves.append(FLOOR * rng.standard_normal(edge))
    f0s.append(np.zeros(edge))
    wave, f0 = np.concatenate(waves), np.concatenate(f0s)
    wave = _with_noise(wave, rng)
    return wave, f0


def true_f0_at(f0: np.ndarray, centres: np.ndarray, *, half_window: int = 200) -> np.ndarray:
    """True F0 at frame centres.

    Parameters
    ----------
    f0 : np.ndarray
        Per-sample F0 in Hz, shape (N,), 0 = unvoiced.
    centres : np.ndarray
        Frame centres as sample indices, shape (M,); rounded to the nearest sample.
    half_window : int
        Samples; the window is ``[c - half_window, c + half_window)``.

    Returns
    -------
    np.ndarray
        float64, shape (M,): ``f0[c]`` where the whole window lies inside ``f0`` and is voiced, else 0.
    """
    f0 = np.asarray(f0, dtype=np.float64)
    if f0.size == 0:
        return np.zeros(np.size(centres))
    c = np.rint(np.asarray(centres, dtype=np.float64)).astype(np.int64)
    lo, hi = c - half_window, c + half_window
    inside = (lo >= 0) & (hi <= f0.size)
    voiced_cum = np.concatenate([[0], np.cumsum(f0 > 0)])
    full = np.zeros(c.size, dtype=bool)
    full[inside] = voiced_cum[hi[inside]] - voiced_cum[lo[inside]] == 2 * half_window
    return np.where(full, f0[np.clip(c, 0, f0.size - 1)], 0.0)


def _write_split(
    root: Path, lang: PseudoLanguage, split: str, count: int, durations: tuple[float, float], seed: int
) -> None:
    """Write one split's TSV, tar.gz and truth files."""
    crc = zlib.crc32(lang.code.encode())
    speakers_rng = np.random.default_rng([crc, 0])  # the speaker set depends on the language only
    speakers = [("MALE", b) for b in speakers_rng.uniform(100, 130, 2)]
    speakers += [("FEMALE", b) for b in speakers_rng.uniform(190, 240, 2)]
    k = SPLITS.index(split)
    rng = np.random.default_rng([seed, crc, k])
    rows, members, names = [], [], set()
    for i in range(count):
        name = ""
        while not name or name in names:  # the first digit keeps the splits apart
            name = f"{k + 1}{rng.integers(10**8, 10**9)}.wav"
        names.add(name)
        gender, base = speakers[rng.integers(len(speakers))]
        wave, f0, syllables = _synth(lang.style, base, rng.uniform(*durations), rng, SAMPLING_RATE)
        text = " ".join(syllables)
        chars = " ".join("|" if ch == " " else ch for ch in text)  # FLEURS style: "|" between words
        fields = [1000 * k + i, name, f"{text.capitalize()}.", text, chars, wave.size, gender]
        rows.append("\t".join(map(str, fields)) + "\n")
        buf = io.BytesIO()
        sf.write(buf, wave, SAMPLING_RATE, format="WAV", subtype="PCM_16")
        members.append((f"{split}/{name}", buf.getvalue()))
        with atomic_path(root / "truth" / lang.code / split / f"{Path(name).stem}.npy") as tmp:
            np.save(tmp, f0)
    write_text(root / "data" / lang.code / f"{split}.tsv", "".join(rows))
    with atomic_path(root / "data" / lang.code / "audio" / f"{split}.tar.gz") as tmp:
        with open(tmp, "wb") as f:  # no name and mtime 0 in the gzip header: the same bytes for a seed
            with gzip.GzipFile(filename="", mode="wb", fileobj=f, mtime=0, compresslevel=6) as gz:
                with tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
                    for member, data in members:
                        info = tarfile.TarInfo(member)
                        info.size, info.mtime, info.mode = len(data), 0, 0o644
                        tar.addfile(info, io.BytesIO(data))


def write_corpus(
    root: str | os.PathLike,
    *,
    languages: tuple[PseudoLanguage, ...] | list[PseudoLanguage] = DEMO_LANGUAGES,
    utterances_per_split: dict[str, int] | None = None,
    duration_s: tuple[float, float] = (1.5, 3.0),
    seed: int = 0,
) -> Path:
    """Write the corpus under ``root`` (see the module docstring) and return ``root`` as a Path.

    ``utterances_per_split`` maps split names of :data:`SPLITS` to counts per language (default
    :data:`DEFAULT_UTTERANCES`; a split left out gets 0). ``duration_s`` is the range of target
    lengths in seconds (every file is at least 1.0 s). The output is byte-for-byte the same for a seed.
    """
    root = Path(root)
    counts = dict(DEFAULT_UTTERANCES if utterances_per_split is None else utterances_per_split)
    for split in counts:
        if split not in SPLITS:
            raise UnknownNameError("split", split, SPLITS)
    langs = sorted(languages, key=lambda lang: lang.code)
    groups = sorted({lang.lang_group for lang in langs})
    table = ["lang_id\tcode\tlanguage\tlang_group_id\tlang_group\ttone_class\ttone_source\n"]
    for lang_id, lang in enumerate(langs):
        table.append(
            f"{lang_id}\t{lang.code}\t{lang.language}\t{groups.index(lang.lang_group)}\t{lang.lang_group}\t"
            f"{lang.tone_class}\tsynthetic ({lang.style} F0 by construction)\n"
        )
        for split in SPLITS:
            _write_split(root, lang, split, counts.get(split, 0), duration_s, seed)
    write_text(root / "languages.tsv", "".join(table))
    return root


def harmonic_signal(
    f0_track: np.ndarray, *, rng: np.random.Generator, vowel: str = "a", sampling_rate: int = SAMPLING_RATE
) -> np.ndarray:
    """A voiced, vowel-like signal that follows a given F0 track with no delay: the corpus's nucleus synthesis.

    Harmonic ``k`` is ``A_k(t) sin(k phi(t))``, ``phi`` the integral of the true F0 and ``A_k(t)`` the
    formant envelope (:func:`formant_gain`) at ``k f0(t)``, over ``k``: zero phase, so the F0 the audio
    carries at sample ``i`` is ``f0_track[i]`` (no filter's group delay in between).

    Parameters
    ----------
    f0_track : np.ndarray
        Shape (n,), F0 in Hz of every sample, all > 0.
    rng : np.random.Generator
        Source of the random starting phase.
    vowel : str
        A key of :data:`VOWELS` (formants).
    sampling_rate : int
        Hz.

    Returns
    -------
    np.ndarray
        float64, shape (n,): 16 harmonics (amplitude 1/k times the formant envelope, none near Nyquist), rms about 1,
        with a raised-cosine ramp of ``RAMP_S`` at each end.
    """
    f0_track = np.asarray(f0_track, dtype=np.float64)
    if vowel not in VOWELS:
        raise UnknownNameError("vowel", vowel, list(VOWELS))
    if f0_track.ndim != 1 or f0_track.size < 2 or not np.all(np.isfinite(f0_track) & (f0_track > 0)):
        raise ValueError("f0_track must be a 1-D array of at least 2 finite F0 values > 0 Hz")
    return _voiced(f0_track, vowel, rng, sampling_rate)
