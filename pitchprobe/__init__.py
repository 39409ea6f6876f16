"""pitchprobe: how much pitch (F0) does each layer of a speech model hold?

The package is laid out by stage, each a plain function with a thin CLI on top
(:mod:`pitchprobe.cli`):

- :mod:`pitchprobe.core`: errors, atomic writes, audio, alignment, and the on-disk layout
- :mod:`pitchprobe.data`: FLEURS (or your own recordings) -> JSONL manifests
- :mod:`pitchprobe.labels`: pYAAPT F0 labels, stored as Parquet
- :mod:`pitchprobe.models`: model identity; hidden states of every layer (S3PRL or transformers)
- :mod:`pitchprobe.probe`: the streaming probe (in-memory core, file runner, results schema, transfer)
- :mod:`pitchprobe.study`: many languages x models, resumable, fingerprinted
- :mod:`pitchprobe.analysis`: tidy table, statistics, figures and the report
"""

__version__ = "0.1.0"
