"""``iris_amazon_provider``: the Iris lifecycle with Airflow's Amazon provider's own SageMaker
operators, unmodified and with their defaults (``wait_for_completion=True``, ``check_interval``
30 s, ``print_log=True``), against whatever ``aws_default`` points at (the smflow local runtime
when its extras hold ``endpoint_url``, or SageMaker).

prepare (Iris CSV, the training script's ``sourcedir.tar.gz`` and the batch input to S3) ->
``SageMakerTrainingOperator`` -> ``SageMakerModelOperator`` -> ``SageMakerEndpointOperator`` ->
predict (SageMaker Runtime InvokeEndpoint: accuracy in XCom) -> ``SageMakerTransformOperator`` ->
delete the endpoint and its config (teardown) -> ``SageMakerDeleteModelOperator``.

Job, model and endpoint names end with the run's ``ts_nodash``. Parsing this file does no network
calls and imports no boto3, NumPy or scikit-learn.
"""

from __future__ import annotations

import json
from datetime import datetime

from airflow.providers.amazon.aws.operators.sagemaker import (
    SageMakerDeleteModelOperator,
    SageMakerEndpointOperator,
    SageMakerModelOperator,
    SageMakerTrainingOperator,
    SageMakerTransformOperator,
)
from airflow.sdk import Param, dag, task

from smflow.image_uris import retrieve

REGION = "us-east-1"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"  # any well-formed role ARN, locally
IMAGE = retrieve("sklearn", REGION, "1.2-1", "py3", "ml.m5.large", "training")
INSTANCE_TYPE = "ml.m5.large"
NAME = "iris-ap-{{ ts_nodash | lower }}"
PREFIX = "s3://{{ params.bucket }}/iris-amazon-provider/{{ ts_nodash | lower }}"
PROGRAM = "scikit_learn_iris.py"
TRAINED = "ti.xcom_pull(task_ids='train')['Training']"


