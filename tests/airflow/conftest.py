"""Fixtures of the Airflow provider tests.

Airflow reads its configuration when it is first imported, so this module points it at a
throw-away AIRFLOW_HOME (SQLite metadata database, no example DAGs, the repository's ``dags/``
plus ``tests/airflow/dags/`` as DAG bundles) before anything imports ``airflow``. Nothing here
needs more than ``make test``'s set-up.

* Unit tests use ``stubbed``: a real ``SageMakerClient`` whose boto3 clients are driven by
  ``botocore.stub.Stubber`` (exact requests asserted, responses validated against the service
  model), handed to the operators and sensors in place of the connection's client.
* DAG tests (marker ``integration``) use ``airflow_db`` (the metadata database, migrated once per
  session), ``runtime`` (a real smflow local runtime process on a free port) and
  ``aws_connection`` (``AIRFLOW_CONN_AWS_DEFAULT`` pointing at it, ``endpoint_url`` in extras).
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import socket
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DAGS_FOLDER = REPO / "dags"
TEST_DAGS_FOLDER = Path(__file__).resolve().parent / "dags"
AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="smflow-airflow-home-"))
atexit.register(shutil.rmtree, AIRFLOW_HOME, ignore_errors=True)


def airflow_environment(home: Path) -> dict[str, str]:
    """The environment of an isolated Airflow: its home, a SQLite DB, the two DAG bundles."""
    bundles = [
        {"name": "smflow-dags", "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
         "kwargs": {"path": str(DAGS_FOLDER), "refresh_interval": 0}},
        {"name": "smflow-test-dags", "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
         "kwargs": {"path": str(TEST_DAGS_FOLDER), "refresh_interval": 0}},
    ]
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST": json.dumps(bundles),
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
    }


os.environ.update(airflow_environment(AIRFLOW_HOME))
for _name in ("AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE", "AIRFLOW_CONN_AWS_DEFAULT"):
    os.environ.pop(_name, None)

import boto3  # noqa: E402
import pytest  # noqa: E402
from botocore.stub import Stubber  # noqa: E402

from smflow.client import SageMakerClient  # noqa: E402
from smflow.waiting import Backoff  # noqa: E402

STUB_ENDPOINT = "http://127.0.0.1:9"  # never contacted: every call is stubbed
ROLE = "arn:aws:iam::123456789012:role/test"
RUN_ID = "manual__2026-01-01T00:00:00+00:00"


def connection_uri(endpoint_url: str) -> str:
    """``AIRFLOW_CONN_AWS_DEFAULT`` for the local runtime (JSON form)."""
    return json.dumps({
        "conn_type": "aws",
        # Airflow masks the password wherever it appears in logs and the UI: never a common word.
        "login": "smflow-local-key",
        "password": "smflow-local-secret",
        "extra": {"endpoint_url": endpoint_url, "region_name": "us-east-1"},
    })


# ---------------------------------------------------------------------- unit-test doubles
class RecordingTaskInstance:
    """The part of Airflow's task instance the operators use: ids and ``xcom_push``."""

    def __init__(self, task_id: str, dag_id: str = "test_dag", run_id: str = RUN_ID, map_index: int = -1):
        self.task_id = task_id
        self.dag_id = dag_id
        self.run_id = run_id
        self.map_index = map_index
        self.try_number = 1
        self.pushed: dict[str, object] = {}

    def xcom_push(self, key: str, value: object) -> None:
        json.dumps(value)  # what Airflow stores must be JSON-serializable
        self.pushed[key] = value

    def get_first_reschedule_date(self, context) -> None:  # reschedule-mode sensors ask for it
        return None


def make_context(task_id: str, **extra) -> dict:
    ti = RecordingTaskInstance(task_id)
    context = {"ti": ti, "task_instance": ti, "run_id": ti.run_id, "params": {}, "ds": "2026-01-01",
               "ds_nodash": "20260101"}
    context.update(extra)
    return context


