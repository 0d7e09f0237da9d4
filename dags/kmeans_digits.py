"""``kmeans_digits``: the SageMaker Python SDK README's KMeans example ("Amazon SageMaker's built-in
algorithms") as an Airflow DAG, on scikit-learn's handwritten digits (8x8 images, 64 features)
instead of the MNIST download.

record set (the training rows as RecordIO-protobuf shards and a manifest on S3, as the SDK's
``record_set``) -> train Amazon's KMeans (k=10) -> create the model -> deploy -> predict
(RecordIO-protobuf in, JSON out: ``{"predictions": [{"closest_cluster": ..., "distance_to_cluster":
...}]}``) -> batch transform a RecordIO-protobuf file (SplitType RecordIO, JSON Lines out) ->
delete the endpoint (a teardown task whose setup is the deploy task).

Airflow has no operator for ``record_set``: its data is a NumPy array, made in Python, so it is
an ``@task`` that calls the client through the hook (``SageMakerClientHook().get_client()
.record_set(array, labels)``); its result (a JSON-able dict: the channel, ``num_records``,
``feature_dim``) goes to ``SageMakerTrainOperator(inputs=...)`` by XCom, and the operator takes
``feature_dim`` from it.

Runs unchanged on AWS or on smflow's local runtime; only the ``aws_default`` connection differs::

    airflow dags test kmeans_digits

On AWS, also pass ``role`` (an execution role ARN) in the run's conf.
Parsing this file does no network calls and imports no boto3, NumPy or scikit-learn.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import Param, dag, task
from smflow.naming import stable_name
from smflow_airflow.operators.sagemaker import (
    SageMakerBatchTransformOperator,
    SageMakerCreateModelOperator,
    SageMakerDeleteEndpointOperator,
    SageMakerDeployOperator,
    SageMakerPredictOperator,
    SageMakerTrainOperator,
)

ENDPOINT_NAME = "{{ sagemaker_name('kmeans-digits', dag.dag_id ~ '.' ~ run_id) }}"
ROLE = "{{ params.role or '' }}"
TEST_ROWS = 100  # held out from training: predicted through the endpoint and by batch transform


@dag(
    dag_id="kmeans_digits",
    description="Amazon's KMeans on the digits data set: record set, train, deploy, predict, batch transform",
    schedule=None,
    start_date=datetime(2025, 1, 1),
    catchup=False,
    tags=["smflow", "sagemaker", "kmeans", "built-in algorithm"],
    params={
        "bucket": Param("", type="string", description="S3 bucket; empty: sagemaker-<region>-<account>"),
        "k": Param(10, type="integer", minimum=2),
        "role": Param("", type="string", description="SageMaker execution role ARN (AWS only)"),
    },
    default_args={"retries": 1, "retry_delay": timedelta(seconds=30)},
    user_defined_macros={"sagemaker_name": stable_name},
)
def kmeans_digits():
    @task
    def record_set(params: dict | None = None, run_id: str | None = None) -> dict:
        """The digits' training rows as a record set; the held-out rows for predict, and as a
        RecordIO-protobuf file for batch transform."""
        import numpy as np
        from sklearn.datasets import load_digits
        from smflow import recordio
        from smflow.naming import sanitize
        from smflow_airflow.hooks.sagemaker import SageMakerClientHook

        client = SageMakerClientHook(default_bucket=params["bucket"] or None).get_client()
        bucket = client.default_bucket()  # created when missing
        digits = load_digits()
        features, labels = digits.data.astype(np.float32), digits.target.astype(np.float32)
        train, test = features[:-TEST_ROWS], features[-TEST_ROWS:]
        records = client.record_set(train, algorithm="kmeans",
                                    data_location=f"s3://{bucket}/kmeans-digits/record-sets/")
        key = f"kmeans-digits/{sanitize(run_id)}/batch-input/digits.pbr"
        client.s3.put_object(Bucket=bucket, Key=key, Body=recordio.write_records(test))
        print(f"Record set of {records['num_records']} rows x {records['feature_dim']} features: {records['s3_data']}")
        return {"bucket": bucket, "train": records, "batch_input": f"s3://{bucket}/{key}",
                "test_features": test.tolist(), "test_labels": labels[-TEST_ROWS:].tolist()}

    data = record_set()

    train = SageMakerTrainOperator(
        task_id="train",
        algorithm="kmeans",
        hyperparameters={"k": "{{ params.k }}"},
        inputs=data["train"],
        instance_type="ml.c5.xlarge",
        output_path="s3://{{ ti.xcom_pull(task_ids='record_set')['bucket'] }}/kmeans-digits/models",
        base_job_name="kmeans-digits",
        role=ROLE,
    )
    model = SageMakerCreateModelOperator(
        task_id="create_model",
        training_job_name="{{ ti.xcom_pull(task_ids='train')['TrainingJobName'] }}",
        role=ROLE,
    )
    model_name = "{{ ti.xcom_pull(task_ids='create_model')['ModelName'] }}"
    deploy = SageMakerDeployOperator(task_id="deploy", model_name=model_name, endpoint_name=ENDPOINT_NAME)
    predict = SageMakerPredictOperator(
        task_id="predict", endpoint_name=ENDPOINT_NAME, data=data["test_features"],
        content_type="application/x-recordio-protobuf", accept="application/json",
    )

    @task
    def clusters(prediction: dict, data: dict) -> dict:
        """Each cluster's most frequent digit, and how many held-out rows it explains (purity)."""
        from collections import Counter

        answers = prediction["Predictions"]["predictions"]
        assigned = [int(answer["closest_cluster"]) for answer in answers]
        labels = [int(label) for label in data["test_labels"]]
        members: dict[int, Counter] = {}
        for cluster, label in zip(assigned, labels):
            members.setdefault(cluster, Counter())[label] += 1
        purity = sum(counter.most_common(1)[0][1] for counter in members.values()) / len(labels)
        for cluster in sorted(members):
            digit, count = members[cluster].most_common(1)[0]
            print(f"cluster {cluster}: mostly digit {digit} ({count} of {sum(members[cluster].values())})")
        print(f"Cluster purity on {len(labels)} held-out digits: {purity:.2f}")
        return {"clusters": assigned, "purity": purity}

    transform = SageMakerBatchTransformOperator(
        task_id="batch_transform",
        model_name=model_name,
        data=data["batch_input"],
        content_type="application/x-recordio-protobuf",
        split_type="RecordIO",
        accept="application/jsonlines",
        assemble_with="Line",
        base_job_name="kmeans-digits-transform",
    )

    @task
    def transform_output(job: dict) -> dict:
        """The batch output: one JSON line per digit."""
        import json

        from smflow_airflow.hooks.sagemaker import SageMakerClientHook

        client = SageMakerClientHook().get_client()
        uri = f"{job['OutputPath'].rstrip('/')}/digits.pbr.out"
        bucket, _, key = uri[5:].partition("/")
        lines = client.s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode().splitlines()
        answers = [json.loads(line) for line in lines if line.strip()]
        print(f"Batch transform output at {uri}: {len(answers)} answers; first: {answers[:2]}")
        return {"output": uri, "count": len(answers), "clusters": [int(a["closest_cluster"]) for a in answers]}

    delete = SageMakerDeleteEndpointOperator(task_id="delete_endpoint", endpoint_name=ENDPOINT_NAME)

    scored = clusters(predict.output, data)
    shown = transform_output(transform.output)
    data >> train >> model >> deploy >> predict >> scored >> transform >> shown
    shown >> delete.as_teardown(setups=deploy)


kmeans_digits()
