"""``kmeans-digits``: the SageMaker Python SDK README's KMeans example ("Amazon SageMaker's built-in
algorithms") as a Prefect flow, on scikit-learn's handwritten digits (8x8 images, 64 features)
instead of the MNIST download. The same steps as the Airflow DAG ``kmeans_digits``.

record set (the training rows as RecordIO-protobuf shards and a manifest on S3, as the SDK's
``record_set``) -> train Amazon's KMeans (k=10) -> create the model -> deploy -> predict
(RecordIO-protobuf in, JSON out: ``{"predictions": [{"closest_cluster": ..., "distance_to_cluster":
...}]}``) -> batch transform a RecordIO-protobuf file (SplitType RecordIO, JSON Lines out) ->
delete the endpoint. The endpoint is deployed with ``teardown_on_failure`` and the flow has the
hook ``delete_endpoints_on_failure``.

Run it on smflow's local runtime (started in the background if it is not running) with Prefect's
ephemeral API::

    python flows/kmeans_digits.py
    python flows/kmeans_digits.py --endpoint-url http://127.0.0.1:9510   # a runtime already up

On AWS, call ``kmeans_digits(aws_credentials=AwsCredentials.load("..."), role="arn:...")``.
"""

# No `from __future__ import annotations`: Prefect validates parameters against real annotations.

import argparse
import sys

from prefect import flow, task
from prefect_aws import AwsCredentials
from smflow_prefect import (
    batch_transform,
    create_model,
    delete_endpoint,
    delete_endpoints_on_failure,
    deploy_model,
    predict,
    record_set,
    retry_transient_only,
    train_model,
)

TEST_ROWS = 100  # held out from training: predicted through the endpoint and by batch transform
BATCH_FILE = "digits.pbr"


def _run_id() -> str:
    from prefect.runtime import flow_run

    return str(flow_run.get_id() or "no-flow-run")


@task
def upload_batch_input(rows: list, uri: str, aws_credentials: AwsCredentials | None = None) -> str:
    """The held-out rows as one RecordIO-protobuf file (the batch transform's input)."""
    import numpy as np
    from smflow import recordio
    from smflow_prefect.clients import sagemaker_client

    bucket, _, key = uri[len("s3://"):].partition("/")
    body = recordio.write_records(np.asarray(rows, dtype=np.float32))
    sagemaker_client(aws_credentials).s3.put_object(Bucket=bucket, Key=key, Body=body)
    return uri


@task
def clusters(predictions: dict, labels: list) -> dict:
    """Each cluster's most frequent digit, and how many held-out rows it explains (purity)."""
    from collections import Counter

    assigned = [int(answer["closest_cluster"]) for answer in predictions["predictions"]]
    members: dict = {}
    for cluster, label in zip(assigned, labels):
        members.setdefault(cluster, Counter())[int(label)] += 1
    purity = sum(counter.most_common(1)[0][1] for counter in members.values()) / len(labels)
    for cluster in sorted(members):
        digit, count = members[cluster].most_common(1)[0]
        print(f"cluster {cluster}: mostly digit {digit} ({count} of {sum(members[cluster].values())})")
    print(f"Cluster purity on {len(labels)} held-out digits: {purity:.2f}")
    return {"clusters": assigned, "purity": purity}


@task
def transform_output(output_path: str, aws_credentials: AwsCredentials | None = None) -> dict:
    """The batch output: one JSON line per digit."""
    import json

    from smflow_prefect.clients import sagemaker_client

    uri = f"{output_path.rstrip('/')}/{BATCH_FILE}.out"
    bucket, _, key = uri[len("s3://"):].partition("/")
    body = sagemaker_client(aws_credentials).s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    answers = [json.loads(line) for line in body.decode().splitlines() if line.strip()]
    print(f"Batch transform output at {uri}: {len(answers)} answers; first: {answers[:2]}")
    return {"output": uri, "clusters": [int(answer["closest_cluster"]) for answer in answers]}


@flow(name="kmeans-digits", log_prints=True, on_failure=[delete_endpoints_on_failure],
      on_crashed=[delete_endpoints_on_failure], on_cancellation=[delete_endpoints_on_failure])
