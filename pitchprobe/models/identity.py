"""What a model *is*, resolved once, and the stable tag its results are filed under.

A model is named by an S3PRL upstream name (``hubert``), a Hugging Face id
(``facebook/hubert-base-ls960``) or a local directory. :meth:`ModelIdentity.resolve`
turns a local path (one that exists where the user typed it, or one written
as a path) into its absolute path once, there; a study stores the resolved
identity and jobs use it as it is, never resolving again. The tag is computed
from the identity's text alone, so it is the same on every machine of a cluster.

Tags are readable, and unique: a name that is not a plain registry or Hub name
(a local path, an S3PRL checkpoint, a random init with a seed other than 0)
gets a short hash of the whole identity::

    hubert                         -> hubert
    hubert, random init            -> hubert-random
    facebook/hubert-base-ls960     -> facebook--hubert-base-ls960
    /ckpts/ft/hubert               -> hubert-1f3a9c2e
    hubert, random init, seed 3    -> hubert-random-7d01b5aa
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import asdict, dataclass


def _is_url(text: str) -> bool:
    return bool(re.match(r"^[a-z][a-z0-9+.-]*://", text))


def _resolve_path(text: str) -> str:
    """An existing local path, or one written as a path (``/``, ``./``, ``../``, ``~``), made absolute."""
    expanded = os.path.expanduser(text)
    if _is_url(text):
        return text
    if os.path.exists(expanded) or text.startswith(("/", "./", "../", "~")):
        return os.path.abspath(expanded)
    return text


@dataclass(frozen=True)
class ModelIdentity:
    """A resolved model.

    Attributes
    ----------
    name : str
        S3PRL upstream name, Hugging Face id, or the absolute path of a local model directory.
    random_init : bool
        Same architecture with fresh weights (the untrained control).
    seed : int
        Seed of the random init; 0 and ignored when ``random_init`` is False.
    s3prl_ckpt : str or None
        Absolute path or URL of an S3PRL checkpoint.
    """

    name: str
    random_init: bool = False
    seed: int = 0
    s3prl_ckpt: str | None = None

    @classmethod
    def resolve(
        cls, name: str, *, random_init: bool = False, seed: int = 0, s3prl_ckpt: str | None = None
    ) -> ModelIdentity:
        """The identity of a model as the user named it (local paths become absolute)."""
        return cls(
            name=_resolve_path(name.rstrip("/\\") or name),
            random_init=bool(random_init),
            seed=int(seed) if random_init else 0,
            s3prl_ckpt=_resolve_path(s3prl_ckpt) if s3prl_ckpt else None,
        )

    @property
    def is_local(self) -> bool:
        return os.path.isabs(self.name)

    def digest(self) -> str:
        """8 hex digits of SHA-1 over the identity's JSON (stable across machines and Python versions)."""
        text = json.dumps(asdict(self), sort_keys=True)
        return hashlib.sha1(text.encode("utf-8")).hexdigest()[:8]

    @property
    def tag(self) -> str:
        """File-name-safe, readable and unique (see the module docstring)."""
        base = os.path.basename(self.name) if self.is_local else self.name.replace("/", "--")
        base = re.sub(r"[^A-Za-z0-9._+-]", "_", base) or "model"
        if self.random_init:
            base += "-random"
        needs_hash = self.is_local or self.s3prl_ckpt is not None or (self.random_init and self.seed != 0)
        return f"{base}-{self.digest()}" if needs_hash else base

    def as_dict(self) -> dict:
        return {**asdict(self), "tag": self.tag}


__all__ = ["ModelIdentity"]
