"""The backend interface and frame geometry shared by all models."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from pitchprobe.core.align import FrameGrid
from pitchprobe.core.errors import PitchProbeError, UnknownNameError
from pitchprobe.models.identity import ModelIdentity


def resolve_device(device: str = "auto") -> torch.device:
    """``auto`` -> ``cuda`` if available, else ``cpu``; otherwise ``device`` checked for availability."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if not (device == "cpu" or device.startswith("cuda")):
        raise UnknownNameError("device", device, ["auto", "cpu", "cuda", "cuda:N"])
    try:
        dev = torch.device(device)
    except RuntimeError as e:
        raise UnknownNameError("device", device, ["auto", "cpu", "cuda", "cuda:N"]) from e
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise PitchProbeError(f"--device {device} asked for, but torch sees no CUDA device")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise PitchProbeError(f"--device {device} asked for, but torch sees {torch.cuda.device_count()} CUDA devices")
    return dev


DEFAULT_DTYPE = "float32"
DTYPES = (DEFAULT_DTYPE, "bfloat16", "float16")  # of the forward pass (under torch.autocast); states come out float32
BF16_CPU_FLAGS = frozenset({"avx512_bf16", "amx_bf16", "bf16"})  # /proc/cpuinfo: native bf16 (x86; aarch64 "bf16")
BF16_EMULATED_SLOWDOWN = 100  # x: bfloat16 against float32 on a CPU without native bf16 (measured, AVX2 only)
CPUINFO = Path("/proc/cpuinfo")
PREFETCH_WORKERS = 2  # audio-reading processes ahead of a GPU model (on the CPU they would compete with it: 0)
DEFAULT_MAX_BATCH_SECONDS = 240.0  # s of audio per forward pass, padding included (about 8 FLEURS utterances)
M_MMAP_THRESHOLD = -3  # glibc mallopt parameter number
MMAP_THRESHOLD_BYTES = 1 << 20  # 1 MiB: larger blocks get their own mmap and go back to the OS when freed


def cpu_flags(cpuinfo: str | None = None) -> frozenset[str]:
    """The CPU's feature flags from ``/proc/cpuinfo`` text (``flags`` on x86, ``Features`` on ARM); empty where
    there is no such file (not Linux): unknown."""
    if cpuinfo is None:
        try:
            cpuinfo = CPUINFO.read_text()
        except OSError:
            return frozenset()
    out: set[str] = set()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            out.update(value.split())
    return frozenset(out)


def check_dtype(dtype: str, device: torch.device, *, force: bool = False, flags: frozenset[str] | None = None) -> None:
    """Refuse ``bfloat16`` on a CPU whose ``flags`` (default: this CPU's, :func:`cpu_flags`) show no native bf16,
    where it runs about :data:`BF16_EMULATED_SLOWDOWN` times slower than float32, unless ``force``. Unknown
    flags (no ``/proc/cpuinfo``) are let through.

    Raises
    ------
    PitchProbeError
        Naming the flags looked for and the ways out (``--dtype float32``, a GPU, ``--force-dtype``).
    """
    if dtype != "bfloat16" or device.type != "cpu" or force:
        return
    flags = cpu_flags() if flags is None else flags
    if flags and not flags & BF16_CPU_FLAGS:
        raise PitchProbeError(
            f"--dtype bfloat16 on this CPU runs about {BF16_EMULATED_SLOWDOWN}x slower than float32: it has no "
            f"native bf16 (none of {', '.join(sorted(BF16_CPU_FLAGS))} in {CPUINFO}). Use --dtype float32 (the "
            "default) or a GPU (--device cuda), or pass --force-dtype to run it anyway"
        )


def limit_heap_growth() -> bool:
    """Make glibc serve blocks of 1 MiB and more by ``mmap``; return whether it applied.

    Hidden states of utterances of ever-new lengths otherwise fragment glibc's
    heap, and a long run's memory grows with the amount of audio (measured:
    HuBERT-base forwards alone, 1.42 -> 2.12 GiB over 48 files; flat with this).
    A process-wide setting, made once when a model is loaded; a no-op off glibc.
    """
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if not name or "libc.so" not in name:
        return False
    try:
        libc = ctypes.CDLL(name)
        return bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES))
    except (OSError, AttributeError):
        return False


