"""Stage 1: fetch FLEURS and write one JSONL manifest per language.

Source layout (the ``google/fleurs`` dataset repository, or a local mirror)::

    data/<code>/<split>.tsv            id, file name, raw transcription, transcription, characters,
                                       num_samples, gender; tab-separated, no header
    data/<code>/audio/<split>.tar.gz   members <split>/<file name>, 16 kHz WAV

Files come one by one through ``huggingface_hub`` (into its own cache), or from a local folder in
the same layout (``source=``); the repository's loading script is not used (``datasets`` >= 4 rejects it).

* The TSV is the authority. A malformed one (wrong column count, non-integer ``num_samples``, not
  UTF-8) fails its split. A row whose file name is empty, ``..`` or a path is refused; of rows with
  the same file name the first is kept. Only members the TSV lists are extracted, atomically, to
  ``<data_dir>/audio/<code>/<split>/``, each at most :func:`max_member_bytes`; links, devices and
  members that would leave the target refuse the whole archive.
* One process at a time gathers a language (its lock), after removing temporaries of killed runs;
  an extracted split has a done marker, so a gather that waited skips what the other one did.
* A failed split (truncated archive, malformed TSV, failed download) is recorded with its reason;
  the other splits still run, but no manifest is written. A file missing or refused is left out.
  ``fail_fast`` raises at the first problem. :func:`gather` contains any error to its language.
* ``delete_archives`` deletes a verified split's archive from the Hugging Face cache (never a local source).
"""

from __future__ import annotations

import csv
import io
import os
import tarfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tqdm.auto import tqdm

from pitchprobe.core.atomic import atomic_path, remove_temporary, write_text
from pitchprobe.core.audio import SAMPLING_RATE
from pitchprobe.core.errors import OfflineError, PitchProbeError, UnknownNameError
from pitchprobe.core.layout import SPLITS, audio_dir, language_lock
from pitchprobe.core.lock import file_lock
from pitchprobe.data.languages import Language
from pitchprobe.data.manifest import write_manifest
from pitchprobe.data.sources import HubSource, LocalSource, archive_relpath, tsv_relpath

GENDERS = {"all": None, "female": "FEMALE", "male": "MALE", "other": "OTHER"}
DONE_MARKER = ".extracted"
TSV_COLUMNS = ("fleurs_id", "file_name", "raw_transcription", "transcription", "characters", "num_samples", "gender")
WAV_HEADER_BYTES = 58  # bytes; FLEURS WAVs are 32-bit float, mono, with a 58-byte header (measured on real files)
BYTES_PER_SAMPLE = 4  # bytes: what the kept audio needs on disk (float32)
CAP_BYTES_PER_SAMPLE = 8  # member cap per TSV sample: twice float32, so any WAV of up to 64 bits passes
CAP_MARGIN_BYTES = 64 * 1024  # plus room for header chunks (LIST/INFO metadata and the like)
CHUNK_BYTES = 1 << 20  # extraction copies in 1 MiB pieces


def max_member_bytes(num_samples: int) -> int:
    """The largest archive member accepted for a TSV row of ``num_samples`` samples."""
    return CAP_BYTES_PER_SAMPLE * num_samples + CAP_MARGIN_BYTES


@dataclass
class GatherSummary:
    """What :func:`gather_language` did; :attr:`ok` tells whether it wrote the manifest."""

    code: str
    kept: dict[str, int] = field(default_factory=dict)  # split -> utterances that passed (in the manifest if ok)
    extracted: list[str] = field(default_factory=list)  # splits extracted by this run
    problems: list[str] = field(default_factory=list)  # per-file problems; those files are left out
    failed_splits: dict[str, str] = field(default_factory=dict)  # split -> why it failed
    error: str | None = None  # why the whole language failed, "<exception type>: <message>" (set by gather)
    deleted: list[str] = field(default_factory=list)  # relpaths of the archives deleted from the Hub cache
    audio_bytes: int = 0  # disk space of the kept files as FLEURS' float32 WAV
    manifest: Path | None = None  # the manifest written; None if none was

    @property
    def ok(self) -> bool:  # the manifest was written: no split failed, nor the whole language
        return self.manifest is not None

    @property
    def failure(self) -> str | None:
        """Why no manifest was written; None if one was."""
        failed = "; ".join(f"{split}: {why}" for split, why in self.failed_splits.items())
        return None if self.ok else self.error or failed or "no manifest written"


