"""S3PRL backend (the ``espnet-s3prl`` fork provides the ``s3prl`` module).

The upstream's own forward is called on one utterance at a time, so the
states hold only real frames: S3PRL's ``S3PRLUpstream.forward`` would pad its
output to ``(N - 1) // hop + 1`` frames by repeating the last one. Frame
positions are measured from the model itself (:func:`~.base.measure_window`),
which places every upstream correctly: fbank/mfcc/APC (25 ms kaldi frames,
first centre 12.5 ms), Mockingjay/TERA (centred STFT, first centre 0),
HuBERT/wav2vec 2.0/WavLM (receptive field 400, first centre 200 samples).

Checkpoints (``--s3prl-ckpt``) are not trusted by default. Several S3PRL
upstreams (``mockingjay_local``, ``tera_local``, ``distiller_local``, ...) read
their checkpoint with ``torch.load(weights_only=False)``, i.e. full Python
pickle, which runs whatever code the file names: a checkpoint received from
someone else could run a command. So, unless ``trust_checkpoint=True``
(``--trust-checkpoint``), :func:`check_s3prl_ckpt` runs before S3PRL sees the
checkpoint:

- a local file must load with ``torch.load(weights_only=True)`` (tensors,
  numbers, strings, lists and dicts only; :func:`check_checkpoint`); a file
  that needs pickle, or is no torch file at all, is refused with a
  :class:`~pitchprobe.core.errors.PitchProbeError`;
- a URL (``http://``, ``https://``, any ``scheme://``) is refused: S3PRL would
  download and unpickle it in one go, with no chance to check it. Download it
  and pass the local file, which is then checked;
- anything else (a directory, or a Hugging Face id for the ``hf_*_custom``
  upstreams) is passed on: those are read by transformers' ``from_pretrained``,
  which loads ``.bin`` weights with ``weights_only=True`` itself.

Many published S3PRL checkpoints do need pickle (fairseq checkpoints hold an
``argparse.Namespace``, old Mockingjay/TERA ones a pickled scheduler): they load
with ``--trust-checkpoint``, which says that the file's source is trusted. The
flag is not part of the model's identity (:class:`~.identity.ModelIdentity`):
it changes whether a file is read, never the weights read from it.
"""

from __future__ import annotations

import logging
import os
import pickle
import re
import warnings

import torch

from pitchprobe.core.errors import PitchProbeError
from pitchprobe.models.base import Backend, measure_window

_NOT_UPSTREAMS = {"Path", "FileLock", "load_and_convert_fairseq_ckpt", "customized_upstream"}
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
TRUST_FLAG = "--trust-checkpoint"


def _quiet_import():
    # s3prl warns at import that the optional ESPnet is missing; only its espnet_hubert upstream needs it
    logging.getLogger("s3prl.upstream.espnet_hubert.expert").setLevel(logging.ERROR)
    from s3prl import hub
    from s3prl.nn import S3PRLUpstream

    return hub, S3PRLUpstream


def s3prl_names() -> list[str]:
    """Every upstream name S3PRL offers, sorted."""
    hub, S3PRLUpstream = _quiet_import()
    return sorted(n for n in S3PRLUpstream.available_names() if n not in _NOT_UPSTREAMS and callable(getattr(hub, n)))


def _pickle_need(message: str) -> str:
    """What a refused file asks pickle for, from torch's message (``""`` if torch does not say)."""
    found = re.search(r"Unsupported global: GLOBAL (\S+)", message) or re.search(
        r"unsupported GLOBAL (\S+)", message, flags=re.IGNORECASE
    )
    if found:
        return f"the Python object {found.group(1)}"
    found = re.search(r"Unsupported operand (\d+)", message)
    return f"pickle opcode {found.group(1)}" if found else ""


def _unreadable(path: str, e: BaseException) -> PitchProbeError:
    detail = " ".join(str(e).split())  # one line: torch's messages span several
    return PitchProbeError(f"cannot read checkpoint {path} as a torch file: {type(e).__name__}: {detail}")