def frame_count(n_samples: int, *, window: int, hop: int) -> int:
    """Frames of a "valid" framing: ``(n_samples - window) // hop + 1`` (0 if too short)."""
    return max(0, (n_samples - window) // hop + 1)


def measure_window(count: Callable[[int], int], *, hop: int, start: int = 8000) -> int:
    """Find ``window`` such that ``count(N) == (N - window) // hop + 1``, by bisection.

    ``count`` runs a model on ``N`` samples and returns its number of frames.
    A model whose frames are "valid" windows of ``W`` samples gives ``W`` (its
    receptive field, 400 for HuBERT); a centred STFT (``N // hop + 1`` frames)
    gives 0. Frame ``k`` is then centred at ``window / 2 + k * hop``.
    Costs about ``log2(hop) + 3`` forward passes of ``start`` samples.

    Raises
    ------
    PitchProbeError
        If the counts do not follow that form.
    """
    t0 = count(start)
    lo, hi = start, start + hop  # count(lo) == t0; count(hi) == t0 + 1
    if count(hi) != t0 + 1:
        raise PitchProbeError(f"frame counts do not grow by one per {hop} samples; cannot place its frames")
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if count(mid) == t0:
            lo = mid
        else:
            hi = mid
    window = hi - t0 * hop
    for n in (start + 3 * hop + hop // 3, start + 7 * hop - 1):
        if count(n) != frame_count(n, window=window, hop=hop):
            raise PitchProbeError(f"frame counts do not follow (N - {window}) // {hop} + 1; cannot place its frames")
    return window


class Backend:
    """A model that maps waveforms to hidden states of every layer.

    Attributes
    ----------
    name : str
        As given to :func:`~pitchprobe.models.load_model`.
    random_init : bool
    device : torch.device
    num_layers : int
    hidden_sizes : list of int
        Feature size of each layer.
    window : int
        Samples; frames are valid windows of this length (0 for a centred STFT).
    hop : int
        Samples between frames.
    batch_size : int
        Utterances per forward pass (1 for models that cannot be padded exactly).
    max_batch_seconds : float
        s; most audio in one forward pass, counting the padding to the batch's longest utterance.
    prefetch_workers : int
        Processes that read the audio of the next batches ahead of the model (0: read in this process).
    grid_offset : float
        Samples from the nominal frame centre (the middle of the window) to where frame ``k`` was measured to
        sit (:func:`pitchprobe.models.calibrate.calibrate_model`), when that exceeds the tolerance; else 0.
    dtype : str
        The forward pass's precision, one of :data:`DTYPES`: ``torch.autocast`` to it
        (matrix products in it, normalisations in float32); the states are float32.
    """

    name: str
    random_init: bool
    device: torch.device
    num_layers: int
    hidden_sizes: list[int]
    window: int
    hop: int
    batch_size: int = 1
    max_batch_seconds: float = DEFAULT_MAX_BATCH_SECONDS
    dtype: str = DEFAULT_DTYPE
    prefetch_workers: int = 0
    grid_offset: float = 0.0

    @property
    def nominal_grid(self) -> FrameGrid:
        """Frame ``k`` nominally centred at sample ``window / 2 + k * hop`` (the middle of its window)."""
        return FrameGrid(first=self.window / 2, hop=float(self.hop))

    @property
    def grid(self) -> FrameGrid:
        """Where frame ``k`` is placed: ``window / 2 + grid_offset + k * hop`` (:mod:`pitchprobe.core.timing`)."""
        return FrameGrid(first=self.nominal_grid.first + self.grid_offset, hop=float(self.hop))

    def num_frames(self, n_samples: int) -> int:
        """Real frames for ``n_samples`` samples of audio."""
        return frame_count(n_samples, window=self.window, hop=self.hop)

    def _forward(self, wavs: list[torch.Tensor]) -> list[list[torch.Tensor]]:
        raise NotImplementedError

    def forward(self, wavs: list[np.ndarray]) -> list[list[torch.Tensor]]:
        """Hidden states of every layer, real frames only.

        Parameters
        ----------
        wavs : list of np.ndarray or torch.Tensor
            Each shape (N_i,), 16 kHz, at most ``batch_size`` of them (CPU tensors may be pinned).

        Returns
        -------
        list of list of torch.Tensor
            ``out[i][l]`` has shape (num_frames(N_i), hidden_sizes[l]),
            float32, on ``device``.
        """
        tensors = [torch.as_tensor(w, dtype=torch.float32).to(self.device, non_blocking=True) for w in wavs]
        low = self.dtype != DEFAULT_DTYPE
        with torch.inference_mode(), torch.autocast(self.device.type, dtype=getattr(torch, self.dtype), enabled=low):
            out = self._forward(tensors)
        if low:
            out = [[h.float() for h in layers] for layers in out]
        for w, layers in zip(wavs, out):
            want = self.num_frames(len(w))
            got = {int(h.shape[0]) for h in layers}
            if got != {want}:
                raise PitchProbeError(f"{self.name} gave {sorted(got)} frames for {len(w)} samples, expected {want}")
        return out

    @property
    def tag(self) -> str:
        """Folder name of this model's results (:attr:`ModelIdentity.tag`)."""
        return self.model_identity.tag

    @property
    def model_identity(self) -> ModelIdentity:
        ident = getattr(self, "identity", None)
        if ident is None:  # a backend built directly, not by load_model
            ident = ModelIdentity.resolve(self.name, random_init=self.random_init, seed=getattr(self, "seed", 0) or 0)
        return ident

    def describe(self) -> dict:
        return {
            "identity": self.model_identity.as_dict(),
            "tag": self.tag,
            "name": self.name,
            "backend": type(self).__name__,
            "random_init": self.random_init,
            "seed": getattr(self, "seed", None) if self.random_init else None,
            "device": str(self.device),
            "num_layers": self.num_layers,
            "hidden_sizes": self.hidden_sizes,
            "window_samples": self.window,
            "hop_samples": self.hop,
            "first_centre_samples": self.grid.first,
            "batch_size": self.batch_size,
            "max_batch_seconds": self.max_batch_seconds,
            "dtype": self.dtype,
        }
