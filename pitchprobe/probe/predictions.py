"""Test predictions per utterance and layer, streamed to a Parquet file.

Predictions (:class:`PredictionWriter`). Columns: ``id``, ``layer``, ``label_index`` (int32 list: the label frame of
each prediction), ``centre_samples`` (int64 list: where that label frame sits in the audio, its placed
centre, :mod:`pitchprobe.core.timing`), ``f0_hz`` (float32 labels), ``pred_<target>`` (float32
predictions of each target's probe). The schema metadata key ``pitchprobe``
holds JSON with the language, train language, model and label parameters (the nominal grid, and how
the labels are placed).

Per-utterance statistics (:class:`StatsWriter`), kept for every scored probe: ``id``, ``layer`` and
the metric sums, from which every metric and its bootstrap follow.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from pitchprobe.core.atomic import atomic_path
from pitchprobe.probe.metrics import SUM_NAMES, TARGETS

PREDICTION_FLUSH = 64  # utterances per Parquet row group of test predictions


class _ParquetStream:
    """Rows streamed to a Parquet file in row groups, renamed into place by :meth:`close` (``ok``) only."""

    def __init__(self, path: Path, schema, *, flush_rows: int):
        self.path, self.schema, self.flush_rows = path, schema, flush_rows
        self.rows: list[dict] = []
        self._ctx = atomic_path(path)
        self.tmp = self._ctx.__enter__()
        self.writer = None

    def extend(self, rows: list[dict]) -> None:
        self.rows += rows
        if len(self.rows) >= self.flush_rows:
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


class PredictionWriter(_ParquetStream):
    """Test predictions per utterance and layer, streamed to a Parquet file (renamed into place at the end)."""

    def __init__(self, path: Path, meta: dict):
        import pyarrow as pa

        schema = pa.schema(
            [
                ("id", pa.string()),
                ("layer", pa.int32()),
                ("label_index", pa.list_(pa.int32())),
                ("centre_samples", pa.list_(pa.int64())),
                ("f0_hz", pa.list_(pa.float32())),
                *[(f"pred_{t}", pa.list_(pa.float32())) for t in TARGETS],
            ],
            metadata={"pitchprobe": json.dumps(meta)},
        )
        super().__init__(path, schema, flush_rows=PREDICTION_FLUSH)

    def add(
        self, utt_id: str, label_index: np.ndarray, centres: np.ndarray, f0: np.ndarray, preds: list[np.ndarray]
    ) -> None:
        """One utterance: label frames ``label_index`` (T,) at ``centres`` (T,) samples; ``preds[l]`` (T, 6) of layer
        ``l``."""
        self.flush_rows = PREDICTION_FLUSH * max(1, len(preds))
        self.extend(
            [
                {
                    "id": utt_id,
                    "layer": layer,
                    "label_index": label_index.astype(np.int32),
                    "centre_samples": np.asarray(centres, dtype=np.int64),
                    "f0_hz": f0.astype(np.float32),
                    **{f"pred_{t}": p[:, i].astype(np.float32) for i, t in enumerate(TARGETS)},
                }
                for layer, p in enumerate(preds)
            ]
        )


class StatsWriter:
    """Per-utterance sufficient statistics of every layer's probes (:data:`~pitchprobe.probe.metrics.SUM_NAMES`).

    Columns ``id``, ``layer`` and one float64 column per statistic: every metric and the bootstrap of
    :mod:`pitchprobe.analysis.stats` follow from them, for probes whose predictions are not kept. Rows are
    buffered as arrays (columns), so that a study scoring a hundred probes per utterance stays cheap.
    """

    def __init__(self, path: Path, meta: dict):
        import pyarrow as pa

        schema = pa.schema(
            [("id", pa.string()), ("layer", pa.int32()), *[(n, pa.float64()) for n in SUM_NAMES]],
            metadata={"pitchprobe": json.dumps(meta)},
        )
        self._stream = _ParquetStream(path, schema, flush_rows=1)
        self._ids: list[str] = []
        self._cols: list[dict[str, np.ndarray]] = []
        self._layers = 0

    def add(self, utt_id: str, sums: dict[str, np.ndarray], *, layers: int) -> None:
        """One utterance's :func:`~pitchprobe.probe.metrics.utterance_sums` of its first ``layers`` predictors."""
        self._layers = layers
        self._ids.append(utt_id)
        self._cols.append({n: np.asarray(sums[n][:layers], dtype=np.float64) for n in SUM_NAMES})
        if len(self._ids) >= PREDICTION_FLUSH * 4:
            self._flush()

    def _flush(self) -> None:
        import pyarrow as pa

        if not self._ids:
            return
        columns = {
            "id": pa.array(np.repeat(np.array(self._ids, dtype=object), self._layers), type=pa.string()),
            "layer": pa.array(np.tile(np.arange(self._layers, dtype=np.int32), len(self._ids))),
            **{n: pa.array(np.concatenate([c[n] for c in self._cols])) for n in SUM_NAMES},
        }
        s = self._stream
        if s.writer is None:
            import pyarrow.parquet as pq

            s.writer = pq.ParquetWriter(s.tmp, s.schema)
        s.writer.write_table(pa.table(columns, schema=s.schema))
        self._ids, self._cols = [], []

    def close(self, ok: bool) -> None:
        if ok:
            self._flush()
        self._stream.close(ok)


__all__ = ["PREDICTION_FLUSH", "PredictionWriter", "StatsWriter"]
