"""Local executor of SageMaker training jobs (CreateTrainingJob / StopTrainingJob).

One :class:`TrainingRun` runs one training job the way a SageMaker training instance does, with
the job's folder standing in for the container's ``/opt/ml``:

1. The image decides the environment (:func:`smflow.local.containers.environments.resolve_environment`).
2. ``input/config/{hyperparameters,inputdataconfig,resourceconfig}.json`` are written and each
   channel's S3 prefix is downloaded into ``input/data/<channel>/`` (File input mode).
3. AWS's training toolkit (``sagemaker_training``, the training contract of SageMaker's framework
   containers) runs in a child process of the environment's Python (in a per-job venv layered
   over it, so that pip installs stay in the job): it downloads and unpacks
   ``sagemaker_submit_directory``, installs ``requirements.txt`` with pip, sets the ``SM_*``
   variables and runs the entry point with the hyperparameters as command-line arguments. The
   child has its own process group and session, and a marker in its environment that every
   process it starts inherits (:class:`smflow.local.support.processes.ProcessTree`), so that
   StopTrainingJob, MaxRuntimeInSeconds and the job's end leave none of its processes running,
   even those that called ``os.setsid()`` or double-forked. Temporary files (``TMPDIR``, which
   Python's ``tempfile`` and the toolkit use) go to the job's ``tmp/`` folder, removed when the
   job ends. A ``sagemaker_submit_directory`` S3 object that does not exist fails the job before
   the toolkit starts, with a FailureReason naming the URI. The group's
   identity (process group id, pid and start time) is stored with the job while it runs, so that
   a runtime restarted after being killed ends the processes it left behind
   (:func:`smflow.local.state.recovery.recover_after_restart`).
4. The child's output goes, line by line, to CloudWatch Logs (group ``/aws/sagemaker/TrainingJobs``,
   stream ``<TrainingJobName>/algo-1-<epoch seconds>``, which the SageMaker Python SDK tails).
5. ``model/`` and ``output/data/`` are packed and uploaded to
   ``<S3OutputPath>/<TrainingJobName>/output/{model,output}.tar.gz`` (``output.tar.gz`` only when
   the script wrote output data); a failed job's FailureReason is ``AlgorithmError: ...`` from the
   toolkit's ``output/failure`` file and the script's traceback, at most 1024 characters.

Statuses follow DescribeTrainingJob (SageMaker API reference: DescribeTrainingJob,
SecondaryStatusTransition, StopTrainingJob, StoppingCondition).
"""

from __future__ import annotations

import functools
import json
import logging
import math
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from boto3.exceptions import S3UploadFailedError
from botocore.exceptions import BotoCoreError, ClientError

from smflow.archives import make_tar_gz
from smflow.local.support.aws import LocalAws
from smflow.local.containers import contract
from smflow.local.containers import frameworks
from smflow.local.containers.docker import DockerImage, docker_image, runs_in_docker
from smflow.local.containers.docker.training import train_in_container
from smflow.local.containers.environments import (
    EnvironmentBuildError,
    LocalEnvironment,
    UnsupportedImageError,
    package_path_env,
    resolve_environment,
    supported_images,
)
from smflow.local.executors import channels as channels_module
from smflow.local.executors.base import (
    FAILURE_REASON_MAX_CHARS,
    STOP_GRACE_SECONDS,
    Run,
    kill_group,
    limit_reason,
    track_group,
    track_tree,
    untrack_tree,
)
from smflow.local.services.sagemaker.models import PROCESS_FIELD
from smflow.local.support.cloudwatch import LogShipper
from smflow.local.support.aws import split_s3_uri
from smflow.local.support.files import UnsafeArchiveError, download_s3_prefix, prepare_source_dir, upload_file
from smflow.local.support.processes import TREE_ENV, ProcessTree, new_tree_marker, start_time

logger = logging.getLogger(__name__)

LOG_GROUP = "/aws/sagemaker/TrainingJobs"
HOST = contract.CURRENT_HOST
DEFAULT_STOP_GRACE_SECONDS = STOP_GRACE_SECONDS
_POLL_SECONDS = 0.1
_TREE_SAMPLE_SECONDS = 1.0  # between two samples of the job's descendants (psutil, ~2 ms each)
_OUTPUT_TAIL_LINES = 200
_CHECKPOINT_SYNC_SECONDS = 5.0  # between two scans of the checkpoint folder for new or changed files
_METRICS_PUBLISH_SECONDS = 5.0  # between two updates of FinalMetricDataList while training runs
DEFAULT_CHECKPOINT_LOCAL_PATH = "/opt/ml/checkpoints"  # CheckpointConfig.LocalPath's default
# The job's checkpoint folder (CheckpointConfig.LocalPath relocated into the job's folder), for
# scripts: `os.environ.get("SMFLOW_CHECKPOINT_DIR", "/opt/ml/checkpoints")` works here and on AWS.
CHECKPOINT_DIR_ENV = "SMFLOW_CHECKPOINT_DIR"
TOOLKIT_TRAIN_COMMAND = ("-m", "sagemaker_training.cli.train")  # the `train` of SageMaker's framework images

# SecondaryStatus -> StatusMessage, worded like SageMaker's (SecondaryStatusTransition).
_MESSAGES = {
    "Starting": "Preparing the instances for training",
    "Downloading": "Downloading input data",
    "Training": "Training image download completed. Training in progress.",
    "Uploading": "Uploading generated training model",
    "Completed": "Training job completed",
    "Failed": "Training job failed",
    "Stopping": "Stopping the training job",
    "Stopped": "Training job stopped",
}

