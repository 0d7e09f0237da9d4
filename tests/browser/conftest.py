"""Fixtures of the browser tests: headless Chromium (Debian's ``chromium`` and ``chromium-driver``,
driven by Selenium through ``/usr/bin/chromedriver``; nothing is downloaded), a real local runtime
process, and real Iris runs on it (finished and still running).

The tests skip, saying why, when Chromium, its driver or Selenium is missing. Screenshots of the
pages go to ``$SMFLOW_SCREENSHOTS`` (``docs/console`` to refresh the README's), else to a
temporary folder.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import time
from pathlib import Path

import pytest

# The Airflow link classes import airflow: keep its files out of the home directory.
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="smflow-browser-airflow-"))

CHROMIUM = Path(os.environ.get("SMFLOW_CHROMIUM", "/usr/bin/chromium"))
CHROMEDRIVER = Path(os.environ.get("SMFLOW_CHROMEDRIVER", "/usr/bin/chromedriver"))
SCRIPTS = Path(__file__).resolve().parent / "scripts"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1400,1000")
RUNNING_SECONDS = 300  # how long the running training job runs unless the Stop test stops it

pytestmark = pytest.mark.integration


def _missing() -> str | None:
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing: apt-get install -y chromium chromium-driver"
    if not CHROMEDRIVER.exists():
        return f"{CHROMEDRIVER} is missing: apt-get install -y chromium-driver"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is missing: pip install 'smflow[dev]'"
    return None


@pytest.fixture(scope="session")
def browser(tmp_path_factory):
    reason = _missing()
    if reason:
        print(f"browser tests skipped: {reason}")
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory) -> Path:
    folder = Path(os.environ.get("SMFLOW_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Runtime:
    def __init__(self, state_dir: Path):
        self.state_dir = state_dir
        self.url: str | None = None

    def client(self, **kwargs):
        from smflow.client import SageMakerClient
        from smflow.waiting import Backoff

        kwargs.setdefault("backoff", Backoff(initial=0.1, factor=1.2, maximum=1.0))
        return SageMakerClient(endpoint_url=self.url, **kwargs)


@pytest.fixture(scope="session")
def runtime(tmp_path_factory, browser):
    from smflow.local import launcher

    runtime = Runtime(tmp_path_factory.mktemp("smflow-state"))
    info, _ = launcher.start_background(runtime.state_dir, port=_free_port(), timeout=90)
    runtime.url = info.url
    yield runtime
    launcher.stop(runtime.state_dir)


@pytest.fixture(scope="session")
def iris_runs(runtime, tmp_path_factory):
    """Real Iris runs: a finished training job, its model, an endpoint that answered the blog's 29
    rows, a finished transform job; and a training job and a transform job still running."""
    from smflow.examples import iris

    client = runtime.client()
    data_dir = tmp_path_factory.mktemp("iris")
    train = client.upload_data(iris.write_training_csv(data_dir / "train" / "iris.csv").parent,
                               key_prefix="browser/iris/train")
    metrics = [{"Name": "accuracy", "Regex": "accuracy ([0-9.]+)"}]
    finished = client.train(entry_point=str(SCRIPTS / "slow_iris.py"), hyperparameters={"max_leaf_nodes": 30},
                            inputs={"train": train}, base_job_name="iris-finished", metric_definitions=metrics,
                            logs=False)
    model = client.create_model(training_job_name=finished["TrainingJobName"],
                                environment={"SLOW_PREDICT_SECONDS": "0"})
    endpoint = client.deploy(model_name=model["ModelName"], endpoint_name=f"iris-live-{int(time.time())}")
    features, _ = iris.blog_test_rows()
    for row in range(0, len(features), 10):
        client.predict(endpoint["EndpointName"], features[row: row + 10])
    batch = client.upload_data(iris.write_features_csv(data_dir / "batch" / "iris-features.csv", features).parent,
                               key_prefix="browser/iris/batch")
    transformed = client.batch_transform(model_name=model["ModelName"], data=batch, accept="text/csv",
                                         base_job_name="iris-scored")
    # still running: a training job printing a line every half second, and a transform job over
    # 40 objects whose model takes two seconds per request
    running = client.train(entry_point=str(SCRIPTS / "slow_iris.py"),
                           hyperparameters={"max_leaf_nodes": 30, "seconds": RUNNING_SECONDS},
                           inputs={"train": train}, base_job_name="iris-running", metric_definitions=metrics,
                           wait=False)
    slow_model = client.create_model(training_job_name=finished["TrainingJobName"], model_name="iris-slow-model",
                                     environment={"SLOW_PREDICT_SECONDS": "2"})
    many = data_dir / "many"
    for index in range(40):
        iris.write_features_csv(many / f"part-{index:02d}.csv", features[index % 29: index % 29 + 1])
    many_uri = client.upload_data(many, key_prefix="browser/iris/many")
    slow_transform = client.batch_transform(model_name=slow_model["ModelName"], data=many_uri, accept="text/csv",
                                            batch_strategy="SingleRecord", base_job_name="iris-scoring", wait=False)
    yield {
        "client": client, "finished": finished["TrainingJobName"], "model": model["ModelName"],
        "endpoint": endpoint["EndpointName"], "transform": transformed["TransformJobName"],
        "transform_output": transformed["TransformOutput"]["S3OutputPath"],
        "running": running["TrainingJobName"], "running_transform": slow_transform["TransformJobName"],
        "train_uri": train,
    }
    client.stop_training_job(running["TrainingJobName"])  # a no-op (logged) once the Stop test stopped it
    shutil.rmtree(data_dir, ignore_errors=True)
