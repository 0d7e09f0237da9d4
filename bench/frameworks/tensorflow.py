"""TensorFlow on the local runtime beside the same work done directly in one process.

Figures (issue 13's targets in brackets):

- environment build: cold (a fresh environments folder; ``--cold``, 1.6 GB, minutes) and warm (the
  built environment found and checked);
- training, CreateTrainingJob to Completed with a warm environment, beside the same script
  (``dags/scripts/tensorflow_iris.py``) run directly by the environment's python
  [at most 1.5x + 1 s];
- serving, CreateEndpoint to the first answer, beside a fresh python of the environment that loads
  the SavedModel and predicts once [at most 1.5x + 1 s];
- invoke throughput at concurrency 8 (TensorFlow Serving JSON, 10 rows a request) through
  InvokeEndpoint, beside the SavedModel's signature called in one process by 8 threads
  [at least 0.5x].

Run: ``python bench/frameworks/tensorflow.py [--quick] [--cold]`` (with the runtime's python and
``PYTHONPATH`` as for the tests; ``SMFLOW_ENVIRONMENTS_DIR`` chooses the environments folder).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import _common as c
from invoke import boto3_request  # the raw request boto3 sends, as bench/invoke.py replays it

VERSION = "2.19"
PY_VERSION = "py312"
SCRIPT = c.REPO / "dags" / "scripts" / "tensorflow_iris.py"
HYPERPARAMETERS = {"epochs": 100, "lr": 0.05}
CONCURRENCY = 8
ROWS_PER_REQUEST = 10

# A fresh process of the environment: load the SavedModel, predict once (the direct baseline of
# "CreateEndpoint to the first answer").
LOAD_AND_PREDICT = """
import sys, time, json
start = time.perf_counter()
import tensorflow as tf
loaded = tf.saved_model.load(sys.argv[1])
function = loaded.signatures["serving_default"]
name = list(function.structured_input_signature[1])[0]
rows = json.loads(sys.argv[2])
function(**{name: tf.constant(rows, dtype=tf.float32)})
print(time.perf_counter() - start)
"""

# The in-process throughput baseline: the signature called by 8 threads for a while.
IN_PROCESS_THROUGHPUT = """
import sys, time, json, threading
import tensorflow as tf
loaded = tf.saved_model.load(sys.argv[1])
function = loaded.signatures["serving_default"]
name = list(function.structured_input_signature[1])[0]
rows = tf.constant(json.loads(sys.argv[2]), dtype=tf.float32)
threads, duration = int(sys.argv[3]), float(sys.argv[4])
for _ in range(20):
    function(**{name: rows})
counts = [0] * threads
end = time.perf_counter() + duration
def work(index):
    while time.perf_counter() < end:
        function(**{name: rows})
        counts[index] += 1
workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
start = time.perf_counter()
[w.start() for w in workers]
[w.join() for w in workers]
print(sum(counts) / (time.perf_counter() - start))
"""


def build_seconds(spec, root: Path) -> float:
    from smflow.local.containers import environments

    started = time.perf_counter()
    environments.ensure_environment(spec, lambda line: None, root=root)
    return time.perf_counter() - started


def direct_training(python: str, data_dir: Path, work: Path) -> float:
    """The training script run by the environment's python, as a user would run it by hand."""
    model_dir = work / "model"
    model_dir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "SM_MODEL_DIR": str(model_dir), "SM_CHANNEL_TRAIN": str(data_dir),
           "TF_CPP_MIN_LOG_LEVEL": "1"}
    env.pop("PYTHONPATH", None)
    started = time.perf_counter()
    subprocess.run([python, str(SCRIPT), "--epochs", str(HYPERPARAMETERS["epochs"]), "--lr",
                    str(HYPERPARAMETERS["lr"])], env=env, check=True, capture_output=True, timeout=1800)
    return time.perf_counter() - started


