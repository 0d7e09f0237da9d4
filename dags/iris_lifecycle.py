"""``iris_lifecycle``: the Iris lifecycle of the AWS blog post "Amazon SageMaker adds Scikit-Learn
support" as an Airflow DAG.

upload Iris (creating the bucket) -> train the blog's DecisionTree script -> attach -> create the
model -> deploy -> predict the blog's 29 test rows (accuracy in the log and in XCom) -> batch
transform a CSV file -> delete the endpoint (a teardown task whose setup is the deploy task: it
runs even when a task before it failed, and clearing a task after deploy deploys again first).

Runs unchanged on AWS or on smflow's local runtime; only the ``aws_default`` connection differs::

    export AIRFLOW_CONN_AWS_DEFAULT='{"conn_type": "aws", "login": "smflow-local-key", "password": "smflow-local-secret",
        "extra": {"endpoint_url": "http://127.0.0.1:9510", "region_name": "us-east-1"}}'
    airflow dags test iris_lifecycle

On AWS, also pass ``role`` (an execution role ARN) in the run's conf.
Parsing this file does no network calls and imports no boto3, NumPy or scikit-learn.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from airflow.sdk import Param, dag, task

from smflow.naming import stable_name
from smflow_airflow.operators.sagemaker import (
    SageMakerAttachOperator,
    SageMakerBatchTransformOperator,
    SageMakerCreateModelOperator,
    SageMakerDeleteEndpointOperator,
    SageMakerDeployOperator,
    SageMakerPredictOperator,
    SageMakerTrainOperator,
)

TRAINING_SCRIPT = str(Path(__file__).resolve().parent / "scripts" / "scikit_learn_iris.py")
# One endpoint per DAG run, the same for every try of it (so a retry finds it again).
ENDPOINT_NAME = "{{ sagemaker_name('iris', dag.dag_id ~ '.' ~ run_id) }}"
ROLE = "{{ params.role or '' }}"


@dag(
    dag_id="iris_lifecycle",
    description="Train, deploy, predict, batch-transform and clean up an Iris model",
    schedule=None,
    start_date=datetime(2025, 1, 1),
    catchup=False,
    tags=["smflow", "sagemaker", "iris"],
    params={
        "bucket": Param("", type="string", description="S3 bucket; empty: sagemaker-<region>-<account>"),
        "max_leaf_nodes": Param(30, type="integer", minimum=2),
        "min_accuracy": Param(0.9, type="number", minimum=0, maximum=1),
        "role": Param("", type="string", description="SageMaker execution role ARN (AWS only)"),
    },
    default_args={"retries": 1, "retry_delay": timedelta(seconds=30)},
    user_defined_macros={"sagemaker_name": stable_name},
)
def iris_lifecycle():
    @task
    def upload_iris(params: dict | None = None, run_id: str | None = None) -> dict:
        """Create the bucket, upload the blog's iris.csv and the batch input; hand the test rows on."""
        import tempfile

        from smflow.examples import iris
        from smflow.naming import sanitize
        from smflow_airflow.hooks.sagemaker import SageMakerClientHook

        client = SageMakerClientHook(default_bucket=params["bucket"] or None).get_client()
        bucket = client.default_bucket()  # created when missing
        prefix = f"iris-lifecycle/{sanitize(run_id)}"
        test_x, test_y = iris.blog_test_rows()
        with tempfile.TemporaryDirectory(prefix="iris-") as scratch:
            scratch = Path(scratch)
            train = client.upload_data(iris.write_training_csv(scratch / "train" / "iris.csv").parent,
                                       key_prefix=f"{prefix}/data")
            features = iris.write_features_csv(scratch / "batch" / "iris-features.csv", test_x)
            batch = client.upload_data(features.parent, key_prefix=f"{prefix}/batch-input")
        print(f"Uploaded the Iris data set to {train} and the batch input to {batch}")
        return {
            "bucket": bucket,
            "train": train,
            "batch_input": batch,
            "test_features": test_x.tolist(),
            "test_labels": test_y.tolist(),
        }

    data = upload_iris()

    train = SageMakerTrainOperator(
        task_id="train",
        entry_point=TRAINING_SCRIPT,
        hyperparameters={"max_leaf_nodes": "{{ params.max_leaf_nodes }}"},
        inputs={"train": data["train"]},
        output_path="s3://{{ ti.xcom_pull(task_ids='upload_iris')['bucket'] }}/iris-lifecycle/models",
        base_job_name="iris-train",
        role=ROLE,
    )
    # The train task already streamed the job's log into its task log: attach without replaying it.
    attach = SageMakerAttachOperator(
        task_id="attach", job_name="{{ ti.xcom_pull(task_ids='train')['TrainingJobName'] }}", print_log=False
    )
    model = SageMakerCreateModelOperator(
        task_id="create_model",
        training_job_name="{{ ti.xcom_pull(task_ids='attach')['TrainingJobName'] }}",
        role=ROLE,
    )
    model_name = "{{ ti.xcom_pull(task_ids='create_model')['ModelName'] }}"
    deploy = SageMakerDeployOperator(task_id="deploy", model_name=model_name, endpoint_name=ENDPOINT_NAME)
    predict = SageMakerPredictOperator(
        task_id="predict", endpoint_name=ENDPOINT_NAME, data=data["test_features"]
    )

    @task
    def evaluate(prediction: dict, data: dict, params: dict | None = None) -> dict:
        """Accuracy of the predictions on the blog's test rows; fails below ``min_accuracy``."""
        import numpy as np

        from smflow.examples import iris

        predictions = np.asarray(prediction["Predictions"], dtype=float)
        accuracy = iris.accuracy(predictions, np.asarray(data["test_labels"]))
        species = iris.species_names(predictions)
        print(f"Predicted {len(species)} rows, accuracy {accuracy:.3f}")
        print("Species: " + ", ".join(species))
        if accuracy < params["min_accuracy"]:
            raise ValueError(f"accuracy {accuracy:.3f} is below min_accuracy {params['min_accuracy']}")
        return {"accuracy": accuracy, "species": species}

    transform = SageMakerBatchTransformOperator(
        task_id="batch_transform",
        model_name=model_name,
        data=data["batch_input"],
        content_type="text/csv",
        accept="text/csv",
        split_type="Line",
        instance_count="{{ 1 }}",  # a number rendered by Jinja: converted to an integer
        base_job_name="iris-transform",
    )

    @task
    def show_transform_output(job: dict) -> dict:
        """Where the batch output is, and its first lines."""
        from smflow_airflow.hooks.sagemaker import SageMakerClientHook

        client = SageMakerClientHook().get_client()
        uri = f"{job['OutputPath'].rstrip('/')}/iris-features.csv.out"
        bucket, _, key = uri[5:].partition("/")
        lines = client.s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode().splitlines()
        print(f"Batch transform output at {uri}; first lines:")
        for line in lines[:5]:
            print(f"  {line}")
        return {"output": uri, "head": lines[:5]}

    delete = SageMakerDeleteEndpointOperator(task_id="delete_endpoint", endpoint_name=ENDPOINT_NAME)

    scored = evaluate(predict.output, data)
    shown = show_transform_output(transform.output)
    data >> train >> attach >> model >> deploy >> predict >> scored >> transform >> shown
    # deploy is the teardown's setup: clearing any task between them deploys the endpoint again
    shown >> delete.as_teardown(setups=deploy)


iris_lifecycle()
