"""``iris-batch-scoring``: batch-transform new Iris measurements with an existing model.

land the new input -> check the model exists -> start the batch transform job -> wait for it
(a separate task: the wait can be retried on its own) -> summarize the output (rows and species
counts, also as a table artifact). The same steps as the Airflow DAG ``iris_batch_scoring``.

The model is ``model_name``, e.g. one that ``iris-lifecycle`` or ``iris-scheduled-retraining``
created; by default the newest model whose name contains ``iris`` (ListModels). The wait is
retried on transient errors only (``retry_transient_only``): a job that ended Failed is not
retried. As a script, on smflow's local runtime (started if it is not running), with Prefect's
ephemeral API::

    python flows/iris_batch_scoring.py                          # the newest model named *iris*
    python flows/iris_batch_scoring.py --model-name iris-train-0123456789
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

from smflow_prefect import batch_transform, retry_transient_only, upload_data, wait_for_transform_job

INPUT_FILE = "iris-measurements.csv"


@task
def check_model(model_name: str | None, aws_credentials: AwsCredentials | None) -> str:
    """The model to score with: ``model_name``, or the newest model whose name contains
    ``iris`` (ListModels); fail early, with the fix, when there is none (DescribeModel)."""
    from botocore.exceptions import ClientError

    from smflow.client import is_not_found
    from smflow.errors import ConfigurationError
    from smflow_prefect.clients import sagemaker_client

    client = sagemaker_client(aws_credentials)
    if model_name is None:
        models = client.sagemaker.list_models(
            NameContains="iris", SortBy="CreationTime", SortOrder="Descending", MaxResults=1)["Models"]
        if not models:
            raise ConfigurationError(
                "model_name: no model whose name contains 'iris' exists; pass the name of an existing "
                "model as model_name, or run iris-lifecycle first (python flows/iris_lifecycle.py)"
            )
        print(f"Scoring with the newest Iris model, {models[0]['ModelName']}")
        return models[0]["ModelName"]
    try:
        client.sagemaker.describe_model(ModelName=model_name)
    except ClientError as error:
        if is_not_found(error):
            raise ConfigurationError(
                f"model {model_name!r} not found: pass the name of an existing model as model_name "
                "(e.g. one created by iris-lifecycle)"
            ) from None
        raise
    return model_name


@task
def summarize(job: dict, aws_credentials: AwsCredentials | None) -> dict:
    """Rows scored and the count of each species (also a table artifact)."""
    from prefect.artifacts import create_table_artifact

    from smflow.examples.iris import SPECIES
    from smflow_prefect.clients import sagemaker_client

    uri = f"{job['OutputPath'].rstrip('/')}/{INPUT_FILE}.out"
    bucket, _, key = uri[len("s3://"):].partition("/")
    lines = sagemaker_client(aws_credentials).s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode().split()
    counts = {name: 0 for name in SPECIES}
    for line in lines:
        counts[SPECIES[int(round(float(line)))]] += 1
    create_table_artifact(
        key="iris-batch-scoring", description=f"Species predicted by {job['ModelName']} for {len(lines)} rows",
        table=[{"species": name, "rows": count} for name, count in counts.items()],
    )
    print(f"Scored {len(lines)} rows with {job['ModelName']}: {counts}; output at {uri}")
    return {"output": uri, "rows": len(lines), "species_counts": counts}


@flow(name="iris-batch-scoring", log_prints=True)
def iris_batch_scoring(
    model_name: str | None = None,
    aws_credentials: AwsCredentials | None = None,
    bucket: str | None = None,
) -> dict:
    """Batch-transform the new Iris measurements with an existing model.

    Args:
        model_name: the model; default the newest model whose name contains ``iris``.

    Returns: ``{"output": S3 URI of the predictions, "rows", "species_counts": {species: rows}}``.
    Raises: ConfigurationError (no such model, or no Iris model at all), ResourceFailedError (the job failed, with its
        FailureReason).
    """
    from prefect.runtime import flow_run

    from smflow.examples import iris
    from smflow.naming import sanitize

    credentials = {"aws_credentials": aws_credentials}
    day = f"{flow_run.get_scheduled_start_time().strftime('%Y%m%d')}-{sanitize(str(flow_run.get_id()))[:8]}"
    features, _ = iris.blog_test_rows()
    with tempfile.TemporaryDirectory(prefix="smflow-iris-") as scratch:
        path = iris.write_features_csv(Path(scratch) / INPUT_FILE, features)
        data = upload_data(str(path.parent), key_prefix=f"prefect-iris-batch-scoring/{day}/input", bucket=bucket,
                           **credentials)
    model = check_model(model_name, aws_credentials)
    started = batch_transform(
        model_name=model, data=data, content_type="text/csv", accept="text/csv", split_type="Line",
        base_job_name="iris-scoring", wait=False, **credentials,
    )
    job = wait_for_transform_job.with_options(retries=2, retry_condition_fn=retry_transient_only)(
        started["TransformJobName"], timeout=6 * 60 * 60, artifact_key="iris-batch-scoring-output", **credentials)
    return summarize(job, aws_credentials)


def main(argv: list[str] | None = None) -> int:
    """Score once on the local runtime."""
    from smflow_prefect.local import local_runtime_credentials

    parser = argparse.ArgumentParser(description="Batch-score new Iris measurements on the local runtime.")
    parser.add_argument("--model-name", help="an existing model (default: the newest model named *iris*)")
    parser.add_argument("--endpoint-url", help="a runtime already running (default: start the local one)")
    parser.add_argument("--port", type=int, help="port of the local runtime to start (default 9510)")
    parser.add_argument("--state-dir", help="state directory of the local runtime (default ~/.smflow/state)")
    args = parser.parse_args(argv)

    credentials = local_runtime_credentials(args.endpoint_url, port=args.port, state_dir=args.state_dir)
    state = iris_batch_scoring(model_name=args.model_name, aws_credentials=credentials, return_state=True)
    if not state.is_completed():
        print(f"iris-batch-scoring failed: {state.message}", file=sys.stderr)
        return 1
    print(state.result())
    return 0


if __name__ == "__main__":
    sys.exit(main())
