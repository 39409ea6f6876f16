"""Test predictions per utterance and layer, streamed to a Parquet file.

Columns: ``id``, ``layer``, ``label_index`` (int32 list: the label frame of
each prediction), ``f0_hz`` (float32 labels), ``pred_<target>`` (float32
predictions of each target's probe). The schema metadata key ``pitchprobe``
holds JSON with the language, train language, model and label parameters
(including ``hop_samples`` and ``first_centre_samples``, which place each
label frame in time).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from pitchprobe.core.atomic import atomic_path
from pitchprobe.probe.metrics import TARGETS

PREDICTION_FLUSH = 64  # utterances per Parquet row group of test predictions


class PredictionWriter:
    """Test predictions per utterance and layer, streamed to a Parquet file (renamed into place at the end)."""

    def __init__(self, path: Path, meta: dict):
        import pyarrow as pa

        self.path = path
        self.schema = pa.schema(
            [
                ("id", pa.string()),
                ("layer", pa.int32()),
                ("label_index", pa.list_(pa.int32())),
                ("f0_hz", pa.list_(pa.float32())),
                *[(f"pred_{t}", pa.list_(pa.float32())) for t in TARGETS],
            ],
            metadata={"pitchprobe": json.dumps(meta)},
        )
        self.rows: list[dict] = []
        self._ctx = atomic_path(path)
        self.tmp = self._ctx.__enter__()
        self.writer = None

    def add(self, utt_id: str, label_index: np.ndarray, f0: np.ndarray, preds: list[np.ndarray]) -> None:
        for layer, p in enumerate(preds):
            self.rows.append(
                {
                    "id": utt_id,
                    "layer": layer,
                    "label_index": label_index.astype(np.int32),
                    "f0_hz": f0.astype(np.float32),
                    **{f"pred_{t}": p[:, i].astype(np.float32) for i, t in enumerate(TARGETS)},
                }
            )
        if len(self.rows) >= PREDICTION_FLUSH * max(1, len(preds)):
            self._flush()

    def _flush(self) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        if not self.rows:
            return
        if self.writer is None:
            self.writer = pq.ParquetWriter(self.tmp, self.schema)
        self.writer.write_table(pa.Table.from_pylist(self.rows, schema=self.schema))
        self.rows.clear()

    def close(self, ok: bool) -> None:
        if ok:
            self._flush()
            if self.writer is None:
                import pyarrow.parquet as pq

                pq.write_table(self.schema.empty_table(), self.tmp)
        if self.writer is not None:
            self.writer.close()
        if ok:
            self._ctx.__exit__(None, None, None)
        else:
            self._ctx.__exit__(RuntimeError, RuntimeError("aborted"), None)


__all__ = ["PREDICTION_FLUSH", "PredictionWriter"]
