"""Atomic file writes: write a temporary file beside the target, then rename.

A killed run therefore leaves either the old file or the new one, never half
a file, and a resumed run can trust every file it finds.

Temporary files follow one naming rule, ``.<target name>.<random>.tmp<suffix>``
(hidden, with ``.tmp`` in the name), recognised by :func:`is_temporary` and
nowhere else: readers skip them (:func:`visible_files`) and a run that holds
the lock of a folder removes stale ones (:func:`remove_temporary`).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from pitchprobe.core.errors import PitchProbeError

TEMP_MARK = ".tmp"  # in every temporary name, after the hidden prefix "."


def is_temporary(path: str | os.PathLike) -> bool:
    """Whether ``path`` is (or would be) a temporary file of :func:`atomic_path`."""
    name = Path(path).name
    return name.startswith(".") and TEMP_MARK in name


def visible_files(folder: str | os.PathLike, pattern: str, *, recursive: bool = False) -> list[Path]:
    """Files of ``folder`` matching ``pattern``, sorted, never temporary or inside a hidden folder."""
    folder = Path(folder)
    found = folder.rglob(pattern) if recursive else folder.glob(pattern)
    out = []
    for p in found:
        rel = p.relative_to(folder).parts
        if not is_temporary(p) and not any(part.startswith(".") for part in rel[:-1]) and p.is_file():
            out.append(p)
    return sorted(out)


def remove_temporary(folder: str | os.PathLike, *, of: str | None = None) -> int:
    """Delete the temporary files left below ``folder`` by killed writers; return how many.

    With ``of``, only those of that one target file name, in ``folder`` itself
    (a folder that several locks share, such as ``manifests/``). Call it only
    while holding the lock of whatever writes there, so that no live writer
    loses its file.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return 0
    n = 0
    for p in folder.glob(f".{of}.*{TEMP_MARK}*") if of else folder.rglob(f".*{TEMP_MARK}*"):
        if is_temporary(p) and p.is_file():
            with contextlib.suppress(FileNotFoundError):
                p.unlink()
                n += 1
    return n


def ensure_writable(folder: str | os.PathLike) -> Path:
    """Create ``folder`` and check that files can be written there, before any long work that ends in a write.

    Raises
    ------
    PitchProbeError
        Naming the folder and the cause (read-only, a file in the way, no permission; a disk with a
        few bytes left passes, and the write that fills it reports it).
    """
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".write-check.", suffix=TEMP_MARK)
        try:
            os.write(fd, b"x")
        finally:
            os.close(fd)
            os.unlink(probe)
    except OSError as e:
        raise PitchProbeError(f"cannot write in {folder}: {e.strerror or e}") from e
    return folder


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, *, fsync: bool = False) -> Iterator[Path]:
    """Yield a temporary path in ``path``'s folder; rename it onto ``path`` on success.

    The temporary name keeps the target's suffix, so libraries that choose a
    format from the suffix still work. With ``fsync`` the file's data reach the
    disk before the rename, so that a crash of the machine cannot leave an
    empty file under the final name. On an exception the temporary file is
    removed and ``path`` is left untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=f"{TEMP_MARK}{path.suffix}")
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        if tmp.exists():  # mkstemp makes 0600 files; give them the usual umask-based mode
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
            if fsync:
                _fsync(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically, fsynced before the rename."""
    with atomic_path(path, fsync=True) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(path: str | os.PathLike, obj) -> None:
    """Write ``obj`` as indented JSON to ``path`` atomically."""
    write_text(path, json.dumps(obj, indent=2, sort_keys=False, allow_nan=False) + "\n")


def write_jsonl(path: str | os.PathLike, records: Iterable[dict]) -> None:
    """Write one JSON object per line to ``path`` atomically."""
    write_text(path, "".join(json.dumps(r, allow_nan=False) + "\n" for r in records))


def read_jsonl(path: str | os.PathLike) -> list[dict]:
    """Read a JSONL file written by :func:`write_jsonl`."""
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]
