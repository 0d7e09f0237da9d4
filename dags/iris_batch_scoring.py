"""``iris_batch_scoring``: every day, batch-transform the day's new Iris measurements with an
existing model.

land the day's input -> check the model exists -> start the batch transform job -> wait for it
with a sensor in reschedule mode (the worker slot is free between pokes) -> summarize the output
(rows and species counts in XCom).

The model is ``params.model_name`` (e.g. one that ``iris_lifecycle`` or
``iris_scheduled_retraining`` created). Parsing this file does no network calls and imports no
boto3, NumPy or scikit-learn.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from airflow.sdk import Param, dag, task

from smflow_airflow.operators.sagemaker import SageMakerBatchTransformOperator
from smflow_airflow.sensors.sagemaker import SageMakerTransformJobSensor

INPUT_FILE = "iris-measurements.csv"


@dag(
    dag_id="iris_batch_scoring",
    description="Daily: batch-transform the new Iris measurements with an existing model",
    schedule="@daily",
    start_date=datetime(2025, 1, 1),
    catchup=False,
    tags=["smflow", "sagemaker", "iris"],
    params={
        "model_name": Param("iris-model", type="string", description="an existing SageMaker model"),
        "bucket": Param("", type="string", description="S3 bucket; empty: sagemaker-<region>-<account>"),
    },
    default_args={"retries": 1, "retry_delay": timedelta(minutes=1)},
)
def iris_batch_scoring():
    @task
    def land_new_input(params: dict | None = None, ds_nodash: str | None = None, run_id: str | None = None) -> dict:
        """Stand-in for the upstream system: the day's measurements (features only), as CSV."""
        import tempfile

        from smflow.examples import iris
        from smflow.naming import sanitize
        from smflow_airflow.hooks.sagemaker import SageMakerClientHook

        client = SageMakerClientHook(default_bucket=params["bucket"] or None).get_client()
        bucket = client.default_bucket()
        day = ds_nodash or sanitize(run_id)
        features, _ = iris.blog_test_rows()
        with tempfile.TemporaryDirectory(prefix="iris-") as scratch:
            path = iris.write_features_csv(Path(scratch) / INPUT_FILE, features)
            uri = client.upload_data(path.parent, key_prefix=f"iris-batch-scoring/{day}/input")
        print(f"Landed {len(features)} rows at {uri}")
        return {"input": uri, "output": f"s3://{bucket}/iris-batch-scoring/{day}/output"}

    @task
    def check_model(params: dict | None = None) -> str:
        """Fail early, and for good, when the model does not exist."""
        from airflow.sdk.exceptions import AirflowFailException

        from smflow.client import is_not_found
        from smflow_airflow.hooks.sagemaker import SageMakerClientHook

        client = SageMakerClientHook().get_client()
        try:
            client.sagemaker.describe_model(ModelName=params["model_name"])
        except Exception as error:
            if getattr(error, "response", None) is not None and is_not_found(error):
                raise AirflowFailException(
                    f"model {params['model_name']!r} not found: pass the name of an existing model "
                    "as params.model_name (e.g. one created by iris_lifecycle)"
                ) from error
            raise
        return params["model_name"]

    data = land_new_input()
    model = check_model()

    start_scoring = SageMakerBatchTransformOperator(
        task_id="start_scoring",
        model_name="{{ params.model_name }}",
        data=data["input"],
        output_path=data["output"],
        content_type="text/csv",
        accept="text/csv",
        split_type="Line",
        base_job_name="iris-scoring",
        wait_for_completion=False,  # the sensor below waits without holding a worker slot
    )
    wait_for_scoring = SageMakerTransformJobSensor(
        task_id="wait_for_scoring",
        job_name="{{ ti.xcom_pull(task_ids='start_scoring')['TransformJobName'] }}",
        mode="reschedule",
        poke_interval=60,
        timeout=6 * 60 * 60,
    )

    @task
    def summarize(job: dict) -> dict:
        """Rows scored and the count of each species."""
        from smflow.examples.iris import SPECIES
        from smflow_airflow.hooks.sagemaker import SageMakerClientHook

        client = SageMakerClientHook().get_client()
        uri = f"{job['OutputPath'].rstrip('/')}/{INPUT_FILE}.out"
        bucket, _, key = uri[5:].partition("/")
        lines = client.s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode().split()
        counts = {name: 0 for name in SPECIES}
        for line in lines:
            counts[SPECIES[int(round(float(line)))]] += 1
        print(f"Scored {len(lines)} rows with {job['ModelName']}: {counts}; output at {uri}")
        return {"output": uri, "rows": len(lines), "species_counts": counts}

    [data, model] >> start_scoring >> wait_for_scoring
    summarize(wait_for_scoring.output)


iris_batch_scoring()
