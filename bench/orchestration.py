"""Orchestration cost: what smflow's Airflow operators cost to run, beside the Amazon provider's.

1. Import time, in a fresh interpreter that has already imported ``airflow.sdk``, of
   ``smflow_airflow.operators.sagemaker`` beside ``airflow.providers.amazon.aws.operators.sagemaker``
   (DAG parsing pays it). Target: at most half.
2. Completion-detection delay: from a training job's end (DescribeTrainingJob
   ``TrainingEndTime``, the runtime's clock, which is this machine's) to the operator's
   ``execute`` returning, with default settings, on the local runtime: smflow's
   ``SageMakerTrainOperator`` beside the Amazon provider's ``SageMakerTrainingOperator`` (its
   defaults: ``check_interval=30``, ``print_log=True``) against the same runtime and the same job
   (the blog's Iris training script). Target: under 1 s median.
3. DescribeTrainingJob calls per hour of waiting with default settings (what a long job costs in
   API calls on AWS), from each operator's polling schedule; the calls made during the measured
   runs are counted too. Target: at most 150.

Airflow runs from a throw-away ``AIRFLOW_HOME`` (SQLite, no examples); the ``aws_default``
connection (``AIRFLOW_CONN_AWS_DEFAULT``) points at the runtime. Operators are executed directly
(``operator.execute(context)``), as a worker would after templating.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _common as c

SMFLOW_MODULE = "smflow_airflow.operators.sagemaker"
AMAZON_MODULE = "airflow.providers.amazon.aws.operators.sagemaker"
HOUR = 3600.0


def airflow_environment(home: Path) -> dict[str, str]:
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
    }


def import_seconds(module: str, env: dict[str, str]) -> float:
    code = ("import time, airflow.sdk\n"
            "begin = time.perf_counter()\n"
            f"import {module}\n"
            "print(time.perf_counter() - begin)\n")
    completed = subprocess.run([c.PYTHON, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    if completed.returncode != 0:
        raise RuntimeError(completed.stderr.strip().splitlines()[-1] if completed.stderr.strip() else "failed")
    return float(completed.stdout.strip().splitlines()[-1])


def polls_per_hour(delays) -> int:
    """Describe calls in an hour of waiting: one at once, then one after each delay."""
    elapsed, calls = 0.0, 1
    for delay in delays:
        elapsed += delay
        if elapsed > HOUR:
            return calls
        calls += 1
    return calls


class _TaskInstance:
    """What the operators use of Airflow's task instance: ids and ``xcom_push``."""

    def __init__(self, task_id: str):
        self.task_id, self.dag_id, self.run_id = task_id, "bench", "manual__bench"
        self.map_index, self.try_number = -1, 1
        self.pushed: dict = {}

    def xcom_push(self, key: str, value) -> None:
        self.pushed[key] = value


def context_for(task_id: str) -> dict:
    ti = _TaskInstance(task_id)
    return {"ti": ti, "task_instance": ti, "run_id": ti.run_id, "params": {}, "ds": "2026-01-01",
            "ds_nodash": "20260101"}


class DescribeCounter:
    """Counts DescribeTrainingJob calls made by any boto3 client of this process."""

    def __init__(self) -> None:
        from botocore.client import BaseClient

        self.count = 0
        original = BaseClient._make_api_call
        counter = self

        def counting(client, operation_name, api_params):
            if operation_name == "DescribeTrainingJob":
                counter.count += 1
            return original(client, operation_name, api_params)

        BaseClient._make_api_call = counting


def detection_delay(run_operator, client, job_name: str, counter: DescribeCounter) -> dict:
    before = counter.count
    mark = time.perf_counter()
    run_operator()
    returned = time.time()
    wall = time.perf_counter() - mark
    calls = counter.count - before
    description = client.describe_training_job(job_name)
    if description["TrainingJobStatus"] != "Completed":
        raise RuntimeError(f"{job_name} is {description['TrainingJobStatus']}")
    return {"delay_s": returned - description["TrainingEndTime"].timestamp(), "operator_s": wall,
            "job_s": (description["TrainingEndTime"] - description["CreationTime"]).total_seconds(),
            "describe_calls": calls}


