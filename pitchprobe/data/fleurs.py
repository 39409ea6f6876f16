"""Stage 1: fetch FLEURS and write one JSONL manifest per language.

Source layout (the ``google/fleurs`` dataset repository, or a local mirror)::

    data/<code>/<split>.tsv            id, file name, raw transcription,
                                       transcription, characters, num_samples,
                                       gender; tab-separated, no header
    data/<code>/audio/<split>.tar.gz   members <split>/<file name>, 16 kHz WAV

Files come one by one through ``huggingface_hub`` (into its own cache), or
from a local folder in the same layout (``source=``). The repository's loading
script is not used (``datasets`` >= 4 rejects it). Tarballs are extracted
safely (no member may leave the target folder) to
``<data_dir>/audio/<code>/<split>/``; a split whose extraction finished is not
fetched or extracted again.
"""

from __future__ import annotations

import csv
import os
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

from tqdm.auto import tqdm

from pitchprobe.core.atomic import write_text
from pitchprobe.core.audio import SAMPLING_RATE
from pitchprobe.core.errors import PitchProbeError
from pitchprobe.core.layout import SPLITS, audio_dir
from pitchprobe.data.languages import Language
from pitchprobe.data.manifest import write_manifest

FLEURS_REPO = "google/fleurs"
GENDERS = {"all": None, "female": "FEMALE", "male": "MALE", "other": "OTHER"}
DONE_MARKER = ".extracted"


