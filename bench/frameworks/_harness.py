"""The harness of the per-framework benchmarks (``bench/frameworks/<name>.py``).

API: a framework's benchmark module describes one :class:`FrameworkCase` and calls
:func:`run` from its ``if __name__ == "__main__":`` block::

    # bench/frameworks/<name>.py
    from _harness import FrameworkCase, run

    def make_data(folder): ...            # writes the training channel's files (runtime's python)
    def load(model_dir): ...              # the framework's own loading (environment's python)
    def predict(model, payload): ...      # the framework's own in-process prediction

    CASE = FrameworkCase(name="<name>", framework="<smflow framework name>", framework_version="...",
                         py_version="py3", source_dir=SCRIPTS, entry_point="train.py",
                         make_data=make_data, hyperparameters={...}, payload=b"...",
                         content_type="text/csv", accept="application/json", load=load, predict=predict)

    if __name__ == "__main__":
        raise SystemExit(run(CASE))

``python bench/frameworks/<name>.py [--quick] [--runs N] [--skip-cold]`` then measures, with the
runtime started as users start it (``smflow local serve``, a child process) and the framework's
environment shared with the tests (``$SMFLOW_ENVIRONMENTS_DIR``, else ``<repo>/.smflow/environments``):

- **train**: CreateTrainingJob -> Completed (SDK-shaped request, code in ``sourcedir.tar.gz``, one
  File channel ``case.channel``) with the environment already built, beside the same entry point
  run directly by the environment's python in one process with the same ``SM_*`` variables and
  hyperparameter arguments (target: at most 1.5x the direct run plus 1 s);
- **deploy**: CreateEndpoint -> first answer of InvokeEndpoint (model of the first training job,
  code from the same ``sourcedir.tar.gz``, entry point ``case.inference_entry_point``), beside a
  fresh process of the environment's python that runs ``case.load`` then ``case.predict`` once
  (target: at most 1.5x plus 1 s);
- **environment build**: cold (into a temporary environments folder; pip's own cache stays
  warm, as on a machine that built it before) and warm (the check that finds it built); no
  target, the size is noted;
- **invoke throughput** at concurrency 8 (the exact request boto3's ``invoke_endpoint`` sends,
  8 kept-alive connections) beside the same request handled in one process of the environment's
  python by 8 threads: ``case.predict`` on the model loaded by ``case.load``, then the prediction
  serialized as the ``case.accept`` answer (``case.answer``, default :func:`encode_answer`)
  (target: at least 0.5x). Until r12 the baseline was ``case.predict`` alone, without the
  answer's serialization, which the endpoint must do (a model server's ``output_fn``): it is
  still measured and printed as a second row ("predict only"), so both definitions stay visible.
  The CPU time per request of the runtime, of the model server and of the load generator (this
  process, on the same cores) is written to the JSON (``throughput.cpu_ms_per_request``).

``case.load`` and ``case.predict`` run in the framework's environment: the harness starts this
same module there with a private ``--direct-*`` argument, so the benchmark module imports only
the standard library and this harness at module level (its framework inside the functions).

It prints a table (metric, baseline, smflow, ratio, target, met) and writes
``bench/results/frameworks/<name>.json`` (``bench/run_all.py`` reads ``frameworks/<name>``).
The module may be named like its framework (``sklearn.py``): once this harness is imported, its
folder is no longer on ``sys.path``, so ``import sklearn`` imports the framework.
Every wait is bounded; everything binds to 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FRAMEWORKS_DIR = Path(__file__).resolve().parent
BENCH_DIR = FRAMEWORKS_DIR.parent
REPO = BENCH_DIR.parent
# A benchmark module is named like its framework (sklearn.py, xgboost.py...) and Python put its
# folder first on the path: take it off, so that `import sklearn` imports the framework.
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != FRAMEWORKS_DIR]
sys.path.append(str(BENCH_DIR))  # _common; last, so that no bench module shadows a package

import _common as c  # noqa: E402 - bench/ is put on the path just above

REGION = "us-east-1"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
INSTANCE_TYPE = "ml.m5.xlarge"
CONCURRENCY = 8
TRAIN_TARGET = "<= 1.5x + 1 s"
THROUGHPUT_TARGET = ">= 0.5x"


@dataclass
class FrameworkCase:
    """One framework's benchmark.

    Attributes:
        name: the benchmark's name (``bench/results/frameworks/<name>.json``).
        framework: the framework's name in ``smflow.frameworks`` (``image_uris.retrieve``'s).
        framework_version, py_version: the image's, as the estimator takes them.
        source_dir: the folder packed as ``sourcedir.tar.gz`` (holds the entry points).
        entry_point: the training script, relative to ``source_dir``.
        make_data: ``make_data(folder)`` writes the training channel's files (runs in the
            runtime's python, where scikit-learn makes the data).
        hyperparameters: the estimator's hyperparameters (strings, numbers, booleans).
        payload, content_type, accept: one InvokeEndpoint request.
        load: ``load(model_dir) -> model``: the framework's own loading of what training saved
            (runs in the environment's python).
        predict: ``predict(model, payload: bytes) -> Any``: the framework's own in-process
            prediction on the decoded payload (environment's python).
        channel: the training channel's name (default ``train``).
        inference_entry_point: the serving script in ``source_dir`` (default: ``entry_point``).
        environment: the model's container Environment additions (e.g. worker counts).
        check_answer: ``check_answer(body: bytes) -> bool`` for InvokeEndpoint's answers
            (default: any 200 answer).
        answer: ``answer(prediction, accept) -> bytes``: the answer's serialization in the
            throughput baseline (environment's python; default :func:`encode_answer`).
    """

    name: str
    framework: str
    framework_version: str
    py_version: str | None
    source_dir: Path
    entry_point: str
    make_data: Callable[[Path], None]
    hyperparameters: dict[str, Any]
    payload: bytes
    content_type: str
    accept: str
    load: Callable[[str], Any]
    predict: Callable[[Any, bytes], Any]
    channel: str = "train"
    inference_entry_point: str | None = None
    environment: dict[str, str] = field(default_factory=dict)
    check_answer: Callable[[bytes], bool] | None = None
    answer: Callable[[Any, str], bytes] | None = None


def run(case: FrameworkCase, argv: list[str] | None = None) -> int:
    """The benchmark's ``main``: measures ``case`` (see the module docstring), prints the table,
    writes the JSON; returns the exit status (0, or 1 when a step failed)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0].startswith("--direct-"):
        return _direct(case, argv)
    args = c.parse_args(f"{case.name} on the local runtime, beside the framework run directly", argv,
                        extra=lambda parser: parser.add_argument(
                            "--skip-cold", action="store_true", help="do not time a cold environment build"))
    args.results_dir = str(Path(args.results_dir) / "frameworks") if args.results_dir == str(c.RESULTS_DIR) \
        else args.results_dir
    runs = args.runs or (1 if args.quick else 3)
    duration = 1.0 if args.quick else 3.0
    details: dict[str, Any] = {"runs": runs, "duration_s": duration, "framework": case.framework,
                               "framework_version": case.framework_version}
    with tempfile.TemporaryDirectory(prefix=f"smflow-bench-{case.name}-") as scratch_name:
        scratch = Path(scratch_name)
        bench = _Bench(case, scratch, runs, duration, details)
        bench.prepare_environment(cold=not args.skip_cold)
        bench.train()
        bench.deploy_and_invoke()
    rows = _rows(details)
    c.print_table(f"{case.name}: {case.framework} {case.framework_version} on the local runtime "
                  f"(medians of {runs} run(s))", rows)
    c.write_results(case.name, args, rows, details)
    return 0


# -- the runtime's side -----------------------------------------------------------------------


class _Bench:
    def __init__(self, case: FrameworkCase, scratch: Path, runs: int, duration: float, details: dict):
        self.case = case
        self.scratch = scratch
        self.runs = runs
        self.duration = duration
        self.details = details
        self.environments = Path(os.environ.get("SMFLOW_ENVIRONMENTS_DIR") or REPO / ".smflow" / "environments")
        os.environ["SMFLOW_ENVIRONMENTS_DIR"] = str(self.environments)
        from smflow.image_uris import retrieve
        from smflow.local.containers.environments import resolve_environment

        self.training_image = retrieve(case.framework, REGION, case.framework_version, case.py_version,
                                       INSTANCE_TYPE, "training")
        self.inference_image = retrieve(case.framework, REGION, case.framework_version, case.py_version,
                                        INSTANCE_TYPE, "inference")
        self.environment = resolve_environment(self.training_image)
        self.python = self.environment.python
        self.module = Path(sys.argv[0]).resolve()

    # environment ----------------------------------------------------------------------------

    def prepare_environment(self, cold: bool) -> None:
        from smflow.local.containers import environments

        spec = self.environment.spec
        figures = self.details.setdefault("environment", {})
        if spec is None:
            figures["note"] = "runs in the runtime's own interpreter: nothing to build"
            return
        if cold:
            root = self.scratch / "cold-environments"
            c.log(f"building the {spec.display} environment cold into {root}")
            began = time.perf_counter()
            environments.ensure_environment(spec, root=root)
            figures["cold_build_s"] = time.perf_counter() - began
            figures["size_mb"] = environments.directory_size(root / spec.folder_name) / 1e6
            shutil.rmtree(root, ignore_errors=True)
        began = time.perf_counter()
        self.python = environments.ensure_environment(spec, lambda line: None)
        figures["first_ensure_s"] = time.perf_counter() - began  # a build if the shared one was missing
        warm = []
        for _ in range(5):
            began = time.perf_counter()
            environments.ensure_environment(spec)
            warm.append(time.perf_counter() - began)
        figures["warm_check_s"] = c.median(warm)
        figures.setdefault("size_mb", environments.directory_size(environments.environment_path(spec)) / 1e6)

    def _direct_env(self) -> dict[str, str]:
        env = dict(os.environ)
        if self.environment.spec is not None:  # the environment's python sees only smflow of ours
            from smflow.local.containers.environments import package_path_env

            env.pop("PYTHONPATH", None)
            env.update(package_path_env())
        return env

    # training -------------------------------------------------------------------------------

    def train(self) -> None:
        case = self.case
        data = self.scratch / "data"
        data.mkdir()
        case.make_data(data)
        direct = []
        for index in range(self.runs):
            work = self.scratch / f"direct-{index}"
            (work / "model").mkdir(parents=True)
            (work / "output").mkdir()
            hps = {str(k): v for k, v in case.hyperparameters.items()}
            env = {**self._direct_env(), "SM_MODEL_DIR": str(work / "model"),
                   "SM_OUTPUT_DATA_DIR": str(work / "output"),
                   f"SM_CHANNEL_{case.channel.upper()}": str(data), "SM_CHANNELS": json.dumps([case.channel]),
                   "SM_HPS": json.dumps(hps), "SM_NUM_CPUS": str(os.cpu_count()), "SM_NUM_GPUS": "0",
                   "SM_HOSTS": '["algo-1"]', "SM_CURRENT_HOST": "algo-1", "PYTHONUNBUFFERED": "1",
                   **{f"SM_HP_{k.upper()}": str(v) for k, v in hps.items()}}
            arguments = [item for key, value in hps.items() for item in (f"--{key}", _cli_value(value))]
            began = time.perf_counter()
            done = subprocess.run([self.python, case.entry_point, *arguments], cwd=case.source_dir, env=env,
                                  stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=1800)
            direct.append(time.perf_counter() - began)
            if done.returncode != 0:
                raise RuntimeError(f"the script run directly failed: {done.stdout[-2000:]}{done.stderr[-2000:]}")
            c.log(f"train run {index + 1}: direct {direct[-1]:.2f} s")
        self.direct_model_dir = self.scratch / "direct-0" / "model"
        self.details["train"] = {"direct_s": direct}

    def deploy_and_invoke(self) -> None:
        import boto3

        case = self.case
        with c.local_runtime(self.scratch / "state", env={"SMFLOW_ENVIRONMENTS_DIR": str(self.environments)},
                             timeout=120) as runtime:
            session = boto3.session.Session(aws_access_key_id="bench", aws_secret_access_key="bench",
                                            region_name=REGION)
            sagemaker = session.client("sagemaker", endpoint_url=runtime.url)
            s3 = session.client("s3", endpoint_url=runtime.url)
            smrt = session.client("sagemaker-runtime", endpoint_url=runtime.url)
            bucket = f"bench-{case.name}-{uuid.uuid4().hex[:6]}".lower().replace("_", "-")
            s3.create_bucket(Bucket=bucket)
            source = self.scratch / "sourcedir.tar.gz"
            with tarfile.open(source, "w:gz") as archive:
                for path in sorted(Path(case.source_dir).rglob("*")):
                    if "__pycache__" not in path.parts:
                        archive.add(path, arcname=path.relative_to(case.source_dir).as_posix(), recursive=False)
            s3.upload_file(str(source), bucket, "code/sourcedir.tar.gz")
            for path in sorted((self.scratch / "data").rglob("*")):
                if path.is_file():
                    s3.upload_file(str(path), bucket, f"data/{path.relative_to(self.scratch / 'data').as_posix()}")
            code = f"s3://{bucket}/code/sourcedir.tar.gz"

            train_s, artifacts = [], None
            for index in range(self.runs):
                name = f"{case.name}-{index}-{uuid.uuid4().hex[:6]}".replace("_", "-")
                hyperparameters = {str(k): json.dumps(v) for k, v in case.hyperparameters.items()}
                hyperparameters.update(sagemaker_program=json.dumps(case.entry_point),
                                       sagemaker_submit_directory=json.dumps(code),
                                       sagemaker_region=json.dumps(REGION))
                began = time.perf_counter()
                sagemaker.create_training_job(
                    TrainingJobName=name, RoleArn=ROLE, HyperParameters=hyperparameters,
                    AlgorithmSpecification={"TrainingImage": self.training_image, "TrainingInputMode": "File"},
                    InputDataConfig=[{"ChannelName": case.channel, "DataSource": {"S3DataSource": {
                        "S3DataType": "S3Prefix", "S3Uri": f"s3://{bucket}/data",
                        "S3DataDistributionType": "FullyReplicated"}}}],
                    OutputDataConfig={"S3OutputPath": f"s3://{bucket}/output"},
                    ResourceConfig={"InstanceType": INSTANCE_TYPE, "InstanceCount": 1, "VolumeSizeInGB": 30},
                    StoppingCondition={"MaxRuntimeInSeconds": 3600})
                job = _poll(lambda n=name: sagemaker.describe_training_job(TrainingJobName=n), "TrainingJobStatus",
                            ("InProgress", "Stopping"), 3600)
                train_s.append(time.perf_counter() - began)
                if job["TrainingJobStatus"] != "Completed":
                    raise RuntimeError(f"training job {name} {job['TrainingJobStatus']}: {job.get('FailureReason')}")
                artifacts = artifacts or job["ModelArtifacts"]["S3ModelArtifacts"]
                c.log(f"train run {index + 1}: CreateTrainingJob -> Completed {train_s[-1]:.2f} s")
            self.details["train"]["smflow_s"] = train_s

            model_name = f"{case.name}-model".replace("_", "-")
            sagemaker.create_model(ModelName=model_name, ExecutionRoleArn=ROLE, PrimaryContainer={
                "Image": self.inference_image, "ModelDataUrl": artifacts,
                "Environment": {"SAGEMAKER_PROGRAM": case.inference_entry_point or case.entry_point,
                                "SAGEMAKER_SUBMIT_DIRECTORY": code, **case.environment}})
            model_dir = self.scratch / "served-model"
            model_dir.mkdir()
            archive_path = self.scratch / "model.tar.gz"
            s3.download_file(artifacts.split("/", 3)[2], artifacts.split("/", 3)[3], str(archive_path))
            with tarfile.open(archive_path) as archive:
                archive.extractall(model_dir, filter="data")

            deploy_s, direct_first = [], []
            endpoint = None
            for index in range(self.runs):
                if endpoint is not None:
                    sagemaker.delete_endpoint(EndpointName=endpoint)
                endpoint = f"{case.name}-{index}-{uuid.uuid4().hex[:6]}".replace("_", "-")
                sagemaker.create_endpoint_config(EndpointConfigName=endpoint, ProductionVariants=[{
                    "VariantName": "AllTraffic", "ModelName": model_name, "InstanceType": INSTANCE_TYPE,
                    "InitialInstanceCount": 1}])
                began = time.perf_counter()
                sagemaker.create_endpoint(EndpointName=endpoint, EndpointConfigName=endpoint)
                described = _poll(lambda e=endpoint: sagemaker.describe_endpoint(EndpointName=e), "EndpointStatus",
                                  ("Creating",), 1800, interval=0.05)
                if described["EndpointStatus"] != "InService":
                    raise RuntimeError(f"endpoint {endpoint}: {described.get('FailureReason')}")
                answer = smrt.invoke_endpoint(EndpointName=endpoint, Body=case.payload, ContentType=case.content_type,
                                              Accept=case.accept)["Body"].read()
                deploy_s.append(time.perf_counter() - began)
                if case.check_answer is not None and not case.check_answer(answer):
                    raise RuntimeError(f"unexpected answer {answer[:300]!r}")
                began = time.perf_counter()
                self._direct("--direct-first", model_dir)
                direct_first.append(time.perf_counter() - began)
                c.log(f"deploy run {index + 1}: CreateEndpoint -> first answer {deploy_s[-1]:.2f} s, "
                      f"direct load + predict {direct_first[-1]:.2f} s")
            self.details["deploy"] = {"smflow_s": deploy_s, "direct_s": direct_first}

            request = _boto3_request(smrt, endpoint, case, runtime.port)
            pids = {"runtime": runtime.pid, **{f"model server {number + 1}": pid for number, pid in
                                               enumerate(c.model_server_pids(runtime.pid))}}
            smflow_rps, direct_rps, predict_rps, cpu_runs = [], [], [], []
            for index in range(self.runs):
                before = {name: _cpu(pid) for name, pid in pids.items()}
                client_before = time.process_time()
                result = c.closed_loop(runtime.port, request, CONCURRENCY, self.duration, warmup=5)
                if result.errors or not result.latencies:
                    raise RuntimeError(f"invocations failed: {result.errors} errors")
                count = len(result.latencies)
                cpu = {name: (_cpu(pid) - before[name]) * 1e3 / count for name, pid in pids.items()}
                cpu["load generator"] = (time.process_time() - client_before) * 1e3 / count
                cpu_runs.append(cpu)
                smflow_rps.append(result.throughput)
                direct = self._direct("--direct-throughput", model_dir)
                direct_rps.append(direct["requests_per_s"])
                predict_rps.append(direct["predictions_per_s"])
                c.log(f"throughput run {index + 1}: smflow {smflow_rps[-1]:,.1f} req/s, in-process "
                      f"{direct_rps[-1]:,.1f} requests/s (predict + answer), {predict_rps[-1]:,.1f} predictions/s "
                      f"(predict only); CPU ms/request " + ", ".join(f"{k} {v:.3f}" for k, v in cpu.items()))
            self.details["throughput"] = {
                "smflow_rps": smflow_rps, "direct_rps": direct_rps, "direct_predict_only_rps": predict_rps,
                "cpu_ms_per_request": {name: c.median([run[name] for run in cpu_runs]) for name in cpu_runs[0]},
                "baseline": "case.predict + the answer's serialization (case.answer), 8 threads, one process",
                "baseline_before_r12": "case.predict alone (direct_predict_only_rps)"}
            sagemaker.delete_endpoint(EndpointName=endpoint)

    def _direct(self, mode: str, model_dir: Path) -> dict:
        done = subprocess.run([self.python, str(self.module), mode, str(model_dir), str(self.duration)],
                              cwd=self.scratch, env=self._direct_env(), stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=1800)
        if done.returncode != 0:
            raise RuntimeError(f"{mode} failed: {done.stdout[-2000:]}{done.stderr[-2000:]}")
        return json.loads(done.stdout.strip().splitlines()[-1])


def _cpu(pid: int) -> float:
    try:
        return c.cpu_seconds(pid)
    except OSError:  # gone
        return 0.0


def _cli_value(value: Any) -> str:
    return json.dumps(value) if isinstance(value, (bool, dict, list)) else str(value)


def _poll(describe: Callable[[], dict], field_name: str, running: tuple[str, ...], timeout: float,
          interval: float = 0.1) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        described = describe()
        if described[field_name] not in running:
            return described
        if time.monotonic() > deadline:
            raise RuntimeError(f"still {described[field_name]} after {timeout:.0f} s")
        time.sleep(interval)


def _boto3_request(smrt, endpoint: str, case: FrameworkCase, port: int) -> bytes:
    """The raw HTTP request boto3's ``invoke_endpoint`` sends for ``case.payload`` (captured)."""
    captured: dict = {}

    def capture(request, **_):
        captured["headers"] = dict(request.headers)

    smrt.meta.events.register("before-send.sagemaker-runtime.InvokeEndpoint", capture)
    try:
        smrt.invoke_endpoint(EndpointName=endpoint, Body=case.payload, ContentType=case.content_type,
                             Accept=case.accept)["Body"].read()
    finally:
        smrt.meta.events.unregister("before-send.sagemaker-runtime.InvokeEndpoint", capture)
    headers = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in captured["headers"].items()
               if k.lower() not in ("content-length", "host")}
    return c.build_request(f"/endpoints/{endpoint}/invocations", port, case.payload, headers)


def _rows(details: dict) -> list[c.Row]:
    rows = []
    train = details.get("train") or {}
    direct, smflow = c.median(train.get("direct_s", [])), c.median(train.get("smflow_s", []))
    rows.append(_time_row("train: CreateTrainingJob -> Completed (warm environment)", "script run directly",
                          direct, smflow))
    deploy = details.get("deploy") or {}
    rows.append(_time_row("deploy: CreateEndpoint -> first answer", "load + predict directly",
                          c.median(deploy.get("direct_s", [])), c.median(deploy.get("smflow_s", []))))
    environment = details.get("environment") or {}
    if "note" in environment:
        rows.append(c.Row("environment build", "s", None, None, None, note=environment["note"]))
    else:
        size = f"{environment.get('size_mb', 0):,.0f} MB"
        rows.append(c.Row("environment build, cold", "s", None, None, environment.get("cold_build_s"),
                          note=f"{size}; pip's cache warm" if "cold_build_s" in environment else "not measured"))
        rows.append(c.Row("environment check, warm", "s", None, None, environment.get("warm_check_s")))
    throughput = details.get("throughput") or {}
    base, mine = c.median(throughput.get("direct_rps", [])), c.median(throughput.get("smflow_rps", []))
    ratio = c.ratio(mine, base)
    cpu = throughput.get("cpu_ms_per_request") or {}
    rows.append(c.Row(f"invoke throughput, concurrency {CONCURRENCY}", "req/s",
                      f"in-process predict + answer, {CONCURRENCY} threads", base, mine, ratio, THROUGHPUT_TARGET,
                      None if ratio is None else ratio >= 0.5,
                      note="CPU ms/request: " + ", ".join(f"{k} {v:.3f}" for k, v in cpu.items()) if cpu else None))
    predict_only = c.median(throughput.get("direct_predict_only_rps", []))
    rows.append(c.Row(f"invoke throughput, concurrency {CONCURRENCY}", "req/s",
                      f"in-process predict only (before r12), {CONCURRENCY} threads", predict_only, mine,
                      c.ratio(mine, predict_only)))
    return rows


def _time_row(metric: str, baseline_name: str, baseline: float | None, smflow: float | None) -> c.Row:
    met = None if baseline is None or smflow is None else smflow <= 1.5 * baseline + 1.0
    return c.Row(metric, "s", baseline_name, baseline, smflow, c.ratio(smflow, baseline), TRAIN_TARGET, met)


# -- the environment's side (run by the harness in the framework's python) ---------------------


def encode_answer(prediction: Any, accept: str) -> bytes:
    """The default serialization of a prediction as an ``accept`` answer, as a model server's
    default ``output_fn`` does: tensors and arrays as nested lists, a dict of outputs with one
    entry as that entry; JSON (``application/json``, ``{"predictions": ...}`` for a dict, as
    TensorFlow Serving answers) or CSV (one line per row) (other types: JSON)."""
    if isinstance(prediction, dict) and len(prediction) == 1:
        prediction = {"predictions": next(iter(prediction.values()))}
    values = _plain(prediction)
    if accept.split(";", 1)[0].strip().lower() == "text/csv":
        rows = values if isinstance(values, list) else [values]
        return "".join((",".join(map(str, row)) if isinstance(row, list) else str(row)) + "\n"
                       for row in rows).encode()
    return json.dumps(values).encode()


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if hasattr(value, "numpy") and callable(value.numpy):  # a tensor (TensorFlow, PyTorch)
        value = value.numpy()
    return value.tolist() if hasattr(value, "tolist") else value


def _direct(case: FrameworkCase, argv: list[str]) -> int:
    """``--direct-first MODEL_DIR``: load and predict once; ``--direct-throughput MODEL_DIR
    SECONDS``: requests per second of 8 threads each calling ``case.predict`` then serializing
    the answer (``requests_per_s``), and, measured separately, of ``case.predict`` alone
    (``predictions_per_s``, the baseline before r12). Prints one JSON line."""
    mode, model_dir = argv[0], argv[1]
    duration = float(argv[2]) if len(argv) > 2 else 3.0
    model = case.load(model_dir)
    case.predict(model, case.payload)
    if mode == "--direct-first":
        print(json.dumps({"ok": True}))
        return 0
    serialize = case.answer or encode_answer

    def request() -> None:
        serialize(case.predict(model, case.payload), case.accept)

    def predict_only() -> None:
        case.predict(model, case.payload)

    for _ in range(5):
        request()
    print(json.dumps({"requests_per_s": _threads_rate(request, duration),
                      "predictions_per_s": _threads_rate(predict_only, duration)}))
    return 0


def _threads_rate(call: Callable[[], None], duration: float) -> float:
    """Calls per second of ``CONCURRENCY`` threads calling ``call`` for ``duration`` seconds."""
    counts = [0] * CONCURRENCY
    stop = time.perf_counter() + duration

    def work(index: int) -> None:
        while time.perf_counter() < stop:
            call()
            counts[index] += 1

    began = time.perf_counter()
    threads = [threading.Thread(target=work, args=(index,)) for index in range(CONCURRENCY)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts) / (time.perf_counter() - began)


__all__ = ["FrameworkCase", "run"]

