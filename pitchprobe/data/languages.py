"""The FLEURS language table and resolution of user-given language names.

The table ships with the package (``pitchprobe/data/fleurs_languages.tsv``,
columns ``lang_id code language lang_group_id lang_group tone_class
tone_source``). ``lang_id`` is the index of ``code`` in the sorted list of
all 102 FLEURS codes (en_us = 19, cmn_hans_cn = 13). The tone classes are a
starting point, not ground truth: pass your own table with ``--languages``
or ``$PITCHPROBE_LANGUAGES`` to overrule them.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from pitchprobe.core.errors import PitchProbeError, UnknownNameError

ENV_LANGUAGES = "PITCHPROBE_LANGUAGES"
COLUMNS = ("lang_id", "code", "language", "lang_group_id", "lang_group", "tone_class")


@dataclass(frozen=True)
class Language:
    """One row of the language table. ``lang_id`` is None for a user's own corpus."""

    code: str
    lang_id: int | None
    language: str
    lang_group: str
    tone_class: str

    def as_record(self) -> dict:
        return {
            "code": self.code,
            "lang_id": self.lang_id,
            "language": self.language,
            "lang_group": self.lang_group,
            "tone_class": self.tone_class,
        }


def table_path(explicit: str | os.PathLike | None = None) -> Path | None:
    """The user's table (flag, then environment), or None for the packaged one."""
    chosen = explicit or os.environ.get(ENV_LANGUAGES)
    return Path(chosen) if chosen else None


def load_table(path: str | os.PathLike | None = None) -> dict[str, Language]:
    """Read a language table (TSV with a header) into ``{code: Language}``.

    Parameters
    ----------
    path : path or None
        A TSV with at least the columns in :data:`COLUMNS`; None reads the
        user's table named by ``$PITCHPROBE_LANGUAGES``, else the packaged one.
    """
    path = table_path(path)
    if path is None:
        text = resources.files("pitchprobe").joinpath("data/fleurs_languages.tsv").read_text("utf-8")
        source = "the packaged table"
    else:
        try:
            text = Path(path).read_text("utf-8")
        except OSError as e:
            raise PitchProbeError(f"cannot read language table {path}: {e}") from e
        source = str(path)
    rows = list(csv.DictReader(text.splitlines(), delimiter="\t"))
    missing = [c for c in COLUMNS if rows and c not in rows[0]]
    if not rows or missing:
        raise PitchProbeError(f"language table {source} lacks columns {missing or list(COLUMNS)}")
    table = {}
    for row in rows:
        table[row["code"]] = Language(
            code=row["code"],
            lang_id=int(row["lang_id"]),
            language=row["language"],
            lang_group=row["lang_group"],
            tone_class=row["tone_class"],
        )
    return table


def resolve(names: list[str] | tuple[str, ...] | str, table: dict[str, Language]) -> list[Language]:
    """Turn codes, lang_ids (as text or int) or ``all`` into table rows, in the order given.

    Raises
    ------
    UnknownNameError
        For a name that is neither a code nor a lang_id of ``table``; the
        message lists the valid codes with their ids.
    """
    if isinstance(names, str):
        names = [names]
    by_id = {lang.lang_id: lang for lang in table.values() if lang.lang_id is not None}
    out: list[Language] = []
    for name in names:
        name = str(name).strip()
        if name == "all":
            out.extend(sorted(table.values(), key=lambda lang: (lang.lang_id is None, lang.lang_id or 0, lang.code)))
            continue
        if name in table:
            out.append(table[name])
        elif name.lstrip("-").isdigit() and int(name) in by_id:
            out.append(by_id[int(name)])
        else:
            valid = [f"{lang.code} ({lang.lang_id})" for lang in sorted(table.values(), key=lambda x: x.code)]
            raise UnknownNameError("language", name, valid, hint="Give a code, a lang_id or 'all'.")
    seen: set[str] = set()
    return [lang for lang in out if not (lang.code in seen or seen.add(lang.code))]
