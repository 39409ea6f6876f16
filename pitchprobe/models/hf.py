"""Hugging Face transformers backend: HuBERT, wav2vec 2.0, WavLM, data2vec-audio."""

from __future__ import annotations

import pickle
from pathlib import Path

import torch

from pitchprobe.core.errors import PitchProbeError
from pitchprobe.models.base import Backend


def receptive_field(kernels: list[int], strides: list[int]) -> tuple[int, int]:
    """(window, hop) in samples of a stack of 1-D convolutions without padding."""
    window, jump = 1, 1
    for k, s in zip(kernels, strides):
        window += (k - 1) * jump
        jump *= s
    return window, jump


BATCHED_MODEL_TYPES = ("hubert", "wav2vec2", "wavlm", "data2vec-audio")  # checked exact by tests/models/test_hf.py


class PerUtterance(torch.nn.Module):
    """Runs ``inner`` on each utterance of a padded batch alone, then pads the outputs again with zeros.

    Wrapped around the parts of a speech encoder whose outputs change with
    padding: the convolutional feature encoder (group norm over time, in
    HuBERT/wav2vec 2.0/WavLM base) and the positional convolution (several
    layers in data2vec-audio, whose padded positions stop being zero after the
    first). Everything else (projection, attention with its mask, feed-forward)
    is exact on a padded batch. ``lengths`` (along ``in_dim`` of the input) is
    set only for a batched forward; with None the wrapper is transparent.
    """

    def __init__(self, inner: torch.nn.Module, *, in_dim: int, out_dim: int):
        super().__init__()
        self.inner, self.in_dim, self.out_dim = inner, in_dim, out_dim
        self.lengths: list[int] | None = None

    def forward(self, x: torch.Tensor, *args, **kwargs) -> torch.Tensor:
        if self.lengths is None:
            return self.inner(x, *args, **kwargs)
        outs = [self.inner(x[i : i + 1].narrow(self.in_dim, 0, n), *args, **kwargs) for i, n in enumerate(self.lengths)]
        longest = max(o.shape[self.out_dim] for o in outs)
        pad = lambda o: [0, 0] * (o.dim() - self.out_dim - 1) + [0, longest - o.shape[self.out_dim]]  # noqa: E731
        return torch.cat([torch.nn.functional.pad(o, pad(o)) for o in outs], 0)


class HFBackend(Backend):
    """A transformers speech encoder, from a Hub id or a ``save_pretrained`` directory.

    Weights come from the Hugging Face cache (``$HF_HOME``). With
    ``random_init`` only the config is read and the weights are drawn fresh
    (seeded). Inputs are normalised to zero mean and unit variance per
    utterance when the model's feature extractor says ``do_normalize``.
    """

    def __init__(self, name: str, *, random_init: bool, device: torch.device, seed: int, batch_size: int):
        from transformers import AutoConfig, AutoFeatureExtractor, AutoModel

        self.name = name
        self.random_init = random_init
        self.seed = seed
        self.device = device
        local = Path(name).expanduser()
        source = str(local) if local.is_dir() else name
        try:
            config = AutoConfig.from_pretrained(source)
        except (OSError, ValueError) as e:
            raise PitchProbeError(f"cannot load a transformers config for {name!r}: {e}") from e
        if not hasattr(config, "conv_kernel"):
            raise PitchProbeError(
                f"{name!r} is a {type(config).__name__}; pitchprobe reads speech encoders with a convolutional "
                "front end (HuBERT, wav2vec 2.0, WavLM, data2vec-audio)"
            )
        try:
            if random_init:
                with torch.random.fork_rng(devices=[]):  # seeded init; the caller's RNG state is left as it was
                    torch.manual_seed(seed)
                    model = AutoModel.from_config(config)
            else:
                model = AutoModel.from_pretrained(source)
        except (OSError, ValueError, pickle.UnpicklingError) as e:  # transformers refuses pickled code in .bin files
            raise PitchProbeError(f"cannot load weights of {name!r}: {e}") from e
        try:
            fe = AutoFeatureExtractor.from_pretrained(source)
            self.normalize = bool(getattr(fe, "do_normalize", False))
        except (OSError, ValueError):
            self.normalize = False  # a directory with only config.json: raw waveform in
        self.model = model.eval().to(device)
        self.window, self.hop = receptive_field(list(config.conv_kernel), list(config.conv_stride))
        self.feat_extract_norm = getattr(config, "feat_extract_norm", None)  # "group" (base models) or "layer"
        self._per_utterance = self._wrap(model)
        self.batch_size = max(1, batch_size) if self._per_utterance else 1
        self.num_layers = config.num_hidden_layers + 1
        self.hidden_sizes = [config.hidden_size] * self.num_layers

    @staticmethod
    def _wrap(model) -> list[PerUtterance]:
        """Wrap the padding-sensitive parts in :class:`PerUtterance`; [] (one at a time) for other architectures."""
        if model.config.model_type not in BATCHED_MODEL_TYPES:
            return []  # e.g. wav2vec2-conformer's convolution module and SEW's pooling would see the padding
        encoder = model.encoder
        model.feature_extractor = PerUtterance(model.feature_extractor, in_dim=1, out_dim=2)  # (B, N) -> (B, C, T)
        encoder.pos_conv_embed = PerUtterance(encoder.pos_conv_embed, in_dim=1, out_dim=1)  # (B, T, C) -> same
        return [model.feature_extractor, encoder.pos_conv_embed]

    def _normalize(self, wav: torch.Tensor) -> torch.Tensor:
        if not self.normalize:
            return wav
        return (wav - wav.mean()) / torch.sqrt(wav.var(unbiased=False) + 1e-7)

    def _forward(self, wavs: list[torch.Tensor]) -> list[list[torch.Tensor]]:
        wavs = [self._normalize(w) for w in wavs]
        if len(wavs) == 1:
            out = self.model(wavs[0][None], output_hidden_states=True)
            return [[h[0] for h in out.hidden_states]]
        lengths = [len(w) for w in wavs]
        batch = torch.zeros(len(wavs), max(lengths), device=self.device)
        mask = torch.zeros(len(wavs), max(lengths), dtype=torch.long, device=self.device)
        for i, w in enumerate(wavs):
            batch[i, : len(w)] = w
            mask[i, : len(w)] = 1
        frames = [self.num_frames(n) for n in lengths]
        features, positions = self._per_utterance
        features.lengths, positions.lengths = lengths, frames
        try:
            out = self.model(batch, attention_mask=mask, output_hidden_states=True)
        finally:
            features.lengths = positions.lengths = None
        return [[h[i, :t] for h in out.hidden_states] for i, t in enumerate(frames)]
