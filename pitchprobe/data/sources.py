"""Where FLEURS files come from: the Hugging Face Hub file by file, or a local folder in the same layout.

Paths inside a source (:func:`tsv_relpath`, :func:`archive_relpath`) are built
here and nowhere else; paths on the local disk, by :mod:`pitchprobe.core.layout`.
"""

from __future__ import annotations

import contextlib
import importlib
import os
from pathlib import Path

from pitchprobe.core.errors import OfflineError, PitchProbeError

FLEURS_REPO = "google/fleurs"
HUB_CONNECT_TIMEOUT_S = 5.0  # s: the one reachability check before the first download, with no retries


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
        self._unreachable: str | None = None  # why the Hub cannot be reached, once checked
        self._checked = False

    def _offline(self, relpath: str, why: str) -> OfflineError:
        return OfflineError(
            f"cannot fetch {relpath} from {self.repo_id}: {why}. Without the Hub, pass --source DIR (a local "
            "folder in the FLEURS layout, data/<code>/<split>.tsv and data/<code>/audio/<split>.tar.gz); or set "
            "HF_ENDPOINT to a Hub mirror you can reach"
        )

    def _cached(self, relpath: str) -> Path | None:
        from huggingface_hub import try_to_load_from_cache

        path = try_to_load_from_cache(self.repo_id, relpath, revision=self.revision, repo_type="dataset")
        return Path(path) if isinstance(path, str) else None

    def fetch(self, relpath: str) -> Path:
        """Download ``relpath`` (or find it in the cache); any failure is a :class:`PitchProbeError` naming it.

        The Hub is checked once, with one short connection and no retries (:data:`HUB_CONNECT_TIMEOUT_S`):
        when it cannot be reached (or ``HF_HUB_OFFLINE`` is set), a file not in the cache is an
        :class:`OfflineError` at once, rather than after the Hub client's retries.
        """
        from huggingface_hub import constants, hf_hub_download
        from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

        if constants.HF_HUB_OFFLINE:
            self._unreachable = "HF_HUB_OFFLINE is set and it is not in the Hugging Face cache"
        elif not self._checked:
            self._checked = True
            self._unreachable = hub_unreachable(constants.ENDPOINT)
        if self._unreachable is not None:
            if (path := self._cached(relpath)) is not None:
                return path
            raise self._offline(relpath, self._unreachable)

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
        path = Path(path) if path is not None else self._cached(relpath)
        if path is None:
            return False  # not in the cache, or cached as missing
        if "snapshots" not in path.parts or not (path.is_symlink() or path.is_file()):
            return False  # not in the cache's layout: never delete
        if path.is_symlink() and (blob := path.resolve()).parent.name == "blobs" and blob.is_file():
            blob.unlink()
        path.unlink()
        return True

    def __str__(self) -> str:
        return f"hf://datasets/{self.repo_id}"


def hub_unreachable(endpoint: str, *, timeout_s: float = HUB_CONNECT_TIMEOUT_S) -> str | None:
    """None if a connection to ``endpoint`` opens within ``timeout_s``; else why not, in words.

    One HEAD request, no retries, through the proxies the environment names (as the Hub client uses them).
    Only a failure to connect (no name, refused, no route, timed out, a bad URL) is unreachable; a server that
    connects and then answers badly is left to the Hub client, whose error then names it.
    """
    import urllib.error
    import urllib.request

    try:
        urllib.request.urlopen(urllib.request.Request(endpoint, method="HEAD"), timeout=timeout_s).close()
    except urllib.error.HTTPError:
        return None  # it answered
    except (urllib.error.URLError, ValueError) as e:  # urllib wraps a failure to connect in URLError
        return f"the Hugging Face Hub ({endpoint}) cannot be reached: {getattr(e, 'reason', e)}"
    except OSError:
        return None  # connected, then hung up or timed out reading: not offline
    return None


__all__ = ["FLEURS_REPO", "HubSource", "hub_unreachable", "LocalSource", "archive_relpath", "tsv_relpath"]