def kmeans_digits(
    aws_credentials: AwsCredentials | None = None,
    bucket: str | None = None,
    k: int = 10,
    role: str | None = None,
    endpoint_name: str | None = None,
) -> dict:
    """Train Amazon's KMeans on the digits, deploy it, predict, batch-transform, clean up.

    Args:
        aws_credentials: prefect-aws block (endpoint URL of the local runtime, or AWS); default
            boto3's chain.
        bucket: S3 bucket; default ``sagemaker-<region>-<account>``, created when missing.
        k: the number of clusters.
        role: SageMaker execution role ARN (AWS only).
        endpoint_name: default ``kmeans-digits-<hash of the flow run id>``.

    Returns: ``{"training_job", "model", "endpoint", "record_set", "clusters", "purity",
        "transform_output", "transform_clusters"}``.
    """
    import numpy as np
    from sklearn.datasets import load_digits
    from smflow import naming
    from smflow_prefect.clients import sagemaker_client

    credentials = {"aws_credentials": aws_credentials}
    run_id = _run_id()
    endpoint_name = endpoint_name or naming.stable_name("kmeans-digits", run_id)
    target = bucket or sagemaker_client(aws_credentials).default_bucket()  # created when missing
    digits = load_digits()
    features, labels = digits.data.astype(np.float32), digits.target
    train, test = features[:-TEST_ROWS], features[-TEST_ROWS:]

    records = record_set(train, algorithm="kmeans", data_location=f"s3://{target}/kmeans-digits/record-sets/",
                         **credentials)
    batch_input = upload_batch_input(test.tolist(), f"s3://{target}/kmeans-digits/{run_id}/batch-input/{BATCH_FILE}",
                                     **credentials)
    job = train_model.with_options(retries=1, retry_condition_fn=retry_transient_only)(
        algorithm="kmeans", hyperparameters={"k": k}, inputs=records, instance_type="ml.c5.xlarge",
        output_path=f"s3://{target}/kmeans-digits/models", base_job_name="kmeans-digits", role=role,
        default_bucket=bucket, **credentials,
    )
    model = create_model(training_job_name=job["TrainingJobName"], role=role, default_bucket=bucket, **credentials)
    endpoint = deploy_model(model["ModelName"], endpoint_name=endpoint_name, teardown_on_failure=True, **credentials)
    answer = predict(endpoint["EndpointName"], test, content_type="application/x-recordio-protobuf",
                     accept="application/json", **credentials)
    found = clusters(answer, labels[-TEST_ROWS:].tolist())
    transform = batch_transform.with_options(retries=1, retry_condition_fn=retry_transient_only)(
        model_name=model["ModelName"], data=batch_input, content_type="application/x-recordio-protobuf",
        split_type="RecordIO", accept="application/jsonlines", assemble_with="Line",
        base_job_name="kmeans-digits-transform", **credentials,
    )
    shown = transform_output(transform["OutputPath"], **credentials)
    delete_endpoint.with_options(retries=2)(endpoint["EndpointName"], **credentials)
    return {
        "training_job": job["TrainingJobName"],
        "hyperparameters": job["HyperParameters"],
        "model": model["ModelName"],
        "endpoint": endpoint["EndpointName"],
        "record_set": records,
        "clusters": found["clusters"],
        "purity": found["purity"],
        "transform_output": shown["output"],
        "transform_clusters": shown["clusters"],
    }


def main(argv: list[str] | None = None) -> int:
    """``python flows/kmeans_digits.py``: run the flow once on the local runtime."""
    import time

    from smflow_prefect.local import local_runtime_credentials

    parser = argparse.ArgumentParser(description="Run the KMeans digits flow on smflow's local runtime.")
    parser.add_argument("--endpoint-url", help="a runtime already running (default: start the local one)")
    parser.add_argument("--port", type=int, help="port of the local runtime to start (default 9510)")
    parser.add_argument("--state-dir", help="state directory of the local runtime (default ~/.smflow/state)")
    args = parser.parse_args(argv)

    credentials = local_runtime_credentials(args.endpoint_url, port=args.port, state_dir=args.state_dir)
    begin = time.monotonic()
    state = kmeans_digits(aws_credentials=credentials, return_state=True)
    if not state.is_completed():
        print(f"kmeans-digits failed: {state.message}", file=sys.stderr)
        return 1
    result = state.result()
    print(f"KMeans digits flow finished in {time.monotonic() - begin:.1f} s: cluster purity {result['purity']:.2f}, "
          f"transform output {result['transform_output']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
