"""The algorithm emulations' parts without a runtime: the NDArray file layout, hyperparameter
checks, channel readers, and the Pipe-mode FIFOs fed from S3."""

from __future__ import annotations

import io
import os
import struct
import threading

import numpy as np
import pytest

from smflow import recordio
from smflow.local.containers.algorithms import data, hyperparameters, kmeans, ndarray
from smflow.local.executors.channels import PipeFeeder


def test_ndarray_files_have_the_published_layout_and_read_back():
    centroids = np.arange(6, dtype=np.float32).reshape(2, 3)
    raw = ndarray.dumps([centroids])
    assert struct.unpack_from("<QQQ", raw) == (0x112, 0, 1)  # list magic, reserved, one array
    assert struct.unpack_from("<Ii", raw, 24) == (0xF993FAC9, 0)  # V2 magic, dense storage
    assert struct.unpack_from("<Iqq", raw, 32) == (2, 2, 3)  # ndim, shape as int64
    assert struct.unpack_from("<iii", raw, 52) == (1, 0, 0)  # CPU, device 0, float32
    assert np.frombuffer(raw, np.float32, 6, 64).tolist() == centroids.ravel().tolist()
    assert raw[88:] == struct.pack("<Q", 0)  # no names: a list
    assert np.array_equal(ndarray.loads(raw)[0], centroids)
    named = ndarray.loads(ndarray.dumps({"v": centroids, "s": np.ones(2, np.float32)}))
    assert list(named) == ["v", "s"] and np.array_equal(named["v"], centroids)
    with pytest.raises(ndarray.NDArrayFormatError):
        ndarray.loads(raw[:70])


def test_hyperparameters_parse_types_defaults_and_auto():
    checked = hyperparameters.validate({"k": "4", "feature_dim": "8.0", "eval_metrics": '["msd","ssd"]',
                                        "local_lloyd_num_trials": "auto"}, kmeans.PARAMS)
    assert checked["k"] == 4 and checked["feature_dim"] == 8
    assert checked["eval_metrics"] == ["msd", "ssd"] and checked["local_lloyd_num_trials"] is None
    assert checked["init_method"] == "random" and checked["mini_batch_size"] == 5000
    with pytest.raises(hyperparameters.CustomerError, match="No value\\(s\\) were specified for 'k', 'feature_dim'"):
        hyperparameters.validate({}, kmeans.PARAMS)
    with pytest.raises(hyperparameters.CustomerError, match="'eval_metrics': value '\\[\"mse\"\\]' is not valid"):
        hyperparameters.validate({"k": "4", "feature_dim": "8", "eval_metrics": '["mse"]'}, kmeans.PARAMS)


def _channel(tmp_path, content_type: str, files: dict[str, bytes], mode: str = "File") -> data.Channel:
    folder = tmp_path / "input" / "data" / "train"
    folder.mkdir(parents=True, exist_ok=True)
    for name, body in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(body)
    base, parameters = data.split_content_type(content_type)
    return data.Channel("train", base, parameters, mode, tmp_path)


def test_readers_take_recordio_csv_and_libsvm_and_refuse_a_header(tmp_path):
    rows = np.arange(12, dtype=np.float32).reshape(4, 3)
    allowed = ("application/x-recordio-protobuf", "text/csv", "text/libsvm")
    read = data.read_channel(_channel(tmp_path / "a", "application/x-recordio-protobuf",
                                      {"x.rec": recordio.write_records(rows, np.arange(4))}),
                             allowed=allowed, supervised=True, algorithm="test")
    assert np.array_equal(read.features, rows) and read.labels.tolist() == [0, 1, 2, 3]
    read = data.read_channel(_channel(tmp_path / "b", "text/csv", {"sub/part.csv": b"1,2,3\n0,4,5\n"}),
                             allowed=allowed, supervised=True, algorithm="test")
    assert read.labels.tolist() == [1, 0] and read.features.tolist() == [[2, 3], [4, 5]]
    read = data.read_channel(_channel(tmp_path / "c", "text/libsvm", {"a": b"1 0:1.5 3:2\n0:2 1:1\n"}),
                             allowed=allowed, supervised=True, algorithm="test")
    assert read.features.tolist() == [[1.5, 0, 0, 2], [0, 1, 0, 0]] and read.weights.tolist() == [1, 2]
    with pytest.raises(data.CustomerError, match="must have no header row"):
        data.read_channel(_channel(tmp_path / "d", "text/csv", {"a.csv": b"label,x\n1,2\n"}),
                          allowed=allowed, supervised=True, algorithm="test")


class _FakeS3:
    """get_object and list_objects_v2 over a dict, as much of boto3 as PipeFeeder uses."""

    def __init__(self, objects: dict[str, bytes]):
        self.objects = objects

    def get_paginator(self, name):
        objects = self.objects

        class _Paginator:
            def paginate(self, Bucket, Prefix):  # noqa: N803 - boto3's names
                yield {"Contents": [{"Key": key} for key in sorted(objects) if key.startswith(Prefix)]}

        return _Paginator()

    def get_object(self, Bucket, Key):  # noqa: N803
        return {"Body": io.BytesIO(self.objects[Key])}


def test_pipe_mode_streams_the_objects_once_per_epoch(tmp_path):
    s3 = _FakeS3({"in/a": b"first,", "in/b": b"second"})
    channel = {"ChannelName": "train", "DataSource": {"S3DataSource": {"S3Uri": "s3://bucket/in/"}}}
    feeder = PipeFeeder(s3, channel, tmp_path)
    feeder.start()
    try:
        for epoch in range(2):
            pipe = tmp_path / f"train_{epoch}"
            for _ in range(200):
                if pipe.exists():
                    break
                threading.Event().wait(0.01)
            assert os.path.exists(pipe)
            with open(pipe, "rb") as handle:
                assert handle.read() == b"first,second"
    finally:
        feeder.stop()
    assert feeder.epochs_served == 2
    assert not any(path.name.startswith("train_") for path in tmp_path.iterdir())  # stop() removes the waiting pipe
