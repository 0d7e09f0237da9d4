"""Bad input to the built-in algorithms: the job fails with the algorithm's ClientError, and
nothing else is affected (the next job and an endpoint serving meanwhile work)."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest

from smflow import recordio
from tests.local.algorithms.conftest import XGBOOST_IMAGE, algorithm_image, csv_bytes

pytestmark = pytest.mark.integration
KMEANS = algorithm_image("kmeans")


@pytest.fixture(scope="module")
def digits_channel(api, digits):
    return api.put("bad/digits/train.rec", recordio.write_records(digits[0][:400]))


@pytest.mark.parametrize(("hyperparameters", "reason"), [
    ({"feature_dim": 64}, "ClientError: No value(s) were specified for 'k' which are required hyperparameter(s)"),
    ({"k": 10, "feature_dim": 64, "mini_bach_size": 100},
     "ClientError: Additional hyperparameters are not allowed ('mini_bach_size' was unexpected)"),
    ({"k": 10, "feature_dim": 64, "init_method": "best"},
     "ClientError: Hyperparameter 'init_method': value 'best' is not valid: not in ['random', 'kmeans++']"),
    ({"k": 10, "feature_dim": 10},
     "ClientError: Channel 'train': the data has 64 features but the hyperparameter feature_dim is 10"),
])
def test_bad_hyperparameters_fail_the_job_with_the_algorithm_s_message(api, digits_channel, hyperparameters, reason):
    job = api.train("kmeans-bad", KMEANS, hyperparameters, {"train": digits_channel})
    assert job["TrainingJobStatus"] == "Failed"
    assert job["FailureReason"].startswith(reason), job["FailureReason"]
    assert "ModelArtifacts" not in job or not job["ModelArtifacts"].get("S3ModelArtifacts")


def test_a_corrupt_recordio_record_names_the_channel_file_and_offset(api, digits):
    good = recordio.write_records(digits[0][:20])
    length = struct.unpack_from("<I", good, 4)[0] & ((1 << 29) - 1)
    second = 8 + length + (-length % 4)  # the second record's header: its magic number is overwritten
    corrupt = good[:second] + b"\x00\x01\x02\x03" + good[second + 4:]
    channel = api.put("bad/corrupt/train.rec", corrupt)
    job = api.train("kmeans-corrupt", KMEANS, {"k": 3, "feature_dim": 64}, {"train": channel})
    assert job["TrainingJobStatus"] == "Failed"
    assert job["FailureReason"].startswith("ClientError: Unable to read data channel 'train', file train.rec: "
                                           f"Invalid RecordIO-protobuf data at byte offset {second}"), job["FailureReason"]


def test_a_csv_header_is_refused(api, digits):
    table = csv_bytes(np.column_stack([digits[1][:50], digits[0][:50]]))
    channel = api.put("bad/header/train.csv", b"label," + b",".join(b"p%d" % i for i in range(64)) + b"\n" + table)
    job = api.train("ll-header", algorithm_image("linear-learner"),
                    {"predictor_type": "multiclass_classifier", "num_classes": 10},
                    {"train": {"uri": channel, "content_type": "text/csv"}})
    assert job["TrainingJobStatus"] == "Failed"
    assert "is not numeric: CSV training data must have no header row" in job["FailureReason"]


def test_a_failed_job_leaves_serving_and_training_working(api, digits, digits_channel):
    job = api.train("kmeans-ok", KMEANS, {"k": 4, "feature_dim": 64}, {"train": digits_channel})
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    endpoint = api.deploy(api.create_model(job, KMEANS))
    try:
        failed = api.train("kmeans-bad", KMEANS, {"k": 4}, {"train": digits_channel})
        assert failed["TrainingJobStatus"] == "Failed"
        body, _ = api.invoke(endpoint, csv_bytes(digits[0][:3]), "text/csv", "application/json")
        assert len(json.loads(body)["predictions"]) == 3
        # a request of the wrong width is the caller's error (4xx, the model's message), the endpoint stays up
        with pytest.raises(api.runtime.exceptions.ModelError) as error:
            api.invoke(endpoint, csv_bytes(digits[0][:3, :10]), "text/csv", "application/json")
        assert error.value.response["OriginalStatusCode"] == 400
        assert "trained with feature_dim 64" in error.value.response["Error"]["Message"]
        with pytest.raises(api.runtime.exceptions.ModelError) as error:
            api.invoke(endpoint, b"\x00garbage", "application/x-recordio-protobuf", "application/json")
        assert error.value.response["OriginalStatusCode"] == 400
        body, _ = api.invoke(endpoint, csv_bytes(digits[0][:1]), "text/csv", "application/json")
        assert len(json.loads(body)["predictions"]) == 1
    finally:
        api.delete_endpoint(endpoint)


def test_xgboost_without_num_round_and_with_an_unknown_hyperparameter(api, digits):
    channel = api.put("bad/xgb/train.csv", csv_bytes(np.column_stack([digits[1][:50] % 2, digits[0][:50]])))
    missing = api.train("xgb-bad", XGBOOST_IMAGE, {"max_depth": 3}, {"train": {"uri": channel, "content_type": "text/csv"}})
    assert missing["FailureReason"] == "ClientError: Missing required hyperparameter: num_round"
    unknown = api.train("xgb-bad", XGBOOST_IMAGE, {"num_round": 3, "max_dept": 3},
                        {"train": {"uri": channel, "content_type": "text/csv"}})
    assert unknown["FailureReason"] == "ClientError: Extraneous hyperparameter found: max_dept"