class Stubbed:
    """A real SageMakerClient whose boto3 clients answer from Stubbers (``.sagemaker``,
    ``.runtime``, ``.logs``, ``.s3``); ``.lines`` collects what the client logs."""

    _session: boto3.session.Session | None = None  # shared: loading service models is slow

    def __init__(self) -> None:
        if Stubbed._session is None:
            Stubbed._session = boto3.session.Session(
                aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1"
            )
        session = Stubbed._session
        self.lines: list[str] = []
        self.client = SageMakerClient(
            session, endpoint_url=STUB_ENDPOINT, role=ROLE, default_bucket="test-bucket",
            log=self.lines.append, backoff=Backoff(initial=0.001, factor=1.0, maximum=0.001),
        )
        self.sagemaker = Stubber(self.client.sagemaker)
        self.runtime = Stubber(self.client.runtime)
        self.logs = Stubber(self.client.logs)
        self.s3 = Stubber(self.client.s3)
        self.all = (self.sagemaker, self.runtime, self.logs, self.s3)
        for stubber in self.all:
            stubber.activate()

    def get_client(self, log=None) -> SageMakerClient:
        self.client.log = log or self.lines.append
        return self.client

    def assert_done(self) -> None:
        for stubber in self.all:
            stubber.assert_no_pending_responses()

    def not_found(self, operation: str, **expected) -> None:
        self.sagemaker.add_client_error(
            operation, service_error_code="ValidationException",
            service_message="Requested resource not found.", expected_params=expected or None,
        )


@pytest.fixture
def stubbed(monkeypatch) -> Stubbed:
    """Operators and sensors get the stubbed client instead of the connection's."""
    from smflow_airflow.operators.sagemaker import SageMakerBaseOperator
    from smflow_airflow.sensors.sagemaker import SageMakerResourceSensor

    stub = Stubbed()
    monkeypatch.setattr(SageMakerBaseOperator, "get_client", lambda self, log=None: stub.get_client(log))
    monkeypatch.setattr(SageMakerResourceSensor, "get_client", lambda self, log=None: stub.get_client(log))
    yield stub
    for stubber in stub.all:
        stubber.deactivate()


# ---------------------------------------------------------------------- runtime and metadata DB
def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class LocalRuntime:
    """The smflow local runtime as a background process (tests/integration's pattern)."""

    def __init__(self, state_dir: Path):
        self.state_dir = state_dir
        self.port = free_port()
        self.url: str | None = None

    def start(self) -> str:
        from smflow.local import launcher

        info, _ = launcher.start_background(self.state_dir, port=self.port, timeout=90)
        self.url = info.url
        return self.url

    def stop(self) -> None:
        from smflow.local import launcher

        launcher.stop(self.state_dir)

    def client(self, **kwargs) -> SageMakerClient:
        kwargs.setdefault("backoff", Backoff(initial=0.1, factor=1.2, maximum=1.0))
        kwargs.setdefault("log", lambda line: None)
        return SageMakerClient(endpoint_url=self.url, **kwargs)


@pytest.fixture(scope="session")
def runtime(tmp_path_factory):
    runtime = LocalRuntime(tmp_path_factory.mktemp("smflow-airflow-state"))
    runtime.start()
    yield runtime
    runtime.stop()


@pytest.fixture(scope="session")
def aws_connection(runtime):
    """``aws_default`` points at the local runtime for the whole session."""
    os.environ["AIRFLOW_CONN_AWS_DEFAULT"] = connection_uri(runtime.url)
    yield runtime.url
    os.environ.pop("AIRFLOW_CONN_AWS_DEFAULT", None)


@pytest.fixture(scope="session")
def airflow_db():
    """Airflow's metadata database (SQLite in AIRFLOW_HOME), migrated once per session."""
    from airflow.utils import db

    db.initdb()
    return AIRFLOW_HOME / "airflow.db"


@pytest.fixture(scope="session")
def iris_model(runtime, aws_connection, tmp_path_factory):
    """One trained Iris job and its model, shared by the tests that need an existing model."""
    from smflow.examples import iris

    client = runtime.client()
    data_dir = tmp_path_factory.mktemp("iris-data")
    data = client.upload_data(iris.write_training_csv(data_dir / "iris.csv").parent, key_prefix="airflow-it/iris")
    job = client.train(entry_point=str(iris.TRAINING_SCRIPT), hyperparameters=iris.HYPERPARAMETERS,
                       inputs={"train": data}, base_job_name="airflow-it-iris", logs=False)
    model = client.create_model(training_job_name=job["TrainingJobName"])
    return {"job": job["TrainingJobName"], "model": model["ModelName"], "data": data}


@pytest.fixture(scope="session")
def slow_iris_model(runtime, iris_model):
    """The Iris model served by ``dags/scripts/slow_serving.py`` (model_fn takes 3 s): a batch
    transform job with it is still running when a sensor first looks at it."""
    model = runtime.client().create_model(training_job_name=iris_model["job"], model_name="airflow-it-iris-slow",
                                          entry_point=str(TEST_DAGS_FOLDER / "scripts" / "slow_serving.py"))
    return {**iris_model, "model": model["ModelName"]}