def main(argv=None) -> int:
    args = c.parse_args(__doc__.split("\n\n")[0], argv, extra=lambda parser: parser.add_argument(
        "--cold", action="store_true", help="also time a cold environment build (1.6 GB download and install)"))
    runs = args.runs or (1 if args.quick else 3)
    duration = 5.0 if args.quick else 15.0
    from smflow.examples import iris
    from smflow.local.containers import environments
    from smflow.local.containers.frameworks import tensorflow as contract

    spec = contract.environment(VERSION)
    rows: list[c.Row] = []
    details: dict = {"version": spec.framework_version, "runs": runs}

    cold = None
    if args.cold:
        with tempfile.TemporaryDirectory(prefix="smflow-tf-cold-") as scratch:
            c.log("cold environment build (downloads and installs TensorFlow)")
            cold = build_seconds(spec, Path(scratch))
    c.log("warm environment (building it first if this environments folder has none)")
    environments.ensure_environment(spec, lambda line: None)
    started = time.perf_counter()
    python = environments.ensure_environment(spec, lambda line: None)
    warm = time.perf_counter() - started
    rows.append(c.Row("environment build, cold", "s", None, None, cold,
                      note=None if args.cold else "pass --cold to measure (1.6 GB)"))
    rows.append(c.Row("environment, warm (found and checked)", "s", None, None, warm))

    features, _ = iris.blog_test_rows()
    request_rows = features[:ROWS_PER_REQUEST].tolist()
    with tempfile.TemporaryDirectory(prefix="smflow-tf-bench-") as scratch:
        scratch = Path(scratch)
        data_dir = iris.write_training_csv(scratch / "train" / "iris.csv").parent
        direct = [direct_training(python, data_dir, scratch / f"direct-{run}") for run in range(runs)]
        export = scratch / f"direct-{runs - 1}" / "model" / "1"

        with c.local_runtime(timeout=120) as runtime:
            client = c.client_for(runtime.url)
            train = client.upload_data(str(data_dir), key_prefix="bench/tf/train")
            jobs, job_names = [], []
            for run in range(runs):
                started = time.perf_counter()
                job = client.train(entry_point=str(SCRIPT), framework="tensorflow", framework_version=VERSION,
                                   py_version=PY_VERSION, hyperparameters=HYPERPARAMETERS, inputs={"train": train},
                                   base_job_name="bench-tf", logs=False, timeout=1800)
                jobs.append(time.perf_counter() - started)
                job_names.append(job["TrainingJobName"])
            direct_median, job_median = c.median(direct), c.median(jobs)
            limit = 1.5 * direct_median + 1.0
            rows.append(c.Row("training: CreateTrainingJob to Completed", "s", "script run directly",
                              direct_median, job_median, c.ratio(job_median, direct_median),
                              "<= 1.5x + 1 s", job_median <= limit))

            first_answers, loads = [], []
            model = client.create_model(training_job_name=job_names[-1], model_name="bench-tf-model")
            body = json.dumps({"instances": request_rows}).encode()
            for run in range(runs):
                name = f"bench-tf-{run}"
                started = time.perf_counter()
                client.deploy(model_name=model["ModelName"], endpoint_name=name)
                client.invoke(name, body, content_type="application/json")
                first_answers.append(time.perf_counter() - started)
                if run < runs - 1:
                    client.delete_endpoint(name)
                env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
                started = time.perf_counter()
                subprocess.run([python, "-c", LOAD_AND_PREDICT, str(export), json.dumps(request_rows)],
                               check=True, capture_output=True, env=env, timeout=600)
                loads.append(time.perf_counter() - started)
            direct_median, endpoint_median = c.median(loads), c.median(first_answers)
            rows.append(c.Row("serving: CreateEndpoint to first answer", "s", "fresh python: load + predict",
                              direct_median, endpoint_median, c.ratio(endpoint_median, direct_median),
                              "<= 1.5x + 1 s", endpoint_median <= 1.5 * direct_median + 1.0))

            endpoint = f"bench-tf-{runs - 1}"

            request = boto3_request(client, body, runtime.port, endpoint=endpoint)
            request = request.replace(b"Content-Type: text/csv", b"Content-Type: application/json")
            request = request.replace(b"Accept: text/csv", b"Accept: application/json")
            result = c.closed_loop(runtime.port, request, CONCURRENCY, duration, warmup=5)
            in_process = float(subprocess.run(
                [python, "-c", IN_PROCESS_THROUGHPUT, str(export), json.dumps(request_rows), str(CONCURRENCY),
                 str(duration)], check=True, capture_output=True, text=True, env=env, timeout=600,
            ).stdout.strip().splitlines()[-1])
            rows.append(c.Row(f"invoke throughput, concurrency {CONCURRENCY}", "req/s", "signature in one process",
                              in_process, result.throughput, c.ratio(result.throughput, in_process), ">= 0.5x",
                              result.throughput >= 0.5 * in_process,
                              note=f"{result.errors} errors; p50 {c.percentile(result.latencies, 50) * 1000:.1f} ms"))
            client.delete_endpoint(endpoint)
            details.update(direct_training=direct, jobs=jobs, loads=loads, first_answers=first_answers)

    c.print_table(f"TensorFlow {spec.framework_version} on the local runtime", rows)
    c.write_results("frameworks-tensorflow", args, rows, details)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