def main(argv=None) -> int:
    args = c.parse_args(__doc__.splitlines()[0], argv)
    runs = args.runs or (1 if args.quick else 3)
    samples = 3 if args.quick else 7
    details: dict = {"runs": runs, "import_samples": samples, "remaining": []}
    home = Path(tempfile.mkdtemp(prefix="smflow-bench-airflow-"))
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("AIRFLOW") or k == "AIRFLOW_HOME"}
    env.update(airflow_environment(home))
    os.environ.clear()
    os.environ.update(env)

    # 1. import time
    imports: dict[str, list[float]] = {SMFLOW_MODULE: [], AMAZON_MODULE: []}
    errors: dict[str, str] = {}
    for _ in range(samples):
        for module in imports:
            if module in errors:
                continue
            try:
                imports[module].append(import_seconds(module, env))
            except RuntimeError as error:
                errors[module] = str(error)
    details["import_seconds"] = imports
    details["import_errors"] = errors
    provider_ok = SMFLOW_MODULE not in errors
    if not provider_ok:
        details["remaining"].append(f"{SMFLOW_MODULE} is not importable here ({errors[SMFLOW_MODULE]})")

    # 3. calls per hour (from the polling schedules)
    from smflow.waiting import Backoff

    if provider_ok:
        from smflow_airflow import _common as provider_common

        smflow_backoff = provider_common.backoff(provider_common.DEFAULT_CHECK_INTERVAL)
        smflow_label = f"provider defaults ({smflow_backoff})"
    else:
        smflow_backoff = Backoff()
        smflow_label = f"client defaults ({smflow_backoff})"
    from airflow.providers.amazon.aws.operators.sagemaker import SageMakerTrainingOperator

    import inspect

    amazon_interval = inspect.signature(SageMakerTrainingOperator.__init__).parameters["check_interval"].default
    details["calls_per_hour"] = {
        "smflow": polls_per_hour(smflow_backoff.delays()), "smflow_schedule": smflow_label,
        "smflow_client_default": polls_per_hour(Backoff().delays()),
        "amazon": polls_per_hour(iter(lambda: float(amazon_interval), None)),
        "amazon_schedule": f"every {amazon_interval} s",
    }

    # 2. completion-detection delay
    details["smflow"], details["amazon"] = [], []
    with tempfile.TemporaryDirectory(prefix="smflow-bench-orchestration-") as scratch_name:
        scratch = Path(scratch_name)
        with c.local_runtime(scratch / "state") as runtime:
            os.environ["AIRFLOW_CONN_AWS_DEFAULT"] = json.dumps({
                "conn_type": "aws", "login": "smflow-local-key", "password": "smflow-local-secret",
                "extra": {"endpoint_url": runtime.url, "region_name": "us-east-1"},
            })
            import logging

            logging.getLogger("airflow").setLevel(logging.WARNING)
            from smflow.examples import iris

            client = c.client_for(runtime.url)
            data = client.upload_data(iris.write_training_csv(scratch / "data" / "iris.csv").parent,
                                      key_prefix="bench/orchestration/data")
            counter = DescribeCounter()
            for run in range(runs):
                stamp = time.strftime("%H%M%S")
                if provider_ok:
                    from smflow_airflow.operators.sagemaker import SageMakerTrainOperator

                    name = f"bench-orch-smflow-{run}-{stamp}"
                    operator = SageMakerTrainOperator(
                        task_id="train", entry_point=str(iris.TRAINING_SCRIPT),
                        hyperparameters=iris.HYPERPARAMETERS, inputs=data, job_name=name)
                    details["smflow"].append(detection_delay(
                        lambda: operator.execute(context_for("train")), client, name, counter))
                else:
                    name = f"bench-orch-client-{run}-{stamp}"
                    details["smflow"].append(detection_delay(
                        lambda: client.train(entry_point=str(iris.TRAINING_SCRIPT), inputs=data,
                                             hyperparameters=iris.HYPERPARAMETERS, job_name=name),
                        client, name, counter))
                name = f"bench-orch-amazon-{run}-{stamp}"
                config = client.prepare_training_job(job_name=name, entry_point=str(iris.TRAINING_SCRIPT),
                                                     hyperparameters=iris.HYPERPARAMETERS, inputs=data)
                amazon = SageMakerTrainingOperator(task_id="train", config=config)
                details["amazon"].append(detection_delay(
                    lambda: amazon.execute(context_for("train")), client, name, counter))
                c.log(f"run {run + 1}: smflow {details['smflow'][-1]['delay_s']:.2f} s, "
                      f"Amazon {details['amazon'][-1]['delay_s']:.2f} s after the job's end")

    smflow_import = c.median(imports[SMFLOW_MODULE])
    amazon_import = c.median(imports[AMAZON_MODULE])
    import_ratio = c.ratio(smflow_import, amazon_import)
    smflow_delay = c.median([r["delay_s"] for r in details["smflow"]])
    amazon_delay = c.median([r["delay_s"] for r in details["amazon"]])
    calls = details["calls_per_hour"]
    who = "SageMakerTrainOperator" if provider_ok else "SageMakerClient.train (provider not importable)"
    rows = [
        c.Row("import time of the operators module (after airflow.sdk)", "s", "Amazon provider", amazon_import,
              smflow_import, import_ratio, "<= 0.5x", None if import_ratio is None else import_ratio <= 0.5),
        c.Row(f"completion-detection delay ({who})", "s", "Amazon provider", amazon_delay, smflow_delay,
              c.ratio(smflow_delay, amazon_delay), "< 1 s", smflow_delay is not None and smflow_delay < 1.0),
        c.Row("DescribeTrainingJob calls per hour of waiting", "calls", "Amazon provider", calls["amazon"],
              calls["smflow"], c.ratio(calls["smflow"], calls["amazon"]), "<= 150", calls["smflow"] <= 150,
              note=f"smflow: {calls['smflow_schedule']}; Amazon: {calls['amazon_schedule']}"),
        c.Row("DescribeTrainingJob calls while waiting for the measured job", "calls", "Amazon provider",
              c.median([r["describe_calls"] for r in details["amazon"]]),
              c.median([r["describe_calls"] for r in details["smflow"]])),
    ]
    if errors:
        rows[0].note = "; ".join(f"{m}: {e}" for m, e in errors.items())
    c.print_table(f"Orchestration cost (Airflow; import: medians of {samples} fresh interpreters; delay: medians "
                  f"of {runs} run(s) on the local runtime)", rows)
    for item in details["remaining"]:
        print(f"not measured: {item}")
    c.write_results("orchestration", args, rows, details)
    return 0


if __name__ == "__main__":
    sys.exit(main())
