"""Reading a training channel as Amazon's built-in algorithms do.

Content types (the channel's ``ContentType`` in ``inputdataconfig.json``; SageMaker developer
guide, "Common Data Formats for Training"):

- ``application/x-recordio-protobuf`` (the default of KMeans, PCA and LinearLearner): RecordIO
  framed ``aialgs.data.Record`` messages, features under the key ``values`` (dense or sparse
  ``float32_tensor`` / ``float64_tensor`` / ``int32_tensor``), the label under ``values`` of the
  label map; decoded with :mod:`smflow.recordio`;
- ``text/csv``: no header, numbers only, the label in the first column
  (``text/csv;label_size=0``: no label column, for the unsupervised algorithms). A first line
  holding a non-numeric field is refused as a header;
- ``text/libsvm`` / ``text/x-libsvm`` (the gradient-boosting image): ``<label>[:<weight>] <index>:<value> ...``.

File mode reads every file below ``input/data/<channel>/`` (sub-folders included, as a
ManifestFile channel lays them out; names starting with ``.`` skipped), in name order. Pipe
mode reads the FIFO ``input/data/<channel>_<epoch>`` that the runtime fills from S3
(:mod:`smflow.local.executors.channels`). Features come back dense (``float32``, shape
``(rows, feature_dim)``); these emulations train on data that fits in memory.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from smflow.local.containers.algorithms.hyperparameters import CustomerError

RECORDIO = "application/x-recordio-protobuf"
CSV = "text/csv"
LIBSVM_TYPES = ("text/libsvm", "text/x-libsvm", "libsvm")
CSV_TYPES = (CSV, "csv")
RECORDIO_TYPES = (RECORDIO, "recordio-protobuf")


@dataclass
class Dataset:
    """``features``: float32 ``(rows, columns)``; ``labels``: float32 ``(rows,)`` or None;
    ``weights``: per-row weights (libsvm ``label:weight``) or None."""

    features: np.ndarray
    labels: np.ndarray | None
    weights: np.ndarray | None = None
    sparse: bool = False  # libsvm: the width is the largest index seen

    @property
    def rows(self) -> int:
        return int(self.features.shape[0])


@dataclass(frozen=True)
class Channel:
    """One channel of the job as the container sees it."""

    name: str
    content_type: str  # base type, lower case
    parameters: dict[str, str]  # e.g. {"label_size": "0"}
    input_mode: str  # "File" or "Pipe"
    base_dir: Path  # /opt/ml

    @property
    def path(self) -> Path:
        return self.base_dir / "input" / "data" / self.name

    def pipe(self, epoch: int = 0) -> Path:
        return self.base_dir / "input" / "data" / f"{self.name}_{epoch}"


def split_content_type(value: str | None) -> tuple[str, dict[str, str]]:
    """``"text/csv; label_size=0"`` -> ``("text/csv", {"label_size": "0"})``."""
    parts = [part.strip() for part in (value or "").split(";")]
    parameters = {}
    for part in parts[1:]:
        key, _, val = part.partition("=")
        if key:
            parameters[key.strip().lower()] = val.strip()
    return parts[0].lower(), parameters


def job_channels(base_dir: Path, default_content_type: str) -> dict[str, Channel]:
    """The channels of ``input/config/inputdataconfig.json`` (ContentType absent: the
    algorithm's default)."""
    config_path = base_dir / "input" / "config" / "inputdataconfig.json"
    config = json.loads(config_path.read_text(encoding="utf-8")) if config_path.is_file() else {}
    channels = {}
    for name, entry in config.items():
        content_type, parameters = split_content_type(entry.get("ContentType") or default_content_type)
        channels[name] = Channel(name, content_type, parameters, entry.get("TrainingInputMode", "File"), base_dir)
    return channels


def _files(folder: Path) -> list[Path]:
    if folder.is_file():
        return [folder]
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found.extend(Path(root) / name for name in sorted(files) if not name.startswith("."))
    return found


def _chunks(channel: Channel, epoch: int = 0) -> list[tuple[str, bytes]]:
    """(source name, bytes) of each file (File mode) or of the channel's pipe (Pipe mode)."""
    if channel.input_mode == "Pipe":
        pipe = channel.pipe(epoch)
        if not pipe.exists():
            raise CustomerError(f"Unable to read data channel {channel.name!r}: pipe {pipe.name} does not exist")
        with open(pipe, "rb") as handle:
            return [(pipe.name, handle.read())]
    files = _files(channel.path)
    chunks = []
    for path in files:
        chunks.append((str(path.relative_to(channel.path)) if path != channel.path else path.name, path.read_bytes()))
    return chunks


def read_channel(channel: Channel, *, allowed: tuple[str, ...], supervised: bool, algorithm: str,
                 epoch: int = 0) -> Dataset:
    """Read the whole channel.

    Raises:
        CustomerError: a content type the algorithm does not take, no data, a CSV header,
            a non-numeric value, a corrupt RecordIO record, rows of different widths, or
            (``supervised``) records without labels.
    """
    if channel.content_type not in allowed:
        raise CustomerError(
            f"Channel {channel.name!r}: ContentType {channel.content_type!r} is not supported by {algorithm}: "
            f"use {', '.join(t for t in allowed if '/' in t)}"
        )
    chunks = [(name, data) for name, data in _chunks(channel, epoch) if data.strip()]
    if not chunks:
        raise CustomerError(
            f"No training data found in channel {channel.name!r}: upload data under the channel's S3 "
            "prefix (or list it in the manifest)"
        )
    parts = []
    for name, data in chunks:
        if channel.content_type in RECORDIO_TYPES:
            parts.append(_read_recordio(data, channel.name, name))
        elif channel.content_type in CSV_TYPES:
            label_size = channel.parameters.get("label_size", "1")
            if label_size not in ("0", "1"):
                raise CustomerError(
                    f"Channel {channel.name!r}: ContentType parameter label_size={label_size} is not supported: "
                    "use label_size=1 (label in the first column) or label_size=0 (no label)"
                )
            parts.append(_read_csv(data, channel.name, name, int(label_size)))
        else:
            parts.append(_read_libsvm(data, channel.name, name))
    return _concatenate(parts, channel.name, supervised)


def _concatenate(parts: list[Dataset], channel: str, supervised: bool) -> Dataset:
    widths = {part.features.shape[1] for part in parts}
    if len(widths) > 1:
        if all(part.sparse for part in parts):
            width = max(widths)  # libsvm: files may end at different columns
            parts = [Dataset(_pad(part.features, width), part.labels, part.weights, True) for part in parts]
        else:
            raise CustomerError(f"Channel {channel!r}: files have different numbers of features: {sorted(widths)}")
    features = np.concatenate([part.features for part in parts]) if len(parts) > 1 else parts[0].features
    if any(part.labels is None for part in parts):
        if supervised:
            raise CustomerError(
                f"Channel {channel!r}: records without a label: this algorithm trains on labelled data "
                "(RecordIO: the label map's 'values'; CSV: the label in the first column)"
            )
        labels = None
    else:
        labels = np.concatenate([part.labels for part in parts])
    weights = None
    if all(part.weights is not None for part in parts):
        weights = np.concatenate([part.weights for part in parts])
    return Dataset(features, labels, weights)


def _pad(features: np.ndarray, width: int) -> np.ndarray:
    if features.shape[1] == width:
        return features
    return np.pad(features, ((0, 0), (0, width - features.shape[1])))


_NUMBER = re.compile(r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$|^\s*[-+]?(nan|inf|infinity)\s*$|^\s*$", re.IGNORECASE)


def _read_csv(data: bytes, channel: str, source: str, label_size: int) -> Dataset:
    text = data.decode("utf-8", errors="replace")
    lines = [line for line in text.splitlines() if line.strip()]
    first = lines[0].split(",")
    if not all(_NUMBER.match(field) for field in first):
        raise CustomerError(
            f"Channel {channel!r}, file {source}: the first line {lines[0][:60]!r} is not numeric: CSV training "
            "data must have no header row (numbers only, the label in the first column); remove the header"
        )
    try:
        rows = [[float(value) if value.strip() else np.nan for value in line.split(",")] for line in lines]
    except ValueError as error:
        raise CustomerError(f"Channel {channel!r}, file {source}: a value is not a number: {error}") from None
    widths = {len(row) for row in rows}
    if len(widths) != 1:
        raise CustomerError(f"Channel {channel!r}, file {source}: rows have different numbers of columns {sorted(widths)}")
    array = np.asarray(rows, dtype=np.float32)
    if label_size == 0:
        return Dataset(array, None)
    if array.shape[1] < 2:
        raise CustomerError(f"Channel {channel!r}, file {source}: a CSV row needs a label and at least one feature")
    return Dataset(np.ascontiguousarray(array[:, 1:]), array[:, 0].copy())


def _read_libsvm(data: bytes, channel: str, source: str) -> Dataset:
    labels, weights, rows = [], [], []
    width = 0
    any_weight = False
    for number, line in enumerate(data.decode("utf-8", errors="replace").splitlines(), start=1):
        tokens = line.split("#", 1)[0].split()
        if not tokens:
            continue
        try:
            label, _, weight = tokens[0].partition(":")
            labels.append(float(label))
            weights.append(float(weight) if weight else 1.0)
            any_weight = any_weight or bool(weight)
            row = {}
            for token in tokens[1:]:
                index, _, value = token.partition(":")
                if not _:
                    raise ValueError(token)
                row[int(index)] = float(value)
                width = max(width, int(index) + 1)
        except ValueError:
            raise CustomerError(
                f"First line {line[:50]!r}... of file {source!r} (line {number}) is not 'LIBSVM' format. Please "
                "ensure the file is in 'LIBSVM' format: <label>[:<weight>] <index>:<value> ..."
            ) from None
        rows.append(row)
    features = np.zeros((len(rows), width), dtype=np.float32)
    for index, row in enumerate(rows):
        for column, value in row.items():
            features[index, column] = value
    return Dataset(features, np.asarray(labels, dtype=np.float32),
                   np.asarray(weights, dtype=np.float32) if any_weight else None, sparse=True)


def _read_recordio(data: bytes, channel: str, source: str) -> Dataset:
    from smflow.local.containers.algorithms import records

    try:
        features, labels = records.decode(data)
    except records.RecordError as error:
        raise CustomerError(f"Unable to read data channel {channel!r}, file {source}: {error}") from None
    return Dataset(features, labels)


def check_feature_dim(dataset: Dataset, feature_dim: int | None, channel: str) -> None:
    """Raises CustomerError when the data's width is not the ``feature_dim`` hyperparameter."""
    if feature_dim is not None and dataset.features.shape[1] != feature_dim:
        raise CustomerError(
            f"Channel {channel!r}: the data has {dataset.features.shape[1]} features but the hyperparameter "
            f"feature_dim is {feature_dim}: set feature_dim to the number of feature columns"
        )
