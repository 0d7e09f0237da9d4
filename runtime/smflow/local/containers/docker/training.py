"""``docker run <image> train``: a training job's container (SageMaker developer guide, "How
Amazon SageMaker Runs Your Training Image" and "How Amazon SageMaker Provides Training
Information").

The job's folder, which :class:`smflow.local.executors.training.TrainingRun` has laid out as
SageMaker lays out ``/opt/ml`` (``input/config/{hyperparameters,inputdataconfig,resourceconfig}.json``,
``input/data/<channel>/``), is bind-mounted at ``/opt/ml``; this module adds ``model/``,
``output/`` (where the container writes ``output/failure``), ``output/data/`` and
``checkpoints/``. The container:

- gets the job's ``Environment``, ``TRAINING_JOB_NAME`` / ``TRAINING_JOB_ARN``, and AWS settings
  pointing at the local runtime (``AWS_ENDPOINT_URL``, ``S3_ENDPOINT_URL`` for AWS's training
  toolkit, a key pair, the region);
- shares the host's network (``network_mode="host"``): the runtime listens on 127.0.0.1 only, and
  a container on a bridge network could not reach it; ``algo-1`` (the host name in
  ``resourceconfig.json``) resolves to 127.0.0.1 in it;
- has its output (stdout and stderr) copied line by line to ``add_line`` (the job's CloudWatch
  Logs stream ``<TrainingJobName>/algo-1-<epoch seconds>``, as for other jobs);
- is stopped by StopTrainingJob and MaxRuntimeInSeconds: SIGTERM to its main process, SIGKILL
  after the grace period, as SageMaker does; it is removed when it ends.

The exit code and the last lines of output go back to the TrainingRun, which makes the
FailureReason from ``/opt/ml/output/failure`` and uploads ``model.tar.gz`` as for every job.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

from smflow.local.containers import contract
from smflow.local.containers.docker.engine import DockerError, DockerImage, run_container
from smflow.local.support.aws import LocalAws

_POLL_SECONDS = 0.1
_OUTPUT_TAIL_LINES = 200
OPT_ML_FOLDERS = ("model", "output", "output/data", "checkpoints", "input/config", "input/data")


def train_in_container(
    image: DockerImage,
    work_dir: Path,
    description: dict,
    aws: LocalAws,
    add_line: Callable[[str], None],
    *,
    started: Callable[[], None],
    stop_time: Callable[[], float | None],
    request_stop: Callable[[str], None],
    grace: float,
    training_start: float | None,
) -> tuple[int, list[str]]:
    """Run ``train`` in a container of ``image`` until it ends, each line of its output to
    ``add_line``; returns (exit code, last lines of output).

    ``started`` is called once the container runs; ``stop_time`` returns when StopTrainingJob was
    asked (None: not asked); ``request_stop("max_runtime")`` is called once the job has run
    (since ``training_start``, epoch seconds) longer than ``StoppingCondition.MaxRuntimeInSeconds``.
    A container Docker cannot start (e.g. the image has no ``train`` executable) ends with exit
    code 127 and Docker's reason as its output.
    """
    work_dir = Path(work_dir).resolve()
    for folder in OPT_ML_FOLDERS:
        (work_dir / folder).mkdir(parents=True, exist_ok=True)
    name = description["TrainingJobName"]
    environment = {str(k): str(v) for k, v in (description.get("Environment") or {}).items()}
    environment.update(aws.subprocess_env())
    environment.update({
        contract.TRAINING_JOB_NAME: name,
        contract.TRAINING_JOB_ARN: description.get("TrainingJobArn", ""),
        contract.S3_ENDPOINT_URL: aws.endpoint_url,
    })
    tail: deque[str] = deque(maxlen=_OUTPUT_TAIL_LINES)

    def on_line(line: str) -> None:
        add_line(line)
        tail.append(line)

    try:
        process = run_container(
            image, ["train"], kind="training", folder=work_dir, name=name, on_line=on_line,
            volumes={str(work_dir): {"bind": contract.OPT_ML, "mode": "rw"}},
            environment=environment,
            network_mode="host",
            extra_hosts={contract.CURRENT_HOST: "127.0.0.1"},
        )
    except DockerError as error:
        on_line(str(error))
        return 127, list(tail)
    try:
        started()
        exit_code = _wait(process, description, stop_time, request_stop, grace, training_start)
        process.join_output()
    finally:
        process.remove()
    return exit_code, list(tail)


def _wait(process, description: dict, stop_time: Callable[[], float | None], request_stop: Callable[[str], None],
          grace: float, training_start: float | None) -> int:
    max_runtime = (description.get("StoppingCondition") or {}).get("MaxRuntimeInSeconds")
    terminated = killed = False
    while True:
        code = process.poll()
        if code is not None:
            return code
        now = time.time()
        if max_runtime and training_start is not None and now - training_start > float(max_runtime):
            request_stop("max_runtime")
        asked = stop_time()
        if asked is not None:
            if not terminated:
                process.terminate()
                terminated = True
            elif not killed and now - asked >= grace:
                process.kill()
                killed = True
        try:
            return process.wait(_POLL_SECONDS)
        except Exception:  # noqa: BLE001 - subprocess.TimeoutExpired: not ended yet
            continue