def read_tsv(path: Path) -> list[dict]:
    """Parse a FLEURS split TSV (7 columns, no header) into dicts, in file order; file names are not checked.

    Raises :class:`PitchProbeError` naming file and line for bytes that are not UTF-8, a wrong column
    count, or a ``num_samples`` that is not a non-negative integer.
    """
    data = Path(path).read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise PitchProbeError(f"{path}:{line}: not UTF-8 (byte {data[e.start]:#04x})") from None
    rows = []
    reader = csv.reader(io.StringIO(text, newline=""), delimiter="\t", quoting=csv.QUOTE_NONE)
    try:
        for cols in reader:
            at = f"{path}:{reader.line_num}"
            if not cols:
                continue
            if len(cols) != len(TSV_COLUMNS):
                raise PitchProbeError(f"{at}: expected {len(TSV_COLUMNS)} tab-separated columns, got {len(cols)}")
            if not cols[5].isdecimal() or not cols[5].isascii():
                raise PitchProbeError(f"{at}: num_samples must be a non-negative integer, got {cols[5]!r}")
            row = dict(zip(TSV_COLUMNS, cols))
            row["num_samples"], row["gender"] = int(row["num_samples"]), row["gender"].upper()
            rows.append(row)
    except csv.Error as e:
        raise PitchProbeError(f"{path}:{reader.line_num}: {e}") from None
    return rows


@dataclass
class Extraction:
    """What :func:`safe_extract` did; ``problems``: file name -> why that listed member was refused."""

    written: int = 0  # files written
    existing: int = 0  # files found complete already
    skipped: int = 0  # members not listed, read past
    problems: dict[str, str] = field(default_factory=dict)


def safe_extract(
    archive: Path, target: Path, *, member_prefix: str, wanted: Mapping[str, int], fail_fast: bool = False
) -> Extraction:
    """Extract the members ``<member_prefix>/<name>`` of ``archive`` with ``name`` in ``wanted`` to ``target``.

    ``wanted`` maps file names to the most bytes each may have (:func:`max_member_bytes`): a member
    over it (by its header or while copied) is refused, nothing of it on disk, and reported in
    ``problems`` (raised with ``fail_fast``). Other members are read past, never written. A file
    already in ``target`` with the member's size is kept. Raises :class:`PitchProbeError` if the
    archive cannot be read to its end (truncated, corrupt), or a member is a link or device, is not
    under ``member_prefix/`` or would land outside ``target``; files completed before stay.
    """
    target = target.resolve()
    target.mkdir(parents=True, exist_ok=True)
    out = Extraction()
    try:
        with tarfile.open(archive, mode="r:*") as tar:
            for member in tar:
                _extract_member(tar, member, archive, target, member_prefix, wanted, out)
                if fail_fast and out.problems:
                    raise PitchProbeError(f"{archive}: {next(iter(out.problems.values()))}")
            while tar.fileobj.read(CHUNK_BYTES):  # read to the end: a truncated gzip stream or bad CRC shows here
                pass
    except (tarfile.TarError, EOFError, zlib.error, OSError) as e:  # gzip.BadGzipFile is an OSError
        raise PitchProbeError(f"cannot extract {archive}: {type(e).__name__}: {e}") from e
    return out


def _extract_member(tar, member, archive, target, prefix, wanted, out: Extraction) -> None:
    name = member.name.replace("\\", "/")
    if member.isdir():
        return
    if not member.isfile():
        raise PitchProbeError(f"{archive}: member {name!r} is a link or device, refusing to extract")
    if not name.startswith(prefix + "/"):
        raise PitchProbeError(f"{archive}: member {name!r} is not under {prefix}/")
    rel = name[len(prefix) + 1 :]
    dest = (target / rel).resolve()
    if os.path.isabs(rel) or target not in dest.parents:
        raise PitchProbeError(f"{archive}: member {name!r} would escape {target}")
    if rel not in wanted or rel in out.problems:
        out.skipped += 1
        return
    cap = wanted[rel]
    if member.size > cap:
        out.problems[rel] = f"{name}: {member.size} bytes in the archive, more than the {cap} its TSV row allows"
        return
    if dest.is_file() and dest.stat().st_size == member.size:
        out.existing += 1
        return
    src, size = tar.extractfile(member), 0
    try:
        with atomic_path(dest) as tmp, open(tmp, "wb") as f:
            while chunk := src.read(min(CHUNK_BYTES, cap + 1 - size)):
                size += len(chunk)
                if size > cap:  # raised inside atomic_path: the temporary file goes
                    raise PitchProbeError(f"{name}: more than the {cap} bytes its TSV row allows")
                f.write(chunk)
    except PitchProbeError as e:
        out.problems[rel] = str(e)
        return
    out.written += 1


