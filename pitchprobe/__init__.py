"""pitchprobe: how much pitch (F0) does each layer of a speech model hold?

Stages, one module each, each a plain function with a thin CLI on top
(:mod:`pitchprobe.cli`):

- :mod:`pitchprobe.gather`: FLEURS (or your own recordings) -> JSONL manifests
- :mod:`pitchprobe.pitch`: pYAAPT F0 labels, stored as Parquet
- :mod:`pitchprobe.models`: hidden states of every layer (S3PRL or transformers)
- :mod:`pitchprobe.align`: model frames -> label frames by frame-centre time
- :mod:`pitchprobe.ridge` and :mod:`pitchprobe.metrics`: the streaming probe
- :mod:`pitchprobe.probe`: the whole probe run for one language and model
"""

__version__ = "0.1.0"
