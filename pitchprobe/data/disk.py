"""How much disk a gather needs, measured from the TSVs' ``num_samples`` (``pitchprobe gather --dry-run``).

Only the small TSVs are fetched. The extracted audio takes ``58 + 4 * num_samples``
bytes per file (FLEURS WAVs are 32-bit float, mono); the archives' sizes are
read from the source (the Hub's file metadata, or the local files), since
they sit in the Hugging Face cache beside the audio until ``--delete-archives``
removes each one after its extraction.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pitchprobe.core.audio import SAMPLING_RATE
from pitchprobe.core.errors import OfflineError, PitchProbeError, describe
from pitchprobe.core.layout import SPLITS
from pitchprobe.data.fleurs import BYTES_PER_SAMPLE, WAV_HEADER_BYTES, read_tsv
from pitchprobe.data.languages import Language
from pitchprobe.data.sources import HubSource, LocalSource, archive_relpath, tsv_relpath


@dataclass
class DiskNeed:
    """Disk one language needs: extracted audio, and archives while they are kept."""

    code: str
    utterances: int = 0
    audio_seconds: float = 0.0
    audio_bytes: int = 0
    archive_bytes: int | None = None  # None: the source did not say
    error: str | None = None
    splits: dict[str, int] = field(default_factory=dict)  # split -> utterances


def _archive_bytes(source: LocalSource | HubSource, relpaths: list[str]) -> int | None:
    if isinstance(source, LocalSource):
        return sum((source.root / p).stat().st_size for p in relpaths if (source.root / p).is_file())
    from huggingface_hub import HfApi

    try:
        infos = HfApi().get_paths_info(source.repo_id, relpaths, revision=source.revision, repo_type="dataset")
    except Exception:  # noqa: BLE001 - sizes are optional: any failure to read them leaves them unknown
        return None
    return sum(getattr(i, "size", 0) or 0 for i in infos)


def disk_needed(
    langs: list[Language], *, source: LocalSource | HubSource, splits: tuple[str, ...] = SPLITS
) -> list[DiskNeed]:
    """A :class:`DiskNeed` per language; one that fails (no TSV, network) has its ``error`` set."""
    out = []
    for lang in langs:
        need = DiskNeed(code=lang.code)
        try:
            for split in splits:
                rows = read_tsv(source.fetch(tsv_relpath(lang.code, split)))
                need.splits[split] = len(rows)
                need.utterances += len(rows)
                need.audio_seconds += sum(r["num_samples"] for r in rows) / SAMPLING_RATE
                need.audio_bytes += sum(WAV_HEADER_BYTES + BYTES_PER_SAMPLE * r["num_samples"] for r in rows)
            need.archive_bytes = _archive_bytes(source, [archive_relpath(lang.code, s) for s in splits])
        except OfflineError:
            raise  # the run's, not the language's: no other language can do better
        except (PitchProbeError, OSError) as e:
            need.error = describe(e)
        out.append(need)
    return out


def disk_table(needs: list[DiskNeed]) -> str:
    """A plain-text table of :func:`disk_needed`'s result, with totals."""
    lines = [f"{'language':<14}{'utterances':>11}{'hours':>8}{'audio GB':>10}{'archives GB':>13}"]
    for n in needs:
        if n.error:
            lines.append(f"{n.code:<14} failed: {n.error}")
            continue
        arch = f"{n.archive_bytes / 1e9:.2f}" if n.archive_bytes is not None else "?"
        lines.append(
            f"{n.code:<14}{n.utterances:>11}{n.audio_seconds / 3600:>8.2f}{n.audio_bytes / 1e9:>10.2f}{arch:>13}"
        )
    ok = [n for n in needs if not n.error]
    if len(ok) > 1:
        known = [n.archive_bytes for n in ok if n.archive_bytes is not None]
        arch = f"{sum(known) / 1e9:.2f}" if len(known) == len(ok) else "?"
        total = (sum(n.utterances for n in ok), sum(n.audio_seconds for n in ok) / 3600, sum(n.audio_bytes for n in ok))
        lines.append(f"{'total':<14}{total[0]:>11}{total[1]:>8.2f}{total[2] / 1e9:>10.2f}{arch:>13}")
    return "\n".join(lines)


__all__ = ["DiskNeed", "disk_needed", "disk_table"]
