"""``iris-lifecycle``: the Iris lifecycle of the seed blog post (seed 002) as a Prefect flow.

upload Iris -> train the blog's DecisionTree script -> attach -> create the model -> deploy ->
predict the blog's 29 test rows (accuracy checked against ``min_accuracy``) -> batch-transform a
CSV file -> show its output -> delete the endpoint. The same steps as the Airflow DAG
``iris_lifecycle``.

The endpoint is deployed with ``teardown_on_failure`` and the flow has the hook
``delete_endpoints_on_failure``: if a later step fails (say the accuracy is below
``min_accuracy``) or the run crashes, the endpoint is deleted, so a failed run does not leave a
paid endpoint running (a killed process runs no hook: see :mod:`smflow_prefect.hosting`).
Training and transform retries attach to the job the first attempt started, and only transient
errors are retried (``retry_transient_only``): a job that ended Failed, i.e. the training
script's own error, is not retried into a second paid job.

Run it on smflow's local runtime (started in the background if it is not running) with Prefect's
ephemeral API, no Prefect server to install::

    python flows/iris_lifecycle.py
    python flows/iris_lifecycle.py --endpoint-url http://127.0.0.1:9510   # a runtime already up

On AWS, call ``iris_lifecycle(aws_credentials=AwsCredentials.load("..."), role="arn:...")``.
Importing this file makes no network calls and loads no scikit-learn; nearly all of its import
time is Prefect's and prefect-aws's own.
"""

# No `from __future__ import annotations` here: Prefect validates the parameters of a deployment
# run against the flow's annotations, which must then be real types, not strings.

import argparse
import os
import sys
import tempfile
from pathlib import Path


if __name__ == "__main__":  # an offline example run: no telemetry ("Failed to send telemetry" errors)
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")

from prefect import flow, task
from prefect_aws import AwsCredentials

from smflow_prefect import (
    attach_training_job,
    batch_transform,
    create_model,
    delete_endpoint,
    delete_endpoints_on_failure,
    deploy_model,
    predict,
    retry_transient_only,
    train_model,
    upload_data,
)

FEATURE_NAMES = ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"]
BATCH_FILE = "iris-features.csv"


def _run_id() -> str:
    from prefect.runtime import flow_run

    return str(flow_run.get_id() or "no-flow-run")


@task
def evaluate(predictions: list, labels: list, min_accuracy: float) -> dict:
    """Accuracy of the predictions on the blog's test rows; fails below ``min_accuracy``."""
    from smflow.examples import iris

    accuracy = iris.accuracy(predictions, labels)
    species = iris.species_names(predictions)
    print(f"Predicted {len(species)} rows, accuracy {accuracy:.3f}")
    print("Species: " + ", ".join(species))
    if accuracy < min_accuracy:
        raise ValueError(f"accuracy {accuracy:.3f} is below min_accuracy {min_accuracy}")
    return {"accuracy": accuracy, "species": species}


@task
def show_transform_output(output_path: str, aws_credentials: AwsCredentials | None = None) -> dict:
    """Where the batch output is, and its first lines."""
    from smflow_prefect.clients import sagemaker_client

    uri = f"{output_path.rstrip('/')}/{BATCH_FILE}.out"
    bucket, _, key = uri[len("s3://"):].partition("/")
    body = sagemaker_client(aws_credentials).s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    lines = body.decode().splitlines()
    print(f"Batch transform output at {uri}; first lines:")
    for line in lines[:5]:
        print(f"  {line}")
    return {"output": uri, "head": lines[:5], "rows": len(lines)}


@flow(name="iris-lifecycle", log_prints=True, on_failure=[delete_endpoints_on_failure],
      on_crashed=[delete_endpoints_on_failure], on_cancellation=[delete_endpoints_on_failure])
