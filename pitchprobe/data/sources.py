"""Where FLEURS files come from: the Hugging Face Hub file by file, or a local folder in the same layout.

Paths inside a source (:func:`tsv_relpath`, :func:`archive_relpath`) are built
here and nowhere else; paths on the local disk, by :mod:`pitchprobe.core.layout`.
"""

from __future__ import annotations

import contextlib
import importlib
import os
from pathlib import Path

from pitchprobe.core.errors import PitchProbeError

FLEURS_REPO = "google/fleurs"


def tsv_relpath(code: str, split: str) -> str:
    """``data/<code>/<split>.tsv``: a split's TSV in the FLEURS repository."""
    return f"data/{code}/{split}.tsv"


def archive_relpath(code: str, split: str) -> str:
    """``data/<code>/audio/<split>.tar.gz``: a split's audio archive in the FLEURS repository."""
    return f"data/{code}/audio/{split}.tar.gz"


DOWNLOAD_ERRORS = (("httpx", "HTTPError"), ("httpx2", "HTTPError"), ("huggingface_hub.errors", "XetDownloadError"))
"""Download errors that are not OSError: of huggingface_hub's HTTP clients (httpx, later httpx2), and Xet's."""


class LocalSource:
    """A local folder in the FLEURS repository layout; its files are only ever read."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root).expanduser().resolve()
        if not (self.root / "data").is_dir():
            raise PitchProbeError(f"{self.root} is not in the FLEURS layout: it has no data/ folder")

    def fetch(self, relpath: str) -> Path:
        path = self.root / relpath
        if not path.is_file():
            raise PitchProbeError(f"{path} not found in local FLEURS source {self.root}")
        return path

    def release(self, relpath: str, path: Path | None = None) -> bool:
        return False  # a local source is never deleted from

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
        """Download ``relpath`` (or find it in the cache); any failure is a :class:`PitchProbeError` naming it."""
        from huggingface_hub import hf_hub_download
        from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

        errors = [HfHubHTTPError, LocalEntryNotFoundError, OSError]
        for module, name in DOWNLOAD_ERRORS:
            with contextlib.suppress(ImportError, AttributeError):
                errors.append(getattr(importlib.import_module(module), name))
        try:
            return Path(hf_hub_download(self.repo_id, relpath, repo_type="dataset", revision=self.revision))
        except tuple(errors) as e:
            raise PitchProbeError(f"cannot fetch {relpath} from {self.repo_id}: {type(e).__name__}: {e}") from e

    def release(self, relpath: str, path: Path | None = None) -> bool:
        """Delete ``relpath`` (at ``path``, from :meth:`fetch`, or looked up) from the cache: snapshot link and blob."""
        if path is None:
            from huggingface_hub import try_to_load_from_cache

            path = try_to_load_from_cache(self.repo_id, relpath, revision=self.revision, repo_type="dataset")
            if not isinstance(path, str):
                return False  # not in the cache (None), or cached as missing
        path = Path(path)
        if "snapshots" not in path.parts or not (path.is_symlink() or path.is_file()):
            return False  # not in the cache's layout: never delete
        if path.is_symlink() and (blob := path.resolve()).parent.name == "blobs" and blob.is_file():
            blob.unlink()
        path.unlink()
        return True

    def __str__(self) -> str:
        return f"hf://datasets/{self.repo_id}"


__all__ = ["FLEURS_REPO", "HubSource", "LocalSource", "archive_relpath", "tsv_relpath"]
