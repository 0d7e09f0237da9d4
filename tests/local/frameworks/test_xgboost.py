"""XGBoost in script mode on the local runtime (``dags/scripts/xgboost_iris.py``), driven with raw
boto3 as the SageMaker Python SDK's ``XGBoost`` estimator and ``XGBoostModel`` send it: the
``sagemaker-xgboost`` image runs the script because ``sagemaker_program`` is set; the model
server imports it and answers JSON; batch transform sends CSV lines through it."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import numpy as np
import pytest

from smflow.examples import iris
from tests.local.algorithms.conftest import XGBOOST_IMAGE, csv_bytes

pytestmark = pytest.mark.integration
SCRIPT = Path(__file__).resolve().parents[3] / "dags" / "scripts" / "xgboost_iris.py"

# the local runtime fixture and the boto3 steps of the algorithm tests
from tests.local.algorithms.conftest import api  # noqa: E402, F401


def _sourcedir(api) -> str:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        archive.add(SCRIPT, arcname=SCRIPT.name)
    return api.put("xgb-script/sourcedir.tar.gz", buffer.getvalue())


@pytest.fixture(scope="module")
def trained(api, tmp_path_factory):
    train_csv = iris.write_training_csv(tmp_path_factory.mktemp("iris") / "iris.csv")
    train = api.put("xgb-script/train/iris.csv", train_csv.read_bytes())
    code = _sourcedir(api)
    job = api.train("xgb-script", XGBOOST_IMAGE, {
        "num_round": "30", "max_depth": "3",
        "sagemaker_program": json.dumps(SCRIPT.name), "sagemaker_submit_directory": json.dumps(code),
        "sagemaker_container_log_level": "20", "sagemaker_region": json.dumps("us-east-1"),
    }, {"train": {"uri": train, "content_type": "text/csv"}})
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    return job, code


@pytest.fixture(scope="module")
def model(api, trained):
    job, code = trained
    return api.create_model(job, XGBOOST_IMAGE, {"SAGEMAKER_PROGRAM": SCRIPT.name, "SAGEMAKER_SUBMIT_DIRECTORY": code})


def test_the_script_trains_and_saves_the_booster(api, trained):
    job, _ = trained
    assert set(api.model_files(job)) == {"xgboost-model"}


def test_the_endpoint_serves_the_blog_rows_as_json(api, model):
    rows, labels = iris.blog_test_rows()
    endpoint = api.deploy(model)
    try:
        body, content_type = api.invoke(endpoint, json.dumps(rows.tolist()), "application/json", "application/json")
        assert content_type == "application/json"
        probabilities = np.asarray(json.loads(body))
        assert probabilities.shape == (29, 3)
        np.testing.assert_allclose(probabilities.sum(1), 1.0, rtol=1e-5)
        assert (probabilities.argmax(1) == labels).mean() >= 0.9
        # the container's default output_fn answers CSV too
        body, content_type = api.invoke(endpoint, csv_bytes(rows[:3]), "text/csv", "text/csv")
        assert content_type == "text/csv" and len(body.decode().strip().splitlines()) == 3
        # a script error is the model's error, and the endpoint stays up
        with pytest.raises(api.runtime.exceptions.ModelError) as error:
            api.invoke(endpoint, b"1,2", "application/x-npy", "application/json")
        assert "unsupported content type" in error.value.response["Error"]["Message"]
        body, _ = api.invoke(endpoint, json.dumps(rows[:1].tolist()), "application/json", "application/json")
        assert np.asarray(json.loads(body)).shape == (1, 3)
    finally:
        api.delete_endpoint(endpoint)


def test_batch_transform_sends_csv_lines_through_the_script(api, model):
    rows, labels = iris.blog_test_rows()
    source = api.put("xgb-script/batch/rows.csv", csv_bytes(rows))
    job = api.transform(model, source, "text/csv", "application/json", "Line", BatchStrategy="SingleRecord")
    assert job["TransformJobStatus"] == "Completed", job.get("FailureReason")
    lines = [line for line in api.output(job, "rows.csv.out").decode().splitlines() if line]
    probabilities = np.asarray([json.loads(line)[0] for line in lines])
    assert probabilities.shape == (29, 3)
    assert (probabilities.argmax(1) == labels).mean() >= 0.9
