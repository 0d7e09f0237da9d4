"""``iris_lifecycle_pytorch`` and ``iris_lifecycle_tensorflow``: the Iris lifecycle of
``iris_lifecycle`` trained with PyTorch and with TensorFlow (SageMaker's deep-learning
containers) instead of scikit-learn.

upload Iris -> train (``scripts/pytorch_iris.py`` / ``scripts/tensorflow_iris.py``, with the
framework's version, py_version and a metric definition) -> create the model (the framework's
inference image, chosen by smflow from the training image) -> deploy -> predict the blog's 29 test
rows as JSON -> delete the endpoint (a teardown task).

These run on AWS (pass ``role``, an execution role ARN or name, in the run's conf). The local
runtime trains scikit-learn only until it runs the deep-learning containers' contract; until
then ``tests/airflow/test_framework_dags.py`` checks the requests these DAGs send.
Parsing this file does no network calls and imports no boto3, NumPy or a framework.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from airflow.sdk import Param, dag, task

from smflow.naming import stable_name
from smflow_airflow.operators.sagemaker import (
    SageMakerCreateModelOperator,
    SageMakerDeleteEndpointOperator,
    SageMakerDeployOperator,
    SageMakerPredictOperator,
    SageMakerTrainOperator,
)

SCRIPTS = Path(__file__).resolve().parent / "scripts"
ROLE = "{{ params.role or '' }}"
INSTANCE_TYPE = "ml.m5.xlarge"

# framework -> the SDK-style training arguments of its variant
VARIANTS = {
    "pytorch": {
        "entry_point": str(SCRIPTS / "pytorch_iris.py"),
        "framework_version": "2.0.1",
        "py_version": "py310",
        "hyperparameters": {"epochs": 300, "lr": 0.05},
    },
    "tensorflow": {
        "entry_point": str(SCRIPTS / "tensorflow_iris.py"),
        "framework_version": "2.13",
        "py_version": "py310",
        "hyperparameters": {"epochs": 200, "lr": 0.05},
    },
}
METRICS = [{"Name": "train:accuracy", "Regex": "train_accuracy=([0-9.]+)"}]


def framework_lifecycle(framework: str):
    """The DAG ``iris_lifecycle_<framework>`` for one of :data:`VARIANTS`."""
    variant = VARIANTS[framework]
    dag_id = f"iris_lifecycle_{framework}"
    endpoint_name = f"{{{{ sagemaker_name('iris-{framework}', dag.dag_id ~ '.' ~ run_id) }}}}"

    @dag(
        dag_id=dag_id,
        description=f"Train, deploy, predict and clean up an Iris model with {framework}",
        schedule=None,
        start_date=datetime(2025, 1, 1),
        catchup=False,
        tags=["smflow", "sagemaker", "iris", framework],
        params={
            "bucket": Param("", type="string", description="S3 bucket; empty: sagemaker-<region>-<account>"),
            "role": Param("", type="string", description="SageMaker execution role ARN or name (AWS)"),
        },
        default_args={"retries": 1, "retry_delay": timedelta(seconds=30)},
        user_defined_macros={"sagemaker_name": stable_name},
    )
    def lifecycle():
        @task
        def upload_iris(params: dict | None = None, run_id: str | None = None) -> dict:
            """Upload the blog's iris.csv; hand the test rows on."""
            import tempfile

            from smflow.examples import iris
            from smflow.naming import sanitize
            from smflow_airflow.hooks.sagemaker import SageMakerClientHook

            client = SageMakerClientHook(default_bucket=params["bucket"] or None).get_client()
            bucket = client.default_bucket()
            with tempfile.TemporaryDirectory(prefix="iris-") as scratch:
                train = client.upload_data(iris.write_training_csv(Path(scratch) / "iris.csv").parent,
                                           key_prefix=f"{dag_id}/{sanitize(run_id)}/data")
            test_x, test_y = iris.blog_test_rows()
            return {"bucket": bucket, "train": train, "test_features": test_x.tolist(),
                    "test_labels": test_y.tolist()}

        data = upload_iris()
        train = SageMakerTrainOperator(
            task_id="train",
            framework=framework,
            instance_type=INSTANCE_TYPE,
            inputs={"train": data["train"]},
            output_path=f"s3://{{{{ ti.xcom_pull(task_ids='upload_iris')['bucket'] }}}}/{dag_id}/models",
            metric_definitions=METRICS,
            base_job_name=f"iris-{framework}",
            role=ROLE,
            **variant,
        )
        model = SageMakerCreateModelOperator(
            task_id="create_model",
            training_job_name="{{ ti.xcom_pull(task_ids='train')['TrainingJobName'] }}",
            instance_type=INSTANCE_TYPE,
            role=ROLE,
        )
        deploy = SageMakerDeployOperator(
            task_id="deploy", model_name="{{ ti.xcom_pull(task_ids='create_model')['ModelName'] }}",
            endpoint_name=endpoint_name, instance_type=INSTANCE_TYPE,
        )
        predict = SageMakerPredictOperator(
            task_id="predict", endpoint_name=endpoint_name, data=data["test_features"],
            content_type="application/json", accept="application/json",
        )
        delete = SageMakerDeleteEndpointOperator(task_id="delete_endpoint", endpoint_name=endpoint_name)
        data >> train >> model >> deploy >> predict
        predict >> delete.as_teardown(setups=deploy)

    return lifecycle()


iris_lifecycle_pytorch = framework_lifecycle("pytorch")
iris_lifecycle_tensorflow = framework_lifecycle("tensorflow")
