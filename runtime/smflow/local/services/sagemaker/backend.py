"""The operations of the local SageMaker API over its state model, independent of the wire protocol.

:class:`SageMakerBackend` has one method per supported SageMaker operation (and SageMaker
Runtime's InvokeEndpoint, which serves its endpoints). Methods take the operation's request
members as keyword arguments (timestamps as epoch seconds or datetimes) and return its response
as a dict (timestamps as epoch-second floats). The resources' records, transitions and answers
are :mod:`.models`'s, stored in :class:`smflow.local.state.store.ResourceStore`. Errors are
:mod:`.exceptions` (and :mod:`smflow.local.services.runtime.exceptions`) classes carrying the
error code, HTTP status and message; the messages follow what AWS answers (SageMaker API
reference pages of each operation, and the SageMaker waiters in botocore's
``sagemaker/2017-07-24/waiters-2.json``: ``EndpointDeleted`` succeeds on ``ValidationException``).

Work runs in executors, imported lazily so that this module stays importable on its own:
training jobs in :class:`smflow.local.executors.training.TrainingRun`, endpoints in
:class:`smflow.local.executors.hosting.Deployment`, batch transform in
:class:`smflow.local.executors.transform.TransformRun`. Each runs in its own daemon thread; several jobs
and endpoints run at once.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import shutil
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from smflow.local.support.aws import ACCOUNT_ID, LocalAws
from smflow.local.services.runtime.exceptions import ModelError, ValidationError
from smflow.local.services.sagemaker.exceptions import ValidationException
from smflow.local.services.sagemaker.models import (
    JOBS,
    TAGS_FIELD,
    Endpoint,
    EndpointConfig,
    Job,
    Model,
    Resource,
    TrainingJob,
    TransformJob,
    epoch_seconds,
    merge_tags,
)
from smflow.local.state.recovery import recover_after_restart
from smflow.local.state.store import ResourceStore

logger = logging.getLogger(__name__)

DEFAULT_DEPLOYMENT_TIMEOUT = 120.0  # seconds for Deployment.start
DRAIN_TIMEOUT = 30.0  # seconds an old deployment may finish in-flight invocations after a switch
DEFAULT_MAX_RESULTS = 10  # List* default page size (ListEndpoints, ListTransformJobs reference)
# Seconds CreateEndpoint, UpdateEndpoint and DeleteEndpoint wait for their transition before
# answering. A local endpoint's model servers usually answer /ping (or are gone) well within it,
# so the first DescribeEndpoint of a client that sleeps its polling interval before looking (the
# SageMaker Python SDK: 30 s) or looks once and then sleeps (botocore's waiters, the AWS CLI,
# Airflow's Amazon provider) already finds InService (or the endpoint gone). Slower transitions
# answer as before, Creating/Updating/Deleting, and go on in the background.
SETTLE_TIMEOUT = 2.0
# Training and transform jobs are not settled so: Describe* answers at once, so that pollers and
# deferring operators see a job run (a first Describe that waited for a short job's end would
# save Airflow's Amazon provider one check_interval, and hide the running job from them).
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,62}")


# --------------------------------------------------------------------------------------------
# Executors
# --------------------------------------------------------------------------------------------
class Executors:
    """Factories of the objects that do the work. Subclass to substitute test doubles.

    The defaults import ``smflow.local.executors.training``, ``hosting`` and ``transform`` when first used.
    """

    def training_run(self, description: dict, work_dir: Path, aws: LocalAws,
                     on_update: Callable[[dict], None]) -> Any:
        from smflow.local.executors.hosting import warm_up_model_servers
        from smflow.local.executors.training import TrainingRun

        # A deploy or a transform usually follows: the libraries are imported by then (beside the
        # training, or after it on a busy machine: TrainingRun's warm_up).
        image = (description.get("AlgorithmSpecification") or {}).get("TrainingImage") or ""
        return TrainingRun(description, work_dir, aws, on_update,
                           warm_up=lambda: warm_up_model_servers([image]))

    def deployment(self, endpoint_name: str, variants: list[tuple[dict, dict]], work_dir: Path,
                   aws: LocalAws) -> Any:
        from smflow.local.executors.hosting import Deployment

        return Deployment(endpoint_name, variants, work_dir, aws)

    def transform_run(self, description: dict, model: dict, work_dir: Path, aws: LocalAws,
                      on_update: Callable[[dict], None]) -> Any:
        from smflow.local.executors.transform import TransformRun

        return TransformRun(description, model, work_dir, aws, on_update)

    def close(self) -> None:
        """Stop what the executors share between jobs and endpoints (the model servers' fork
        server), once every executor has stopped."""
        hosting = sys.modules.get("smflow.local.executors.hosting")
        if hosting is not None:
            hosting.FORK_SERVER.shutdown()

    def failure_reason(self, error: BaseException) -> str:
        """The FailureReason for an exception raised while starting or running work."""
        user_facing: list[type] = []
        try:
            from smflow.local.containers.environments import UnsupportedImageError

            user_facing.append(UnsupportedImageError)
            from smflow.local.executors.hosting import ModelServerError

            user_facing.append(ModelServerError)
        except ImportError:  # pragma: no cover - hosting not installed yet
            pass
        if isinstance(error, tuple(user_facing)) and str(error):
            return str(error)
        return f"Internal error in the smflow local runtime: {type(error).__name__}: {error}"


# --------------------------------------------------------------------------------------------
# Endpoint runtime state (in memory)
# --------------------------------------------------------------------------------------------
@dataclass
class _Live:
    """One started (or starting) Deployment and the invocations it is serving."""

    deployment: Any
    config_name: str
    variant_names: list[str]
    work_dir: Path
    in_flight: int = 0
    idle: threading.Condition = field(default_factory=threading.Condition)

    def enter(self) -> None:
        with self.idle:
            self.in_flight += 1

    def leave(self) -> None:
        with self.idle:
            self.in_flight -= 1
            self.idle.notify_all()

    def drain_and_stop(self, timeout: float = DRAIN_TIMEOUT) -> None:
        with self.idle:
            self.idle.wait_for(lambda: self.in_flight == 0, timeout=timeout)
        self.stop()

    def stop(self) -> None:
        try:
            self.deployment.stop()
        except Exception:  # noqa: BLE001 - stopping must not fail the caller
            logger.exception("stopping deployment in %s failed", self.work_dir)
        shutil.rmtree(self.work_dir, ignore_errors=True)


@dataclass
class _EndpointState:
    name: str
    lock: threading.Lock = field(default_factory=threading.Lock)
    active: _Live | None = None
    pending: _Live | None = None
    deleting: bool = False


# --------------------------------------------------------------------------------------------
# Backend
# --------------------------------------------------------------------------------------------
class SageMakerBackend:
    """SageMaker training jobs, models, endpoint configs, endpoints and transform jobs.

    Args:
        state_dir: the runtime's state folder; resources live in ``<state_dir>/sagemaker``,
            executor work folders in ``<state_dir>/work``.
        aws: boto3 clients bound to this runtime (the executors use them for S3 and Logs).
        region_name: region used in ARNs (default: ``aws.region_name``).
        executors: the executor factories (default :class:`Executors`).
        deployment_timeout: seconds allowed for an endpoint's Deployment.start.

    Call :meth:`restore` once the HTTP server answers (restarted endpoints download their model
    through it), and :meth:`shutdown` before the server stops.
    """

    settle_timeout: float = SETTLE_TIMEOUT  # see SETTLE_TIMEOUT; 0 answers at once

    def __init__(
        self,
        state_dir: str | Path,
        aws: LocalAws,
        *,
        region_name: str | None = None,
        executors: Executors | None = None,
        deployment_timeout: float = DEFAULT_DEPLOYMENT_TIMEOUT,
    ):
        self.state_dir = Path(state_dir)
        self.aws = aws
        self.region = region_name or aws.region_name
        self.executors = executors or Executors()
        self.deployment_timeout = deployment_timeout
        self.store = ResourceStore(self.state_dir / "sagemaker")
        self._lock = threading.RLock()
        self._runs: dict[tuple[str, str], Any] = {}  # (kind, lower name) -> TrainingRun/TransformRun
        self._endpoints: dict[str, _EndpointState] = {}  # lower name -> state
        self._threads: list[threading.Thread] = []
        self._closing = False
        # Framework environments default to <state_dir>/environments ($SMFLOW_ENVIRONMENTS_DIR wins).
        from smflow.local.containers.environments import use_state_dir

        use_state_dir(self.state_dir)

    # ---------------------------------------------------------------------------- helpers --
    def arn(self, resource_type: str, name: str) -> str:
        """``arn:aws:sagemaker:<region>:123456789012:<resource_type>/<name, lower-cased>``."""
        partition = "aws"
        if self.region.startswith("cn-"):
            partition = "aws-cn"
        elif self.region.startswith("us-gov-"):
            partition = "aws-us-gov"
        return f"arn:{partition}:sagemaker:{self.region}:{ACCOUNT_ID}:{resource_type}/{name.lower()}"

    def _thread(self, target: Callable[..., None], *args: Any, name: str) -> threading.Thread:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()]
            self._threads.append(thread)
        thread.start()
        return thread

    def wait_idle(self, timeout: float = 10.0) -> None:
        """Wait (up to ``timeout`` seconds) for background lifecycle threads to finish."""
        deadline = time.monotonic() + timeout
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def _work_dir(self, *parts: str) -> Path:
        path = self.state_dir.joinpath("work", *parts)
        return path

    # ===================================================================== training jobs ==
    def create_training_job(self, **request: Any) -> dict[str, Any]:
        """CreateTrainingJob. Returns ``{"TrainingJobArn": ...}``.

        Raises: ResourceInUse (name taken), ValidationException (no TrainingImage, no
        ResourceConfig, or an algorithm resource, which runs only on AWS).
        """
        name = request["TrainingJobName"]
        TrainingJob.check(request)
        arn = self.arn(TrainingJob.arn_type, name)
        record = TrainingJob.new(request, arn, time.time())
        if not self.store.insert(TrainingJob.kind, name, record):
            raise TrainingJob.name_taken(arn)
        work_dir = self._work_dir("training", name)
        self._start_run(TrainingJob, record, work_dir,
                        lambda on_update: self.executors.training_run(record, work_dir, self.aws, on_update))
        return {"TrainingJobArn": arn}

    def describe_training_job(self, TrainingJobName: str) -> dict[str, Any]:
        """DescribeTrainingJob. Raises ValidationException "Requested resource not found."."""
        return TrainingJob.describe(self._get_job(TrainingJob, TrainingJobName))

    def list_training_jobs(self, **request: Any) -> dict[str, Any]:
        """ListTrainingJobs: NameContains, StatusEquals, Creation/LastModifiedTime filters,
        SortBy (Name|CreationTime|Status, default CreationTime), SortOrder (default Ascending),
        MaxResults (default 10), NextToken. Returns ``TrainingJobSummaries`` (+ ``NextToken``)."""
        return self._list(TrainingJob, "TrainingJobSummaries", request)

    def stop_training_job(self, TrainingJobName: str) -> dict[str, Any]:
        """StopTrainingJob: InProgress -> Stopping -> (the run ends) Stopped.

        Raises: ValidationException if the job does not exist or already ended.
        """
        self._stop_job(TrainingJob, TrainingJobName)
        return {}

    # ==================================================================== transform jobs ==
    def create_transform_job(self, **request: Any) -> dict[str, Any]:
        """CreateTransformJob. Returns ``{"TransformJobArn": ...}``.

        Raises: ResourceInUse (name taken), ValidationException (ModelName does not exist).
        """
        name = request["TransformJobName"]
        model = self.store.get(Model.kind, request["ModelName"])
        if model is None:
            raise Model.not_found(self.arn(Model.arn_type, request["ModelName"]))
        arn = self.arn(TransformJob.arn_type, name)
        record = TransformJob.new(request, arn, time.time())
        if not self.store.insert(TransformJob.kind, name, record):
            raise TransformJob.name_taken(arn)
        work_dir = self._work_dir("transform", name)
        self._start_run(
            TransformJob, record, work_dir,
            lambda on_update: self.executors.transform_run(record, model, work_dir, self.aws, on_update),
        )
        return {"TransformJobArn": arn}

    def describe_transform_job(self, TransformJobName: str) -> dict[str, Any]:
        """DescribeTransformJob. Raises ValidationException "Requested resource not found."."""
        return TransformJob.describe(self._get_job(TransformJob, TransformJobName))

    def list_transform_jobs(self, **request: Any) -> dict[str, Any]:
        """ListTransformJobs (same filters as ListTrainingJobs; SortOrder default Descending)."""
        return self._list(TransformJob, "TransformJobSummaries", request)

    def stop_transform_job(self, TransformJobName: str) -> dict[str, Any]:
        """StopTransformJob: InProgress -> Stopping -> Stopped."""
        self._stop_job(TransformJob, TransformJobName)
        return {}

    # -------------------------------------------------------------------- job machinery --
    def _get_job(self, job: type[Job], name: str) -> dict[str, Any]:
        record = self.store.get(job.kind, name)
        if record is None:
            raise job.not_found()
        return record

    def _start_run(self, job: type[Job], record: dict, work_dir: Path,
                   factory: Callable[[Callable[[dict], None]], Any]) -> None:
        name = job.name_of(record)
        key = (job.kind, name.lower())
        try:
            shutil.rmtree(work_dir, ignore_errors=True)
            work_dir.mkdir(parents=True, exist_ok=True)
            run = factory(lambda fields: self._on_job_update(job, name, fields))
            with self._lock:
                self._runs[key] = run
            run.start()
        except Exception as error:  # noqa: BLE001 - the job fails with the reason, the API call succeeds
            logger.exception("could not start %s %s", job.kind, name)
            with self._lock:
                self._runs.pop(key, None)
            self._on_job_update(job, name, job.failed(self.executors.failure_reason(error), time.time()))

    def _on_job_update(self, job: type[Job], name: str, fields: dict[str, Any]) -> None:
        """Merge an executor's progress into the stored job (the ``on_update`` callback)."""
        if self._closing:
            return
        updated = self.store.update(job.kind, name, lambda current: job.progress(current, fields))
        if updated is not None and updated.get(job.status_field) in job.TERMINAL_STATUSES:
            with self._lock:
                self._runs.pop((job.kind, name.lower()), None)

    def _stop_job(self, job: type[Job], name: str) -> None:
        record = self._get_job(job, name)
        if not job.check_stoppable(record):
            return
        fields = job.stopping(time.time())
        # Only an InProgress job becomes Stopping (it may have ended since it was read).
        updated = self.store.update(job.kind, name, lambda current: fields
                                    if current.get(job.status_field) == "InProgress" else None)
        if updated is None or updated.get(job.status_field) != "Stopping":
            return
        with self._lock:
            run = self._runs.get((job.kind, name.lower()))
        if run is None:  # nothing is running (it never started): the stop is immediate
            done = job.stopped(time.time())
            self.store.update(job.kind, name, lambda current: done
                              if current.get(job.status_field) == "Stopping" else None)
            return
        self._thread(self._call_stop, run, job.kind, name, name=f"stop-{job.kind}-{name}")

    @staticmethod
    def _call_stop(run: Any, kind: str, name: str) -> None:
        try:
            run.stop()
        except Exception:  # noqa: BLE001
            logger.exception("stopping %s %s failed", kind, name)

    # ============================================================================ models ==
    def create_model(self, **request: Any) -> dict[str, Any]:
        """CreateModel. Returns ``{"ModelArn": ...}``.

        Raises ValidationException: ExecutionRoleArn missing; neither or both of
        PrimaryContainer/Containers; a container without Image; the name is taken
        ('Cannot create already existing model "<arn>".', which the SageMaker Python SDK
        recognises).
        """
        name = request["ModelName"]
        Model.check(request)
        arn = self.arn(Model.arn_type, name)
        if not self.store.insert(Model.kind, name, Model.new(request, arn, time.time())):
            raise Model.name_taken(arn)
        containers = [request.get("PrimaryContainer") or {}, *(request.get("Containers") or [])]
        self._warm_up_hosting([container.get("Image") or "" for container in containers])
        return {"ModelArn": arn}

    def _warm_up_hosting(self, images: list[str]) -> None:
        """An endpoint or a transform job usually follows a new model: have the model servers'
        fork server import their libraries now (non-blocking), so that the deployment starts
        within CreateEndpoint's :attr:`settle_timeout`. Only with the real hosting executor."""
        if type(self.executors).deployment is not Executors.deployment:
            return
        try:
            from smflow.local.executors.hosting import warm_up_model_servers
        except ImportError:  # pragma: no cover - the hosting executor's libraries are missing
            return
        warm_up_model_servers(images)

    def describe_model(self, ModelName: str) -> dict[str, Any]:
        """DescribeModel. Raises ValidationException 'Could not find model "<arn>".'."""
        return Model.describe(self._get_model(ModelName))

    def delete_model(self, ModelName: str) -> dict[str, Any]:
        """DeleteModel (endpoints already running it keep running, as on AWS)."""
        if self.store.delete(Model.kind, ModelName) is None:
            raise Model.not_found(self.arn(Model.arn_type, ModelName))
        return {}

    def list_models(self, **request: Any) -> dict[str, Any]:
        """ListModels: NameContains, CreationTime filters, SortBy (Name|CreationTime),
        SortOrder (default Descending), MaxResults, NextToken. Returns ``Models``."""
        return self._list(Model, "Models", request)

    def _get_model(self, name: str) -> dict[str, Any]:
        record = self.store.get(Model.kind, name)
        if record is None:
            raise Model.not_found(self.arn(Model.arn_type, name))
        return record

    # =================================================================== endpoint configs ==
    def create_endpoint_config(self, **request: Any) -> dict[str, Any]:
        """CreateEndpointConfig. Returns ``{"EndpointConfigArn": ...}``.

        Raises ValidationException: a variant's model does not exist; duplicate variant names;
        a feature that runs only on AWS (async inference, shadow variants, explainers, data
        capture); the name is taken.
        """
        name = request["EndpointConfigName"]
        EndpointConfig.check(request)
        variants = EndpointConfig.variants(request["ProductionVariants"], self._get_model)
        arn = self.arn(EndpointConfig.arn_type, name)
        if not self.store.insert(EndpointConfig.kind, name, EndpointConfig.new(request, variants, arn, time.time())):
            raise EndpointConfig.name_taken(arn)
        return {"EndpointConfigArn": arn}

    def describe_endpoint_config(self, EndpointConfigName: str) -> dict[str, Any]:
        """DescribeEndpointConfig. Raises ValidationException
        'Could not find endpoint configuration "<arn>".'."""
        return EndpointConfig.describe(self._get_endpoint_config(EndpointConfigName))

    def delete_endpoint_config(self, EndpointConfigName: str) -> dict[str, Any]:
        """DeleteEndpointConfig (endpoints already using it keep running, as on AWS)."""
        if self.store.delete(EndpointConfig.kind, EndpointConfigName) is None:
            self._get_endpoint_config(EndpointConfigName)
        return {}

    def list_endpoint_configs(self, **request: Any) -> dict[str, Any]:
        """ListEndpointConfigs (as ListModels). Returns ``EndpointConfigs``."""
        return self._list(EndpointConfig, "EndpointConfigs", request)

    def _get_endpoint_config(self, name: str) -> dict[str, Any]:
        record = self.store.get(EndpointConfig.kind, name)
        if record is None:
            raise EndpointConfig.not_found(self.arn(EndpointConfig.arn_type, name))
        return record

    def _variants_of(self, config: dict[str, Any]) -> list[dict[str, Any]]:
        """``[{"Variant": ProductionVariant, "Model": DescribeModel dict}]`` of a config."""
        return [
            {"Variant": variant, "Model": Model.describe(self._get_model(variant["ModelName"]))}
            for variant in config["ProductionVariants"]
        ]

    # ========================================================================= endpoints ==
    def create_endpoint(self, EndpointName: str, EndpointConfigName: str, **request: Any) -> dict[str, Any]:
        """CreateEndpoint: Creating -> (the Deployment starts, in the background) -> InService,
        or Failed with FailureReason. Returns ``{"EndpointArn": ...}`` once the endpoint is
        InService or Failed, or after :attr:`settle_timeout` seconds (still Creating).

        Raises ValidationException: the config or one of its models does not exist; the name is
        taken (case-insensitively).
        """
        config = self._get_endpoint_config(EndpointConfigName)
        variants = self._variants_of(config)
        arn = self.arn(Endpoint.arn_type, EndpointName)
        record = Endpoint.new(EndpointName, arn, config["EndpointConfigName"], variants, time.time(),
                              request.get("Tags") or ())
        with self._lock:
            if not self.store.insert(Endpoint.kind, EndpointName, record):
                raise Endpoint.name_taken(arn)
            state = _EndpointState(EndpointName)
            self._endpoints[EndpointName.lower()] = state
        thread = self._thread(self._bring_up, state, config["EndpointConfigName"], variants, None,
                              name=f"create-endpoint-{EndpointName}")
        thread.join(self.settle_timeout)
        return {"EndpointArn": arn}

    def describe_endpoint(self, EndpointName: str) -> dict[str, Any]:
        """DescribeEndpoint. Raises ValidationException 'Could not find endpoint "<arn>".'.

        An InService endpoint reads ``SystemUpdating`` while one of its variants has no model
        server in rotation (one died and its replacement is starting, see
        :mod:`smflow.local.executors.hosting.deployment`); the stored status stays InService."""
        description = Endpoint.describe(self._get_endpoint(EndpointName))
        state = self._endpoints.get(description["EndpointName"].lower())
        live = state.active if state is not None else None
        if (description.get("EndpointStatus") == "InService" and live is not None
                and not getattr(live.deployment, "can_answer", True)):
            description["EndpointStatus"] = "SystemUpdating"
        return description

    def update_endpoint(self, EndpointName: str, EndpointConfigName: str, **request: Any) -> dict[str, Any]:
        """UpdateEndpoint without downtime: Updating (the old deployment keeps serving) -> the new
        Deployment starts -> traffic switches -> the old one stops -> InService on the new
        config. If the new deployment fails: RollingBack -> InService on the old config with
        FailureReason set. Answers once InService again, or after :attr:`settle_timeout` seconds.

        Raises ValidationException: endpoint or config (or one of its models) not found; the
        endpoint is not InService.
        """
        self._get_endpoint(EndpointName)
        config = self._get_endpoint_config(EndpointConfigName)
        variants = self._variants_of(config)
        now = time.time()
        with self._lock:  # check and change the status atomically: one update at a time
            record = self._get_endpoint(EndpointName)
            name = record["EndpointName"]
            state = self._endpoints.get(name.lower())
            Endpoint.check_updatable(record, serving=state is not None and state.active is not None)
            self.store.update(Endpoint.kind, name, Endpoint.updating(config["EndpointConfigName"], now))
        thread = self._thread(self._switch_to, state, config["EndpointConfigName"], variants,
                              name=f"update-endpoint-{name}")
        thread.join(self.settle_timeout)
        return {"EndpointArn": record["EndpointArn"]}

    def delete_endpoint(self, EndpointName: str) -> dict[str, Any]:
        """DeleteEndpoint: Deleting -> (deployments stop, in the background) -> gone, after which
        DescribeEndpoint raises ValidationException (botocore's ``endpoint_deleted`` waiter).
        Answers once the endpoint is gone, or after :attr:`settle_timeout` seconds (Deleting)."""
        with self._lock:
            record = self._get_endpoint(EndpointName)
            name = record["EndpointName"]
            if record["EndpointStatus"] == "Deleting":
                return {}
            state = self._endpoints.get(name.lower()) or _EndpointState(name)
            self._endpoints[name.lower()] = state
            with state.lock:
                state.deleting = True
                lives = [live for live in (state.active, state.pending) if live is not None]
                state.active = state.pending = None
            self.store.update(Endpoint.kind, name, Endpoint.deleting(time.time()))
        thread = self._thread(self._finish_delete, state, lives, name=f"delete-endpoint-{name}")
        thread.join(self.settle_timeout)
        return {}

    def list_endpoints(self, **request: Any) -> dict[str, Any]:
        """ListEndpoints: NameContains, StatusEquals, time filters, SortBy (Name|CreationTime|
        Status), SortOrder (default Descending), MaxResults, NextToken. Returns ``Endpoints``."""
        return self._list(Endpoint, "Endpoints", request)

    def invoke_endpoint(
        self,
        endpoint_name: str,
        body: bytes,
        content_type: str | None = None,
        accept: str | None = None,
        custom_attributes: str | None = None,
        target_variant: str | None = None,
    ) -> Any:
        """SageMaker Runtime InvokeEndpoint. Returns the Deployment's ``InvocationResult``
        (status 2xx, body, content_type, variant_name).

        Raises:
            ValidationError: "Endpoint <name> of account 123456789012 not found." when the
                endpoint does not exist (the name must match in case) or is not serving;
                the target variant is not one of the endpoint's variants.
            ModelError: the model server answered a non-2xx status (HTTP 424 with
                OriginalStatusCode, OriginalMessage, LogStreamArn), or could not be reached.
        """
        with self._lock:
            state = self._endpoints.get(endpoint_name.lower()) if isinstance(endpoint_name, str) else None
        # A deployment is active exactly while the endpoint is InService, Updating or RollingBack.
        if state is None or state.name != endpoint_name:
            raise ValidationError(f"Endpoint {endpoint_name} of account {ACCOUNT_ID} not found.")
        with state.lock:
            live = state.active
            if live is None or state.deleting:
                raise ValidationError(f"Endpoint {endpoint_name} of account {ACCOUNT_ID} not found.")
            live.enter()
        try:
            if target_variant is not None and target_variant not in live.variant_names:
                raise ValidationError(
                    f"Variant {target_variant} not found for endpoint {endpoint_name}: its "
                    f"variants are {', '.join(live.variant_names)}."
                )
            try:
                result = live.deployment.invoke(body, content_type, accept, target_variant=target_variant,
                                                custom_attributes=custom_attributes)
            except Exception as error:  # noqa: BLE001 - reported to the client as a ModelError
                logger.warning("invocation of %s failed: %s", endpoint_name, error)
                reason = self.executors.failure_reason(error)
                log_arn, see_logs = self._endpoint_logs(endpoint_name)
                raise ModelError(
                    f"An error occurred while sending the request to the model of endpoint "
                    f"{endpoint_name}: {reason}. {see_logs}",
                    LogStreamArn=log_arn,
                ) from error
            if not 200 <= result.status < 300:
                original = result.body.decode("utf-8", errors="replace")
                kind = "client" if 400 <= result.status < 500 else "server"
                log_arn, see_logs = self._endpoint_logs(endpoint_name)
                raise ModelError(
                    f'Received {kind} error ({result.status}) from primary with message '
                    f'"{original}". {see_logs}',
                    OriginalStatusCode=result.status,
                    OriginalMessage=original,
                    LogStreamArn=log_arn,
                )
            return result
        finally:
            live.leave()

    def _endpoint_logs(self, endpoint_name: str) -> tuple[str, str]:
        """The ARN of an endpoint's log group and the sentence pointing users to it."""
        log_group = f"/aws/sagemaker/Endpoints/{endpoint_name}"
        log_arn = f"arn:aws:logs:{self.region}:{ACCOUNT_ID}:log-group:{log_group}"
        return log_arn, f"See the log group {log_group} (CloudWatch Logs on this runtime) for more information."

    # -------------------------------------------------------------- endpoint machinery --
    def _get_endpoint(self, name: str) -> dict[str, Any]:
        record = self.store.get(Endpoint.kind, name) if _is_name(name) else None
        if record is None:
            raise Endpoint.not_found(self.arn(Endpoint.arn_type, name))
        return record

    def _current(self, state: _EndpointState) -> bool:
        """Whether ``state`` still describes the stored endpoint (not deleted or replaced)."""
        with self._lock:
            return self._endpoints.get(state.name.lower()) is state and not state.deleting and not self._closing

    def _launch(self, state: _EndpointState, config_name: str, variants: list[dict[str, Any]]) -> _Live:
        """Start a Deployment for ``variants``; registered as ``state.pending`` while it starts.

        Raises whatever Deployment.start raises (the deployment is stopped first).
        """
        work_dir = self._work_dir("endpoints", state.name, f"{config_name.lower()}-{uuid.uuid4().hex[:8]}")
        work_dir.mkdir(parents=True, exist_ok=True)
        pairs = [(v["Variant"], v["Model"]) for v in variants]
        try:
            deployment = self.executors.deployment(state.name, pairs, work_dir, self.aws)
        except BaseException:
            shutil.rmtree(work_dir, ignore_errors=True)
            raise
        live = _Live(
            deployment=deployment,
            config_name=config_name,
            variant_names=[v["Variant"]["VariantName"] for v in variants],
            work_dir=work_dir,
        )
        with state.lock:
            if state.deleting or self._closing:
                shutil.rmtree(work_dir, ignore_errors=True)
                raise RuntimeError("the endpoint is being deleted")
            state.pending = live
        try:
            live.deployment.start(timeout=self.deployment_timeout)
        except BaseException:
            with state.lock:
                if state.pending is live:
                    state.pending = None
            live.stop()
            raise
        return live

    def _bring_up(self, state: _EndpointState, config_name: str, variants: list[dict[str, Any]],
                  note: str | None) -> None:
        """Creating (or restarting) -> InService, or Failed with the reason."""
        try:
            live = self._launch(state, config_name, variants)
        except Exception as error:  # noqa: BLE001 - becomes the endpoint's FailureReason
            if self._current(state):
                reason = self.executors.failure_reason(error)
                logger.warning("endpoint %s failed: %s", state.name, reason)
                self.store.update(Endpoint.kind, state.name, Endpoint.failed(reason, time.time()))
            return
        with state.lock:
            keep = not state.deleting and not self._closing
            if keep:
                state.active, state.pending = live, None
        if not keep or not self._current(state):
            live.stop()
            return
        self.store.update(Endpoint.kind, state.name, Endpoint.in_service(config_name, variants, note, time.time()))

    def _switch_to(self, state: _EndpointState, config_name: str, variants: list[dict[str, Any]]) -> None:
        """Updating -> InService on ``config_name``; on failure RollingBack -> InService (old)."""
        try:
            live = self._launch(state, config_name, variants)
        except Exception as error:  # noqa: BLE001 - becomes the endpoint's FailureReason
            if self._current(state):
                reason = self.executors.failure_reason(error)
                logger.warning("update of endpoint %s failed, rolling back: %s", state.name, reason)
                self.store.update(Endpoint.kind, state.name, Endpoint.rolling_back(time.time()))
                self.store.update(Endpoint.kind, state.name, Endpoint.rolled_back(config_name, reason, time.time()))
            return
        with state.lock:
            keep = not state.deleting and not self._closing
            old = state.active
            if keep:
                state.active, state.pending = live, None
        if not keep:
            live.stop()
            return
        if old is not None:  # traffic has switched: the old deployment finishes what it serves
            old.drain_and_stop()
        if not self._current(state):
            return
        self.store.update(Endpoint.kind, state.name, Endpoint.in_service(config_name, variants, None, time.time()))

    def _finish_delete(self, state: _EndpointState, lives: list[_Live]) -> None:
        for live in lives:
            live.drain_and_stop(timeout=5.0)
        folder = self._work_dir("endpoints", state.name)
        with state.lock:
            # A deployment that was starting registers as pending; stop it if it appeared since.
            late = state.pending
            state.pending = None
        if late is not None:
            late.stop()
        try:
            folder.rmdir()
        except OSError:
            pass
        with self._lock:
            self.store.delete(Endpoint.kind, state.name)
            if self._endpoints.get(state.name.lower()) is state:
                del self._endpoints[state.name.lower()]

    # ============================================================================== tags ==
    def add_tags(self, ResourceArn: str, Tags: list[dict[str, Any]]) -> dict[str, Any]:
        """AddTags: adds (or replaces, by key) tags of a training or transform job, model,
        endpoint configuration or endpoint. Returns ``{"Tags": Tags}``.

        Raises ValidationException when the ARN names no such resource.
        """
        resource, name = self._tagged(ResourceArn)
        self.store.update(resource.kind, name, lambda current: {
            TAGS_FIELD: merge_tags(current.get(TAGS_FIELD) or [], Tags)})
        return {"Tags": Tags}

    def list_tags(self, ResourceArn: str, MaxResults: int | None = None, NextToken: str | None = None) -> dict[str, Any]:
        """ListTags: ``{"Tags": [{"Key", "Value"}]}`` (+ ``NextToken``), in the order they were added.

        Raises ValidationException when the ARN names no such resource.
        """
        resource, name = self._tagged(ResourceArn)
        tags = self.store.get(resource.kind, name).get(TAGS_FIELD) or []
        page_size = int(MaxResults or 50)
        offset = _decode_token(NextToken, "Tags")
        result: dict[str, Any] = {"Tags": tags[offset: offset + page_size]}
        if offset + page_size < len(tags):
            result["NextToken"] = _encode_token(offset + page_size, "Tags")
        return result

    def delete_tags(self, ResourceArn: str, TagKeys: list[str]) -> dict[str, Any]:
        """DeleteTags: removes the tags of ``TagKeys`` (absent keys are ignored)."""
        resource, name = self._tagged(ResourceArn)
        keys = set(TagKeys)
        self.store.update(resource.kind, name, lambda current: {
            TAGS_FIELD: [t for t in current.get(TAGS_FIELD) or [] if t["Key"] not in keys]})
        return {}

    def _tagged(self, arn: str) -> tuple[type[Resource], str]:
        """The resource kind and name of a SageMaker ARN of this runtime's resources."""
        kinds = {r.arn_type: r for r in (TrainingJob, TransformJob, Model, EndpointConfig, Endpoint)}
        _, _, path = arn.rpartition(":")
        arn_type, _, name = path.partition("/")
        resource = kinds.get(arn_type)
        if resource is None or not _is_name(name) or arn != self.arn(resource.arn_type, name) \
                or self.store.get(resource.kind, name) is None:
            raise ValidationException(
                f"Could not find the resource {arn}: give the ARN of an existing training job, "
                "transform job, model, endpoint configuration or endpoint of this runtime."
            )
        return resource, name

    # ====================================================================== list helper ==
    def _list(self, resource: type[Resource], result_key: str, request: dict[str, Any]) -> dict[str, Any]:
        kind = resource.kind
        name_field = f"{kind}Name"
        status_field = resource.status_field
        items = self.store.list(kind)
        contains = (request.get("NameContains") or "").lower()
        if contains:
            items = [i for i in items if contains in i[name_field].lower()]
        if request.get("StatusEquals") and status_field:
            items = [i for i in items if i.get(status_field) == request["StatusEquals"]]
        for member, time_field, after in (
            ("CreationTimeAfter", "CreationTime", True), ("CreationTimeBefore", "CreationTime", False),
            ("LastModifiedTimeAfter", "LastModifiedTime", True),
            ("LastModifiedTimeBefore", "LastModifiedTime", False),
        ):
            if request.get(member) is not None:
                bound = epoch_seconds(request[member])
                items = [
                    i for i in items
                    if (i.get(time_field, i["CreationTime"]) > bound if after
                        else i.get(time_field, i["CreationTime"]) < bound)
                ]
        sort_by = request.get("SortBy") or "CreationTime"
        if sort_by == "Name":
            items.sort(key=lambda i: (i[name_field].lower(), i["CreationTime"]))
        elif sort_by == "Status" and status_field:
            items.sort(key=lambda i: (i.get(status_field, ""), i["CreationTime"], i[name_field]))
        else:
            items.sort(key=lambda i: (i["CreationTime"], i[name_field]))
        if (request.get("SortOrder") or resource.list_order) == "Descending":
            items.reverse()
        page_size = int(request.get("MaxResults") or DEFAULT_MAX_RESULTS)
        offset = _decode_token(request.get("NextToken"), kind)
        page = items[offset: offset + page_size]
        result: dict[str, Any] = {result_key: [resource.summary(i) for i in page]}
        if offset + page_size < len(items):
            result["NextToken"] = _encode_token(offset + page_size, kind)
        return result

    # ==================================================================== lifecycle ==
    def restore(self, timeout: float | None = None) -> None:
        """Recover after a (re)start: interrupted jobs end Failed; endpoints that were serving
        (or being created/updated) start again, in parallel, and end InService or Failed.

        Blocks until every restarted endpoint settled (or ``timeout`` seconds passed; default
        the deployment timeout plus 30 s).
        """
        threads = []
        for record in recover_after_restart(self.store):
            name = record["EndpointName"]
            state = _EndpointState(name)
            with self._lock:
                self._endpoints[name.lower()] = state
            shutil.rmtree(self._work_dir("endpoints", name), ignore_errors=True)
            variants = record.get("_Variants")
            note = Endpoint.restart_note(record)
            if not variants:
                self.store.update(Endpoint.kind, name, Endpoint.not_restartable(time.time()))
                continue
            threads.append(self._thread(self._bring_up, state, record["EndpointConfigName"], variants, note,
                                        name=f"restart-endpoint-{name}"))
        deadline = time.monotonic() + (self.deployment_timeout + 30.0 if timeout is None else timeout)
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def shutdown(self, timeout: float = 30.0) -> None:
        """Stop every executor. Running jobs end Failed (the runtime stopped while they ran);
        endpoints keep their stored status so that the next start brings them back."""
        with self._lock:
            if self._closing:
                return
            self._closing = True
            runs = dict(self._runs)
            self._runs.clear()
            states = list(self._endpoints.values())
        stoppers: list[threading.Thread] = []
        for (kind, name), run in runs.items():
            self.store.update(kind, name, lambda current, job=JOBS[kind]: job.interrupted(current))
            stoppers.append(self._spawn(self._call_stop, run, kind, name))
        for state in states:
            with state.lock:
                lives = [live for live in (state.active, state.pending) if live is not None]
                state.active = state.pending = None
            for live in lives:
                stoppers.append(self._spawn(live.stop))
        deadline = time.monotonic() + timeout
        for thread in stoppers:
            thread.join(max(0.0, deadline - time.monotonic()))
        try:
            self.executors.close()
        except Exception:  # noqa: BLE001 - shutting down must not fail
            logger.exception("stopping the executors' shared processes failed")

    @staticmethod
    def _spawn(target: Callable[..., None], *args: Any) -> threading.Thread:
        thread = threading.Thread(target=target, args=args, daemon=True)
        thread.start()
        return thread


# --------------------------------------------------------------------------------------------
def _is_name(name: Any) -> bool:
    return isinstance(name, str) and _NAME.fullmatch(name) is not None


def _encode_token(offset: int, kind: str) -> str:
    raw = json.dumps({"kind": kind, "offset": offset}).encode()
    return base64.urlsafe_b64encode(raw).decode()


def _decode_token(token: str | None, kind: str) -> int:
    if not token:
        return 0
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        if data["kind"] != kind or not isinstance(data["offset"], int) or data["offset"] < 0:
            raise ValueError
        return data["offset"]
    except (ValueError, KeyError, TypeError, binascii.Error) as error:
        raise ValidationException(
            "Invalid NextToken: pass the NextToken returned by the previous call of the same "
            "List operation, or omit it to start from the first page."
        ) from error
