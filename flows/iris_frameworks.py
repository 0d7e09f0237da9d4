"""``iris-framework-lifecycle``: the Iris lifecycle of ``iris_lifecycle.py`` trained with one of
SageMaker's framework containers (PyTorch, TensorFlow, MXNet, Chainer or XGBoost) instead of
scikit-learn; the Prefect twin of the Airflow DAGs ``iris_lifecycle_<framework>``.

upload Iris -> train (``dags/scripts/<framework>_iris.py``, with the framework's version,
py_version and a metric definition) -> create the model (the framework's inference image) ->
deploy (``teardown_on_failure``) -> predict the blog's 29 test rows as JSON -> delete the
endpoint.

Runs on AWS: ``iris_framework_lifecycle("pytorch", aws_credentials=AwsCredentials.load("..."),
role="SageMakerRole")`` (a role name or ARN), and on the smflow local runtime (which runs the
framework containers' contract in local environments, without Docker): see
``tests/prefect/test_framework_flows.py``.
"""

# No `from __future__ import annotations`: Prefect validates parameters against real annotations.

import tempfile
from pathlib import Path
from typing import Any, Literal

from prefect import flow
from prefect_aws import AwsCredentials

from smflow_prefect import (
    create_model,
    delete_endpoint,
    delete_endpoints_on_failure,
    deploy_model,
    predict,
    retry_transient_only,
    train_model,
    upload_data,
)

SCRIPTS = Path(__file__).resolve().parents[1] / "dags" / "scripts"
INSTANCE_TYPE = "ml.m5.xlarge"
VARIANTS = {
    "pytorch": {"entry_point": str(SCRIPTS / "pytorch_iris.py"), "framework_version": "2.0.1",
                "py_version": "py310", "hyperparameters": {"epochs": 300, "lr": 0.05}},
    "tensorflow": {"entry_point": str(SCRIPTS / "tensorflow_iris.py"), "framework_version": "2.13",
                   "py_version": "py310", "hyperparameters": {"epochs": 200, "lr": 0.05}},
    "mxnet": {"entry_point": str(SCRIPTS / "mxnet_iris.py"), "framework_version": "1.9.0",
              "py_version": "py38", "hyperparameters": {"epochs": 100, "lr": 0.05}},
    "chainer": {"entry_point": str(SCRIPTS / "chainer_iris.py"), "framework_version": "5.0.0",
                "py_version": "py3", "hyperparameters": {"epochs": 100, "lr": 0.05}},
    "xgboost": {"entry_point": str(SCRIPTS / "xgboost_iris.py"), "framework_version": "1.7-1",
                "py_version": "py3", "hyperparameters": {"num_round": 50, "max_depth": 3}},
}
METRICS = [{"Name": "train:accuracy", "Regex": "train_accuracy=([0-9.]+)"}]


def training_arguments(framework: str, train_input: str, role: str | None) -> dict[str, Any]:
    """The SDK-style arguments of the flow's training job for ``framework``."""
    return {**VARIANTS[framework], "framework": framework, "instance_type": INSTANCE_TYPE,
            "inputs": {"train": train_input}, "metric_definitions": METRICS, "base_job_name": f"iris-{framework}",
            "role": role}


def _run_id() -> str:
    from prefect.runtime import flow_run

    return str(flow_run.get_id() or "no-flow-run")


@flow(name="iris-framework-lifecycle", log_prints=True, on_failure=[delete_endpoints_on_failure],
      on_crashed=[delete_endpoints_on_failure], on_cancellation=[delete_endpoints_on_failure])
def iris_framework_lifecycle(
    framework: Literal["pytorch", "tensorflow", "mxnet", "chainer", "xgboost"] = "pytorch",
    aws_credentials: AwsCredentials | None = None,
    bucket: str | None = None,
    role: str | None = None,
    endpoint_name: str | None = None,
) -> dict:
    """Train, deploy, predict with and delete an Iris model of ``framework``.

    Returns: ``{"training_job", "model", "endpoint", "predictions"}``: one answer per test row,
    a class index (PyTorch, MXNet, Chainer) or the class probabilities (TensorFlow Serving's
    scores, XGBoost's ``multi:softprob``), as the framework's script answers JSON.
    """
    from smflow import naming
    from smflow.examples import iris

    credentials = {"aws_credentials": aws_credentials}
    run_id = _run_id()
    endpoint_name = endpoint_name or naming.stable_name(f"iris-{framework}", run_id)
    with tempfile.TemporaryDirectory(prefix="smflow-iris-") as scratch:
        train_csv = iris.write_training_csv(Path(scratch) / "train" / "iris.csv")
        train_input = upload_data(str(train_csv.parent), key_prefix=f"prefect-iris-{framework}/{run_id}/data",
                                  bucket=bucket, **credentials)
    job = train_model.with_options(retries=1, retry_condition_fn=retry_transient_only)(
        **training_arguments(framework, train_input, role), default_bucket=bucket, **credentials,
    )
    model = create_model(training_job_name=job["TrainingJobName"], instance_type=INSTANCE_TYPE, role=role,
                         default_bucket=bucket, **credentials)
    endpoint = deploy_model(model["ModelName"], endpoint_name=endpoint_name, instance_type=INSTANCE_TYPE,
                            teardown_on_failure=True, **credentials)
    test_x, _ = iris.blog_test_rows()
    predictions = predict(endpoint["EndpointName"], test_x.tolist(), content_type="application/json",
                          accept="application/json", **credentials)
    delete_endpoint.with_options(retries=2)(endpoint["EndpointName"], **credentials)
    return {"training_job": job["TrainingJobName"], "model": model["ModelName"],
            "endpoint": endpoint["EndpointName"], "predictions": predictions}
