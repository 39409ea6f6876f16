"""Turn any folder of recordings into a "language" the pipeline accepts.

Every file libsndfile can read is mixed down to mono, resampled to 16 kHz and
written as a float32 WAV under ``<data_dir>/audio/<name>/<split>/``. Its
split follows from a hash of its path relative to the folder, so adding
files never moves old ones to another split.

A corpus too small for the hash to give every split with a non-zero ratio a
file (but with at least one file per such split) is split by the same hash's
order instead: files sorted by their hash value, the first ones train, then
dev, then test, each split given its share of the files by the ratios and at
least one file. Five recordings at 0.8,0.1,0.1 are then 3 train, 1 dev and
1 test rather than whatever the hash gives (often no dev file, and so no
alpha to choose). Adding files to such a small corpus may move files until
the hash fills every split by itself; from then on, it never does.

A file whose split changed (other ratios, or a small corpus that grew) is
moved to its new split's folder, never left as a copy in the old one; its
labels are keyed by split, so the next ``pitchprobe labels`` labels it there.
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


def _position(relpath: str) -> float:
    """SHA-1 of ``relpath`` mapped to [0, 1)."""
    return int.from_bytes(hashlib.sha1(relpath.encode("utf-8")).digest()[:8], "big") / 2**64


def _check(ratios: tuple[float, float, float]) -> float:
    total = sum(ratios)
    if len(ratios) != len(SPLITS) or total <= 0 or any(r < 0 for r in ratios):
        raise PitchProbeError(f"split ratios must be three non-negative numbers, not all zero, got {ratios}")
    return total


def split_of(relpath: str, ratios: tuple[float, float, float]) -> str:
    """Deterministic split of a file: SHA-1 of ``relpath`` mapped to [0, 1), cut at the cumulative ratios."""
    total = _check(ratios)
    u = _position(relpath)
    edge = 0.0
    for split, r in zip(SPLITS, ratios):
        edge += r / total
        if u < edge:
            return split
    return SPLITS[-1]


def assign_splits(relpaths: list[str], ratios: tuple[float, float, float]) -> dict[str, str]:
    """Split of every file of a corpus: :func:`split_of`, unless that leaves a split with a non-zero ratio
    empty and the corpus has a file for each such split; then the files in hash order, cut so that every
    such split gets at least one file and the rest follow the ratios (the module's docstring says why)."""
    total = _check(ratios)
    by_hash = {p: split_of(p, ratios) for p in relpaths}
    wanted = [s for s, r in zip(SPLITS, ratios) if r > 0]
    if set(wanted) <= set(by_hash.values()) or len(relpaths) < len(wanted):
        return by_hash
    counts = dict.fromkeys(wanted, 1)
    share = {s: r / total * len(relpaths) for s, r in zip(SPLITS, ratios) if r > 0}
    for _ in range(len(relpaths) - len(wanted)):  # each further file to the split furthest below its share
        most = max(wanted, key=lambda s: share[s] - counts[s])
        counts[most] += 1
    order = sorted(relpaths, key=lambda p: (_position(p), p))
    out, start = {}, 0
    for split in wanted:
        out.update(dict.fromkeys(order[start : start + counts[split]], split))
        start += counts[split]
    return out


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
    splits = assign_splits([src.relative_to(folder).as_posix() for src in files], ratios)
    for src in tqdm(files, desc=f"gather {name}", unit="file"):
        rel = src.relative_to(folder).as_posix()
        split = splits[rel]
        stem = rel.rsplit(".", 1)[0].replace("/", "__")
        dest = audio_dir(root, name, split) / f"{stem}.wav"
        _move_to(dest, [audio_dir(root, name, s) / dest.name for s in SPLITS if s != split])
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


def _move_to(dest: Path, elsewhere: list[Path]) -> None:
    """A file converted before into another split's folder is moved to ``dest``; a second copy is removed."""
    for old in elsewhere:
        if not old.is_file():
            continue
        if dest.is_file():
            old.unlink()
        else:
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(old, dest)