class LocalSource:
    """A local folder in the FLEURS repository layout."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root).expanduser().resolve()
        if not (self.root / "data").is_dir():
            raise PitchProbeError(f"{self.root} is not in the FLEURS layout: it has no data/ folder")

    def fetch(self, relpath: str) -> Path:
        path = self.root / relpath
        if not path.is_file():
            raise PitchProbeError(f"{path} not found in local FLEURS source {self.root}")
        return path

    def __str__(self) -> str:
        return str(self.root)


class HubSource:
    """The FLEURS dataset repository on the Hugging Face Hub, fetched file by file.

    Files land in the ``huggingface_hub`` cache (``$HF_HOME``/``$HF_HUB_CACHE``);
    ``HF_HUB_OFFLINE=1`` serves them from there without network.
    """

    def __init__(self, repo_id: str = FLEURS_REPO, *, revision: str | None = None):
        self.repo_id = repo_id
        self.revision = revision

    def fetch(self, relpath: str) -> Path:
        from huggingface_hub import hf_hub_download
        from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

        try:
            return Path(hf_hub_download(self.repo_id, relpath, repo_type="dataset", revision=self.revision))
        except (HfHubHTTPError, LocalEntryNotFoundError, OSError) as e:
            raise PitchProbeError(f"cannot fetch {relpath} from {self.repo_id}: {e}") from e

    def __str__(self) -> str:
        return f"hf://datasets/{self.repo_id}"


@dataclass
class GatherSummary:
    """What :func:`gather_language` did: utterances kept per split, and problems."""

    code: str
    kept: dict[str, int] = field(default_factory=dict)
    extracted: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def read_tsv(path: Path) -> list[dict]:
    """Parse a FLEURS split TSV (7 columns, no header) into dicts."""
    rows = []
    with open(path, encoding="utf-8", newline="") as f:
        for n, cols in enumerate(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE), start=1):
            if not cols:
                continue
            if len(cols) != 7:
                raise PitchProbeError(f"{path}:{n}: expected 7 tab-separated columns, got {len(cols)}")
            rows.append(
                {
                    "fleurs_id": cols[0],
                    "file_name": cols[1],
                    "raw_transcription": cols[2],
                    "transcription": cols[3],
                    "num_samples": int(cols[5]),
                    "gender": cols[6].upper(),
                }
            )
    return rows


def safe_extract(archive: Path, target: Path, *, member_prefix: str) -> int:
    """Extract regular files of ``archive`` under ``target``; return how many.

    Only members named ``<member_prefix>/<name>`` are taken, the prefix is
    stripped, and any member that would land outside ``target`` (absolute
    paths, ``..``, links) raises :class:`PitchProbeError` before anything of
    it is written. Each file is written to a temporary name, then renamed.
    """
    target = target.resolve()
    target.mkdir(parents=True, exist_ok=True)
    count = 0
    with tarfile.open(archive, mode="r:*") as tar:
        for member in tar:
            name = member.name.replace("\\", "/")
            if member.isdir():
                continue
            if not member.isfile():
                raise PitchProbeError(f"{archive}: member {name!r} is a link or device, refusing to extract")
            if not name.startswith(member_prefix + "/"):
                raise PitchProbeError(f"{archive}: member {name!r} is not under {member_prefix}/")
            rel = name[len(member_prefix) + 1 :]
            dest = (target / rel).resolve()
            if os.path.isabs(rel) or target not in dest.parents:
                raise PitchProbeError(f"{archive}: member {name!r} would escape {target}")
            dest.parent.mkdir(parents=True, exist_ok=True)
            src = tar.extractfile(member)
            tmp = dest.with_name(f".{dest.name}.part")
            with open(tmp, "wb") as out:
                while chunk := src.read(1 << 20):
                    out.write(chunk)
            os.replace(tmp, dest)
            count += 1
    return count


def gather_language(
    lang: Language,
    *,
    root: Path,
    source: LocalSource | HubSource,
    gender: str = "all",
    splits: tuple[str, ...] = SPLITS,
) -> GatherSummary:
    """Fetch and extract one language's splits and write its manifest.

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
    """
    if gender not in GENDERS:
        from pitchprobe.core.errors import UnknownNameError

        raise UnknownNameError("gender", gender, list(GENDERS))
    want = GENDERS[gender]
    summary = GatherSummary(code=lang.code)
    records = []
    for split in splits:
        rows = read_tsv(source.fetch(f"data/{lang.code}/{split}.tsv"))
        out_dir = audio_dir(root, lang.code, split)
        if not (out_dir / DONE_MARKER).is_file():
            archive = source.fetch(f"data/{lang.code}/audio/{split}.tar.gz")
            n = safe_extract(archive, out_dir, member_prefix=split)
            write_text(out_dir / DONE_MARKER, f"{n} files from {source}\n")
            summary.extracted.append(split)
        kept = 0
        for row in rows:
            if want is not None and row["gender"] != want:
                continue
            path = out_dir / row["file_name"]
            if not path.is_file():
                summary.problems.append(f"{split}/{row['file_name']}: listed in the TSV but not in the archive")
            records.append(
                {
                    "id": Path(row["file_name"]).stem,
                    "fleurs_id": row["fleurs_id"],
                    "path": str(path),
                    "split": split,
                    "num_samples": row["num_samples"],
                    "duration": row["num_samples"] / SAMPLING_RATE,
                    "sampling_rate": SAMPLING_RATE,
                    "gender": row["gender"],
                    **lang.as_record(),
                    "transcription": row["transcription"],
                }
            )
            kept += 1
        summary.kept[split] = kept
    write_manifest(root, lang.code, records)
    return summary


def gather(
    langs: list[Language],
    *,
    root: Path,
    source: LocalSource | HubSource,
    gender: str = "all",
    splits: tuple[str, ...] = SPLITS,
    fail_fast: bool = False,
) -> list[GatherSummary]:
    """:func:`gather_language` for each language, with a progress bar.

    A language that fails is recorded in its summary's ``problems`` and the
    run goes on, unless ``fail_fast``.
    """
    out = []
    for lang in tqdm(langs, desc="gather", unit="lang", disable=len(langs) < 2):
        try:
            out.append(gather_language(lang, root=root, source=source, gender=gender, splits=splits))
        except PitchProbeError as e:
            if fail_fast:
                raise
            out.append(GatherSummary(code=lang.code, problems=[f"failed: {e}"]))
    return out
