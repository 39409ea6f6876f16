"""JSONL manifests: one record per utterance, lhotse style.

Record fields: ``id`` (file stem, unique), ``fleurs_id`` (sentence id; shared
by recordings of the same sentence), ``path`` (absolute), ``split``,
``num_samples``, ``duration`` (s), ``sampling_rate`` (Hz), ``gender``,
``code``, ``lang_id``, ``language``, ``lang_group``, ``tone_class``,
``transcription``.
"""

from __future__ import annotations

from pathlib import Path

from pitchprobe.core.atomic import read_jsonl, remove_temporary, write_jsonl
from pitchprobe.core.errors import PitchProbeError, UnknownNameError
from pitchprobe.core.layout import SPLITS, manifest_path
from pitchprobe.data.languages import Language, resolve


def write_manifest(root: Path, code: str, records: list[dict]) -> Path:
    """Write ``records`` to ``<root>/manifests/<code>.jsonl`` atomically (call it holding ``code``'s lock)."""
    path = manifest_path(root, code)
    remove_temporary(path.parent, of=path.name)  # this manifest's leftovers of killed runs
    write_jsonl(path, records)
    return path


def read_manifest(root: Path, code: str, *, splits: tuple[str, ...] = SPLITS) -> list[dict]:
    """Read a language's manifest, keeping ``splits``, in file order.

    Raises
    ------
    PitchProbeError
        If the language has not been gathered into ``root`` yet.
    """
    path = manifest_path(root, code)
    if not path.is_file():
        raise PitchProbeError(f"no manifest for {code!r} at {path}: run `gather_data.py {code}` first")
    return [r for r in read_jsonl(path) if r["split"] in splits]


def gathered_codes(root: Path) -> list[str]:
    """Codes with a manifest under ``root``."""
    return sorted(p.stem for p in (root / "manifests").glob("*.jsonl"))


def resolve_gathered(names: list[str], table: dict[str, Language], root: Path) -> list[Language]:
    """Resolve names against the language table, plus the user's own corpora gathered into ``root``.

    A name that is not in the table but has a manifest (``gather --from-dir``)
    resolves to that corpus, with its metadata read from the manifest.
    """
    out: list[Language] = []
    for name in names:
        try:
            out.extend(resolve([name], table))
        except UnknownNameError as e:
            path = manifest_path(root, name)
            if not path.is_file():
                own = [c for c in gathered_codes(root) if c not in table]
                if own:
                    e.args = (e.args[0] + f". Own corpora in {root}: {', '.join(own)}",)
                raise
            first = read_jsonl(path)[:1]
            meta = first[0] if first else {}
            out.append(
                Language(
                    code=name,
                    lang_id=meta.get("lang_id"),
                    language=meta.get("language", name),
                    lang_group=meta.get("lang_group", "custom"),
                    tone_class=meta.get("tone_class", "unknown"),
                )
            )
    return out
