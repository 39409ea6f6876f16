"""S3PRL backend (the ``espnet-s3prl`` fork provides the ``s3prl`` module).

The upstream's own forward is called on one utterance at a time, so the
states hold only real frames: S3PRL's ``S3PRLUpstream.forward`` would pad its
output to ``(N - 1) // hop + 1`` frames by repeating the last one. Frame
positions are measured from the model itself (:func:`~.base.measure_window`),
which places every upstream correctly: fbank/mfcc/APC (25 ms kaldi frames,
first centre 12.5 ms), Mockingjay/TERA (centred STFT, first centre 0),
HuBERT/wav2vec 2.0/WavLM (receptive field 400, first centre 200 samples).
"""

from __future__ import annotations

import logging

import torch

from pitchprobe.core.errors import PitchProbeError
from pitchprobe.models.base import Backend, measure_window

_NOT_UPSTREAMS = {"Path", "FileLock", "load_and_convert_fairseq_ckpt", "customized_upstream"}


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


class S3PRLBackend(Backend):
    """An S3PRL upstream, in eval mode. ``random_init`` uses S3PRL's own ``randomize``."""

    def __init__(self, name: str, *, random_init: bool, device: torch.device, seed: int, ckpt: str | None):
        _, S3PRLUpstream = _quiet_import()
        self.name = name
        self.random_init = random_init
        self.seed = seed
        self.device = device
        try:
            with torch.random.fork_rng(devices=[]):  # seeded init; the caller's RNG state is left as it was
                torch.manual_seed(seed)
                upstream = S3PRLUpstream(name, path_or_url=ckpt, randomize=random_init)
        except (OSError, RuntimeError, ValueError, TypeError, KeyError) as e:
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