def check_checkpoint(path: str | os.PathLike) -> None:
    """Make sure that the torch file at ``path`` loads without Python pickle.

    Loads it with ``torch.load(path, map_location="cpu", weights_only=True)``,
    which refuses any object other than tensors, numbers, strings and plain
    containers, and so runs no code from the file; the loaded object is freed
    at once.

    Raises
    ------
    PitchProbeError
        If the file needs pickle (the message names ``--trust-checkpoint``), or
        cannot be read as a torch file.
    """
    path = os.fspath(path)
    try:
        # The check reads the checkpoint once more than S3PRL itself will: an extra read of one file, and the
        # memory of its tensors for a moment (freed before S3PRL loads it). Accepted, for not running its code.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # e.g. "Detected pickle protocol 4": refused below anyway
            state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        if "Weights only load failed" not in str(e):
            raise _unreadable(path, e) from e
        need = _pickle_need(str(e))
        raise PitchProbeError(
            f"checkpoint {path} needs Python pickle to load{f' ({need})' if need else ''}, and unpickling a file "
            f"can run any code in it; pitchprobe loads checkpoints as weights only. If you trust where the file "
            f"came from, pass {TRUST_FLAG} to load it anyway"
        ) from e
    except MemoryError:
        raise
    except Exception as e:  # noqa: BLE001 - torch.load raises anything (KeyError, EOFError, ...) on a non-torch file
        raise _unreadable(path, e) from e
    del state  # only checked; S3PRL loads its own copy


def check_s3prl_ckpt(ckpt: str | None, *, trust_checkpoint: bool = False) -> None:
    """Refuse an S3PRL checkpoint that could run code, unless ``trust_checkpoint``.

    ``ckpt`` is what S3PRL will be given: ``None`` (the upstream's registered
    checkpoint) passes; a URL is refused (it cannot be checked before S3PRL
    unpickles it); an existing file must pass :func:`check_checkpoint`;
    anything else (a directory, a Hugging Face id) is left to S3PRL (see the
    module docstring). With ``trust_checkpoint`` nothing is checked.

    Raises
    ------
    PitchProbeError
        A one-line message; a URL or a file that needs pickle names ``--trust-checkpoint``.
    """
    if ckpt is None or trust_checkpoint:
        return
    if _URL.match(ckpt):
        raise PitchProbeError(
            f"checkpoint {ckpt} is a URL: S3PRL would download and unpickle it at once, and unpickling a file can "
            f"run any code in it, so it cannot be checked first. Download it and pass the local file (which is "
            f"checked), or, if you trust where it comes from, pass {TRUST_FLAG}"
        )
    if os.path.isfile(ckpt):
        check_checkpoint(ckpt)


class S3PRLBackend(Backend):
    """An S3PRL upstream, in eval mode. ``random_init`` uses S3PRL's own ``randomize``.

    ``ckpt`` is checked by :func:`check_s3prl_ckpt` first, unless ``trust_checkpoint``.
    """

    def __init__(
        self,
        name: str,
        *,
        random_init: bool,
        device: torch.device,
        seed: int,
        ckpt: str | None,
        trust_checkpoint: bool = False,
    ):
        check_s3prl_ckpt(ckpt, trust_checkpoint=trust_checkpoint)  # before S3PRL opens it
        _, S3PRLUpstream = _quiet_import()
        self.name = name
        self.random_init = random_init
        self.seed = seed
        self.device = device
        try:
            with torch.random.fork_rng(devices=[]):  # seeded init; the caller's RNG state is left as it was
                torch.manual_seed(seed)
                upstream = S3PRLUpstream(name, path_or_url=ckpt, randomize=random_init)
        except (OSError, RuntimeError, ValueError, TypeError, KeyError, AssertionError) as e:
            # AssertionError: the *_local upstreams assert that the checkpoint is a file
            raise PitchProbeError(f"cannot load S3PRL upstream {name!r}: {type(e).__name__}: {e}") from e
        self.model = upstream.eval().to(device)
        self.num_layers = upstream.num_layers
        self.hidden_sizes = list(upstream.hidden_sizes)
        rates = set(upstream.downsample_rates)
        if len(rates) != 1:
            raise PitchProbeError(f"{name}: layers have different frame rates {sorted(rates)}; not supported")
        self.hop = rates.pop()
        self.batch_size = 1
        self.window = measure_window(self._count, hop=self.hop)

    def _count(self, n: int) -> int:
        gen = torch.Generator().manual_seed(n)
        wav = (torch.randn(n, generator=gen) * 0.1).to(self.device)
        with torch.inference_mode():
            return int(self._forward([wav])[0][0].shape[0])

    def _forward(self, wavs: list[torch.Tensor]) -> list[list[torch.Tensor]]:
        if len(wavs) != 1:
            raise PitchProbeError("the S3PRL backend runs one utterance at a time")
        hidden = self.model.upstream(wavs)["hidden_states"]
        return [[h[0] for h in hidden]]
