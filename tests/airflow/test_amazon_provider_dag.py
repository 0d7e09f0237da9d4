"""``dags/iris_amazon_provider.py``: Airflow's Amazon provider's own SageMaker operators
(training, model, endpoint, transform, delete model), unmodified and with their defaults
(``check_interval`` 30 s, ``print_log``), run by ``airflow dags test`` against the local runtime."""

from __future__ import annotations

import pytest

from .test_dags import airflow_runtime, run_cli  # noqa: F401 - the fixture

pytestmark = pytest.mark.integration


def test_amazon_provider_operators_run_the_iris_lifecycle(airflow_runtime):  # noqa: F811
    result = run_cli("iris_amazon_provider", airflow_runtime)

    assert result.exit_code == 0 and result.state == "success", result.output[-5000:]
    assert set(result.states.values()) == {"success"}, result.states
    training = result.value("train")["Training"]
    assert training["TrainingJobStatus"] == "Completed"
    assert training["OutputDataConfig"]["KmsKeyId"] == ""  # SageMaker's answer when no key is set
    assert "Billable seconds:" in result.output  # the hook read TrainingStartTime/TrainingEndTime
    assert "Trained a DecisionTreeClassifier on 150 rows" in result.output  # the job's log, via the hook
    assert result.value("create_model")["Model"]["ModelName"] == training["TrainingJobName"]
    assert result.value("deploy")["Endpoint"]["EndpointStatus"] == "InService"
    assert result.value("predict") == {"accuracy": 1.0, "count": 29}
    transform = result.value("batch_transform")["Transform"]
    assert transform["TransformJobStatus"] == "Completed"
    name = training["TrainingJobName"]
    assert result.value("delete_endpoint") == [f"Endpoint/{name}", f"EndpointConfig/{name}"]
    sagemaker = airflow_runtime.client().sagemaker
    assert name not in [e["EndpointName"] for e in sagemaker.list_endpoints(MaxResults=100)["Endpoints"]]
    assert name not in [m["ModelName"] for m in sagemaker.list_models(MaxResults=100)["Models"]]
    print(f"iris_amazon_provider: {result.seconds:.1f} s")
