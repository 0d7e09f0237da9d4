"""``iris_scheduled_retraining``: retrain on the latest data every week and promote the new model
to the live endpoint only if it is at least as good as the live one.

land the latest data -> retrain -> create the model -> score the new model (batch transform of
the held-out rows) -> score the live model the same way and compare -> if not worse: update the
live endpoint to the new model (UpdateEndpoint: the old model serves until the new one is
InService, so there is no downtime); the first run creates the endpoint.

Both models are scored the same way, by a batch transform of the blog's 29 held-out rows; the
promotion rule and the held-out rows are the shared ``smflow.examples.retraining`` logic (the
Prefect flow of the same name uses it too).
Parsing this file does no network calls and imports no boto3, NumPy or scikit-learn.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from airflow.sdk import Param, dag, task

from smflow_airflow.operators.sagemaker import (
    SageMakerBatchTransformOperator,
    SageMakerCreateModelOperator,
    SageMakerDeployOperator,
    SageMakerTrainOperator,
)

TRAINING_SCRIPT = str(Path(__file__).resolve().parent / "scripts" / "scikit_learn_iris.py")
ROLE = "{{ params.role or '' }}"


@dag(
    dag_id="iris_scheduled_retraining",
    description="Weekly: retrain the Iris model and update the live endpoint if it is not worse",
    schedule="@weekly",
    start_date=datetime(2025, 1, 1),
    catchup=False,
    max_active_runs=1,  # two runs must not update the same endpoint at once
    tags=["smflow", "sagemaker", "iris"],
    params={
        "endpoint_name": Param("iris-live", type="string", description="the live endpoint"),
        "bucket": Param("", type="string", description="S3 bucket; empty: sagemaker-<region>-<account>"),
        "max_leaf_nodes": Param(30, type="integer", minimum=2),
        "role": Param("", type="string", description="SageMaker execution role ARN (AWS only)"),
    },
    default_args={"retries": 1, "retry_delay": timedelta(minutes=1)},
)
def iris_scheduled_retraining():
    @task
    def land_latest_data(params: dict | None = None, ds_nodash: str | None = None, run_id: str | None = None) -> dict:
        """Stand-in for the upstream system: this week's training data and the held-out rows."""
        import tempfile

        from smflow.examples import iris, retraining
        from smflow.naming import sanitize
        from smflow_airflow.hooks.sagemaker import SageMakerClientHook

        client = SageMakerClientHook(default_bucket=params["bucket"] or None).get_client()
        bucket = client.default_bucket()  # created when missing
        prefix = f"iris-retraining/{ds_nodash or sanitize(run_id)}"
        with tempfile.TemporaryDirectory(prefix="iris-") as scratch:
            train = client.upload_data(iris.write_training_csv(Path(scratch, "iris.csv")).parent,
                                       key_prefix=f"{prefix}/data")
        holdout, labels = retraining.upload_holdout(client, key_prefix=f"{prefix}/holdout")
        print(f"Latest training data at {train}; held-out rows at {holdout}")
        return {"bucket": bucket, "train": train, "holdout": holdout, "labels": labels}

    data = land_latest_data()

    retrain = SageMakerTrainOperator(
        task_id="retrain",
        entry_point=TRAINING_SCRIPT,
        hyperparameters={"max_leaf_nodes": "{{ params.max_leaf_nodes }}"},
        inputs=data["train"],
        base_job_name="iris-retrain",
        role=ROLE,
    )
    model = SageMakerCreateModelOperator(
        task_id="create_model",
        training_job_name="{{ ti.xcom_pull(task_ids='retrain')['TrainingJobName'] }}",
        role=ROLE,
    )
    new_model = "{{ ti.xcom_pull(task_ids='create_model')['ModelName'] }}"
    score_new = SageMakerBatchTransformOperator(
        task_id="score_new_model",
        model_name=new_model,
        data=data["holdout"],
        content_type="text/csv",
        accept="text/csv",
        split_type="Line",
        base_job_name="iris-score-new",
    )

    @task
    def find_live_model(params: dict | None = None) -> str:
        """The model behind the live endpoint; skips live scoring when there is no endpoint yet."""
        from airflow.sdk.exceptions import AirflowSkipException

        from smflow.examples import retraining
        from smflow_airflow.hooks.sagemaker import SageMakerClientHook

        live = retraining.live_model_name(SageMakerClientHook().get_client(), params["endpoint_name"])
        if live is None:
            raise AirflowSkipException(f"no live endpoint {params['endpoint_name']} yet: the new model goes live")
        return live

    live_model = find_live_model()
    score_live = SageMakerBatchTransformOperator(
        task_id="score_live_model",
        model_name=live_model,
        data=data["holdout"],
        content_type="text/csv",
        accept="text/csv",
        split_type="Line",
        base_job_name="iris-score-live",
    )

    @task(trigger_rule="none_failed")
    def compare(new_job: dict, data: dict, ti=None) -> dict:
        """Accuracy of the new and of the live model on the same held-out rows."""
        from smflow.examples import retraining
        from smflow_airflow.hooks.sagemaker import SageMakerClientHook

        client = SageMakerClientHook().get_client()

        def accuracy(job: dict) -> float:
            uri = f"{job['OutputPath'].rstrip('/')}/holdout.csv.out"
            bucket, _, key = uri[5:].partition("/")
            lines = client.s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode().split()
            hits = [float(line) == label for line, label in zip(lines, data["labels"], strict=True)]
            return sum(hits) / len(hits)

        live_job = ti.xcom_pull(task_ids="score_live_model")  # None when live scoring was skipped
        new_score = accuracy(new_job)
        live_score = accuracy(live_job) if live_job else None
        promote = retraining.should_promote(new_score, live_score)
        live_name = live_job["ModelName"] if live_job else None
        print(f"New model {new_job['ModelName']}: accuracy {new_score:.3f}; live model {live_name}: "
              f"{'none' if live_score is None else f'{live_score:.3f}'}; promote: {promote}")
        return {"new_model": new_job["ModelName"], "new_accuracy": new_score,
                "live_model": live_name, "live_accuracy": live_score, "promote": promote}

    @task.short_circuit
    def promote_if_not_worse(scores: dict) -> bool:
        return bool(scores["promote"])

    update_endpoint = SageMakerDeployOperator(
        task_id="update_endpoint", model_name=new_model, endpoint_name="{{ params.endpoint_name }}"
    )

    scores = compare(score_new.output, data)
    data >> retrain >> model >> score_new >> scores
    data >> live_model >> score_live >> scores
    promote_if_not_worse(scores) >> update_endpoint


iris_scheduled_retraining()
