"""Stage 3: hidden states of every layer, from S3PRL or Hugging Face transformers.

:func:`load_model` turns a model name into a :class:`~pitchprobe.models.base.Backend`:

- an existing local directory: a ``save_pretrained`` transformers model;
- a name containing ``/``: a Hugging Face Hub model id
  (e.g. ``facebook/hubert-base-ls960``);
- otherwise an S3PRL upstream name (``hubert``, ``wav2vec2``, ``wavlm``,
  ``mockingjay``, ``tera``, ``apc``, ``fbank``, ``mfcc``, ...).
"""

from __future__ import annotations

from pathlib import Path

from pitchprobe.core.errors import UnknownNameError
from pitchprobe.models.base import (
    DEFAULT_DTYPE,
    DEFAULT_MAX_BATCH_SECONDS,
    DTYPES,
    PREFETCH_WORKERS,
    Backend,
    check_dtype,
    limit_heap_growth,
    resolve_device,
)
from pitchprobe.models.identity import ModelIdentity

__all__ = [
    "DEFAULT_DTYPE",
    "DEFAULT_MAX_BATCH_SECONDS",
    "DTYPES",
    "Backend",
    "ModelIdentity",
    "check_dtype",
    "check_model_name",
    "load_model",
    "resolve_device",
]

DEFAULT_MODEL = "hubert"
DEFAULT_BATCH_SIZE = 8  # utterances per forward on a GPU (transformers models); on the CPU batching gains nothing: 1


def load_model(
    name: str | ModelIdentity,
    *,
    random_init: bool = False,
    device: str = "auto",
    seed: int = 0,
    batch_size: int | None = None,
    max_batch_seconds: float = DEFAULT_MAX_BATCH_SECONDS,
    dtype: str = DEFAULT_DTYPE,
    s3prl_ckpt: str | None = None,
    trust_checkpoint: bool = False,
    force_dtype: bool = False,
) -> Backend:
    """Load a model for feature extraction (``.eval()``, no gradients).

    Parameters
    ----------
    name : str or ModelIdentity
        S3PRL upstream name, Hugging Face model id, or local directory; or a
        resolved identity, whose own ``random_init``, ``seed`` and ``s3prl_ckpt`` then apply.
    random_init : bool
        Same architecture, fresh weights (seeded by ``seed``): the untrained control.
    device : {"auto", "cpu", "cuda", "cuda:N"}
    seed : int
    batch_size : int or None
        None: :data:`DEFAULT_BATCH_SIZE` on a GPU, 1 on the CPU (where padded
        batches measured slower than one utterance at a time: ``benchmarks/bench_gpu.py``).
        Utterances per forward pass of a transformers model (length-sorted
        batches with an attention mask). Exact for group-norm models too
        (HuBERT/wav2vec 2.0/WavLM base): their feature encoder and positional
        convolution run per utterance (:class:`pitchprobe.models.hf.PerUtterance`).
        S3PRL upstreams run one utterance at a time.
    max_batch_seconds : float
        s; most audio per forward pass, counting the padding to the batch's longest.
    dtype : {"float32", "bfloat16", "float16"}
        The forward pass's precision (``torch.autocast``); states and the probe's sums stay high precision.
    s3prl_ckpt : str or None
        Local checkpoint path or URL for S3PRL's ``*_local``/``*_url``/``*_custom`` upstreams.
    trust_checkpoint : bool
        Let S3PRL unpickle the checkpoint (``--trust-checkpoint``). By default a
        local checkpoint must load with ``torch.load(weights_only=True)`` and a URL
        is refused, since unpickling a file can run any code in it
        (:func:`pitchprobe.models.s3prl.check_s3prl_ckpt`). Not part of the model's
        identity: it applies to a :class:`ModelIdentity` too, and never changes its tag.
    force_dtype : bool
        Run ``bfloat16`` on a CPU without native bf16 all the same (``--force-dtype``; :func:`check_dtype`).

    Raises
    ------
    UnknownNameError
        If ``name`` is none of the above; the message lists the S3PRL names.
    PitchProbeError
        If ``dtype`` is bfloat16 on a CPU without native bf16 and not ``force_dtype``; if the S3PRL checkpoint
        needs pickle, is a URL, or is no torch file
        (without ``trust_checkpoint``), or the model cannot be loaded.

    Notes
    -----
    Process-wide effect: loading a model sets glibc's ``M_MMAP_THRESHOLD``
    (``mallopt``) for the whole process, so that memory stays flat over many
    utterances of different lengths (:func:`pitchprobe.models.base.limit_heap_growth`).
    The random init is seeded inside a fork of torch's RNG state: the caller's
    global seed and RNG stream are not touched.
    """
    if isinstance(name, ModelIdentity):  # resolved already (a study's unit): used as it is
        identity = name
    else:
        identity = ModelIdentity.resolve(name, random_init=random_init, seed=seed, s3prl_ckpt=s3prl_ckpt)
    if dtype not in DTYPES:
        raise UnknownNameError("dtype", dtype, DTYPES)
    check_dtype(dtype, resolve_device(device), force=force_dtype)
    if batch_size is None:
        batch_size = DEFAULT_BATCH_SIZE if resolve_device(device).type == "cuda" else 1
    backend = _load(identity, device=device, batch_size=batch_size, trust_checkpoint=trust_checkpoint)
    backend.dtype = dtype
    backend.prefetch_workers = PREFETCH_WORKERS if backend.device.type == "cuda" else 0
    backend.identity = identity
    backend.max_batch_seconds = float(max_batch_seconds)
    return backend


def is_transformers_name(name: str) -> bool:
    """Whether ``name`` is for transformers: a local directory, or of the Hugging Face id form ``org/name``."""
    return Path(name).expanduser().is_dir() or "/" in name


def check_model_name(name: str) -> None:
    """Refuse a model name that is neither a known S3PRL upstream, nor a local directory, nor of the
    ``org/name`` form, without network (a Hugging Face id is not looked up).

    Raises
    ------
    UnknownNameError
        Naming ``name`` and the closest S3PRL upstream names, then listing them all.
    """
    if is_transformers_name(name):
        return
    from pitchprobe.models.s3prl import s3prl_names

    names = s3prl_names()
    if name not in names:
        raise UnknownNameError(
            "model",
            name,
            names,
            hint="Or give a Hugging Face model id (org/name) or a local save_pretrained directory.",
            suggest=True,
        )


def _load(identity: ModelIdentity, *, device: str, batch_size: int, trust_checkpoint: bool) -> Backend:
    dev = resolve_device(device)
    limit_heap_growth()
    name, random_init, seed = identity.name, identity.random_init, identity.seed
    if is_transformers_name(name):
        from pitchprobe.models.hf import HFBackend

        return HFBackend(name, random_init=random_init, device=dev, seed=seed, batch_size=batch_size)
    from pitchprobe.models.s3prl import S3PRLBackend

    check_model_name(name)
    return S3PRLBackend(
        name,
        random_init=random_init,
        device=dev,
        seed=seed,
        ckpt=identity.s3prl_ckpt,
        trust_checkpoint=trust_checkpoint,
    )
