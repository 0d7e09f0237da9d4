"""The smflow client: the SageMaker model lifecycle in a few typed calls over boto3.

Example (against the local runtime started by ``smflow local up``)::

    from smflow import SageMakerClient

    client = SageMakerClient(endpoint_url="http://127.0.0.1:9510")
    data = client.upload_data("data/iris.csv", key_prefix="iris/data")
    job = client.train(entry_point="dags/scripts/scikit_learn_iris.py",
                       hyperparameters={"max_leaf_nodes": 30}, inputs={"train": data})
    model = client.create_model(training_job_name=job["TrainingJobName"])
    client.deploy(model_name=model["ModelName"], endpoint_name="iris")
    species = client.predict("iris", [[5.1, 3.5, 1.4, 0.2]])
    client.delete_endpoint("iris")

Every method maps onto the boto3 calls it names in its docstring; waiting uses one state table
(``smflow.states``) and polls with backoff (``smflow.waiting``).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
from botocore.config import Config
from botocore.exceptions import ClientError

from smflow import builders, codecs, naming, states
from smflow.errors import ConfigurationError, InvocationError, JobExistsError
from smflow.image_uris import DEFAULT_SKLEARN_VERSION, parse_image_uri, sklearn_image_uri
from smflow.logs import TRAINING_LOG_GROUP, LogTail
from smflow.naming import ActionIfJobExists
from smflow.packaging import SOURCE_ARCHIVE, PackedCode, pack_code, upload_code, upload_packed
from smflow.session import configured_endpoint_url, make_client, make_session
from smflow.waiting import DEFAULT_BACKOFF, Backoff, Deadline, is_throttling, wait_for

logger = logging.getLogger("smflow")

DEFAULT_BASE_JOB_NAME = "sagemaker-scikit-learn"  # the SDK names jobs after the image repository
MAX_ATTEMPTS = 50
SETTLE_TIMEOUT = 900.0  # seconds to wait for a Stopping job when the call has no timeout
LOG_POLL_INTERVAL = 2.0  # seconds between reads of a training log while waiting (at least)
_NAME_ARGUMENTS = {"TrainingJob": "job_name", "TransformJob": "job_name", "Endpoint": "endpoint_name"}


def _error_code(error: ClientError) -> str:
    return error.response.get("Error", {}).get("Code", "")


def is_not_found(error: ClientError) -> bool:
    """SageMaker reports a missing resource as ValidationException ("Could not find ...",
    "Requested resource not found.") or ResourceNotFound."""
    code = _error_code(error)
    message = error.response.get("Error", {}).get("Message", "").lower()
    return code in ("ResourceNotFound", "ResourceNotFoundException") or (
        code == "ValidationException"
        and ("not found" in message or "could not find" in message or "does not exist" in message)
    )


def completion_message(kind: str, name: str, description: dict) -> str:
    """The line logged when a wait on a resource of ``kind`` succeeds: where the model data or the
    output is, or that the endpoint is InService."""
    if kind == states.TRAINING_JOB.kind:
        return (f"Training job {name} Completed; model data at "
                f"{description.get('ModelArtifacts', {}).get('S3ModelArtifacts')}")
    if kind == states.TRANSFORM_JOB.kind:
        return f"Transform job {name} Completed; output at {description['TransformOutput']['S3OutputPath']}"
    return f"Endpoint {name} is InService"


class SageMakerClient:
    """The SageMaker lifecycle over boto3's ``sagemaker``, ``sagemaker-runtime``, ``s3`` and
    ``logs`` clients.

    Args:
        boto_session: a boto3 session to use (credentials, region); default: boto3's chain.
        region_name: AWS region when no session is given.
        endpoint_url: one endpoint for every service (e.g. the smflow local runtime); default:
            boto3's configuration (``AWS_ENDPOINT_URL``). With a custom endpoint and no
            credentials, dummy credentials are used.
        role: default execution role ARN for jobs and models. Against a custom endpoint it
            defaults to a placeholder role of the caller's account.
        default_bucket: bucket for code, data and outputs; default ``sagemaker-<region>-<account>``
            (created when missing), as the SageMaker Python SDK.
        log: receives training log lines and progress messages; default the ``smflow`` logger.
        backoff: polling delays while waiting (seconds).
        botocore_config: a ``botocore.config.Config`` merged over smflow's client defaults
            (standard retries, 5 attempts): e.g. ``Config(read_timeout=900)``.
        verify: TLS certificate verification of every client, as boto3's ``verify``: False, or
            the path of a CA bundle; default boto3's configuration.
    """

    def __init__(
        self,
        boto_session=None,
        *,
        region_name: str | None = None,
        endpoint_url: str | None = None,
        role: str | None = None,
        default_bucket: str | None = None,
        log: Callable[[str], None] | None = None,
        backoff: Backoff = DEFAULT_BACKOFF,
        botocore_config: Config | None = None,
        verify: bool | str | None = None,
    ):
        self.endpoint_url = endpoint_url
        self.botocore_config = botocore_config
        self.verify = verify
        self.session = make_session(boto_session, region_name=region_name, endpoint_url=endpoint_url)
        self.region_name: str = self.session.region_name
        self._role = role
        self._bucket = default_bucket
        self.log = log or logger.info
        self.backoff = backoff

    # ------------------------------------------------------------------ clients and defaults
    def _client(self, service_name: str):
        return make_client(self.session, service_name, self.endpoint_url, config=self.botocore_config,
                           verify=self.verify)

    @cached_property
    def sagemaker(self):
        return self._client("sagemaker")

    @cached_property
    def runtime(self):
        return self._client("sagemaker-runtime")

    @cached_property
    def s3(self):
        return self._client("s3")

    @cached_property
    def logs(self):
        return self._client("logs")

    @cached_property
    def custom_endpoint_url(self) -> str | None:
        """The non-AWS endpoint this client talks to (e.g. the smflow local runtime's URL), or
        None for AWS itself: ``endpoint_url``, else what boto3's configuration resolves
        (:func:`smflow.session.configured_endpoint_url`)."""
        return configured_endpoint_url(self.endpoint_url, session=self.session)

    @cached_property
    def account_id(self) -> str:
        return self._client("sts").get_caller_identity()["Account"]

    def role_arn(self, role: str | None = None) -> str:
        """The execution role: ``role``, else the client's, else (custom endpoint only) a
        placeholder ``arn:aws:iam::<account>:role/smflow-local``.

        Raises:
            ConfigurationError: no role given while talking to AWS itself.
        """
        chosen = role or self._role
        if chosen:
            return chosen
        if self.custom_endpoint_url:
            return f"arn:aws:iam::{self.account_id}:role/smflow-local"
        raise ConfigurationError(
            "role is required: pass role='arn:aws:iam::<account>:role/<SageMaker execution role>'"
        )

    def default_bucket(self) -> str:
        """``sagemaker-<region>-<account>``, created if missing (SDK ``Session.default_bucket``)."""
        if self._bucket is None:
            self._bucket = f"sagemaker-{self.region_name}-{self.account_id}"
        self.ensure_bucket(self._bucket)
        return self._bucket

    def ensure_bucket(self, bucket: str) -> str:
        """Create ``bucket`` unless it exists (boto3 ``head_bucket`` / ``create_bucket``)."""
        try:
            self.s3.head_bucket(Bucket=bucket)
        except ClientError as error:
            if _error_code(error) not in ("404", "NoSuchBucket", "NotFound"):
                raise
            kwargs: dict[str, Any] = {"Bucket": bucket}
            if self.region_name != "us-east-1":
                kwargs["CreateBucketConfiguration"] = {"LocationConstraint": self.region_name}
            try:
                self.s3.create_bucket(**kwargs)
            except ClientError as create_error:
                if _error_code(create_error) != "BucketAlreadyOwnedByYou":
                    raise
        return bucket

    def upload_data(self, path: str | os.PathLike, *, bucket: str | None = None, key_prefix: str = "data") -> str:
        """Upload a file or a folder to S3 (SDK ``Session.upload_data``).

        Returns ``s3://<bucket>/<key_prefix>/<file name>`` for a file and
        ``s3://<bucket>/<key_prefix>`` for a folder (usable as a training channel).

        Raises:
            ConfigurationError: ``path`` does not exist.
        """
        source = Path(path)
        bucket = self.ensure_bucket(bucket) if bucket else self.default_bucket()
        prefix = key_prefix.strip("/")
        if source.is_file():
            key = f"{prefix}/{source.name}"
            self.s3.upload_file(str(source), bucket, key)
            return f"s3://{bucket}/{key}"
        if not source.is_dir():
            raise ConfigurationError(f"path {str(path)!r} does not exist; pass a file or a folder")
        for file in sorted(p for p in source.rglob("*") if p.is_file()):
            self.s3.upload_file(str(file), bucket, f"{prefix}/{file.relative_to(source).as_posix()}")
        return f"s3://{bucket}/{prefix}"

    # ------------------------------------------------------------------ describe helpers
    def describe_training_job(self, job_name: str) -> dict:
        """boto3 ``describe_training_job``."""
        return self.sagemaker.describe_training_job(TrainingJobName=job_name)

    def describe_transform_job(self, job_name: str) -> dict:
        """boto3 ``describe_transform_job``."""
        return self.sagemaker.describe_transform_job(TransformJobName=job_name)

    def describe_endpoint(self, endpoint_name: str) -> dict:
        """boto3 ``describe_endpoint``."""
        return self.sagemaker.describe_endpoint(EndpointName=endpoint_name)

    def describe(self, kind: str, name: str) -> dict:
        """One Describe* call for a resource of ``kind`` (``"TrainingJob"``, ``"TransformJob"``
        or ``"Endpoint"``, as :func:`smflow.states.of_kind`).

        Raises: ValueError (another kind), botocore ClientError (e.g. not found).
        """
        calls: dict[str, Callable[[str], dict]] = {
            states.TRAINING_JOB.kind: self.describe_training_job,
            states.TRANSFORM_JOB.kind: self.describe_transform_job,
            states.ENDPOINT.kind: self.describe_endpoint,
        }
        states.of_kind(kind)
        return calls[kind](name)

    def _describe_or_none(self, method: Callable[..., dict], **kwargs) -> dict | None:
        try:
            return method(**kwargs)
        except ClientError as error:
            if is_not_found(error):
                return None
            raise

    # ------------------------------------------------------------------ job names
    def _resolve_job(
        self,
        name: str,
        describe: Callable[[str], dict | None],
        kind: states.ResourceKind,
        action_if_job_exists: ActionIfJobExists,
        *,
        differences: Callable[[dict], list[str]] | None = None,
        timeout: float | None = None,
    ) -> tuple[str, dict | None]:
        """Decide which job a call means: ``(name_to_create, None)`` or ``(name, existing)``.

        ``attach`` (retries and reruns never launch a duplicate nor reuse the wrong job):

        * no job of that name: it is created;
        * a job that is ``Stopping`` (e.g. stopped by Airflow's ``on_kill`` when the previous try
          timed out) is waited for until it settles, polling with the client's backoff for at
          most ``timeout`` seconds (default 900; WaitTimeoutError after that);
        * a job that is ``InProgress`` or ``Completed`` and matches the request (``differences``
          returns no field) is reused;
        * a job that ended ``Failed`` or ``Stopped``, or that differs from the request (one log
          line names the differing fields), is skipped: ``<name>-2`` is tried, then ``-3``... up
          to ``-50`` (JobExistsError after that).

        ``fail`` raises JobExistsError when the name exists; ``timestamp`` starts
        ``<name>-<timestamp>``.

        Args:
            describe: the Describe* payload of a name, or None when there is no such job.
            differences: the names of the fields in which an existing job differs from what the
                caller asks for (fields the caller did not set are not compared).
        """
        naming.check_action_if_job_exists(action_if_job_exists)
        existing = describe(name)
        if existing is None:
            return name, None
        if action_if_job_exists == "fail":
            raise JobExistsError(kind.kind, name, kind.status(existing))
        if action_if_job_exists == "timestamp":
            return naming.timestamped_name(name), None
        skipped_because = ""
        for attempt in range(1, MAX_ATTEMPTS + 1):
            candidate = naming.attempt_name(name, attempt)
            found = existing if attempt == 1 else describe(candidate)
            if found is None:
                self.log(f"{kind.kind} {naming.attempt_name(name, attempt - 1)} {skipped_because}; "
                         f"starting {candidate}")
                return candidate, None
            if kind.status(found) == "Stopping":
                found = self._wait_job_settled(kind, candidate, describe, timeout)
            if kind.outcome(found) is states.Outcome.FAILED:
                skipped_because = "ended unsuccessfully"
                continue
            differing = differences(found) if differences else []
            if differing:
                skipped_because = "was made with other arguments"
                self.log(f"{kind.kind} {candidate} exists ({kind.status(found)}) but differs from this request "
                         f"in {', '.join(differing)}; not reusing it")
                continue
            self.log(f"{kind.kind} {candidate} already exists ({kind.status(found)}); attaching to it")
            return candidate, found
        raise JobExistsError(kind.kind, name, f"{MAX_ATTEMPTS} failed or different attempts")

    def _wait_job_settled(
        self, kind: states.ResourceKind, name: str, describe: Callable[[str], dict | None], timeout: float | None
    ) -> dict:
        """Wait until a ``Stopping`` job is ``Stopped`` (or whatever it ends as)."""
        self.log(f"{kind.kind} {name} is Stopping; waiting for it to stop before deciding what to run")
        vanished = {kind.name_field: name, kind.status_field: "Stopped"}

        def settled(description: dict) -> states.Outcome:
            return states.Outcome.RUNNING if kind.status(description) == "Stopping" else states.Outcome.SUCCEEDED

        return wait_for(
            lambda: describe(name) or vanished, kind, backoff=self.backoff, check=settled,
            timeout=SETTLE_TIMEOUT if timeout is None else timeout,
        )

    @staticmethod
    def _job_name(
        job_name: str | None, base_job_name: str | None, idempotency_key: str | None, default_base: str
    ) -> str:
        if job_name:
            return naming.validate_name(job_name, "job_name")
        base = base_job_name or default_base
        if idempotency_key:
            return naming.stable_name(base, idempotency_key)
        return naming.timestamped_name(base)

    # ------------------------------------------------------------------ training
    def prepare_training_job(
        self,
        *,
        job_name: str,
        entry_point: str,
        source_dir: str | None = None,
        hyperparameters: Mapping[str, Any] | None = None,
        framework_version: str = DEFAULT_SKLEARN_VERSION,
        image_uri: str | None = None,
        role: str | None = None,
        instance_type: str = builders.DEFAULT_INSTANCE_TYPE,
        instance_count: int = 1,
        volume_size: int = builders.DEFAULT_VOLUME_SIZE,
        inputs: str | Mapping[str, Any] | None = None,
        output_path: str | None = None,
        code_location: str | None = None,
        max_run: int = builders.DEFAULT_MAX_RUN,
        environment: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> dict:
        """Upload the code and return the CreateTrainingJob request (SDK ``Estimator.fit``).

        The code goes to ``<code_location or s3://<default bucket>>/<job_name>/source/
        sourcedir.tar.gz``; model artifacts to ``<output_path>/<job_name>/output/``.
        ``volume_size`` is in GB, ``max_run`` in seconds; integer arguments may be digit strings
        (``"1"``, as templating renders them).

        Raises:
            ConfigurationError: missing code, ``instance_count`` other than 1, an integer
                argument that is not one (named), ``code_location`` not an s3:// URI.
        """
        if builders.as_int(instance_count, "instance_count") != 1:
            raise ConfigurationError(
                "instance_count must be 1: scikit-learn training runs on a single instance (seed 002)"
            )
        output_path = output_path or f"s3://{self.default_bucket()}/"
        code_bucket, code_prefix = _split(code_location) if code_location else (self.default_bucket(), "")
        code = upload_code(
            self.s3,
            entry_point=entry_point,
            source_dir=source_dir,
            bucket=code_bucket,
            key_prefix=f"{code_prefix}/{job_name}".strip("/"),
        )
        return builders.training_job_request(
            job_name=job_name,
            image_uri=image_uri or sklearn_image_uri(self.region_name, framework_version),
            role=self.role_arn(role),
            hyperparameters=builders.script_mode_hyperparameters(
                hyperparameters,
                program=code.program,
                submit_directory=code.s3_uri,
                region=self.region_name,
                job_name=job_name,
            ),
            inputs=inputs,
            output_path=output_path,
            instance_type=instance_type,
            instance_count=instance_count,
            volume_size=volume_size,
            max_run=max_run,
            environment=environment,
            tags=tags,
        )

    def _training_preview(
        self, *, hyperparameters, framework_version, image_uri, instance_type, instance_count, inputs, output_path,
    ) -> dict:
        """The parts of the CreateTrainingJob request that SDK-style arguments make and that
        decide whether an existing job is the one asked for; built without uploading anything."""
        preview: dict[str, Any] = {
            "AlgorithmSpecification": {
                "TrainingImage": image_uri or sklearn_image_uri(self.region_name, framework_version)
            },
            "ResourceConfig": {
                "InstanceType": instance_type,
                "InstanceCount": builders.as_int(instance_count, "instance_count"),
            },
        }
        if hyperparameters is not None:  # encoded as the request will be (see _hyperparameter_value)
            preview["HyperParameters"] = builders.encode_hyperparameters(hyperparameters)
        if inputs is not None:
            preview["InputDataConfig"] = builders.input_data_config(inputs)
        if output_path:
            preview["OutputDataConfig"] = {"S3OutputPath": output_path}
        return preview

    def train(
        self,
        *,
        entry_point: str | None = None,
        source_dir: str | None = None,
        hyperparameters: Mapping[str, Any] | None = None,
        framework: str | None = None,
        framework_version: str | None = None,
        image_uri: str | None = None,
        role: str | None = None,
        instance_type: str = builders.DEFAULT_INSTANCE_TYPE,
        instance_count: int = 1,
        volume_size: int = builders.DEFAULT_VOLUME_SIZE,
        inputs: str | Mapping[str, Any] | None = None,
        output_path: str | None = None,
        code_location: str | None = None,
        max_run: int = builders.DEFAULT_MAX_RUN,
        environment: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
        job_name: str | None = None,
        base_job_name: str | None = None,
        idempotency_key: str | None = None,
        action_if_job_exists: ActionIfJobExists = "attach",
        config: Mapping[str, Any] | None = None,
        wait: bool = True,
        logs: bool = True,
        timeout: float | None = None,
    ) -> dict:
        """Start (or find) a training job and, by default, wait for it.

        Either SDK-style arguments (``entry_point``, ``source_dir``, ``hyperparameters``,
        ``framework_version``, ``instance_type``, ``inputs``, ``output_path``, ``max_run``
        seconds, ``volume_size`` GB: seed documents 001/002), or ``config``: a raw
        CreateTrainingJob request (boto3 ``create_training_job``), as Airflow's Amazon provider
        accepts. The job name is ``job_name``; else ``<base>-<hash of idempotency_key>`` (stable
        across retries); else ``<base>-<timestamp>`` like the SDK.

        ``inputs`` is a dict of channel name -> S3 URI (or Channel dict), or one S3 URI, which
        becomes the channel named ``train``, "the default train channel" of the seed documents
        (000/001): the script reads it from ``SM_CHANNEL_TRAIN``. The SageMaker Python SDK v2
        names that channel ``training`` instead; pass ``{"training": uri}`` for a script written
        for that.

        When a job of that name exists (``action_if_job_exists="attach"``, see
        ``_resolve_job``): a Stopping job is waited for; a Completed or InProgress job is reused
        only if it matches this call (user hyperparameters without the ``sagemaker_*`` ones,
        channel name -> S3Uri, TrainingImage, output S3 path, instance type and count; arguments
        left None, or fields absent from ``config``, are not compared); otherwise, and after a
        Failed or Stopped job, ``<name>-2`` (``-3``...) is started. This is decided before any
        code is uploaded.

        Returns: the DescribeTrainingJob payload (after waiting, when ``wait``).
        Raises:
            ConfigurationError: a bad argument (named in the message).
            JobExistsError: the job exists and ``action_if_job_exists="fail"``.
            ResourceFailedError: the job ended Failed or Stopped (carries FailureReason).
            WaitTimeoutError: still running after ``timeout`` seconds.
        """
        deadline = Deadline.after(timeout)
        framework_version = framework_version or DEFAULT_SKLEARN_VERSION
        if framework not in (None, "sklearn") and image_uri is None and config is None:
            raise ConfigurationError(
                f"framework {framework!r} is not supported: use framework='sklearn' or pass image_uri"
            )
        if config is not None:
            request = builders.coerce_to_shape(config, "CreateTrainingJob")
            name = request.get("TrainingJobName") or self._job_name(
                job_name, base_job_name, idempotency_key, DEFAULT_BASE_JOB_NAME
            )
            wanted = _training_fields(request)
        else:
            if not entry_point:
                raise ConfigurationError("entry_point is required (or pass a raw request as config)")
            request = None
            name = self._job_name(job_name, base_job_name, idempotency_key, DEFAULT_BASE_JOB_NAME)
            wanted = _training_fields(self._training_preview(
                hyperparameters=hyperparameters, framework_version=framework_version, image_uri=image_uri,
                instance_type=instance_type, instance_count=instance_count, inputs=inputs, output_path=output_path,
            ))

        name, existing = self._resolve_job(
            name,
            lambda candidate: self._describe_or_none(
                self.sagemaker.describe_training_job, TrainingJobName=candidate
            ),
            states.TRAINING_JOB,
            action_if_job_exists,
            differences=lambda found: _differences(wanted, _training_fields(found)),
            timeout=timeout,
        )
        if existing is None:
            if request is None:
                request = self.prepare_training_job(
                    job_name=name,
                    entry_point=entry_point,
                    source_dir=source_dir,
                    hyperparameters=hyperparameters,
                    framework_version=framework_version,
                    image_uri=image_uri,
                    role=role,
                    instance_type=instance_type,
                    instance_count=instance_count,
                    volume_size=volume_size,
                    inputs=inputs,
                    output_path=output_path,
                    code_location=code_location,
                    max_run=max_run,
                    environment=environment,
                    tags=tags,
                )
            else:
                request = {**request, "TrainingJobName": name}
                request.setdefault("RoleArn", self.role_arn(role))
            try:
                self.sagemaker.create_training_job(**request)
                self.log(f"Created training job {name}")
            except ClientError as error:
                if _error_code(error) != "ResourceInUse":
                    raise
                self.log(f"Training job {name} was created concurrently; attaching to it")
        if not wait:
            return self.describe_training_job(name)
        return self.wait_for_training_job(name, logs=logs, timeout=deadline.remaining())

    def attach(self, job_name: str, *, wait: bool = True, logs: bool = True, timeout: float | None = None) -> dict:
        """Attach to an existing training job (SDK ``Estimator.attach``, seed 001): if it is in
        progress, wait and stream its logs; return its description.

        Raises:
            ConfigurationError: no such job.
            ResourceFailedError: the job ended Failed or Stopped.
        """
        description = self._describe_or_none(self.sagemaker.describe_training_job, TrainingJobName=job_name)
        if description is None:
            raise ConfigurationError(f"training job {job_name!r} not found; check job_name")
        if wait:
            return self.wait_for_training_job(job_name, logs=logs, timeout=timeout)
        states.TRAINING_JOB.check(description)
        return description

    def wait_for_training_job(
        self, job_name: str, *, logs: bool = True, timeout: float | None = None, backoff: Backoff | None = None
    ) -> dict:
        """Wait until the job is Completed, streaming its CloudWatch log lines to ``log``.

        Raises: ConfigurationError (no such job), ResourceFailedError (Failed/Stopped, with
            FailureReason), WaitTimeoutError.
        """
        tail = LogTail(self.logs, job_name, self.log, TRAINING_LOG_GROUP) if logs else None
        description = self.wait_for_resource(states.TRAINING_JOB.kind, job_name, log_tail=tail,
                                              timeout=timeout, backoff=backoff)
        self.log(completion_message(states.TRAINING_JOB.kind, job_name, description))
        return description

    def wait_for_resource(
        self,
        kind: str,
        name: str,
        *,
        log_tail: LogTail | None = None,
        expected_config: str | None = None,
        timeout: float | None = None,
        backoff: Backoff | None = None,
    ) -> dict:
        """Poll the Describe* call of ``kind`` (``"TrainingJob"``, ``"TransformJob"``,
        ``"Endpoint"``) until the resource is terminal in smflow's state table
        (:func:`smflow.aio.wait_for_resource` is the same wait for event loops).

        Args:
            log_tail: polled between checks (a training job's CloudWatch log); a logs API error
                is reported once through ``log`` and never fails the wait.
            expected_config: for an endpoint, an InService endpoint on another config (an
                update that rolled back) is an error.
            timeout: seconds (None: no limit); backoff: delays between polls (default the client's).

        Returns: the last Describe* payload.
        Raises: ValueError (unknown kind), ConfigurationError (no such resource),
            ResourceFailedError (Failed/Stopped/OutOfService/rolled back, with FailureReason),
            WaitTimeoutError.
        """
        return wait_for(timeout=timeout, **self.wait_options(kind, name, log_tail=log_tail,
                                                             expected_config=expected_config, backoff=backoff))

    def wait_options(
        self,
        kind: str,
        name: str,
        *,
        log_tail: LogTail | None = None,
        expected_config: str | None = None,
        backoff: Backoff | None = None,
    ) -> dict[str, Any]:
        """The arguments of :func:`smflow.waiting.wait_for` / ``async_wait_for`` (but
        ``timeout``) for one resource: its Describe* call, state table, backoff, log poller (run
        every ``max(2, backoff.initial)`` seconds) and, for an endpoint with ``expected_config``,
        the rolled-back update check.

        The Describe* call raises ConfigurationError (``"<Kind> '<name>' not found; check
        <argument>"``) when there is no such resource, instead of botocore's ClientError."""
        table = states.of_kind(kind)
        backoff = backoff or self.backoff
        check = None
        if expected_config and kind == states.ENDPOINT.kind:
            check = lambda description: states.check_endpoint_update(description, expected_config)  # noqa: E731
        return {
            "describe": lambda: self._describe_existing(kind, name),
            "kind": table,
            "backoff": backoff,
            "on_tick": self._quiet_log_poller(log_tail) if log_tail else None,
            "tick_interval": max(LOG_POLL_INTERVAL, backoff.initial),
            "check": check,
        }

    def _describe_existing(self, kind: str, name: str) -> dict:
        """``describe``, with a missing resource reported as ConfigurationError naming it."""
        try:
            return self.describe(kind, name)
        except ClientError as error:
            if not is_not_found(error):
                raise
        raise ConfigurationError(f"{kind} {name!r} not found; check {_NAME_ARGUMENTS[kind]}")

    def _quiet_log_poller(self, tail: LogTail) -> Callable[[], None]:
        """``tail.poll``, except that a logs API error never fails a wait on a job that is fine.

        Throttling (``smflow.waiting.is_throttling``) is temporary: after ``n`` throttled polls
        in a row the next ``min(2**(n-1), 15)`` ticks are skipped, then reading resumes where it
        stopped (no line is lost). Any other error (e.g. a role without ``logs:GetLogEvents``)
        is reported once through ``log`` and ends log streaming for this wait."""
        failed = False
        throttled = 0  # throttled polls in a row
        skip = 0  # ticks still to skip

        def poll() -> None:
            nonlocal failed, throttled, skip
            if failed:
                return
            if skip:
                skip -= 1
                return
            try:
                tail.poll()
            except ClientError as error:
                if is_throttling(error):
                    throttled += 1
                    skip = min(2 ** (throttled - 1), 15)
                    logger.debug("training log throttled; skipping %d polls", skip)
                    return
                failed = True
                self.log(f"could not read the training log, continuing without it: {error}")
            else:
                throttled = 0

        return poll

    def stop_training_job(self, job_name: str) -> None:
        """boto3 ``stop_training_job``; a job that already ended is left as it is."""
        _stop(self.sagemaker.stop_training_job, TrainingJobName=job_name)

    # ------------------------------------------------------------------ models
    def create_model(
        self,
        *,
        model_name: str | None = None,
        training_job_name: str | None = None,
        model_data: str | None = None,
        entry_point: str | None = None,
        source_dir: str | None = None,
        image_uri: str | None = None,
        framework: str | None = None,
        framework_version: str | None = None,
        role: str | None = None,
        environment: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
        config: Mapping[str, Any] | None = None,
    ) -> dict:
        """Create a model (boto3 ``create_model``) from a training job, from existing model data
        (seed 001 "Deploy an Endpoint from Model Data": ``model_data`` S3 URI of a model.tar.gz
        plus an inference ``entry_point``), or from a raw request ``config``.

        The container gets ``SAGEMAKER_PROGRAM`` / ``SAGEMAKER_SUBMIT_DIRECTORY``: from the
        training job's script unless a new ``entry_point`` is given. A new entry point (with
        ``source_dir``) is packed like the SDK and uploaded to ``s3://<default bucket>/
        <model_name>/model-code-<sha256 of the packed files, 16 hex>/sourcedir.tar.gz``: never over
        a training job's code (``<job>/source/``) nor another model's, and the same code gives
        the same URI, so calling again with the same arguments is idempotent.

        The model is looked up first (boto3 ``describe_model``): one that exists with the same
        PrimaryContainer (Image, ModelDataUrl, Environment including SAGEMAKER_PROGRAM and the
        code URI) is reused and nothing is uploaded; one that exists with another container is
        an error, it is never changed.

        Returns: ``{"ModelName", "ModelArn", "Image", "ModelDataUrl"}``.
        Raises:
            ConfigurationError: missing or conflicting arguments; no training job named
                ``training_job_name`` or one still running; ``model_name`` taken by a model with
                another container (the fix: a new model_name, or delete that model).
            ResourceFailedError: the training job ended Failed or Stopped.
        """
        if config is not None:
            request = builders.coerce_to_shape(config, "CreateModel")
            request.setdefault("ExecutionRoleArn", self.role_arn(role))
            return self._create_or_reuse_model(request)
        if bool(training_job_name) == bool(model_data):
            raise ConfigurationError("pass exactly one of training_job_name or model_data (or a raw config)")
        program = submit_directory = None
        if training_job_name:
            job = self._describe_or_none(self.sagemaker.describe_training_job, TrainingJobName=training_job_name)
            if job is None:
                raise ConfigurationError(
                    f"TrainingJob {training_job_name!r} not found; check training_job_name"
                )
            if states.TRAINING_JOB.check(job) is not states.Outcome.SUCCEEDED:
                raise ConfigurationError(
                    f"TrainingJob {training_job_name!r} is {states.TRAINING_JOB.status(job)}, it has no model "
                    "data yet; wait for it (wait_for_training_job) before create_model"
                )
            model_data = job["ModelArtifacts"]["S3ModelArtifacts"]
            image_uri = image_uri or job["AlgorithmSpecification"]["TrainingImage"]
            hyperparameters = job.get("HyperParameters", {})
            program = _json_value(hyperparameters.get("sagemaker_program"))
            submit_directory = _json_value(hyperparameters.get("sagemaker_submit_directory"))
            model_name = model_name or training_job_name
        else:
            if not entry_point:
                raise ConfigurationError(
                    "entry_point is required with model_data: the inference script with model_fn"
                )
            if not str(model_data).startswith("s3://"):
                raise ConfigurationError(f"model_data must be an s3:// URI of a model.tar.gz, got {model_data!r}")
            model_name = model_name or naming.timestamped_name(DEFAULT_BASE_JOB_NAME)
        naming.validate_name(model_name, "model_name")
        code: _ModelCode | None = None
        if entry_point:
            code = self._pack_model_code(model_name, entry_point=entry_point, source_dir=source_dir)
            program, submit_directory = code.program, code.s3_uri
        if not program:
            raise ConfigurationError(
                f"training job {training_job_name!r} has no sagemaker_program; pass entry_point"
            )
        image_uri = image_uri or sklearn_image_uri(self.region_name, framework_version or DEFAULT_SKLEARN_VERSION)
        env = builders.hosting_environment(
            program=program, submit_directory=submit_directory, region=self.region_name
        )
        env.update(environment or {})
        request = builders.model_request(
            model_name=model_name, image_uri=image_uri, model_data=model_data,
            role=self.role_arn(role), environment=env, tags=tags,
        )
        return self._create_or_reuse_model(request, code)

    def _pack_model_code(self, model_name: str, *, entry_point: str, source_dir: str | None) -> _ModelCode:
        """Pack the inference code (as for training) without uploading it; its S3 URI is named
        after its content. An ``s3://`` source_dir is used as it is."""
        packed = pack_code(entry_point=entry_point, source_dir=source_dir)
        if packed.archive is None:
            return _ModelCode(packed, packed.s3_uri)
        bucket = self.default_bucket()
        return _ModelCode(packed, f"s3://{bucket}/{model_name}/model-code-{packed.digest()}/{SOURCE_ARCHIVE}")

    def _create_or_reuse_model(self, request: dict, code: _ModelCode | None = None) -> dict:
        from smflow.summaries import model_summary

        name = request["ModelName"]
        existing = self._describe_or_none(self.sagemaker.describe_model, ModelName=name)
        if existing is not None:
            differing = _container_differences(request.get("PrimaryContainer") or {},
                                               existing.get("PrimaryContainer") or {})
            wanted_containers, have_containers = request.get("Containers"), existing.get("Containers") or []
            if wanted_containers is not None and (
                len(wanted_containers) != len(have_containers)
                or any(_container_differences(w, h) for w, h in zip(wanted_containers, have_containers))
            ):
                differing.append("Containers")
            if differing:
                raise ConfigurationError(
                    f"model_name {name!r} already exists with another container (different "
                    f"{', '.join(differing)}); pass a new model_name (or delete model {name!r} first)"
                )
            self.log(f"Model {name} already exists with the same container; reusing it")
            return model_summary(existing)
        if code is not None:
            bucket, key = _split(code.s3_uri)
            upload_packed(self.s3, code.packed, bucket=bucket, key=key)
        self.sagemaker.create_model(**request)
        self.log(f"Created model {name}")
        return model_summary(self.sagemaker.describe_model(ModelName=name))

    # ------------------------------------------------------------------ endpoints
    def deploy(
        self,
        *,
        model_name: str | None = None,
        endpoint_name: str | None = None,
        instance_type: str = builders.DEFAULT_INSTANCE_TYPE,
        initial_instance_count: int = 1,
        endpoint_config_name: str | None = None,
        config: Mapping[str, Any] | None = None,
        wait: bool = True,
        timeout: float | None = None,
    ) -> dict:
        """Create an endpoint config and create the endpoint, or update an existing endpoint to
        it (boto3 ``create_endpoint_config``, ``create_endpoint`` / ``update_endpoint``), then wait
        for InService.

        ``config`` is a raw CreateEndpointConfig request. An existing endpoint keeps serving its
        old model until the new one is InService (UpdateEndpoint). A Failed endpoint is deleted
        and created again; one that is Deleting (``delete_endpoint(..., wait=False)``) is created
        again once it is gone. ``timeout`` (seconds) bounds the whole call: these waits and the
        wait for InService together.

        Returns: the DescribeEndpoint payload.
        Raises:
            ResourceFailedError: the endpoint ended Failed, or the update rolled back.
            WaitTimeoutError: not InService after ``timeout`` seconds.
        """
        deadline = Deadline.after(timeout)
        config_name, endpoint_name = self._roll_out(
            model_name=model_name, endpoint_name=endpoint_name, instance_type=instance_type,
            initial_instance_count=initial_instance_count, endpoint_config_name=endpoint_config_name,
            config=config, deadline=deadline,
        )
        if not wait:
            return self.describe_endpoint(endpoint_name)
        return self.wait_for_endpoint(endpoint_name, expected_config=config_name, timeout=deadline.remaining())

    def start_deploy(
        self,
        *,
        model_name: str | None = None,
        endpoint_name: str | None = None,
        instance_type: str = builders.DEFAULT_INSTANCE_TYPE,
        initial_instance_count: int = 1,
        endpoint_config_name: str | None = None,
        config: Mapping[str, Any] | None = None,
        timeout: float | None = None,
    ) -> tuple[str, dict]:
        """``deploy`` without the final wait: returns ``(EndpointConfigName being rolled out,
        DescribeEndpoint payload)``, so a caller that waits elsewhere (an Airflow trigger) knows
        which config success means. ``timeout`` (seconds) bounds the waits this may still need
        together (an endpoint already Creating/Updating, a Failed one being deleted)."""
        config_name, endpoint_name = self._roll_out(
            model_name=model_name, endpoint_name=endpoint_name, instance_type=instance_type,
            initial_instance_count=initial_instance_count, endpoint_config_name=endpoint_config_name,
            config=config, deadline=Deadline.after(timeout),
        )
        return config_name, self.describe_endpoint(endpoint_name)

    @staticmethod
    def deploy_endpoint_name(
        *, model_name: str | None = None, endpoint_name: str | None = None, config: Mapping[str, Any] | None = None
    ) -> str:
        """The endpoint ``deploy`` / ``start_deploy`` make or update: ``endpoint_name``, else
        ``model_name``, else the first production variant's ModelName of ``config``.

        Raises:
            ConfigurationError: none of them given, or not a valid SageMaker name.
        """
        if not endpoint_name and not model_name and config is not None:
            variants = builders.coerce_to_shape(config, "CreateEndpointConfig").get("ProductionVariants") or [{}]
            model_name = variants[0].get("ModelName")
        if not (endpoint_name or model_name):
            raise ConfigurationError("model_name is required (or pass a raw endpoint config as config)")
        return naming.validate_name(endpoint_name or model_name, "endpoint_name")

    def next_deploy_wait(self, endpoint_name: str) -> tuple[dict | None, dict[str, Any] | None]:
        """One step of clearing the way for a new config on ``endpoint_name``: ``(DescribeEndpoint
        payload or None when there is no such endpoint, wait)``. ``wait`` is None when the
        endpoint can be created or updated now (absent, InService); else the arguments of
        ``waiting.wait_for`` / ``async_wait_for`` (but ``timeout``) for what must end first: an
        endpoint Creating/Updating/... to settle, or a Deleting one to be gone. A Failed or
        OutOfService endpoint is deleted here (boto3 ``delete_endpoint``; its config is kept) and
        the wait is for it to be gone. Call again after each wait: ``deploy`` loops in its thread,
        :func:`smflow.aio.start_deploy` on an event loop."""
        endpoint = self._describe_or_none(self.sagemaker.describe_endpoint, EndpointName=endpoint_name)
        if endpoint is None:
            return None, None
        status = endpoint["EndpointStatus"]
        if status == "Deleting":
            self.log(f"Endpoint {endpoint_name} is Deleting; waiting for the deletion to finish before creating it")
            return endpoint, self._endpoint_deleted_options(endpoint_name)
        if states.ENDPOINT.outcome(endpoint) is states.Outcome.RUNNING:
            self.log(f"Endpoint {endpoint_name} is {status}; waiting before deploying")
            return endpoint, self._endpoint_settled_options(endpoint_name)
        if status in ("Failed", "OutOfService"):
            self.log(f"Endpoint {endpoint_name} is {status}; deleting and creating it again")
            _ignore_not_found(self.sagemaker.delete_endpoint, EndpointName=endpoint_name)
            return endpoint, self._endpoint_deleted_options(endpoint_name)
        return endpoint, None

    def _roll_out(self, *, model_name, endpoint_name, instance_type, initial_instance_count,
                  endpoint_config_name, config, deadline: Deadline) -> tuple[str, str]:
        """Create the config, clear the way, then create or update the endpoint; ``(config,
        endpoint)`` names. (:func:`smflow.aio.start_deploy` runs the same steps on an event loop.)"""
        config_name, endpoint_name = self.prepare_endpoint_config(
            model_name=model_name, endpoint_name=endpoint_name, instance_type=instance_type,
            initial_instance_count=initial_instance_count, endpoint_config_name=endpoint_config_name, config=config,
        )
        endpoint, pending = self.next_deploy_wait(endpoint_name)
        while pending is not None:
            wait_for(timeout=deadline.remaining(), **pending)
            endpoint, pending = self.next_deploy_wait(endpoint_name)
        self.apply_endpoint_config(endpoint_name, config_name, endpoint)
        return config_name, endpoint_name

    def prepare_endpoint_config(
        self, *, model_name, endpoint_name, instance_type, initial_instance_count, endpoint_config_name, config,
    ) -> tuple[str, str]:
        """The first step of ``deploy``: create (or reuse) the endpoint config (boto3
        ``create_endpoint_config``) and name the endpoint; returns ``(EndpointConfigName,
        EndpointName)``. Nothing is done to the endpoint yet.

        Raises: ConfigurationError (no model_name or config, bad names or numbers).
        """
        endpoint_name = self.deploy_endpoint_name(model_name=model_name, endpoint_name=endpoint_name, config=config)
        if config is not None:
            request = builders.coerce_to_shape(config, "CreateEndpointConfig")
        else:
            request = builders.endpoint_config_request(
                config_name=endpoint_config_name or model_name,
                model_name=model_name,
                instance_type=instance_type,
                initial_instance_count=initial_instance_count,
            )
        return self._create_or_reuse_endpoint_config(request), endpoint_name

    def apply_endpoint_config(self, endpoint_name: str, config_name: str, endpoint: dict | None) -> None:
        """The last step of ``deploy``, once :meth:`next_deploy_wait` has cleared the way:
        ``create_endpoint`` when ``endpoint`` (its last DescribeEndpoint payload) is None,
        ``update_endpoint`` when it serves another config or is UpdateRollbackFailed (a mix of
        configs, which AWS says another UpdateEndpoint resolves), else nothing."""
        if endpoint is None:
            self.sagemaker.create_endpoint(EndpointName=endpoint_name, EndpointConfigName=config_name)
            self.log(f"Creating endpoint {endpoint_name} with config {config_name}")
        elif endpoint.get("EndpointConfigName") != config_name or endpoint["EndpointStatus"] == "UpdateRollbackFailed":
            self.sagemaker.update_endpoint(EndpointName=endpoint_name, EndpointConfigName=config_name)
            self.log(f"Updating endpoint {endpoint_name} to config {config_name}")
        else:
            self.log(f"Endpoint {endpoint_name} already serves config {config_name}")

    def _create_or_reuse_endpoint_config(self, request: dict) -> str:
        """Create the config, or reuse one of that name with the same production variants; when
        the name is taken by other variants, the config is named ``<name>-<hash of the
        variants>`` instead, so a retry finds the same config rather than making another."""
        name = request["EndpointConfigName"]
        wanted = _variants_key(request["ProductionVariants"])
        existing = self._describe_or_none(self.sagemaker.describe_endpoint_config, EndpointConfigName=name)
        if existing is not None and _variants_key(existing["ProductionVariants"]) != wanted:
            name = naming.stable_name(name, repr(wanted))
            request = {**request, "EndpointConfigName": name}
            existing = self._describe_or_none(self.sagemaker.describe_endpoint_config, EndpointConfigName=name)
        if existing is not None and _variants_key(existing["ProductionVariants"]) == wanted:
            return name
        self.sagemaker.create_endpoint_config(**request)
        self.log(f"Created endpoint config {name}")
        return name

    def wait_for_endpoint(
        self, endpoint_name: str, *, expected_config: str | None = None,
        timeout: float | None = None, backoff: Backoff | None = None,
    ) -> dict:
        """Wait for InService. With ``expected_config``, an endpoint back InService on another
        config (a rolled-back update) is an error.

        Raises: ConfigurationError (no such endpoint), ResourceFailedError (with FailureReason),
            WaitTimeoutError.
        """
        description = self.wait_for_resource(states.ENDPOINT.kind, endpoint_name, expected_config=expected_config,
                                              timeout=timeout, backoff=backoff)
        self.log(completion_message(states.ENDPOINT.kind, endpoint_name, description))
        return description

    def _endpoint_settled_options(self, endpoint_name: str) -> dict[str, Any]:
        """The arguments of ``wait_for`` / ``async_wait_for`` (but ``timeout``) that wait until the
        endpoint is in no transitional state (Creating, Updating, SystemUpdating, RollingBack...)
        or gone."""
        gone = {"EndpointName": endpoint_name, "EndpointStatus": "Deleted"}

        def describe() -> dict:
            return self._describe_or_none(self.sagemaker.describe_endpoint, EndpointName=endpoint_name) or gone

        def settled(description: dict) -> states.Outcome:
            running = description is not gone and states.ENDPOINT.outcome(description) is states.Outcome.RUNNING
            return states.Outcome.RUNNING if running else states.Outcome.SUCCEEDED

        return {"describe": describe, "kind": states.ENDPOINT, "backoff": self.backoff, "check": settled}

    def _wait_endpoint_deleted(self, endpoint_name: str, timeout: float | None) -> None:
        wait_for(timeout=timeout, **self._endpoint_deleted_options(endpoint_name))

    def _endpoint_deleted_options(self, endpoint_name: str) -> dict[str, Any]:
        """The arguments of ``wait_for`` / ``async_wait_for`` (but ``timeout``) that wait until
        DescribeEndpoint no longer finds the endpoint."""
        gone = {"EndpointName": endpoint_name, "EndpointStatus": "Deleted"}

        def describe() -> dict:
            found = self._describe_or_none(self.sagemaker.describe_endpoint, EndpointName=endpoint_name)
            return found or gone

        def deleted(description: dict) -> states.Outcome:
            return states.Outcome.SUCCEEDED if description is gone else states.Outcome.RUNNING

        return {"describe": describe, "kind": states.ENDPOINT, "backoff": self.backoff, "check": deleted}

    def delete_endpoint(
        self,
        endpoint_name: str,
        *,
        delete_endpoint_config: bool = True,
        delete_model: bool = False,
        wait: bool = True,
        timeout: float | None = 600,
    ) -> dict:
        """Delete an endpoint and, optionally, its endpoint config and models (boto3
        ``delete_endpoint``, ``delete_endpoint_config``, ``delete_model``). Deleting what is
        already gone is not an error, so this fits teardown tasks. With ``wait``, returns once
        DescribeEndpoint no longer finds the endpoint, polling with the client's backoff for at
        most ``timeout`` seconds (:func:`smflow.aio.delete_endpoint` is the same for event loops).

        Returns: ``{"EndpointName", "Deleted": [names actually deleted, by kind]}``, e.g.
            ``["Endpoint/iris", "EndpointConfig/iris"]``.
        Raises: WaitTimeoutError (still there after ``timeout`` seconds).
        """
        deletion = self._start_endpoint_deletion(endpoint_name, delete_endpoint_config, delete_model)
        if wait and deletion.endpoint_existed:
            self._wait_endpoint_deleted(endpoint_name, timeout)
        return self._finish_endpoint_deletion(deletion)

    def _start_endpoint_deletion(
        self, endpoint_name: str, delete_endpoint_config: bool, delete_model: bool
    ) -> _EndpointDeletion:
        """``delete_endpoint`` up to the wait: find the config and models, delete the endpoint."""
        deletion = _EndpointDeletion(endpoint_name, delete_endpoint_config, delete_model)
        endpoint = self._describe_or_none(self.sagemaker.describe_endpoint, EndpointName=endpoint_name)
        deletion.config_name = endpoint.get("EndpointConfigName") if endpoint else None
        if deletion.config_name and (delete_endpoint_config or delete_model):
            config = self._describe_or_none(self.sagemaker.describe_endpoint_config,
                                            EndpointConfigName=deletion.config_name)
            deletion.model_names = [v["ModelName"] for v in (config or {}).get("ProductionVariants", [])]
        if endpoint is not None:
            deletion.endpoint_existed = True
            if endpoint.get("EndpointStatus") == "Deleting":  # an earlier delete_endpoint(wait=False)
                return deletion
            if _ignore_not_found(self.sagemaker.delete_endpoint, EndpointName=endpoint_name):
                deletion.deleted.append(f"Endpoint/{endpoint_name}")
        return deletion

    def _finish_endpoint_deletion(self, deletion: _EndpointDeletion) -> dict:
        """``delete_endpoint`` after the wait: the endpoint config and models, then the result."""
        if deletion.config_name and deletion.delete_endpoint_config:
            if _ignore_not_found(self.sagemaker.delete_endpoint_config, EndpointConfigName=deletion.config_name):
                deletion.deleted.append(f"EndpointConfig/{deletion.config_name}")
        if deletion.delete_model:
            for model_name in deletion.model_names:
                if _ignore_not_found(self.sagemaker.delete_model, ModelName=model_name):
                    deletion.deleted.append(f"Model/{model_name}")
        self.log(f"Deleted {', '.join(deletion.deleted) if deletion.deleted else 'nothing (already gone)'}")
        return {"EndpointName": deletion.endpoint_name, "Deleted": deletion.deleted}

    # ------------------------------------------------------------------ inference
    def invoke(
        self,
        endpoint_name: str,
        body: bytes,
        *,
        content_type: str,
        accept: str | None = None,
        target_variant: str | None = None,
        custom_attributes: str | None = None,
    ) -> tuple[bytes, str]:
        """boto3 ``invoke_endpoint`` with raw bytes; returns ``(body, content type)``.

        Raises:
            InvocationError: unknown endpoint, or the model answered with an error (its status
                and message, e.g. 415 for an unsupported content type).
        """
        kwargs: dict[str, Any] = {"EndpointName": endpoint_name, "Body": body, "ContentType": content_type}
        if accept:
            kwargs["Accept"] = accept
        if target_variant:
            kwargs["TargetVariant"] = target_variant
        if custom_attributes:
            kwargs["CustomAttributes"] = custom_attributes
        try:
            response = self.runtime.invoke_endpoint(**kwargs)
        except ClientError as error:
            details = error.response
            status = details.get("OriginalStatusCode") or details.get("ResponseMetadata", {}).get("HTTPStatusCode")
            message = details.get("OriginalMessage") or details.get("Error", {}).get("Message", str(error))
            raise InvocationError(endpoint_name, status, message) from None
        return response["Body"].read(), response.get("ContentType", accept or "")

    def predict(
        self,
        endpoint_name: str,
        data,
        *,
        content_type: str = codecs.NPY,
        accept: str = codecs.NPY,
        target_variant: str | None = None,
    ) -> np.ndarray:
        """Predict with a NumPy array or a list (SDK ``Predictor.predict``, seed 001).

        The request is serialized as ``content_type`` (``application/x-npy`` by default, as the
        SDK's scikit-learn predictor; or ``application/json``, ``text/csv``) and the answer,
        requested as ``accept``, is returned as a NumPy array.

        Raises: InvocationError; UnsupportedContentTypeError for another content type.
        """
        array = np.asarray(data)
        if codecs.base_type(content_type) == codecs.CSV and array.ndim == 1:
            array = array.reshape(1, -1)  # one record, as the SDK's CSVSerializer writes it
        body, response_type = self.invoke(
            endpoint_name, codecs.encode(array, content_type),
            content_type=content_type, accept=accept, target_variant=target_variant,
        )
        return codecs.decode(body, response_type or accept)

    # ------------------------------------------------------------------ batch transform
    def batch_transform(
        self,
        *,
        model_name: str | None = None,
        data: str | None = None,
        output_path: str | None = None,
        content_type: str | None = "text/csv",
        split_type: str | None = "Line",
        batch_strategy: str | None = "MultiRecord",
        max_payload_mb: int | None = 6,
        max_concurrent_transforms: int | None = None,
        assemble_with: str | None = "Line",
        accept: str | None = None,
        instance_type: str = builders.DEFAULT_INSTANCE_TYPE,
        instance_count: int = 1,
        environment: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
        job_name: str | None = None,
        base_job_name: str | None = None,
        idempotency_key: str | None = None,
        action_if_job_exists: ActionIfJobExists = "attach",
        config: Mapping[str, Any] | None = None,
        wait: bool = True,
        timeout: float | None = None,
    ) -> dict:
        """Run a batch transform job (boto3 ``create_transform_job``, seed 002 "Batch
        Transform"): every object under the S3 prefix ``data`` gives ``<object>.out`` under
        ``output_path`` (default ``s3://<default bucket>/<job name>``). ``max_payload_mb`` is in MB.
        ``split_type``, ``batch_strategy``, ``max_payload_mb`` and ``assemble_with`` may be None
        (left to SageMaker's defaults; ``split_type=None`` is the SDK's default: one record per
        object).

        When a job of that name exists (``action_if_job_exists="attach"``, see
        ``_resolve_job``): a Stopping job is waited for; a Completed or InProgress job is reused
        only if it matches this call (ModelName, input S3Uri, output path, SplitType,
        BatchStrategy, MaxPayloadInMB, AssembleWith; arguments left None, or fields absent from
        ``config``, are not compared); otherwise, and after a Failed or Stopped job,
        ``<name>-2`` (``-3``...) is started. The model is looked up (boto3 ``describe_model``)
        before a job is created.

        Returns: the DescribeTransformJob payload (after waiting, when ``wait``).
        Raises:
            ConfigurationError: a bad argument, or no model named ``model_name`` (both named).
            JobExistsError, ResourceFailedError, WaitTimeoutError.
        """
        deadline = Deadline.after(timeout)
        if config is not None:
            request = builders.coerce_to_shape(config, "CreateTransformJob")
            name = request.get("TransformJobName") or self._job_name(
                job_name, base_job_name, idempotency_key,
                naming.base_of(request.get("ModelName", DEFAULT_BASE_JOB_NAME)),
            )
            wanted = _transform_fields(request)
        else:
            if not model_name or not data:
                raise ConfigurationError("model_name and data (an s3:// input prefix) are required")
            request = None
            name = self._job_name(job_name, base_job_name, idempotency_key, naming.base_of(model_name))
            preview = builders.transform_job_request(
                job_name=name, model_name=model_name, data=data, output_path=output_path or "s3://unset",
                content_type=content_type, split_type=split_type, batch_strategy=batch_strategy,
                max_payload_mb=max_payload_mb, max_concurrent_transforms=max_concurrent_transforms,
                assemble_with=assemble_with, accept=accept, instance_type=instance_type,
                instance_count=instance_count,
            )
            if not output_path:  # the default output path depends on the job name: not compared
                del preview["TransformOutput"]["S3OutputPath"]
            wanted = _transform_fields(preview)
        name, existing = self._resolve_job(
            name,
            lambda candidate: self._describe_or_none(
                self.sagemaker.describe_transform_job, TransformJobName=candidate
            ),
            states.TRANSFORM_JOB,
            action_if_job_exists,
            differences=lambda found: _differences(wanted, _transform_fields(found)),
            timeout=timeout,
        )
        if existing is None:
            model = (request or {}).get("ModelName") or model_name
            argument = "ModelName in config" if request is not None else "model_name"
            if model and self._describe_or_none(self.sagemaker.describe_model, ModelName=model) is None:
                raise ConfigurationError(f"Model {model!r} not found; check {argument} (create_model makes one)")
            if request is None:
                request = builders.transform_job_request(
                    job_name=name, model_name=model_name, data=data,
                    output_path=output_path or f"s3://{self.default_bucket()}/{name}",
                    content_type=content_type, split_type=split_type, batch_strategy=batch_strategy,
                    max_payload_mb=max_payload_mb, max_concurrent_transforms=max_concurrent_transforms,
                    assemble_with=assemble_with, accept=accept, instance_type=instance_type,
                    instance_count=instance_count, environment=environment, tags=tags,
                )
            else:
                request = {**request, "TransformJobName": name}
            try:
                self.sagemaker.create_transform_job(**request)
                self.log(f"Created transform job {name}")
            except ClientError as error:
                if _error_code(error) != "ResourceInUse":
                    raise
        if not wait:
            return self.describe_transform_job(name)
        return self.wait_for_transform_job(name, timeout=deadline.remaining())

    def wait_for_transform_job(self, job_name: str, *, timeout: float | None = None, backoff: Backoff | None = None) -> dict:
        """Wait until the transform job is Completed.

        Raises: ConfigurationError (no such job), ResourceFailedError (Failed/Stopped, with
            FailureReason), WaitTimeoutError.
        """
        description = self.wait_for_resource(states.TRANSFORM_JOB.kind, job_name, timeout=timeout, backoff=backoff)
        self.log(completion_message(states.TRANSFORM_JOB.kind, job_name, description))
        return description

    def stop_transform_job(self, job_name: str) -> None:
        """boto3 ``stop_transform_job``; a job that already ended is left as it is."""
        _stop(self.sagemaker.stop_transform_job, TransformJobName=job_name)


# ---------------------------------------------------------------------- module helpers
def _split(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise ConfigurationError(f"code_location must be an s3:// URI, got {uri!r}")
    bucket, _, prefix = uri[5:].partition("/")
    return bucket, prefix.strip("/")


def _json_value(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        decoded = json.loads(value)
    except ValueError:
        return value
    return decoded if isinstance(decoded, str) else value


@dataclass
class _EndpointDeletion:
    """What ``delete_endpoint`` found and deleted so far (shared by the sync and async paths)."""

    endpoint_name: str
    delete_endpoint_config: bool
    delete_model: bool
    config_name: str | None = None
    model_names: list[str] = field(default_factory=list)
    endpoint_existed: bool = False
    deleted: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _ModelCode:
    packed: PackedCode
    s3_uri: str  # where it is (an s3:// source_dir) or will be uploaded

    @property
    def program(self) -> str:
        return self.packed.program


def _container_differences(wanted: Mapping[str, Any], have: Mapping[str, Any]) -> list[str]:
    """The PrimaryContainer fields in which an existing model differs from a CreateModel
    request: Image, ModelDataUrl, every Environment variable, and any other field the request
    sets."""
    keys = sorted({"Image", "ModelDataUrl"} | (set(wanted) - {"Environment"}))
    names = [key for key in keys if wanted.get(key) != have.get(key)]
    return names + _differences({"Environment": wanted.get("Environment") or {}},
                                {"Environment": have.get("Environment") or {}})


def _hyperparameter_value(value: Any) -> str:
    """A hyperparameter as the training script receives it, so that ``30``, ``"30"`` and the
    SDK's JSON-encoded ``'"30"'`` compare equal (the toolkit JSON-decodes every value)."""
    decoded = value
    if isinstance(value, str):
        try:
            decoded = json.loads(value)
        except ValueError:
            return value
    return decoded if isinstance(decoded, str) else json.dumps(decoded, sort_keys=True, default=str)


def _channel_uris(channels: list[dict] | None) -> dict[str, str | None]:
    return {
        channel.get("ChannelName"): channel.get("DataSource", {}).get("S3DataSource", {}).get("S3Uri")
        for channel in channels or []
    }


def _s3_path(uri: str) -> str:
    return uri.rstrip("/")


def _training_fields(request: Mapping[str, Any]) -> dict[str, Any]:
    """What decides whether an existing training job is the one a request asks for, read the
    same way from a CreateTrainingJob request and a DescribeTrainingJob payload: user
    HyperParameters (not ``sagemaker_*``), channel name -> S3Uri, TrainingImage, S3OutputPath,
    InstanceType, InstanceCount. A field the request does not set is absent."""
    fields: dict[str, Any] = {}
    if request.get("HyperParameters") is not None:
        fields["HyperParameters"] = {
            str(key): _hyperparameter_value(value)
            for key, value in request["HyperParameters"].items() if not str(key).startswith("sagemaker_")
        }
    if request.get("InputDataConfig") is not None:
        fields["InputDataConfig"] = _channel_uris(request["InputDataConfig"])
    image = (request.get("AlgorithmSpecification") or {}).get("TrainingImage")
    if image:
        fields["TrainingImage"] = image
    output = (request.get("OutputDataConfig") or {}).get("S3OutputPath")
    if output:
        fields["S3OutputPath"] = _s3_path(output)
    resources = request.get("ResourceConfig") or {}
    for key in ("InstanceType", "InstanceCount"):
        if resources.get(key) is not None:
            fields[key] = resources[key]
    return fields


def _transform_fields(request: Mapping[str, Any]) -> dict[str, Any]:
    """What decides whether an existing transform job is the one a request asks for, read the
    same way from a CreateTransformJob request and a DescribeTransformJob payload: ModelName,
    the input S3Uri, S3OutputPath, SplitType, BatchStrategy, MaxPayloadInMB, AssembleWith. A
    field the request does not set is absent."""
    transform_input = request.get("TransformInput") or {}
    output = request.get("TransformOutput") or {}
    candidates = {
        "ModelName": request.get("ModelName"),
        "S3Uri": (transform_input.get("DataSource") or {}).get("S3DataSource", {}).get("S3Uri"),
        "S3OutputPath": _s3_path(output["S3OutputPath"]) if output.get("S3OutputPath") else None,
        "SplitType": transform_input.get("SplitType"),
        "BatchStrategy": request.get("BatchStrategy"),
        "MaxPayloadInMB": request.get("MaxPayloadInMB"),
        "AssembleWith": output.get("AssembleWith"),
    }
    return {key: value for key, value in candidates.items() if value is not None}


def _differences(wanted: Mapping[str, Any], have: Mapping[str, Any]) -> list[str]:
    """The fields of ``wanted`` whose value ``have`` does not share (``HyperParameters.lr``
    for one entry of a mapping)."""
    names: list[str] = []
    for key, value in wanted.items():
        if isinstance(value, Mapping):
            other = have.get(key) or {}
            names.extend(f"{key}.{item}" for item in sorted(set(value) | set(other), key=str)
                         if value.get(item) != other.get(item))
        elif value != have.get(key):
            names.append(key)
    return names


def _variants_key(variants: list[dict]) -> list[tuple]:
    return sorted(
        (v.get("VariantName"), v.get("ModelName"), v.get("InstanceType"), int(v.get("InitialInstanceCount", 1)))
        for v in variants
    )


def _ignore_not_found(method: Callable[..., Any], **kwargs) -> bool:
    """Call a delete method; False when the resource was already gone."""
    try:
        method(**kwargs)
    except ClientError as error:
        if is_not_found(error):
            return False
        raise
    return True


def _stop(method: Callable[..., Any], **kwargs) -> None:
    try:
        method(**kwargs)
    except ClientError as error:
        if _error_code(error) != "ValidationException":
            raise
        logger.info("not stopped: %s", error.response.get("Error", {}).get("Message"))


__all__ = ["SageMakerClient", "is_not_found", "parse_image_uri"]
