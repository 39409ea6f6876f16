"""Turn any folder of recordings into a "language" the pipeline accepts.

Every file libsndfile can read is mixed down to mono, resampled to 16 kHz and
written as a float32 WAV under ``<data_dir>/audio/<name>/<split>/``. Its
split follows from a hash of its path relative to the folder, so adding
files never moves old ones to another split.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import soundfile as sf
from tqdm.auto import tqdm

from pitchprobe.core.atomic import atomic_path, remove_temporary
from pitchprobe.core.audio import SAMPLING_RATE, to_mono_16k
from pitchprobe.core.errors import PitchProbeError
from pitchprobe.core.layout import SPLITS, audio_dir, language_lock
from pitchprobe.core.lock import file_lock
from pitchprobe.data.manifest import write_manifest

AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif", ".au", ".opus"}


def split_of(relpath: str, ratios: tuple[float, float, float]) -> str:
    """Deterministic split of a file: SHA-1 of ``relpath`` mapped to [0, 1), cut at the cumulative ratios."""
    total = sum(ratios)
    if total <= 0 or any(r < 0 for r in ratios):
        raise PitchProbeError(f"split ratios must be non-negative and not all zero, got {ratios}")
    u = int.from_bytes(hashlib.sha1(relpath.encode("utf-8")).digest()[:8], "big") / 2**64
    edge = 0.0
    for split, r in zip(SPLITS, ratios):
        edge += r / total
        if u < edge:
            return split
    return SPLITS[-1]


def gather_folder(
    folder: str | os.PathLike,
    *,
    name: str,
    root: Path,
    ratios: tuple[float, float, float] = (0.8, 0.1, 0.1),
    tone_class: str = "unknown",
    fail_fast: bool = False,
) -> tuple[list[dict], list[dict]]:
    """Convert ``folder`` (searched recursively) into corpus ``name``.

    Returns
    -------
    records, failures
        Manifest records written to ``<root>/manifests/<name>.jsonl``, and
        ``{"path", "reason"}`` for each file that could not be read.
    """
    folder = Path(folder).expanduser().resolve()
    if not folder.is_dir():
        raise PitchProbeError(f"{folder} is not a folder")
    if not name or any(c in name for c in "/\\ ") or name.startswith("."):
        raise PitchProbeError(f"corpus name {name!r} must be a plain file-name-safe word")
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)
    if not files:
        raise PitchProbeError(f"no audio files ({', '.join(sorted(AUDIO_SUFFIXES))}) under {folder}")
    with file_lock(language_lock(root, name), what=f"gathering {name}"):
        for split in SPLITS:
            remove_temporary(audio_dir(root, name, split))  # left by killed runs; we hold the lock
        return _convert(files, folder, name=name, root=root, ratios=ratios, tone_class=tone_class, fail_fast=fail_fast)


def _convert(files, folder, *, name, root, ratios, tone_class, fail_fast) -> tuple[list[dict], list[dict]]:
    records, failures = [], []
    for src in tqdm(files, desc=f"gather {name}", unit="file"):
        rel = src.relative_to(folder).as_posix()
        split = split_of(rel, ratios)
        stem = rel.rsplit(".", 1)[0].replace("/", "__")
        dest = audio_dir(root, name, split) / f"{stem}.wav"
        try:
            if not dest.is_file():
                data, rate = sf.read(src, always_2d=True)
                if data.shape[0] == 0:
                    raise PitchProbeError("no samples")
                wav = to_mono_16k(data, rate)
                with atomic_path(dest) as tmp:
                    sf.write(tmp, wav.astype("float32"), SAMPLING_RATE, subtype="FLOAT", format="WAV")
            n = sf.info(dest).frames
        except (sf.LibsndfileError, RuntimeError, PitchProbeError) as e:
            if fail_fast:
                raise PitchProbeError(f"{src}: {e}") from e
            failures.append({"path": str(src), "reason": str(e)})
            continue
        records.append(
            {
                "id": stem,
                "fleurs_id": None,
                "path": str(dest),
                "split": split,
                "num_samples": n,
                "duration": n / SAMPLING_RATE,
                "sampling_rate": SAMPLING_RATE,
                "gender": "UNKNOWN",
                "code": name,
                "lang_id": None,
                "language": name,
                "lang_group": "custom",
                "tone_class": tone_class,
                "transcription": "",
                "source_path": str(src),
            }
        )
    write_manifest(root, name, records)
    return records, failures
