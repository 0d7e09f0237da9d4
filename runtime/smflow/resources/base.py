"""What every resource of :class:`smflow.client.SageMakerClient` shares: the boto3 clients,
the execution role and default bucket, Describe* calls, job naming and reuse, and waiting.

The resource modules (:mod:`~smflow.resources.training`, :mod:`~smflow.resources.models`,
:mod:`~smflow.resources.endpoints`, :mod:`~smflow.resources.transform`) each add the calls of one
kind of SageMaker resource to :class:`ClientBase`; :class:`smflow.client.SageMakerClient` is
their union, the one class users call.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from functools import cached_property
from pathlib import Path
from typing import Any

from botocore.config import Config
from botocore.exceptions import ClientError

from smflow import naming, states
from smflow.errors import ConfigurationError, JobExistsError
from smflow.logs import LogTail
from smflow.naming import ActionIfJobExists
from smflow.session import configured_endpoint_url, make_client, make_session
from smflow.waiting import DEFAULT_BACKOFF, Backoff, is_throttling, wait_for

logger = logging.getLogger("smflow")

MAX_ATTEMPTS = 50
SETTLE_TIMEOUT = 900.0  # seconds to wait for a Stopping job when the call has no timeout
LOG_POLL_INTERVAL = 2.0  # seconds between reads of a training log while waiting (at least)
_NAME_ARGUMENTS = {"TrainingJob": "job_name", "TransformJob": "job_name", "Endpoint": "endpoint_name"}


def error_code(error: ClientError) -> str:
    return error.response.get("Error", {}).get("Code", "")


def is_not_found(error: ClientError) -> bool:
    """SageMaker reports a missing resource as ValidationException ("Could not find ...",
    "Requested resource not found.") or ResourceNotFound."""
    code = error_code(error)
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


def split_s3_uri(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise ConfigurationError(f"code_location must be an s3:// URI, got {uri!r}")
    bucket, _, prefix = uri[5:].partition("/")
    return bucket, prefix.strip("/")


def s3_path(uri: str) -> str:
    return uri.rstrip("/")


def field_differences(wanted: Mapping[str, Any], have: Mapping[str, Any]) -> list[str]:
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


def ignore_not_found(method: Callable[..., Any], **kwargs) -> bool:
    """Call a delete method; False when the resource was already gone."""
    try:
        method(**kwargs)
    except ClientError as error:
        if is_not_found(error):
            return False
        raise
    return True


def stop_ignoring_ended(method: Callable[..., Any], **kwargs) -> None:
    try:
        method(**kwargs)
    except ClientError as error:
        if error_code(error) != "ValidationException":
            raise
        logger.info("not stopped: %s", error.response.get("Error", {}).get("Message"))


class ClientBase:
    """The state and the calls every resource module builds on (see the module docstring)."""

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
        self._role_arns: dict[str, str] = {}
        self._bucket = default_bucket
        self.log = log or logger.info
        self.backoff = backoff

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
        """The execution role's ARN: ``role``, else the client's, else (custom endpoint only) a
        placeholder ``arn:aws:iam::<account>:role/smflow-local``.

        A role name (``"SageMakerRole"``) becomes its ARN as the SDK's ``Session.expand_role``
        does: through IAM ``GetRole`` on AWS; against a custom endpoint (the local runtime, which
        does not answer IAM) it is ``arn:aws:iam::<account>:role/<name>``, without calling IAM. A
        value containing ``/`` (an ARN) is used as it is.

        Raises:
            ConfigurationError: no role given while talking to AWS itself; IAM has no role of
                that name.
        """
        chosen = role or self._role
        if not chosen:
            if self.custom_endpoint_url:
                return f"arn:aws:iam::{self.account_id}:role/smflow-local"
            raise ConfigurationError(
                "role is required: pass role='arn:aws:iam::<account>:role/<SageMaker execution role>' "
                "or the role's name"
            )
        if "/" in chosen:
            return chosen
        if chosen not in self._role_arns:
            self._role_arns[chosen] = self._expand_role(chosen)
        return self._role_arns[chosen]

    def _expand_role(self, name: str) -> str:
        if self.custom_endpoint_url:
            return f"arn:aws:iam::{self.account_id}:role/{name}"
        try:
            return self._client("iam").get_role(RoleName=name)["Role"]["Arn"]
        except ClientError as error:
            if error_code(error) != "NoSuchEntity":
                raise
            raise ConfigurationError(
                f"role {name!r}: IAM has no role of that name in this account; pass an existing role's "
                "name or its ARN"
            ) from None

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
            if error_code(error) not in ("404", "NoSuchBucket", "NotFound"):
                raise
            kwargs: dict[str, Any] = {"Bucket": bucket}
            if self.region_name != "us-east-1":
                kwargs["CreateBucketConfiguration"] = {"LocationConstraint": self.region_name}
            try:
                self.s3.create_bucket(**kwargs)
            except ClientError as create_error:
                if error_code(create_error) != "BucketAlreadyOwnedByYou":
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
