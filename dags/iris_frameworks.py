"""``iris_lifecycle_pytorch`` and ``iris_lifecycle_tensorflow``: the Iris lifecycle of
``iris_lifecycle`` trained with PyTorch and with TensorFlow (SageMaker's deep-learning
containers) instead of scikit-learn.

upload Iris -> train (``scripts/pytorch_iris.py`` / ``scripts/tensorflow_iris.py``, with the
framework's version, py_version and a metric definition) -> create the model (the framework's
inference image, chosen by smflow from the training image) -> deploy -> predict the blog's 29 test
rows as JSON -> evaluate (accuracy; fails below ``min_accuracy``) -> delete the endpoint (a
teardown task).

Runs unchanged on AWS (pass ``role``, an execution role ARN or name, in the run's conf) or on
smflow's local runtime, which runs the framework images' contracts in local environments built
on first use (``smflow local env build tensorflow 2.19`` builds TensorFlow's ahead)::

    export AIRFLOW_CONN_AWS_DEFAULT='{"conn_type": "aws", "login": "smflow", "password": "smflow",
        "extra": {"endpoint_url": "http://127.0.0.1:9510", "region_name": "us-east-1"}}'
    airflow dags test iris_lifecycle_tensorflow

TensorFlow Serving answers ``{"predictions": [[score per class], ...]}``; the PyTorch script's
``predict_fn`` answers the class index of each row.
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
        "framework_version": "2.19",
        "py_version": "py312",
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
            "min_accuracy": Param(0.9, type="number", minimum=0, maximum=1),
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

        @task
        def evaluate(prediction: dict, data: dict, params: dict | None = None) -> dict:
            """Accuracy of the predictions on the blog's test rows; fails below ``min_accuracy``."""
            import numpy as np

            from smflow.examples import iris

            values = prediction["Predictions"]
            if isinstance(values, dict):  # TensorFlow Serving: class scores per row
                values = np.asarray(values["predictions"], dtype=float).argmax(axis=1)
            accuracy = iris.accuracy(np.asarray(values, dtype=float), np.asarray(data["test_labels"]))
            print(f"Predicted {len(np.asarray(values).reshape(-1))} rows, accuracy {accuracy:.3f}")
            if accuracy < params["min_accuracy"]:
                raise ValueError(f"accuracy {accuracy:.3f} is below min_accuracy {params['min_accuracy']}")
            return {"accuracy": accuracy}

        delete = SageMakerDeleteEndpointOperator(task_id="delete_endpoint", endpoint_name=endpoint_name)
        data >> train >> model >> deploy >> predict
        evaluate(predict.output, data) >> delete.as_teardown(setups=deploy)

    return lifecycle()


iris_lifecycle_pytorch = framework_lifecycle("pytorch")
iris_lifecycle_tensorflow = framework_lifecycle("tensorflow")
