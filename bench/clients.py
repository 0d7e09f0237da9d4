"""Unmodified AWS clients with their default settings against the local runtime, end to end:

- the SageMaker Python SDK v2 running the Scikit-Learn Iris notebook's calls (fit, attach, deploy,
  predict, deploy again from model data with SKLearnModel, delete, transformer), in its own
  virtual environment (``.smflow/sdk/``, built on first use: about a minute, needs the package
  index), with the SDK's defaults (it sleeps 30 s before its first DescribeEndpoint of each
  deploy and 5 s before its first DescribeTrainingJob/DescribeTransformJob of fit, attach and wait);
- ``aws sagemaker create-endpoint`` then ``aws sagemaker wait endpoint-in-service`` (a botocore
  waiter: it looks at once, then every 30 s);
- ``airflow dags test iris_amazon_provider`` (the Amazon provider's SageMaker operators with their
  default ``check_interval`` of 30 s) on a fresh SQLite metadata database.

Baselines, before the runtime answered with SageMaker's defaults and settled endpoint transitions
within the request: the notebook ~80 s up to ``attach``, which failed (issue 11); the CLI waiter
one 30 s delay (its first look found Creating). Also reported: each client's floor, the sum of the
sleeps it takes before looking, which no server can shorten.

Usage: ``python bench/clients.py [--quick]`` (one run of each; about 3 minutes).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as c  # noqa: E402

SDK_VERSION = "2.257.7"  # as tests/sdk/conftest.py (the oracle's pinned version)
SDK_DIR = c.REPO / ".smflow" / "sdk" / f"sagemaker-{SDK_VERSION}-py{sys.version_info.major}.{sys.version_info.minor}"
NOTEBOOK = c.REPO / "tests" / "integration" / "clients" / "sdk_notebook.py"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
SDK_CONFIG = 'SchemaVersion: "1.0"\nSageMaker:\n  PythonSDK:\n    Modules:\n      TelemetryOptOut: true\n'
BASELINES = {"notebook": 80.0, "waiter": 30.0, "dag": None}  # the DAG is new: no figure before
# The seconds each client sleeps before it looks, whatever the server does (their defaults).
FLOORS = {"notebook": 5 + 5 + 30 + 30 + 5, "waiter": 0.0, "dag": 30 + 30}


def sdk_python() -> Path:
    """The SDK's interpreter, creating its virtual environment if needed (tests/sdk/conftest.py's)."""
    python = SDK_DIR / "bin" / "python"
    if (SDK_DIR / "ready.json").is_file():
        return python
    c.log(f"creating {SDK_DIR} (sagemaker=={SDK_VERSION}; about a minute)")
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "venv", str(SDK_DIR)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    f"sagemaker=={SDK_VERSION}"], check=True, timeout=1800)
    (SDK_DIR / "ready.json").write_text(json.dumps({"version": SDK_VERSION,
                                                    "build_seconds": round(time.monotonic() - started, 1)}))
    return python


def client_env(url: str, scratch: Path) -> dict[str, str]:
    config = scratch / "sagemaker-config.yaml"
    config.write_text(SDK_CONFIG)
    return {**os.environ, "AWS_ENDPOINT_URL": url, "AWS_ACCESS_KEY_ID": "smflow", "AWS_SECRET_ACCESS_KEY": "smflow",
            "AWS_DEFAULT_REGION": "us-east-1", "SAGEMAKER_USER_CONFIG_OVERRIDE": str(config), "AWS_PAGER": ""}


def notebook(url: str, scratch: Path) -> dict:
    from smflow.examples import iris

    data = iris.write_training_csv(scratch / "data" / "iris.csv").parent
    features, _ = iris.blog_test_rows()
    iris.write_features_csv(scratch / "batch" / "test.csv", features)
    c.client_for(url).s3.create_bucket(Bucket="bench-sdk-notebook")
    payload = {"bucket": "bench-sdk-notebook", "entry_point": str(iris.training_script()), "data_dir": str(data),
               "features": features.tolist(), "role": ROLE}
    python = sdk_python()
    started = time.monotonic()
    done = subprocess.run([str(python), str(NOTEBOOK)], input=json.dumps(payload), capture_output=True, text=True,
                          env=client_env(url, scratch), timeout=900)
    seconds = time.monotonic() - started
    if done.returncode:
        raise RuntimeError(f"the notebook failed: {done.stdout[-3000:]}{done.stderr[-2000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return {"seconds": seconds, "steps": result["steps"]}


def cli_waiter(url: str, scratch: Path) -> dict:
    client = c.client_for(url)
    archive = c.write_blog_model(scratch / "model")
    name = f"bench-cli-{int(time.time())}"
    c.create_blog_model(client, archive, name)
    client.sagemaker.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[{
        "VariantName": "AllTraffic", "ModelName": name, "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}])
    aws = [str(Path(sys.executable).with_name("aws"))]
    env = client_env(url, scratch)
    started = time.monotonic()
    subprocess.run([*aws, "sagemaker", "create-endpoint", "--endpoint-name", name, "--endpoint-config-name", name],
                   env=env, check=True, capture_output=True, timeout=120)
    created = time.monotonic()
    subprocess.run([*aws, "sagemaker", "wait", "endpoint-in-service", "--endpoint-name", name],
                   env=env, check=True, capture_output=True, timeout=120)
    waited = time.monotonic()
    client.sagemaker.delete_endpoint(EndpointName=name)
    return {"create_s": created - started, "wait_s": waited - created, "seconds": waited - started}


def amazon_dag(url: str, scratch: Path) -> dict:
    sys.path.insert(0, str(c.REPO / "providers"))
    from smflow_airflow import demo

    env = demo.airflow_env(scratch / "airflow", c.REPO / "dags", url, False)
    code, lines = demo.run(["db", "migrate"], env, echo=False, timeout=300)
    if code:
        raise RuntimeError("airflow db migrate failed:\n" + "\n".join(lines[-30:]))
    started = time.monotonic()
    code, lines = demo.dags_test("iris_amazon_provider", env, echo=False, timeout=900)
    seconds = time.monotonic() - started
    if code:
        raise RuntimeError("airflow dags test iris_amazon_provider failed:\n" + "\n".join(lines[-40:]))
    return {"seconds": seconds}


def main(argv=None) -> int:
    args = c.parse_args(__doc__.splitlines()[0], argv)
    details: dict = {"machine": c.machine(), "baselines": BASELINES, "floors": FLOORS}
    errors: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="smflow-bench-clients-") as scratch, c.local_runtime() as runtime:
        for key, measure in (("waiter", cli_waiter), ("notebook", notebook), ("dag", amazon_dag)):
            folder = Path(scratch) / key
            folder.mkdir()
            try:
                details[key] = measure(runtime.url, folder)
                c.log(f"{key}: {details[key]['seconds']:.1f} s")
            except Exception as error:  # noqa: BLE001 - reported in the table
                errors[key] = f"{type(error).__name__}: {str(error)[-600:]}"
                c.log(f"{key} failed: {errors[key]}")

    def seconds(key: str) -> float | None:
        # the waiter's row: `aws sagemaker wait endpoint-in-service` after create-endpoint returned
        return details.get(key, {}).get("wait_s" if key == "waiter" else "seconds")

    targets = {"notebook": 15.0, "waiter": 2.0, "dag": 30.0}
    labels = {
        "notebook": "SageMaker Python SDK v2: the Iris notebook end to end",
        "waiter": "aws sagemaker wait endpoint-in-service after create-endpoint",
        "dag": "Amazon provider: airflow dags test iris_amazon_provider",
    }
    rows = []
    for key in ("notebook", "waiter", "dag"):
        value = seconds(key)
        row = c.Row(labels[key], "s", "before" if BASELINES[key] else None, BASELINES[key], value,
                    c.ratio(value, BASELINES[key]),
                    f"<= {targets[key]:g} s", None if value is None else value <= targets[key],
                    note=errors.get(key) or f"the client's own sleeps before it looks: {FLOORS[key]:g} s"
                    + (f"; create-endpoint took {details['waiter']['create_s']:.1f} s (CLI start included)"
                       if key == "waiter" else ""))
        rows.append(row)
    c.print_table("Unmodified AWS clients with their defaults (one run each, local runtime)", rows)
    c.write_results("clients", args, rows, details)
    return 0 if not errors else 1


if __name__ == "__main__":
    sys.exit(main())
