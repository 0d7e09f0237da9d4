"""DAGs used only by tests/airflow/test_dags.py (bundle ``smflow-test-dags``)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from airflow.sdk import DAG, Param

from smflow_airflow.operators.sagemaker import (
    SageMakerDeleteEndpointOperator,
    SageMakerDeployOperator,
    SageMakerPredictOperator,
    SageMakerTrainOperator,
)

SCRIPTS = Path(__file__).resolve().parent / "scripts"
START = datetime(2025, 1, 1)

with DAG("smflow_test_streaming", schedule=None, start_date=START, catchup=False):
    # The job logs a line, waits 4 s, logs another: the first must reach the task log while waiting.
    SageMakerTrainOperator(task_id="train", entry_point=str(SCRIPTS / "slow_training.py"), check_interval=1)

with DAG("smflow_test_failing_training", schedule=None, start_date=START, catchup=False,
         default_args={"retries": 1, "retry_delay": timedelta(seconds=0)}):
    # Each try fails; the retry must start "<name>-2" instead of reusing the failed job.
    SageMakerTrainOperator(task_id="train", entry_point=str(SCRIPTS / "failing_training.py"), check_interval=1)

with DAG("smflow_test_teardown", schedule=None, start_date=START, catchup=False,
         params={"model_name": Param("", type="string"), "endpoint_name": Param("", type="string")}):
    deploy = SageMakerDeployOperator(task_id="deploy", model_name="{{ params.model_name }}",
                                     endpoint_name="{{ params.endpoint_name }}", check_interval=1)
    # text/plain is not a content type the predictor can send: the task fails for good
    predict = SageMakerPredictOperator(task_id="predict", endpoint_name="{{ params.endpoint_name }}",
                                       data=[[5.1, 3.5, 1.4, 0.2]], content_type="text/plain")
    delete = SageMakerDeleteEndpointOperator(task_id="delete_endpoint", endpoint_name="{{ params.endpoint_name }}")
    deploy >> predict >> delete.as_teardown(setups=deploy)