def iris_lifecycle(
    aws_credentials: AwsCredentials | None = None,
    bucket: str | None = None,
    max_leaf_nodes: int = 30,
    min_accuracy: float = 0.9,
    role: str | None = None,
    endpoint_name: str | None = None,
    teardown_on_failure: bool = True,
) -> dict:
    """Train, deploy, predict, batch-transform and clean up the seed blog's Iris model.

    Args:
        aws_credentials: prefect-aws block (endpoint URL of the local runtime, or AWS); default
            boto3's chain.
        bucket: S3 bucket; default ``sagemaker-<region>-<account>``, created when missing.
        min_accuracy: the run fails (and the endpoint is torn down) below this accuracy.
        teardown_on_failure: delete the endpoint when a step after its deployment fails.
        role: SageMaker execution role ARN (AWS only).
        endpoint_name: default ``iris-<hash of the flow run id>``, the same on a retry of the run.

    Returns: ``{"training_job", "model_data", "model", "endpoint", "accuracy", "species",
        "transform_output", "transform_head"}``.
    """
    from smflow import naming
    from smflow.examples import iris

    credentials = {"aws_credentials": aws_credentials}
    run_id = _run_id()
    prefix = f"prefect-iris-lifecycle/{run_id}"
    endpoint_name = endpoint_name or naming.stable_name("iris", run_id)
    test_x, test_y = iris.blog_test_rows()
    with tempfile.TemporaryDirectory(prefix="smflow-iris-") as scratch:
        train_csv = iris.write_training_csv(Path(scratch) / "train" / "iris.csv")
        batch_csv = iris.write_features_csv(Path(scratch) / "batch" / BATCH_FILE, test_x)
        train_input = upload_data(str(train_csv.parent), key_prefix=f"{prefix}/data", bucket=bucket, **credentials)
        batch_input = upload_data(str(batch_csv.parent), key_prefix=f"{prefix}/batch-input", bucket=bucket,
                                  **credentials)

    job = train_model.with_options(retries=1, retry_condition_fn=retry_transient_only)(
        entry_point=str(iris.TRAINING_SCRIPT), hyperparameters={"max_leaf_nodes": max_leaf_nodes},
        inputs={"train": train_input}, base_job_name="iris-train", role=role, default_bucket=bucket,
        artifact_key="iris-training-job", **credentials,
    )
    # Estimator.attach: look the job up again by name (train_model streamed its logs and made its
    # artifact already; attaching in the same flow run does not repeat them)
    attached = attach_training_job(job["TrainingJobName"], logs=False, **credentials)
    model = create_model(training_job_name=attached["TrainingJobName"], role=role, default_bucket=bucket,
                         **credentials)

    # From here on, a failure deletes the endpoint (teardown_on_failure + the flow's hook).
    endpoint = deploy_model(model["ModelName"], endpoint_name=endpoint_name,
                            teardown_on_failure=teardown_on_failure, **credentials)
    predictions = predict(endpoint["EndpointName"], test_x.tolist(), feature_names=FEATURE_NAMES,
                          artifact_key="iris-predictions", **credentials)
    scores = evaluate(predictions, test_y.tolist(), min_accuracy)
    transform = batch_transform.with_options(retries=1, retry_condition_fn=retry_transient_only)(
        model_name=model["ModelName"], data=batch_input, content_type="text/csv", accept="text/csv",
        split_type="Line", base_job_name="iris-transform", artifact_key="iris-batch-transform", **credentials,
    )
    shown = show_transform_output(transform["OutputPath"], **credentials)
    delete_endpoint.with_options(retries=2)(endpoint["EndpointName"], **credentials)
    return {
        "training_job": attached["TrainingJobName"],
        "model_data": attached["ModelDataUrl"],
        "model": model["ModelName"],
        "endpoint": endpoint["EndpointName"],
        "accuracy": scores["accuracy"],
        "species": scores["species"],
        "transform_output": shown["output"],
        "transform_head": shown["head"],
    }


def main(argv: list[str] | None = None) -> int:
    """``python flows/iris_lifecycle.py``: run the flow once on the local runtime."""
    import time

    from smflow_prefect.local import local_runtime_credentials

    parser = argparse.ArgumentParser(description="Run the Iris lifecycle flow on smflow's local runtime.")
    parser.add_argument("--endpoint-url", help="a runtime already running (default: start the local one)")
    parser.add_argument("--port", type=int, help="port of the local runtime to start (default 9510)")
    parser.add_argument("--state-dir", help="state directory of the local runtime (default ~/.smflow/state)")
    parser.add_argument("--min-accuracy", type=float, default=0.9)
    args = parser.parse_args(argv)

    credentials = local_runtime_credentials(args.endpoint_url, port=args.port, state_dir=args.state_dir)
    begin = time.monotonic()
    state = iris_lifecycle(aws_credentials=credentials, min_accuracy=args.min_accuracy, return_state=True)
    if not state.is_completed():
        print(f"iris-lifecycle failed: {state.message}", file=sys.stderr)
        return 1
    result = state.result()
    print(f"Iris lifecycle flow finished in {time.monotonic() - begin:.1f} s: accuracy {result['accuracy']:.3f}, "
          f"transform output {result['transform_output']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
