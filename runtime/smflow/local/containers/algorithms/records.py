"""RecordIO-protobuf for the algorithm emulations: numpy in and out of :mod:`smflow.recordio`
(the codec shared with the client), with the algorithms' conventions: features and labels
under the key ``values``, answers as label maps (``{"closest_cluster": ..., ...}``, SageMaker
developer guide, "Common Data Formats for Inference": the RECORDIO response formats)."""

from __future__ import annotations

import numpy as np


class RecordError(ValueError):
    """Corrupt or unusable RecordIO-protobuf data; ``str(e)`` says where and why."""


def decode(data: bytes) -> tuple[np.ndarray, np.ndarray | None]:
    """``(features float32 (rows, columns), labels float32 (rows,) or None)``; sparse rows are
    made dense (their ``shape`` gives the width).

    Raises:
        RecordError: corrupt framing, a record that is not an ``aialgs.data.Record``, a record
            without ``features["values"]``, rows of different widths, labels on some records only.
    """
    from smflow import recordio

    try:
        features, labels = recordio.records_to_numpy(recordio.read_records(data))
    except (recordio.RecordIOError, ValueError) as error:
        raise RecordError(str(error)) from None
    if labels is not None:
        labels = np.asarray(labels, dtype=np.float32).reshape(len(features), -1)[:, 0]
    return np.asarray(features, dtype=np.float32), labels


def encode_answers(rows: list[dict]) -> bytes:
    """One record per answer, its entries in the label map (numbers or lists as float32 tensors)."""
    from smflow import recordio

    return b"".join(recordio.encode_record(label=row) for row in rows)


def encode_rows(features: np.ndarray, labels: np.ndarray | None = None) -> bytes:
    """Dense rows as records (``features["values"]``, ``label["values"]``)."""
    from smflow import recordio

    return recordio.write_records(np.asarray(features), labels)
