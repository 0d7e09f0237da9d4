"""``byo_container``: train, deploy, predict and batch-transform with your own container image
("Bring your own container": any image that follows SageMaker's container contract, ``train``
and ``serve``), as an Airflow DAG.

upload a CSV -> train (``docker run <image> train``: a raw CreateTrainingJob request, no script)
-> create the model from its model.tar.gz -> deploy (``docker run <image> serve``) -> predict
CSV rows -> batch transform the same rows -> delete the endpoint (teardown).

On smflow's local runtime the image runs in Docker (it must be on the local daemon: smflow does
not pull it); on AWS it must be in ECR. Only the ``aws_default`` connection differs::

    export AIRFLOW_CONN_AWS_DEFAULT='{"conn_type": "aws", "login": "smflow", "password": "smflow",
        "extra": {"endpoint_url": "http://127.0.0.1:9510", "region_name": "us-east-1"}}'
    airflow dags test byo_container --conf '{"image_uri": "<account>.dkr.ecr.<region>.amazonaws.com/<repo>:<tag>"}'

The rows and the hyperparameters are the run's ``rows`` and ``hyperparameters`` params, given to
the image as they are (``/opt/ml/input/data/train/rows.csv``, ``hyperparameters.json``).
On AWS, also pass ``role`` (an execution role ARN) in the run's conf.
Parsing this file does no network calls and imports no boto3.
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

# One endpoint per DAG run, the same for every try of it (so a retry finds it again).
ENDPOINT_NAME = "{{ sagemaker_name('byo', dag.dag_id ~ '.' ~ run_id) }}"
ROLE = "{{ params.role or '' }}"
TRAINED = "ti.xcom_pull(task_ids='train')"


@dag(
    dag_id="byo_container",
    description="Train, deploy, predict and batch-transform with your own container image",
    schedule=None,
    start_date=datetime(2025, 1, 1),
    catchup=False,
    tags=["smflow", "sagemaker", "byo"],
    params={
        "image_uri": Param(type="string", minLength=1,
                           description="your image (train and serve); locally: on the Docker daemon"),
        "rows": Param([[1, 2], [3, 4]], type="array", description="CSV rows: the training data and the inputs"),
        "hyperparameters": Param({}, type="object", description="given to the image as they are"),
        "bucket": Param("", type="string", description="S3 bucket; empty: sagemaker-<region>-<account>"),
        "role": Param("", type="string", description="SageMaker execution role ARN (AWS only)"),
    },
    default_args={"retries": 0, "retry_delay": timedelta(seconds=30)},
    user_defined_macros={"sagemaker_name": stable_name},
)
def byo_container():
    @task
    def upload_rows(params: dict | None = None, run_id: str | None = None) -> dict:
        """Upload the rows as the train channel and as the batch input; create the bucket."""
        from smflow.naming import sanitize
        from smflow_airflow.hooks.sagemaker import SageMakerClientHook

        client = SageMakerClientHook(default_bucket=params["bucket"] or None).get_client()
        bucket = client.default_bucket()  # created when missing
        prefix = f"byo-container/{sanitize(run_id)}"
        body = "".join(",".join(str(value) for value in row) + "\n" for row in params["rows"]).encode()
        for folder in ("train", "batch-input"):
            client.s3.put_object(Bucket=bucket, Key=f"{prefix}/{folder}/rows.csv", Body=body)
        print(f"Uploaded {len(params['rows'])} rows to s3://{bucket}/{prefix}/")
        return {"bucket": bucket, "train": f"s3://{bucket}/{prefix}/train",
                "batch_input": f"s3://{bucket}/{prefix}/batch-input", "output": f"s3://{bucket}/{prefix}/output"}

    data = upload_rows()

    @task
    def training_request(uploaded: dict, params: dict | None = None) -> dict:
        """A raw CreateTrainingJob request: the image's own ``train``, no script (the operator adds
        the job name and the role)."""
        return {
            "AlgorithmSpecification": {"TrainingImage": params["image_uri"], "TrainingInputMode": "File"},
            "HyperParameters": {str(key): str(value) for key, value in params["hyperparameters"].items()},
            "InputDataConfig": [{
                "ChannelName": "train", "ContentType": "text/csv",
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": uploaded["train"]}},
            }],
            "OutputDataConfig": {"S3OutputPath": uploaded["output"]},
            "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
            "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
        }

    train = SageMakerTrainOperator(task_id="train", role=ROLE, base_job_name="byo-train",
                                   config=training_request(data), print_log=True)
    model = SageMakerCreateModelOperator(
        task_id="create_model",
        role=ROLE,
        config={
            "ModelName": f"{{{{ {TRAINED}['TrainingJobName'] }}}}",
            "PrimaryContainer": {"Image": "{{ params.image_uri }}",
                                 "ModelDataUrl": f"{{{{ {TRAINED}['ModelDataUrl'] }}}}"},
        },
    )
    model_name = "{{ ti.xcom_pull(task_ids='create_model')['ModelName'] }}"
    deploy = SageMakerDeployOperator(task_id="deploy", model_name=model_name, endpoint_name=ENDPOINT_NAME)
    predict = SageMakerPredictOperator(task_id="predict", endpoint_name=ENDPOINT_NAME,
                                       data="{{ params.rows | tojson }}", content_type="text/csv", accept="text/csv")
    transform = SageMakerBatchTransformOperator(
        task_id="batch_transform",
        model_name=model_name,
        data=data["batch_input"],
        content_type="text/csv",
        accept="text/csv",
        split_type="Line",
        base_job_name="byo-transform",
    )

    @task
    def show_transform_output(job: dict) -> dict:
        """The batch output's lines."""
        from smflow_airflow.hooks.sagemaker import SageMakerClientHook

        client = SageMakerClientHook().get_client()
        uri = f"{job['OutputPath'].rstrip('/')}/rows.csv.out"
        bucket, _, key = uri[5:].partition("/")
        lines = client.s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode().splitlines()
        print(f"Batch transform output at {uri}: {lines}")
        return {"output": uri, "lines": lines}

    delete = SageMakerDeleteEndpointOperator(task_id="delete_endpoint", endpoint_name=ENDPOINT_NAME)

    shown = show_transform_output(transform.output)
    train >> model >> deploy >> predict >> transform >> shown
    # deploy is the teardown's setup: clearing any task between them deploys the endpoint again
    shown >> delete.as_teardown(setups=deploy)


byo_container()