# Environment variables of the runtime's own process that must not reach the job: AWS settings
# would point the job's boto3 elsewhere than the runtime; pip locations would send
# requirements.txt installs out of the job's venv; PYTHONPATH and VIRTUAL_ENV belong to the
# runtime, not to the image's environment.
_DROPPED_ENV_PREFIXES = contract.CONTAINER_ENV_PREFIXES
_DROPPED_ENV_NAMES = frozenset(
    {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PIP_TARGET", "PIP_PREFIX", "PIP_USER", "PIP_ROOT"}
)


class _JobFailed(Exception):
    """Ends the job Failed; ``str(error)`` is the FailureReason."""


class _StopRequested(Exception):
    """The job was stopped (StopTrainingJob or MaxRuntimeInSeconds) before it finished."""


class TrainingRun(Run):
    """Runs one training job in a background thread.

    Args:
        description: the DescribeTrainingJob-shaped dict made from CreateTrainingJob
            (TrainingJobName, TrainingJobArn, AlgorithmSpecification, HyperParameters,
            InputDataConfig, OutputDataConfig, ResourceConfig, StoppingCondition, Environment...).
        work_dir: the job's folder; it becomes ``SAGEMAKER_BASE_DIR`` (the relocated ``/opt/ml``).
        aws: clients bound to the local runtime (S3 for data and artifacts, Logs for the output).
        on_update: called with the changed top-level fields of the description (TrainingJobStatus,
            SecondaryStatus, SecondaryStatusTransitions, LastModifiedTime, and when known
            TrainingStartTime, TrainingEndTime, FailureReason, ModelArtifacts,
            TrainingTimeInSeconds, BillableTimeInSeconds). Timestamps are epoch seconds (float).
            Calls are serialized; the terminal one comes last, after artifacts are uploaded.
            One private field, ``_Process`` (:data:`smflow.local.services.sagemaker.models.PROCESS_FIELD`), is not
            part of the description: ``{"ProcessGroupId", "ProcessId", "StartTime"}`` of the
            training process when it starts (StartTime in clock ticks after boot, see
            :func:`smflow.local.support.processes.start_time`; absent where there is no /proc), and
            None once that process group has been ended. The backend stores it with the job.
        stop_grace_seconds: time between SIGTERM and SIGKILL when the job is stopped.
        warm_up: work that speeds up what usually follows the job (the backend passes the
            warm-up of the model servers that deploy the model), called once in the job's thread
            (errors logged): as the job starts when the machine has a core to spare beside the
            training (:func:`core_to_spare`), else once the training process has ended well (the
            job enters Uploading), so that on a busy machine it never slows the training down.
    """

    kind = "training"

    def __init__(
        self,
        description: dict,
        work_dir: pathlib.Path,
        aws: LocalAws,
        on_update: Callable[[dict], None],
        *,
        stop_grace_seconds: float = DEFAULT_STOP_GRACE_SECONDS,
        warm_up: Callable[[], None] | None = None,
    ):
        super().__init__(description["TrainingJobName"], on_update)
        self._warm_up = warm_up
        self._description = description
        self._name: str = description["TrainingJobName"]
        self._work_dir = pathlib.Path(work_dir).resolve()
        self._aws = aws
        self._stop_grace_seconds = stop_grace_seconds

        self._lock = threading.RLock()
        self._process: subprocess.Popen | None = None
        self._stop_kind: str | None = None  # None, "user" or "max_runtime"
        self._stop_time: float | None = None
        self._terminal = False
        self._status = description.get("TrainingJobStatus", "InProgress")
        self._transitions: list[dict] = [dict(t) for t in description.get("SecondaryStatusTransitions") or []]
        self._training_start: float | None = None
        self._uploading = False  # training ended well: the job completes, stop() is a no-op
        # The training process's identity, published as _Process; None once its group is ended.
        self._process_record: dict[str, int] | None = None
        self._process_record_changed = False
        # Every process of the job carries this marker in its environment (see ProcessTree).
        self._tree_marker = new_tree_marker()
        self._tree: ProcessTree | None = None
        self._pipe_feeders: list[channels_module.PipeFeeder] = []  # Pipe-mode channels
        self._shipper: LogShipper | None = None  # the job's CloudWatch Logs stream, opened at Downloading
        self._log_line: Callable[[str], None] | None = None
        self._metrics = _MetricCollector((self._description.get("AlgorithmSpecification") or {})
                                         .get("MetricDefinitions") or [])
        self._checkpoints: _CheckpointSync | None = None

    # -- public API -----------------------------------------------------------------------------

    def stop(self) -> None:
        """StopTrainingJob: the job goes Stopping, its processes get SIGTERM then SIGKILL after the
        grace period, the model saved so far is uploaded, and the job ends Stopped. Nothing changes
        once the job has ended, is already stopping, or is uploading the artifacts of a finished
        training (it then completes).

        Returns when the job thread has ended (so a runtime shutting down leaves no training
        process behind), or after ``stop_grace_seconds`` + 60 seconds.
        """
        self._request_stop("user")
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(self._stop_grace_seconds + 60)

    # -- job flow -------------------------------------------------------------------------------

    def _run(self) -> None:
        if self._terminal:  # stopped before it started
            return
        try:
            self._run_job()
        except _StopRequested:
            self._finish_stopped(upload_model=False)
        except _JobFailed as error:
            self._finish_failed(str(error))
        except Exception as error:  # noqa: BLE001 - the job must never stay InProgress
            logger.exception("training job %s: unexpected error", self._name)
            self._finish_failed(
                f"InternalServerError: the smflow local runtime could not run the training job: "
                f"{type(error).__name__}: {error}"
            )
        finally:
            self._kill_process_group(signal.SIGKILL)
            for feeder in self._pipe_feeders:
                feeder.stop()
            self._close_log()
            shutil.rmtree(self._tmp_dir, ignore_errors=True)  # the job's temporary files go with it

    def _run_job(self) -> None:
        if self._warm_up is not None and core_to_spare():
            self._start_warm_up()
        with self._lock:
            if not self._transitions or self._transitions[-1]["Status"] != "Starting":
                self._enter("Starting")
            else:
                self._transitions[-1]["StatusMessage"] = _MESSAGES["Starting"]
                self._publish()
        self._raise_if_stopping()

        image = (self._description.get("AlgorithmSpecification") or {}).get("TrainingImage")
        if not image:
            raise _JobFailed(
                "ClientError: AlgorithmSpecification.TrainingImage is missing (algorithm resources are "
                f"not supported by the smflow local runtime): {supported_images()}"
            )
        try:  # an image no local environment runs: a Docker container (containers/docker)
            environment = docker_image(image) if runs_in_docker(image) else resolve_environment(image)
        except UnsupportedImageError as error:
            raise _JobFailed(str(error)) from None
        channels = _file_mode_channels(self._description)
        _check_resource_config(self._description.get("ResourceConfig") or {})
        checkpoint_uri, checkpoint_dir = self._checkpoint_config()

        self._write_config(channels)
        self._check_code_location()

        spec = environment.spec
        with self._lock:
            self._raise_if_stopping()
            self._training_start = time.time()
            self._enter("Downloading", message=f"Preparing the {spec.display} environment" if spec else None,
                        TrainingStartTime=self._training_start)
        python = self._prepare_environment(environment)
        if spec is not None:
            with self._lock:
                self._raise_if_stopping()
                self._transitions[-1]["StatusMessage"] = _MESSAGES["Downloading"]
                self._publish()
        for channel in channels:
            self._raise_if_stopping()
            self._download_channel(channel)
        try:  # checked and extracted here: the toolkit then leaves /opt/ml/code as it is
            prepare_source_dir(self._aws.client("s3"), self._description.get("HyperParameters") or {},
                               self._work_dir / "code", self._private_dir)
        except (FileNotFoundError, ValueError) as error:
            raise _JobFailed(f"ClientError: {error}") from None
        if checkpoint_uri is not None:
            self._restore_checkpoints(checkpoint_uri, checkpoint_dir)
        self._raise_if_stopping()

        exit_code, output_tail = self._train(environment, python, checkpoint_uri, checkpoint_dir)

        with self._lock:
            stopped = self._stop_kind is not None
            if not stopped and exit_code == 0:
                self._uploading = True
                self._enter("Uploading")
        if stopped:
            self._finish_stopped(upload_model=True)
            return
        if exit_code != 0:
            self._finish_failed(self._failure_reason(exit_code, output_tail))
            return
        self._start_warm_up()
        artifacts = self._upload_artifacts()
        self._finish("Completed", "Completed", **artifacts)

    def _start_warm_up(self) -> None:
        warm_up, self._warm_up = self._warm_up, None  # once
        if warm_up is None:
            return
        try:
            warm_up()
        except Exception:  # work for what follows must not fail the job
            logger.warning("training job %s: the warm-up failed", self._name, exc_info=True)

    # -- preparation ----------------------------------------------------------------------------

    @property
    def _input_config_dir(self) -> pathlib.Path:
        return self._work_dir / "input" / "config"

    @property
    def _model_dir(self) -> pathlib.Path:
        return self._work_dir / "model"

    @property
    def _output_data_dir(self) -> pathlib.Path:
        return self._work_dir / "output" / "data"

    @property
    def _private_dir(self) -> pathlib.Path:
        """The runtime's own files for this job (archives, the job's venv), beside ``/opt/ml``'s."""
        return self._work_dir / ".smflow"

    def _write_config(self, channels: list[dict]) -> None:
        """Write ``input/config/*.json`` as SageMaker does for a training container."""
        folders = (self._input_config_dir, self._model_dir, self._output_data_dir, self._work_dir / "code")
        for folder in folders:
            folder.mkdir(parents=True, exist_ok=True)
        resource = self._description.get("ResourceConfig") or {}
        instance_type = resource.get("InstanceType", "local")
        input_data_config = channels_module.input_data_config(self._description, channels)
        resource_config = {
            "current_host": HOST,
            "current_instance_type": instance_type,
            "current_group_name": "homogeneousCluster",
            "hosts": [HOST],
            "instance_groups": [
                {"instance_group_name": "homogeneousCluster", "instance_type": instance_type, "hosts": [HOST]}
            ],
            "network_interface_name": "eth0",
        }
        files = {
            "hyperparameters.json": self._description.get("HyperParameters") or {},
            "inputdataconfig.json": input_data_config,
            "resourceconfig.json": resource_config,
        }
        for name, content in files.items():
            (self._input_config_dir / name).write_text(json.dumps(content, indent=2), encoding="utf-8")

    def _download_channel(self, channel: dict) -> None:
        name = channel["ChannelName"]
        uri = channel["DataSource"]["S3DataSource"]["S3Uri"]
        target = self._work_dir / "input" / "data" / name
        try:
            if channels_module.input_mode(self._description, channel) == "Pipe":
                feeder = channels_module.PipeFeeder(self._aws.client("s3"), channel, target.parent)
                feeder.start()
                self._pipe_feeders.append(feeder)
            else:
                channels_module.download_channel(self._aws.client("s3"), channel, target)
        except channels_module.ChannelError as error:
            raise _JobFailed(f"ClientError: {error}") from None
        except FileNotFoundError:
            raise _JobFailed(
                f'ClientError: No S3 objects found under S3 URL "{uri}" given in input data source '
                f"of channel {name!r}. Upload the data first or correct InputDataConfig S3Uri."
            ) from None
        except ValueError as error:  # malformed URI or a key escaping the channel folder
            raise _JobFailed(f"ClientError: channel {name!r}: {error}") from None
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") not in {"NoSuchBucket", "AccessDenied", "404", "403"}:
                raise
            raise _JobFailed(
                f'ClientError: could not download channel {name!r} from "{uri}": {error}'
            ) from None

    # -- the training process -------------------------------------------------------------------

    @property
    def _tmp_dir(self) -> pathlib.Path:
        return self._work_dir / "tmp"

    def _check_code_location(self) -> None:
        """Fail the job with a FailureReason naming the URI when ``sagemaker_submit_directory``
        is an S3 object that does not exist (the toolkit would fail with a traceback)."""
        raw = (self._description.get("HyperParameters") or {}).get("sagemaker_submit_directory")
        if not raw:
            return
        try:
            uri = json.loads(raw)
        except ValueError:
            uri = raw
        if not isinstance(uri, str) or not uri.startswith("s3://"):
            return
        try:
            bucket, key = split_s3_uri(uri)
        except ValueError:
            raise _JobFailed(
                f"ClientError: HyperParameters.sagemaker_submit_directory {uri!r} is not an S3 URI "
                "of an object: use s3://bucket/prefix/sourcedir.tar.gz"
            ) from None
        try:
            self._aws.client("s3").head_object(Bucket=bucket, Key=key)
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code", ""))
            if code in ("404", "NoSuchKey", "NoSuchBucket", "NotFound"):
                raise _JobFailed(
                    f'ClientError: the training code "{uri}" (HyperParameters.sagemaker_submit_directory) '
                    "does not exist: upload the sourcedir.tar.gz there, or set the estimator's "
                    "source_dir/entry_point so that the SDK uploads it"
                ) from None
            raise _JobFailed(
                f'ClientError: could not read the training code "{uri}" '
                f"(HyperParameters.sagemaker_submit_directory): {error}"
            ) from None

    # -- the environment, the log, checkpoints ----------------------------------------------------

    def _open_log(self) -> Callable[[str], None]:
        """The job's CloudWatch Logs stream (``<TrainingJobName>/algo-1-<epoch seconds>``), opened
        once: the environment's preparation and the training output share it."""
        with self._lock:
            if self._log_line is None:
                self._shipper = LogShipper(self._aws.client("logs"), LOG_GROUP)
                self._log_line = self._shipper.stream(f"{self._name}/{HOST}-{int(time.time())}")
                self._shipper.start()
            return self._log_line

    def _close_log(self) -> None:
        """Send what is queued and stop the log shipper (idempotent)."""
        with self._lock:
            shipper, self._shipper = self._shipper, None
        if shipper is not None:
            shipper.close()

    def _prepare_environment(self, environment: LocalEnvironment) -> str:
        """The interpreter of the image's environment, built first when needed (pip's output goes
        to the job's log; SecondaryStatus is Downloading meanwhile).

        Raises:
            _JobFailed: the build failed; the FailureReason ends with pip's error.
        """
        spec = environment.spec
        if spec is None:
            return environment.python
        job_log = self._open_log()
        if spec.note:
            job_log(spec.note)
        ended = threading.Event()

        def log(line: str) -> None:  # a build outlives a stopped job (others may wait for it)
            if not ended.is_set():
                job_log(line)

        outcome: list = []

        def build() -> None:
            try:
                outcome.append(environment.ensure(log))
            except BaseException as error:  # noqa: BLE001 - handed to the job's thread
                outcome.append(error)

        builder = threading.Thread(target=build, name=f"environment-{spec.folder_name}", daemon=True)
        builder.start()
        while builder.is_alive():
            builder.join(timeout=_POLL_SECONDS * 2)
            if self._stop_kind is not None and builder.is_alive():
                ended.set()
                raise _StopRequested()
        try:
            if isinstance(outcome[0], BaseException):
                raise outcome[0]
            python = outcome[0]
        except EnvironmentBuildError as error:
            job_log(f"Could not prepare the {spec.display} environment: {error}")
            raise _JobFailed(_fit(f"ClientError: Could not prepare the {spec.display} environment: ",
                                  str(error), "")) from None
        job_log(f"Using the {spec.display} environment ({spec.framework} {spec.framework_version}): "
            f"{pathlib.Path(python).parent.parent}")
        return python

    def _training_arguments(self, environment: LocalEnvironment) -> list[str]:
        """The arguments after the job's python: the framework module's ``training_command``
        when it has one, else AWS's training toolkit (``-m sagemaker_training.cli.train``)."""
        module = frameworks.get(environment.name)
        command = getattr(module, "training_command", None)
        if command is None:
            return list(TOOLKIT_TRAIN_COMMAND)
        hyperparameters = {str(k): str(v) for k, v in (self._description.get("HyperParameters") or {}).items()}
        return [str(argument) for argument in command(environment.framework_version, hyperparameters)]

    def _checkpoint_config(self) -> tuple[str | None, pathlib.Path | None]:
        """(CheckpointConfig.S3Uri, the job's checkpoint folder), or (None, None) without a
        CheckpointConfig. LocalPath (default ``/opt/ml/checkpoints``) is relocated into the job's
        folder as ``/opt/ml`` is.

        Raises:
            _JobFailed: S3Uri is not an S3 URI, or LocalPath is not under ``/opt/ml``.
        """
        config = self._description.get("CheckpointConfig") or {}
        uri = config.get("S3Uri")
        if not uri:
            return None, None
        try:
            split_s3_uri(uri)
        except ValueError:
            raise _JobFailed(
                f"ClientError: CheckpointConfig.S3Uri {uri!r} is not an S3 URI: use s3://bucket/prefix "
                "(the estimator's checkpoint_s3_uri)"
            ) from None
        local = (config.get("LocalPath") or DEFAULT_CHECKPOINT_LOCAL_PATH).rstrip("/")
        relative = pathlib.PurePosixPath(local).relative_to(contract.OPT_ML) if (
            local.startswith(contract.OPT_ML + "/")) else None
        if relative is None or ".." in relative.parts:
            raise _JobFailed(
                f"ClientError: CheckpointConfig.LocalPath {local!r} is not a folder under {contract.OPT_ML}: "
                "the smflow local runtime relocates /opt/ml into the job's folder; leave checkpoint_local_path "
                f"unset (default {DEFAULT_CHECKPOINT_LOCAL_PATH}) or use a folder under {contract.OPT_ML}"
            )
        folder = self._work_dir / relative
        folder.mkdir(parents=True, exist_ok=True)
        return uri, folder

    def _restore_checkpoints(self, uri: str, folder: pathlib.Path) -> None:
        """Download the checkpoints under CheckpointConfig.S3Uri into the job's checkpoint folder
        before training (none there yet is no error), as SageMaker does."""
        try:
            restored = download_s3_prefix(self._aws.client("s3"), uri, folder)
        except FileNotFoundError:
            return
        except (ValueError, UnsafeArchiveError) as error:
            raise _JobFailed(f"ClientError: CheckpointConfig.S3Uri {uri!r}: {error}") from None
        except ClientError as error:
            raise _JobFailed(
                f'ClientError: could not download the checkpoints from "{uri}" (CheckpointConfig.S3Uri): {error}'
            ) from None
        self._open_log()(f"Restored {len(restored)} checkpoint file(s) from {uri}")

    def _job_python(self, python: str) -> pathlib.Path:
        """A per-job virtual environment layered over the image's environment.

        SageMaker's toolkit installs ``requirements.txt`` with ``<python> -m pip install`` into
        the container's environment. Locally that environment is shared by every job and by the
        runtime itself, so each job gets its own venv whose ``site-packages`` comes first and whose
        ``.pth`` file adds the environment's site directories after it: pip sees the image's
        packages as installed ("Requirement already satisfied"), installs anything new or pinned
        to another version into the job's venv (it never uninstalls outside that venv), and the
        job imports its own versions first. The runtime's environment is never written to. The
        venv is written directly (:func:`_write_venv`, a millisecond), the environment's
        interpreter asked once per runtime (:func:`_interpreter`).
        """
        venv_dir = self._private_dir / "venv"
        interpreter = _interpreter(python)
        try:
            job_python = _write_venv(venv_dir, interpreter)
        except OSError as error:  # no symlinks here, or not POSIX: let venv do it
            logger.info("training job %s: making the job's venv with python -m venv (%s)", self._name, error)
            shutil.rmtree(venv_dir, ignore_errors=True)
            created = subprocess.run(
                [python, "-m", "venv", "--without-pip", str(venv_dir)],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            if created.returncode != 0:
                raise RuntimeError(f"could not create the job's Python environment: {created.stderr.strip()}") from None
            job_python = venv_dir / "bin" / "python"
        site_packages = next(venv_dir.glob("lib/python*/site-packages"))
        lines = [f"import site; site.addsitedir({path!r})" for path in interpreter.site_dirs]
        (site_packages / "_smflow_environment.pth").write_text("\n".join(lines) + "\n", encoding="utf-8")
        return job_python

    def _child_env(self, job_python: pathlib.Path, checkpoint_dir: pathlib.Path | None = None,
                   built_environment: bool = False) -> dict[str, str]:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(_DROPPED_ENV_PREFIXES) and key not in _DROPPED_ENV_NAMES
        }
        venv_bin = str(job_python.parent)
        env["PATH"] = os.pathsep.join(filter(None, [venv_bin, env.get("PATH")]))
        env["VIRTUAL_ENV"] = str(job_python.parent.parent)
        env.update({str(k): str(v) for k, v in (self._description.get("Environment") or {}).items()})
        env.update(self._aws.subprocess_env())
        env.update(
            {
                "SAGEMAKER_BASE_DIR": str(self._work_dir),
                "TRAINING_JOB_NAME": self._name,
                "TRAINING_JOB_ARN": self._description.get("TrainingJobArn", ""),
                # The toolkit's own S3 endpoint setting (sagemaker_training.params.S3_ENDPOINT_URL).
                "S3_ENDPOINT_URL": self._aws.endpoint_url,
                # Credentials and endpoint come from the environment only, as in a container.
                "AWS_CONFIG_FILE": os.devnull,
                "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
                "PIP_DISABLE_PIP_VERSION_CHECK": "1",
                # Set in SageMaker's framework images: output reaches the logs line by line.
                "PYTHONUNBUFFERED": "TRUE",
                "PYTHONDONTWRITEBYTECODE": "TRUE",
                # The toolkit waits until every host name resolves ("algo-1" does not resolve
                # here); this is its switch for single-machine local runs.
                "SM_STUDIO_LOCAL_MODE": "True",
                # The job's temporary files (tempfile, the toolkit's downloads) stay in its folder.
                "TMPDIR": str(self._tmp_dir),
                TREE_ENV: self._tree_marker,
                # Where the job's checkpoints go (CheckpointConfig.LocalPath, relocated).
                CHECKPOINT_DIR_ENV: str(checkpoint_dir or self._work_dir / "checkpoints"),
            }
        )
        if built_environment:  # it imports this runtime's smflow (environments are shared)
            env.update(package_path_env())
        return env

    def _train(self, environment: LocalEnvironment, python: str, checkpoint_uri: str | None,
               checkpoint_dir: pathlib.Path | None) -> tuple[int, list[str]]:
        """Run the toolkit's trainer (the ``train`` command of SageMaker's framework images, or
        the framework module's ``training_command``); returns (exit code, last lines of output)."""
        code_dir = self._work_dir / "code"
        with self._lock:
            self._raise_if_stopping()
            self._enter("Training", message="Downloading the training image")
        if isinstance(environment, DockerImage):
            return self._train_in_container(environment, checkpoint_uri, checkpoint_dir)
        job_python = self._job_python(python)
        self._tmp_dir.mkdir(parents=True, exist_ok=True)
        command = [str(job_python), *self._training_arguments(environment)]
        add_line = self._open_log()
        tail: deque[str] = deque(maxlen=_OUTPUT_TAIL_LINES)
        if checkpoint_uri is not None and checkpoint_dir is not None:
            self._checkpoints = _CheckpointSync(self._aws.client("s3"), checkpoint_dir, checkpoint_uri, add_line)
        try:
            with self._lock:
                self._raise_if_stopping()
                self._process = subprocess.Popen(
                    command,
                    cwd=code_dir,
                    env=self._child_env(job_python, checkpoint_dir, environment.spec is not None),
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # its own process group (pgid == pid)
                )
                track_group(self._process.pid)
                started = start_time(self._process.pid)  # None without /proc, or if it died
                self._tree = ProcessTree(self._process.pid, self._tree_marker, started)
                track_tree(self._tree)
                if started is not None:
                    self._set_process_record(
                        {"ProcessGroupId": self._process.pid, "ProcessId": self._process.pid, "StartTime": started}
                    )
                self._transitions[-1]["StatusMessage"] = _MESSAGES["Training"]
                self._publish()
            process = self._process
            if self._checkpoints is not None:
                self._checkpoints.start()
            reader = threading.Thread(
                target=_pump_lines, args=(process.stdout, (add_line, tail.append, self._metrics.observe)),
                daemon=True,
            )
            reader.start()
            exit_code = self._wait(process)
            # The job ends when its main process does, as a container does: end stragglers too.
            self._kill_process_group(signal.SIGKILL)
            with self._lock:
                self._set_process_record(None)  # published with the next update
            reader.join(timeout=10)
        finally:
            if self._checkpoints is not None:
                self._checkpoints.close()  # what the script wrote last is uploaded too
        return exit_code, list(tail)

    def _train_in_container(self, image: DockerImage, checkpoint_uri: str | None,
                            checkpoint_dir: pathlib.Path | None) -> tuple[int, list[str]]:
        """``docker run <image> train`` with the job's folder as ``/opt/ml`` (containers/docker/training.py)."""
        add_line = self._open_log()
        if checkpoint_uri is not None and checkpoint_dir is not None:
            self._checkpoints = _CheckpointSync(self._aws.client("s3"), checkpoint_dir, checkpoint_uri, add_line)

        def started() -> None:
            with self._lock:
                self._transitions[-1]["StatusMessage"] = _MESSAGES["Training"]
                self._publish()
            if self._checkpoints is not None:
                self._checkpoints.start()

        def on_line(line: str) -> None:
            add_line(line)
            self._metrics.observe(line)

        try:
            return train_in_container(image, self._work_dir, self._description, self._aws, on_line, started=started,
                                      stop_time=lambda: self._stop_time, request_stop=self._request_stop,
                                      grace=self._stop_grace_seconds, training_start=self._training_start)
        finally:
            if self._checkpoints is not None:
                self._checkpoints.close()  # what the container wrote last is uploaded too

    def _wait(self, process: subprocess.Popen) -> int:
        """Wait for the process, enforcing StopTrainingJob and StoppingCondition.MaxRuntimeInSeconds."""
        max_runtime = (self._description.get("StoppingCondition") or {}).get("MaxRuntimeInSeconds")
        terminated = killed = False
        next_sample = 0.0
        next_metrics = time.time() + _METRICS_PUBLISH_SECONDS
        while True:
            try:
                return process.wait(timeout=_POLL_SECONDS)
            except subprocess.TimeoutExpired:
                pass
            now = time.time()
            if now >= next_metrics:
                next_metrics = now + _METRICS_PUBLISH_SECONDS
                metrics = self._metrics.changed()
                if metrics is not None:
                    with self._lock:
                        if not self._terminal:
                            self._publish(FinalMetricDataList=metrics)
            if self._tree is not None and now >= next_sample:
                self._tree.sample()  # descendants that could drop the marker (emptied environment)
                next_sample = now + _TREE_SAMPLE_SECONDS
            started = self._training_start
            if max_runtime and started is not None and now - started > float(max_runtime):
                self._request_stop("max_runtime")
            with self._lock:
                stop_time = self._stop_time
            if stop_time is None:
                continue
            if not terminated:
                self._kill_process_group(signal.SIGTERM)
                terminated = True
            elif not killed and now - stop_time >= self._stop_grace_seconds:
                self._kill_process_group(signal.SIGKILL)
                killed = True

    def _kill_process_group(self, sig: signal.Signals) -> None:
        """``sig`` to the job's whole process tree (its group, its session, every process that
        carries its marker, descendants seen while it ran); SIGKILL repeats until none is left."""
        process = self._process
        if process is None:
            return
        kill_group(process.pid, sig)
        tree = self._tree
        if tree is None:
            return
        if sig == signal.SIGKILL:
            if not tree.kill(timeout=10.0):
                logger.warning("training job %s: processes %s survived SIGKILL", self._name, tree.members())
            untrack_tree(tree)
        else:
            tree.signal(sig)

    # -- stopping -------------------------------------------------------------------------------

    def _request_stop(self, kind: str) -> None:
        with self._lock:
            if self._terminal or self._stop_kind is not None or self._uploading:
                return
            self._stop_kind = kind
            self._status = "Stopping"
            self._stop_time = time.time()
            if self._thread is None:  # stopped before start(): nothing runs, end at once
                self._finish_stopped(upload_model=False)
                return
            if kind == "max_runtime":
                limit = self._description["StoppingCondition"]["MaxRuntimeInSeconds"]
                message = f"Stopping the training job: it exceeded MaxRuntimeInSeconds ({limit} s)"
            else:
                message = _MESSAGES["Stopping"]
            self._enter("Stopping", message=message)

    def _raise_if_stopping(self) -> None:
        if self._stop_kind is not None:
            raise _StopRequested()

    def _set_process_record(self, record: dict[str, int] | None) -> None:
        """Change the ``_Process`` field sent with the next update (call with the lock held)."""
        if record != self._process_record:
            self._process_record = record
            self._process_record_changed = True

    # -- endings --------------------------------------------------------------------------------

    def _finish_stopped(self, upload_model: bool) -> None:
        artifacts: dict[str, Any] = {}
        if upload_model and self._model_dir.is_dir():
            artifacts = self._upload_artifacts()
        if self._stop_kind == "max_runtime":
            limit = self._description["StoppingCondition"]["MaxRuntimeInSeconds"]
            self._finish(
                "Stopped",
                "MaxRuntimeExceeded",
                message=f"Training job stopped: it ran longer than MaxRuntimeInSeconds ({limit} s)",
                **artifacts,
            )
        else:
            self._finish("Stopped", "Stopped", **artifacts)

    def _finish_failed(self, reason: str) -> None:
        self._finish("Failed", "Failed", FailureReason=limit_reason(reason))

    def _finish(self, status: str, secondary: str, message: str | None = None, **fields: Any) -> None:
        metrics = self._metrics.final()
        if metrics:
            fields.setdefault("FinalMetricDataList", metrics)
        if threading.current_thread() is self._thread:
            self._close_log()  # every line is in CloudWatch Logs before the job says it ended
        with self._lock:
            if self._terminal:
                return
            self._terminal = True
            self._status = status
            self._set_process_record(None)  # a job that ended is never recovered
            now = time.time()
            if self._training_start is not None:
                seconds = max(1, math.ceil(now - self._training_start))
                fields.update(
                    TrainingEndTime=now, TrainingTimeInSeconds=seconds, BillableTimeInSeconds=seconds
                )
            self._enter(secondary, message=message, now=now, terminal=True, **fields)

    # -- status bookkeeping ---------------------------------------------------------------------

    def _enter(
        self,
        secondary: str,
        message: str | None = None,
        now: float | None = None,
        terminal: bool = False,
        **fields: Any,
    ) -> None:
        """Close the current SecondaryStatusTransition, open ``secondary`` and publish."""
        now = time.time() if now is None else now
        if self._transitions and "EndTime" not in self._transitions[-1]:
            self._transitions[-1]["EndTime"] = now
        transition = {"Status": secondary, "StartTime": now, "StatusMessage": message or _MESSAGES[secondary]}
        if terminal:
            transition["EndTime"] = now
        self._transitions.append(transition)
        self._publish(now=now, SecondaryStatus=secondary, **fields)

    def _publish(self, now: float | None = None, **fields: Any) -> None:
        update = {
            "TrainingJobStatus": self._status,
            "SecondaryStatus": self._transitions[-1]["Status"] if self._transitions else "Starting",
            "SecondaryStatusTransitions": [dict(t) for t in self._transitions],
            "LastModifiedTime": time.time() if now is None else now,
        }
        if self._process_record_changed:
            update[PROCESS_FIELD] = self._process_record
            self._process_record_changed = False
        update.update(fields)
        self._report(update)

    # -- artifacts ------------------------------------------------------------------------------

    def _upload_artifacts(self) -> dict[str, Any]:
        """Pack and upload model/ (always) and output/data/ (when not empty)."""
        output_path = (self._description.get("OutputDataConfig") or {}).get("S3OutputPath")
        if not output_path:
            raise _JobFailed(
                "ClientError: OutputDataConfig.S3OutputPath is missing; set the job's output_path"
            )
        prefix = f"{output_path.rstrip('/')}/{self._name}/output"
        s3 = self._aws.client("s3")
        self._model_dir.mkdir(parents=True, exist_ok=True)
        model_archive = make_tar_gz(self._model_dir, self._private_dir / "model.tar.gz")
        uploads = [(model_archive, f"{prefix}/model.tar.gz")]
        if self._output_data_dir.is_dir() and any(self._output_data_dir.iterdir()):
            output_archive = make_tar_gz(self._output_data_dir, self._private_dir / "output.tar.gz")
            uploads.append((output_archive, f"{prefix}/output.tar.gz"))
        for archive, uri in uploads:
            try:
                upload_file(s3, archive, uri)
            except (ValueError, BotoCoreError, ClientError, S3UploadFailedError) as error:
                raise _JobFailed(
                    f'ClientError: could not upload "{uri}" (OutputDataConfig.S3OutputPath '
                    f'"{output_path}"): {error}. Check that the bucket exists.'
                ) from None
        return {"ModelArtifacts": {"S3ModelArtifacts": uploads[0][1]}}

    # -- failure reason -------------------------------------------------------------------------

    def _failure_reason(self, exit_code: int, output_tail: list[str]) -> str:
        """``AlgorithmError: ...`` from the toolkit's ``output/failure`` file and the script's own
        error lines (the framework images run scripts without capturing their stderr, so the
        toolkit's ``ErrorMessage`` is empty; the traceback from the logs fills it)."""
        failure_file = self._work_dir / "output" / "failure"
        failure = ""
        if failure_file.is_file():
            failure = failure_file.read_text(encoding="utf-8", errors="replace").strip()
        if failure.startswith("ClientError: "):  # a built-in algorithm's verdict on the job's input
            return limit_reason(failure)
        error_lines = "\n".join(_script_error_lines(output_tail))
        suffix = f", exit code: {exit_code}"
        if failure and 'ErrorMessage ""' in failure and error_lines:
            before, _, after = failure.partition('ErrorMessage ""')
            return _fit("AlgorithmError: " + before + 'ErrorMessage "', error_lines, '"' + after + suffix)
        if failure:
            return _fit("AlgorithmError: ", failure, suffix)
        return _fit("AlgorithmError: ", error_lines or "the training process ended with an error", suffix)


# -- helpers ------------------------------------------------------------------------------------


class _MetricCollector:
    """AlgorithmSpecification.MetricDefinitions applied to each line of the training output, as
    SageMaker does: a metric's value is the regex's first group (else the whole match) of the
    last line that matched, read as a float; FinalMetricDataList holds the last value of each
    metric with the time its line was seen (DescribeTrainingJob, MetricData)."""

    def __init__(self, definitions: list[dict]):
        self._definitions = []
        for definition in definitions:
            try:
                self._definitions.append((str(definition["Name"]), re.compile(definition["Regex"])))
            except (KeyError, TypeError, re.error):
                logger.warning("ignoring the metric definition %r", definition)  # CreateTrainingJob checked them
        self._lock = threading.Lock()
        self._values: dict[str, dict[str, Any]] = {}
        self._changed = False

    def observe(self, line: str) -> None:
        if not self._definitions:
            return
        now = time.time()
        for name, pattern in self._definitions:
            match = pattern.search(line)
            if match is None:
                continue
            text = next((group for group in match.groups() if group is not None), match.group(0))
            try:
                value = float(text)
            except ValueError:
                continue
            if math.isnan(value) or math.isinf(value):
                continue
            with self._lock:
                self._values[name] = {"MetricName": name, "Value": value, "Timestamp": now}
                self._changed = True

    def final(self) -> list[dict[str, Any]]:
        """FinalMetricDataList: the last value of each metric seen, in definition order."""
        with self._lock:
            self._changed = False
            return [dict(self._values[name]) for name, _ in self._definitions if name in self._values]

    def changed(self) -> list[dict[str, Any]] | None:
        """:meth:`final` when a value changed since the last call, else None."""
        with self._lock:
            if not self._changed:
                return None
        return self.final()


class _CheckpointSync:
    """Uploads the job's checkpoint folder to CheckpointConfig.S3Uri while training runs (new
    and changed files, found by scanning every few seconds) and once more when it ends, as
    SageMaker does with checkpoint_s3_uri. Files removed locally stay in S3."""

    def __init__(self, s3, folder: pathlib.Path, uri: str, log: Callable[[str], None]):
        self._s3 = s3
        self._folder = folder
        self._uri = uri.rstrip("/")
        self._log = log
        self._uploaded: dict[str, tuple[int, int]] = {}  # relative path -> (size, mtime_ns)
        self._done = threading.Event()
        self._thread: threading.Thread | None = None
        self._warned = False
        for path in self._files():  # what was restored is in S3 already
            self._uploaded[path.relative_to(self._folder).as_posix()] = self._signature(path)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="checkpoint-sync", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop scanning and upload what changed since the last scan."""
        self._done.set()
        if self._thread is not None:
            self._thread.join(timeout=600)
        self.sync()

    def _loop(self) -> None:
        while not self._done.wait(_CHECKPOINT_SYNC_SECONDS):
            self.sync()

    def _files(self) -> list[pathlib.Path]:
        return sorted(path for path in self._folder.rglob("*") if path.is_file() and not path.is_symlink())

    @staticmethod
    def _signature(path: pathlib.Path) -> tuple[int, int]:
        stat = path.stat()
        return stat.st_size, stat.st_mtime_ns

    def sync(self) -> None:
        """Upload the files that are new or changed since their last upload."""
        for path in self._files():
            relative = path.relative_to(self._folder).as_posix()
            try:
                signature = self._signature(path)
                if self._uploaded.get(relative) == signature:
                    continue
                upload_file(self._s3, path, f"{self._uri}/{relative}")
            except FileNotFoundError:
                continue  # removed while scanning
            except (OSError, ValueError, BotoCoreError, ClientError, S3UploadFailedError) as error:
                if not self._warned:
                    self._log(f"Could not upload checkpoint {relative} to {self._uri}: {error}")
                    self._warned = True
                continue
            self._uploaded[relative] = signature


def _file_mode_channels(description: dict) -> list[dict]:
    """The InputDataConfig channels, checked (:func:`smflow.local.executors.channels.check_channels`).

    Raises:
        _JobFailed: an input mode or data source the local runtime cannot serve.
    """
    try:
        return channels_module.check_channels(description)
    except channels_module.ChannelError as error:
        raise _JobFailed(f"ClientError: {error}") from None


def core_to_spare() -> bool:
    """Whether this machine has a core to spare beside a training job's: the 1-minute load
    average (``os.getloadavg``) is below the cores this process may use, minus one. False where
    the load is unknown."""
    try:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        return os.getloadavg()[0] < cores - 1
    except OSError:
        return False


def _check_resource_config(resource: dict) -> None:
    count = int(resource.get("InstanceCount", 1))
    if count != 1:
        raise _JobFailed(
            f"ClientError: ResourceConfig.InstanceCount is {count}; the smflow local runtime trains on "
            "one instance (set instance_count=1)."
        )


# What the per-job venv needs to know of the environment's interpreter, asked once per
# interpreter (one child process): its site-packages folders in search order, the base
# interpreter a venv's ``bin/python`` points at (what ``python -m venv`` uses:
# ``sys._base_executable``) and its version.
_INTERPRETER_PROGRAM = (
    "import json, site, sys\n"
    "user = [site.getusersitepackages()] if site.ENABLE_USER_SITE else []\n"
    "print(json.dumps({'site_dirs': user + site.getsitepackages(),\n"
    "                  'base_executable': getattr(sys, '_base_executable', None) or sys.executable,\n"
    "                  'version': list(sys.version_info[:3])}))\n"
)


@dataclass(frozen=True)
class _Interpreter:
    site_dirs: tuple[str, ...]  # site-packages folders, in the order the interpreter searches them
    base_executable: str  # the interpreter a venv made by it runs (sys._base_executable)
    version: tuple[int, int, int]


def _interpreter(python: str) -> _Interpreter:
    """What :meth:`TrainingRun._job_python` needs of ``python``, asked once and cached while the
    interpreter and its environment's ``pyvenv.cfg`` are unchanged (an environment rebuilt in
    place is asked again)."""
    stamps = []
    for path in (os.path.realpath(python), os.path.join(os.path.dirname(os.path.dirname(python)), "pyvenv.cfg")):
        try:
            stat = os.stat(path)
            stamps.append((stat.st_ino, stat.st_mtime_ns))
        except OSError:
            stamps.append(None)
    return _ask_interpreter(python, tuple(stamps))


@functools.lru_cache(maxsize=64)
def _ask_interpreter(python: str, stamps: tuple) -> _Interpreter:
    found = subprocess.run(
        [python, "-c", _INTERPRETER_PROGRAM],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    answer = json.loads(found.stdout)
    return _Interpreter(tuple(answer["site_dirs"]), answer["base_executable"], tuple(answer["version"]))


def _write_venv(venv_dir: pathlib.Path, interpreter: _Interpreter) -> pathlib.Path:
    """Lay out the virtual environment ``python -m venv --without-pip venv_dir`` makes (PEP 405:
    ``pyvenv.cfg`` whose ``home`` is the base interpreter's folder, ``bin/python*`` symlinks to
    it, an empty ``lib/pythonX.Y/site-packages``, ``lib64 -> lib``, ``include/pythonX.Y``), without
    starting an interpreter to do it (``venv`` takes 50 ms to seconds on a loaded machine, and
    its ``activate`` scripts are of no use here). The interpreter then finds ``pyvenv.cfg`` beside
    its ``bin`` folder: ``sys.prefix`` is ``venv_dir`` and pip installs there.

    Returns: the venv's ``bin/python``. Raises OSError where symlinks cannot be made, and off
    POSIX (another layout: ``Scripts``, ``Lib``)."""
    if os.name != "posix":
        raise OSError(f"the venv layout of {os.name} is left to python -m venv")
    major, minor, micro = interpreter.version
    executable = interpreter.base_executable
    site_packages = venv_dir / "lib" / f"python{major}.{minor}" / "site-packages"
    site_packages.mkdir(parents=True)
    (venv_dir / "include" / f"python{major}.{minor}").mkdir(parents=True)
    if sys.maxsize > 2**32 and os.name == "posix" and sys.platform != "darwin":
        (venv_dir / "lib64").symlink_to("lib")
    bin_dir = venv_dir / "bin"
    bin_dir.mkdir()
    for name in dict.fromkeys(("python", f"python{major}", f"python{major}.{minor}")):
        (bin_dir / name).symlink_to(executable)
    (venv_dir / "pyvenv.cfg").write_text(
        f"home = {os.path.dirname(os.path.abspath(executable))}\n"
        "include-system-site-packages = false\n"
        f"version = {major}.{minor}.{micro}\n"
        f"executable = {os.path.realpath(executable)}\n",
        encoding="utf-8",
    )
    return bin_dir / "python"


def _pump_lines(stream, sinks: Iterable[Callable[[str], None]]) -> None:
    """Forward each line of ``stream`` (bytes) to every sink as it arrives."""
    sinks = tuple(sinks)
    with stream:
        for raw in iter(lambda: stream.readline(65536), b""):
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            for sink in sinks:
                sink(line)


_TOOLKIT_LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} ")


def _script_error_lines(output_tail: list[str]) -> list[str]:
    """The script's last traceback (or, without one, its last lines) before the toolkit's report."""
    end = len(output_tail)
    for index in range(len(output_tail) - 1, -1, -1):
        if "Reporting training FAILURE" in output_tail[index]:
            end = index
            break
    lines = output_tail[:end]
    for index in range(len(lines) - 1, -1, -1):
        if lines[index].startswith("Traceback (most recent call last):"):
            block = [line for line in lines[index:] if not _TOOLKIT_LOG_LINE.match(line)]
            return [line for line in block if line.strip()]
    own = [line for line in lines if line.strip() and not _TOOLKIT_LOG_LINE.match(line)]
    return own[-5:]


def _fit(prefix: str, middle: str, suffix: str, limit: int = FAILURE_REASON_MAX_CHARS) -> str:
    """``prefix + middle + suffix`` within ``limit`` characters, shortening ``middle`` from its
    start (the exception line is at its end) and, if still needed, ``suffix`` from its end."""
    if len(prefix) + len(middle) + len(suffix) <= limit:
        return prefix + middle + suffix
    if len(suffix) > limit // 4:
        suffix = suffix[: limit // 4 - 3] + "..."
    room = limit - len(prefix) - len(suffix) - 3
    if room <= 0:
        return limit_reason(prefix + middle + suffix, limit)
    return prefix + "..." + middle[-room:] + suffix