@dag(
    dag_id="iris_amazon_provider",
    description="The Iris lifecycle with the Amazon provider's SageMaker operators and their defaults",
    schedule=None,
    start_date=datetime(2025, 1, 1),
    catchup=False,
    tags=["sagemaker", "iris", "amazon-provider"],
    params={"bucket": Param("smflow-amazon-provider", type="string", description="S3 bucket (created if missing)")},
)
def iris_amazon_provider():
    @task
    def prepare(params: dict | None = None, ts_nodash: str | None = None) -> dict:
        """The training data, the script's source archive and the batch input, in S3."""
        import io
        import tarfile
        import tempfile
        from pathlib import Path

        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        from smflow.examples import iris

        bucket, stamp = params["bucket"], ts_nodash.lower()
        s3 = S3Hook()
        if not s3.check_for_bucket(bucket):
            s3.create_bucket(bucket, region_name=REGION)
        prefix = f"iris-amazon-provider/{stamp}"
        script = iris.training_script()
        archive = io.BytesIO()
        with tarfile.open(fileobj=archive, mode="w:gz") as tar:
            tar.add(script, arcname=PROGRAM)
        s3.load_bytes(archive.getvalue(), f"{prefix}/source/sourcedir.tar.gz", bucket, replace=True)
        features, _ = iris.blog_test_rows()
        with tempfile.TemporaryDirectory(prefix="iris-") as scratch:
            s3.load_file(str(iris.write_training_csv(Path(scratch) / "iris.csv")), f"{prefix}/train/iris.csv",
                         bucket, replace=True)
            s3.load_file(str(iris.write_features_csv(Path(scratch) / "batch.csv", features)),
                         f"{prefix}/batch/batch.csv", bucket, replace=True)
        return {"source": f"s3://{bucket}/{prefix}/source/sourcedir.tar.gz"}

    source = "{{ ti.xcom_pull(task_ids='prepare')['source'] }}"
    train = SageMakerTrainingOperator(
        task_id="train",
        config={
            "TrainingJobName": NAME,
            "AlgorithmSpecification": {"TrainingImage": IMAGE, "TrainingInputMode": "File"},
            "RoleArn": ROLE,
            "HyperParameters": {"max_leaf_nodes": "30", "sagemaker_program": json.dumps(PROGRAM),
                                "sagemaker_submit_directory": f'"{source}"',
                                "sagemaker_region": json.dumps(REGION)},
            "InputDataConfig": [{"ChannelName": "train", "DataSource": {"S3DataSource": {
                "S3DataType": "S3Prefix", "S3Uri": f"{PREFIX}/train"}}}],
            "OutputDataConfig": {"S3OutputPath": f"{PREFIX}/output"},
            "ResourceConfig": {"InstanceType": INSTANCE_TYPE, "InstanceCount": 1, "VolumeSizeInGB": 5},
            "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
        },
    )
    model = SageMakerModelOperator(
        task_id="create_model",
        config={
            "ModelName": NAME,
            "ExecutionRoleArn": ROLE,
            "PrimaryContainer": {
                "Image": IMAGE,
                "ModelDataUrl": "{{ " + TRAINED + "['ModelArtifacts']['S3ModelArtifacts'] }}",
                "Environment": {"SAGEMAKER_PROGRAM": PROGRAM, "SAGEMAKER_SUBMIT_DIRECTORY": source},
            },
        },
    )
    endpoint = SageMakerEndpointOperator(
        task_id="deploy",
        config={
            "EndpointConfig": {"EndpointConfigName": NAME, "ProductionVariants": [{
                "VariantName": "AllTraffic", "ModelName": NAME, "InitialInstanceCount": 1,
                "InstanceType": INSTANCE_TYPE}]},
            "Endpoint": {"EndpointName": NAME, "EndpointConfigName": NAME},
        },
    )

    @task
    def predict(ts_nodash: str | None = None) -> dict:
        """The blog's 29 test rows through InvokeEndpoint; accuracy and count."""
        from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

        from smflow.examples import iris

        features, labels = iris.blog_test_rows()
        body = "\n".join(",".join(str(v) for v in row) for row in features.tolist())
        runtime = AwsBaseHook(client_type="sagemaker-runtime").get_conn()
        answer = runtime.invoke_endpoint(EndpointName=f"iris-ap-{ts_nodash.lower()}", Body=body.encode(),
                                         ContentType="text/csv", Accept="application/json")
        predictions = json.loads(answer["Body"].read())
        import numpy as np

        accuracy = iris.accuracy(np.asarray(predictions, dtype=float), labels)
        print(f"accuracy {accuracy:.3f} on {len(predictions)} rows")
        return {"accuracy": accuracy, "count": len(predictions)}

    transform = SageMakerTransformOperator(
        task_id="batch_transform",
        config={
            "TransformJobName": NAME,
            "ModelName": NAME,
            "TransformInput": {"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"{PREFIX}/batch"}},
                               "ContentType": "text/csv", "SplitType": "Line"},
            "TransformOutput": {"S3OutputPath": f"{PREFIX}/batch-output", "AssembleWith": "Line"},
            "TransformResources": {"InstanceType": INSTANCE_TYPE, "InstanceCount": 1},
        },
    )

    @task(trigger_rule="all_done")
    def delete_endpoint(ts_nodash: str | None = None) -> list[str]:
        """Teardown: the endpoint and its config (the Amazon provider has no operator for it)."""
        from airflow.providers.amazon.aws.hooks.sagemaker import SageMakerHook
        from botocore.exceptions import ClientError

        client, name, deleted = SageMakerHook().get_conn(), f"iris-ap-{ts_nodash.lower()}", []
        for call, kind in ((client.delete_endpoint, "Endpoint"), (client.delete_endpoint_config, "EndpointConfig")):
            try:
                call(**{f"{kind}Name": name})
                deleted.append(f"{kind}/{name}")
            except ClientError as error:
                print(f"{kind} {name}: {error}")
        return deleted

    delete_model = SageMakerDeleteModelOperator(task_id="delete_model", config={"ModelName": NAME},
                                                trigger_rule="all_done")

    deleted = delete_endpoint()
    prepare() >> train >> model >> endpoint >> predict() >> transform >> deleted >> delete_model
    endpoint >> deleted


iris_amazon_provider()