def gather_language(
    lang: Language,
    *,
    root: Path,
    source: LocalSource | HubSource,
    gender: str = "all",
    splits: tuple[str, ...] = SPLITS,
    fail_fast: bool = False,
    delete_archives: bool = False,
) -> GatherSummary:
    """Fetch and extract one language's splits and write its manifest, under the language's lock.

    Parameters
    ----------
    lang : Language
        Row of the language table.
    root : Path
        Data root (see :mod:`pitchprobe.core.layout`).
    source : LocalSource or HubSource
        Where the FLEURS files come from.
    gender : {"all", "female", "male", "other"}
        Keep only utterances of this speaker gender.
    splits : tuple of str
        Subset of ``("train", "dev", "test")``.
    fail_fast : bool
        Raise :class:`PitchProbeError` at the first problem (a file missing or refused, a bad or
        repeated row, a failed split) instead of recording it.
    delete_archives : bool
        Delete each split's archive from the source's cache once the split is extracted and
        verified (:meth:`HubSource.release`; a no-op for a local source).
    """
    if gender not in GENDERS:
        raise UnknownNameError("gender", gender, list(GENDERS))
    summary = GatherSummary(code=lang.code)

    def problem(text: str) -> None:
        if fail_fast:
            raise PitchProbeError(f"{lang.code}: {text}")
        summary.problems.append(text)

    records: list[dict] = []
    with file_lock(language_lock(root, lang.code), what=f"gathering {lang.code}"):
        for split in splits:
            remove_temporary(audio_dir(root, lang.code, split))  # left by killed runs; no live writer: we hold the lock
            try:
                rows = _gather_split(lang, split, root, source, summary, problem, fail_fast, delete_archives)
            except PitchProbeError as e:
                if fail_fast or isinstance(e, OfflineError):  # no Hub: no other split or language can do better
                    raise
                summary.failed_splits[split] = str(e)
                continue
            kept = [r for r in rows if GENDERS[gender] in (None, r["gender"])]
            records += [_record(lang, split, r, root) for r in kept]
            summary.kept[split] = len(kept)
            summary.audio_bytes += sum(WAV_HEADER_BYTES + BYTES_PER_SAMPLE * r["num_samples"] for r in kept)
        if not summary.failed_splits:
            summary.manifest = write_manifest(root, lang.code, records)
    return summary


def _gather_split(lang, split, root, source, summary, problem, fail_fast, delete_archives) -> list[dict]:
    """One split of :func:`gather_language`: its usable rows whose files are on disk and complete."""
    rows, seen = [], set()
    for row in read_tsv(source.fetch(tsv_relpath(lang.code, split))):
        name = row["file_name"]
        if name in ("", ".", "..") or any(c in name for c in "/\\\0"):
            problem(f"{split}/{name!r}: refused, the TSV's file name is not a plain file name")
        elif name in seen:
            problem(f"{split}/{name}: listed twice in the TSV, kept the first row")
        else:
            seen.add(name)
            rows.append(row)
    caps = {r["file_name"]: max_member_bytes(r["num_samples"]) for r in rows}
    out_dir = audio_dir(root, lang.code, split)
    relpath, archive, ex = archive_relpath(lang.code, split), None, Extraction()
    if not (out_dir / DONE_MARKER).is_file():
        archive = source.fetch(relpath)
        ex = safe_extract(archive, out_dir, member_prefix=split, wanted=caps, fail_fast=fail_fast)
        write_text(out_dir / DONE_MARKER, f"{ex.written + ex.existing} files from {source}\n")
        summary.extracted.append(split)
    present = []  # verified: on disk, more than a header and within the cap
    for row in rows:
        name, path = row["file_name"], out_dir / row["file_name"]
        size = path.stat().st_size if path.is_file() else None
        if size is not None and 44 < size <= caps[name]:  # 44 bytes: the smallest WAV header, no audio
            present.append(row)
        else:
            why = "is missing (not in the archive, or refused)" if size is None else f"has {size} bytes on disk"
            problem(ex.problems.get(name, f"{split}/{name}: listed in the TSV but {why}"))
    if delete_archives and len(present) == len(rows) and source.release(relpath, archive):
        summary.deleted.append(relpath)
    return present


def _record(lang: Language, split: str, row: dict, root: Path) -> dict:
    return {
        "id": Path(row["file_name"]).stem,
        "fleurs_id": row["fleurs_id"],
        "path": str(audio_dir(root, lang.code, split) / row["file_name"]),
        "split": split,
        "num_samples": row["num_samples"],
        "duration": row["num_samples"] / SAMPLING_RATE,
        "sampling_rate": SAMPLING_RATE,
        "gender": row["gender"],
        **lang.as_record(),
        "transcription": row["transcription"],
    }


def gather(
    langs: list[Language],
    *,
    root: Path,
    source: LocalSource | HubSource,
    gender: str = "all",
    splits: tuple[str, ...] = SPLITS,
    fail_fast: bool = False,
    delete_archives: bool = False,
) -> list[GatherSummary]:
    """:func:`gather_language` for each language, with a progress bar.

    Any error of one language (network, full disk, ...) is recorded as its summary's ``error`` and
    the run goes on; with ``fail_fast`` it is raised as a :class:`PitchProbeError` instead.
    """
    options = dict(gender=gender, splits=splits, fail_fast=fail_fast, delete_archives=delete_archives)
    out = []
    for lang in tqdm(langs, desc="gather", unit="lang", disable=len(langs) < 2):
        try:
            out.append(gather_language(lang, root=root, source=source, **options))
        except Exception as e:  # noqa: BLE001 - one language's failure (network, disk, bug) must not stop the others
            if isinstance(e, OfflineError) or (fail_fast and isinstance(e, PitchProbeError)):
                raise
            if fail_fast:
                raise PitchProbeError(f"{lang.code}: {type(e).__name__}: {e}") from e
            out.append(GatherSummary(code=lang.code, error=f"{type(e).__name__}: {e}"))
    return out
