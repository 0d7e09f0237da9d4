"""The state model of the local SageMaker API: one class per resource kind.

Each resource is stored as one record (:class:`smflow.local.state.store.ResourceStore`): its
Describe* payload, timestamps as epoch-second floats, plus private fields whose names start with
``_`` (never answered). A kind's class holds what is particular to it, as class attributes and
class methods over those records:

- the record a Create* request makes (:meth:`new`) and the checks done before (:meth:`check`);
- its status transitions, each returning the fields to merge into the stored record (the
  backend applies them under the store's lock);
- what it answers: the Describe* payload (:meth:`Resource.describe`) and the members of its
  List* summaries (:meth:`Resource.summary`);
- the errors that name it (not found, name taken), worded as AWS words them (SageMaker API
  reference of each operation).

The classes keep no state of their own: the records are the state, so that they survive a
restart (:mod:`smflow.local.state.recovery`). The operations over them are
:class:`smflow.local.services.sagemaker.backend.SageMakerBackend`'s.
"""

from __future__ import annotations

import copy
import datetime as dt
import re
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar

from smflow.local.services.sagemaker.exceptions import ResourceInUse, ValidationException

# A running job's private field (not in Describe* answers): the identity of its process group,
# {"ProcessGroupId": int, "ProcessId": int, "StartTime": int (clock ticks after boot, field 22 of
# /proc/<pid>/stat)}, written by the executor when its process starts.
PROCESS_FIELD = "_Process"


def epoch_seconds(value: Any) -> float:
    """Epoch seconds from a number, a datetime (naive = UTC) or an ISO 8601 string.

    Raises ValidationException for anything else.
    """
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return value.timestamp()
    raise ValidationException(f"not a timestamp: {value!r}")


# A resource's private field: its tags, [{"Key": str, "Value": str}] (AddTags, ListTags, DeleteTags).
TAGS_FIELD = "_Tags"


def _without_tags(request: Mapping[str, Any]) -> dict[str, Any]:
    """The record of a request: its Tags (not a Describe* member) kept in :data:`TAGS_FIELD`."""
    record = {k: v for k, v in request.items() if k != "Tags"}
    record[TAGS_FIELD] = [dict(tag) for tag in request.get("Tags") or []]
    return record


def merge_tags(current: list[dict[str, Any]], added: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """AddTags: ``added`` replaces the tags of the same keys and follows the others."""
    added = [dict(tag) for tag in added]
    keys = {tag["Key"] for tag in added}
    return [tag for tag in current if tag["Key"] not in keys] + added


def with_defaults(value: Any, defaults: Any) -> Any:
    """``value`` completed with ``defaults``, as SageMaker fills in the members a request left out.

    ``defaults`` mirrors the shape of the answer: a dict's members are added when missing (a
    dict default is merged into a present dict, or added whole), and a one-item list's item is
    applied to every item of a present list. ``value`` is not modified.
    """
    if isinstance(defaults, dict) and isinstance(value, dict):
        completed = dict(value)
        for key, default in defaults.items():
            if key not in completed or completed[key] is None:
                if not isinstance(default, list):  # a list's item defaults need a list
                    completed[key] = copy.deepcopy(default)
            else:
                completed[key] = with_defaults(completed[key], default)
        return completed
    if isinstance(defaults, list) and isinstance(value, list) and defaults:
        return [with_defaults(item, defaults[0]) for item in value]
    return value


class Resource:
    """What every resource kind declares.

    Attributes:
        kind: the store's kind, and the prefix of the ``<kind>Name``/``<kind>Arn`` members.
        arn_type: the ARN's resource type (``arn:aws:sagemaker:...:<arn_type>/<name>``).
        status_field: the member holding the status, if the kind has one (filters and sorts
            List* by status).
        summary_fields: the members of its List* summaries.
        list_order: List*'s default SortOrder.
        answer_defaults: the members SageMaker answers for a member the request left out
            (see :func:`with_defaults`), added by :meth:`describe` only, so that the executors
            see the request as it was sent.
    """

    kind: ClassVar[str]
    arn_type: ClassVar[str]
    status_field: ClassVar[str | None] = None
    summary_fields: ClassVar[tuple[str, ...]]
    list_order: ClassVar[str] = "Descending"
    answer_defaults: ClassVar[dict[str, Any]] = {}

    @classmethod
    def name_of(cls, record: Mapping[str, Any]) -> str:
        return record[f"{cls.kind}Name"]

    @classmethod
    def describe(cls, record: Mapping[str, Any]) -> dict[str, Any]:
        """The Describe* payload: the record without the backend's private ``_`` fields, with
        :attr:`answer_defaults` for the members the request left out."""
        public = {k: v for k, v in record.items() if not k.startswith("_") and v is not None}
        return with_defaults(public, cls.answer_defaults)

    @classmethod
    def summary(cls, record: Mapping[str, Any]) -> dict[str, Any]:
        """The record's List* summary: those of :attr:`summary_fields` it has."""
        return {f: record[f] for f in cls.summary_fields if f in record}


# ------------------------------------------------------------------------------------------
# Jobs: InProgress -> Completed | Failed, or InProgress -> Stopping -> Stopped
# ------------------------------------------------------------------------------------------
class Job(Resource):
    """A training or transform job: its run ends in one of :attr:`TERMINAL_STATUSES`.

    Attributes:
        what: how messages name the kind ("training job").
        end_time_field: the member set when the job ends.
    """

    TERMINAL_STATUSES: ClassVar[tuple[str, ...]] = ("Completed", "Failed", "Stopped")
    RUNNING_STATUSES: ClassVar[tuple[str, ...]] = ("InProgress", "Stopping")
    INTERRUPTED_REASON: ClassVar[str] = (
        "The smflow local runtime stopped while this {what} was running (status {status}); "
        "local jobs do not resume after a restart. Start a new {what} with a new name."
    )

    status_field: ClassVar[str]
    what: ClassVar[str]
    end_time_field: ClassVar[str]

    @staticmethod
    def not_found() -> ValidationException:
        """The error of Describe*/Stop* for a job that does not exist."""
        return ValidationException("Requested resource not found.")

    @classmethod
    def progress(cls, current: Mapping[str, Any], fields: Mapping[str, Any]) -> dict[str, Any] | None:
        """The fields to merge when the executor reports ``fields`` on the job ``current``.

        None once the job has ended (late reports change nothing); a Stopping job stays
        Stopping when the executor still says InProgress. LastModifiedTime defaults to now.
        """
        status = current.get(cls.status_field)
        if status in cls.TERMINAL_STATUSES:
            return None
        new = dict(fields)
        if status == "Stopping" and new.get(cls.status_field) == "InProgress":
            new.pop(cls.status_field)
        new.setdefault("LastModifiedTime", time.time())
        return new

    @classmethod
    def failed(cls, reason: str, now: float) -> dict[str, Any]:
        """InProgress -> Failed with ``reason`` (the job could not start)."""
        return {cls.status_field: "Failed", "FailureReason": reason, cls.end_time_field: now,
                "LastModifiedTime": now}

    @classmethod
    def check_stoppable(cls, record: Mapping[str, Any]) -> bool:
        """Whether Stop* must move the job to Stopping: False when it already is.

        Raises ValidationException when it is neither InProgress nor Stopping.
        """
        status = record[cls.status_field]
        if status == "Stopping":
            return False
        if status != "InProgress":
            raise ValidationException(
                f"The {cls.what} {cls.name_of(record)} is {status} and cannot be stopped: only "
                "InProgress jobs can be stopped."
            )
        return True

    @classmethod
    def stopping(cls, now: float) -> dict[str, Any]:
        """InProgress -> Stopping (Stop*)."""
        return {cls.status_field: "Stopping", "LastModifiedTime": now}

    @classmethod
    def stopped(cls, now: float) -> dict[str, Any]:
        """Stopping -> Stopped, for a job whose run never started."""
        return {cls.status_field: "Stopped", "LastModifiedTime": now, cls.end_time_field: now}

    @classmethod
    def interrupted(cls, job: Mapping[str, Any], now: float | None = None) -> dict[str, Any] | None:
        """InProgress | Stopping -> Failed, when the runtime stopped under the job, with a
        FailureReason that says so. None if the job was not running."""
        status = job.get(cls.status_field)
        if status not in cls.RUNNING_STATUSES:
            return None
        now = time.time() if now is None else now
        fields: dict[str, Any] = {
            cls.status_field: "Failed",
            "FailureReason": cls.INTERRUPTED_REASON.format(what=cls.what, status=status),
            "LastModifiedTime": now,
            cls.end_time_field: now,
        }
        if PROCESS_FIELD in job:
            fields[PROCESS_FIELD] = None  # the job's processes are ended (or about to be)
        return fields


def _check_metric_definitions(definitions: Any) -> None:
    """AlgorithmSpecification.MetricDefinitions: at most 40 ``{"Name", "Regex"}`` (API reference,
    MetricDefinition), each Regex a valid regular expression (Python's ``re`` reads it locally).

    Raises ValidationException naming the definition.
    """
    if definitions is None:
        return
    if not isinstance(definitions, list) or len(definitions) > 40:
        raise ValidationException(
            "AlgorithmSpecification.MetricDefinitions must be a list of at most 40 "
            '{"Name": ..., "Regex": ...} (the estimator\'s metric_definitions)'
        )
    for index, definition in enumerate(definitions):
        name = definition.get("Name") if isinstance(definition, Mapping) else None
        regex = definition.get("Regex") if isinstance(definition, Mapping) else None
        if not isinstance(name, str) or not 1 <= len(name) <= 255 or not isinstance(regex, str) or not (
                1 <= len(regex) <= 500):
            raise ValidationException(
                f"AlgorithmSpecification.MetricDefinitions[{index}] needs a Name (1 to 255 characters) and a "
                'Regex (1 to 500 characters), e.g. {"Name": "train:loss", "Regex": "loss: ([0-9\\.]+)"}'
            )
        try:
            re.compile(regex)
        except re.error as error:
            raise ValidationException(
                f"AlgorithmSpecification.MetricDefinitions[{index}] ({name}): Regex {regex!r} is not a valid "
                f"regular expression: {error}"
            ) from None


def _check_checkpoint_config(config: Any) -> None:
    """CheckpointConfig: S3Uri (required, ``s3://bucket/prefix``) and LocalPath (optional,
    absolute) (API reference, CheckpointConfig). Raises ValidationException."""
    if config is None:
        return
    uri = config.get("S3Uri") if isinstance(config, Mapping) else None
    if not isinstance(uri, str) or not re.match(r"^(https|s3)://([^/]+)/?(.*)$", uri):
        raise ValidationException(
            f"CheckpointConfig.S3Uri {uri!r} is not an S3 URI: set the estimator's checkpoint_s3_uri to "
            "s3://bucket/prefix"
        )
    local = config.get("LocalPath")
    if local is not None and (not isinstance(local, str) or not local.startswith("/") or len(local) > 4096):
        raise ValidationException(
            f"CheckpointConfig.LocalPath {local!r} must be an absolute path (default /opt/ml/checkpoints)"
        )


class TrainingJob(Job):
    """A training job (CreateTrainingJob). Its SecondaryStatus follows the status: Starting,
    then the executor's Downloading/Training/Uploading, then Completed, Failed, Stopping or
    Stopped, each recorded in SecondaryStatusTransitions."""

    kind = "TrainingJob"
    arn_type = "training-job"
    status_field = "TrainingJobStatus"
    summary_fields = ("TrainingJobName", "TrainingJobArn", "CreationTime", "TrainingEndTime",
                      "LastModifiedTime", "TrainingJobStatus", "SecondaryStatus")
    list_order = "Ascending"
    what = "training job"
    end_time_field = "TrainingEndTime"
    # DescribeTrainingJob's members for what CreateTrainingJob left out (API reference,
    # DescribeTrainingJob response syntax and the S3DataSource/Channel/OutputDataConfig shapes).
    # The SageMaker Python SDK's Estimator.attach reads OutputDataConfig.KmsKeyId with [...].
    answer_defaults = {
        "AlgorithmSpecification": {"TrainingInputMode": "File", "EnableSageMakerMetricsTimeSeries": False},
        "InputDataConfig": [{"CompressionType": "None", "RecordWrapperType": "None"}],
        "OutputDataConfig": {"KmsKeyId": "", "CompressionType": "GZIP"},
        "ResourceConfig": {"VolumeSizeInGB": 30},
        "HyperParameters": {},
        "EnableNetworkIsolation": False,
        "EnableInterContainerTrafficEncryption": False,
        "EnableManagedSpotTraining": False,
    }

    @classmethod
    def describe(cls, record: Mapping[str, Any]) -> dict[str, Any]:
        """DescribeTrainingJob: as :meth:`Resource.describe`; S3 channels also answer their
        S3DataDistributionType (FullyReplicated when left out)."""
        answer = super().describe(record)
        channels = []
        for channel in answer.get("InputDataConfig") or []:
            source = (channel.get("DataSource") or {}).get("S3DataSource")
            if source is not None and "S3DataDistributionType" not in source:
                channel = {**channel, "DataSource": {**channel["DataSource"], "S3DataSource": {
                    **source, "S3DataDistributionType": "FullyReplicated"}}}
            channels.append(channel)
        if "InputDataConfig" in answer:
            answer["InputDataConfig"] = channels
        return answer

    @staticmethod
    def check(request: Mapping[str, Any]) -> None:
        """Raises ValidationException: no TrainingImage (an algorithm, which runs only on AWS,
        or nothing), or no ResourceConfig."""
        algorithm = request.get("AlgorithmSpecification") or {}
        if not algorithm.get("TrainingImage"):
            if algorithm.get("AlgorithmName"):
                raise ValidationException(
                    "AlgorithmSpecification.AlgorithmName is not supported by the smflow local "
                    "runtime: set AlgorithmSpecification.TrainingImage to a SageMaker framework "
                    "image URI instead (smflow.image_uris.retrieve gives it)."
                )
            raise ValidationException(
                "AlgorithmSpecification.TrainingImage is required: set it to the training image "
                "URI of a SageMaker framework (smflow.image_uris.retrieve gives it)."
            )
        if not request.get("ResourceConfig"):
            raise ValidationException(
                "ResourceConfig is required: give InstanceType, InstanceCount and VolumeSizeInGB "
                '(e.g. {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 30}).'
            )
        _check_metric_definitions(algorithm.get("MetricDefinitions"))
        _check_checkpoint_config(request.get("CheckpointConfig"))

    @staticmethod
    def new(request: Mapping[str, Any], arn: str, now: float) -> dict[str, Any]:
        """The record of a new job: the request (without Tags) with SageMaker's defaults,
        InProgress/Starting."""
        record = _without_tags(request)
        record.setdefault("StoppingCondition", {"MaxRuntimeInSeconds": 86400})
        for flag in ("EnableNetworkIsolation", "EnableInterContainerTrafficEncryption",
                     "EnableManagedSpotTraining"):
            record.setdefault(flag, False)
        record.update(
            TrainingJobArn=arn,
            TrainingJobStatus="InProgress",
            SecondaryStatus="Starting",
            SecondaryStatusTransitions=[
                {"Status": "Starting", "StartTime": now,
                 "StatusMessage": "Preparing the instances for training"}
            ],
            CreationTime=now,
            LastModifiedTime=now,
        )
        return record

    @staticmethod
    def name_taken(arn: str) -> ResourceInUse:
        return ResourceInUse(
            "Training job names must be unique within an AWS account and region, and a "
            f"training job with this name already exists ({arn})"
        )

    @classmethod
    def failed(cls, reason: str, now: float) -> dict[str, Any]:
        return {**super().failed(reason, now), "SecondaryStatus": "Failed"}

    @classmethod
    def stopping(cls, now: float) -> dict[str, Any]:
        return {**super().stopping(now), "SecondaryStatus": "Stopping"}

    @classmethod
    def stopped(cls, now: float) -> dict[str, Any]:
        return {**super().stopped(now), "SecondaryStatus": "Stopped"}

    @classmethod
    def interrupted(cls, job: Mapping[str, Any], now: float | None = None) -> dict[str, Any] | None:
        fields = super().interrupted(job, now)
        if fields is None:
            return None
        now = fields["LastModifiedTime"]
        fields["SecondaryStatus"] = "Failed"
        transitions = [dict(t) for t in job.get("SecondaryStatusTransitions") or []]
        if transitions and "EndTime" not in transitions[-1]:
            transitions[-1]["EndTime"] = now
        transitions.append({"Status": "Failed", "StartTime": now, "EndTime": now,
                            "StatusMessage": fields["FailureReason"]})
        fields["SecondaryStatusTransitions"] = transitions
        return fields


class TransformJob(Job):
    """A batch transform job (CreateTransformJob) of an existing model."""

    kind = "TransformJob"
    arn_type = "transform-job"
    status_field = "TransformJobStatus"
    summary_fields = ("TransformJobName", "TransformJobArn", "CreationTime", "TransformEndTime",
                      "LastModifiedTime", "TransformJobStatus", "FailureReason")
    what = "transform job"
    end_time_field = "TransformEndTime"
    # DescribeTransformJob's members for what CreateTransformJob left out (API reference,
    # TransformInput/TransformOutput/DataProcessing shapes: their documented defaults).
    answer_defaults = {
        "TransformInput": {"CompressionType": "None", "SplitType": "None"},
        "TransformOutput": {"AssembleWith": "None", "KmsKeyId": ""},
        "DataProcessing": {"InputFilter": "$", "OutputFilter": "$", "JoinSource": "None"},
        "Environment": {},
    }

    @staticmethod
    def new(request: Mapping[str, Any], arn: str, now: float) -> dict[str, Any]:
        """The record of a new job: the request (without Tags), InProgress."""
        record = _without_tags(request)
        record.update(TransformJobArn=arn, TransformJobStatus="InProgress", CreationTime=now,
                      LastModifiedTime=now)
        return record

    @staticmethod
    def name_taken(arn: str) -> ResourceInUse:
        return ResourceInUse(
            "Job name must be unique within an AWS account and region, and a transform job "
            f"with this name already exists ({arn})"
        )


# Job kind -> its class.
JOBS: dict[str, type[Job]] = {TrainingJob.kind: TrainingJob, TransformJob.kind: TransformJob}


# ------------------------------------------------------------------------------------------
# Models and endpoint configurations: created, described, deleted; no status
# ------------------------------------------------------------------------------------------
class Model(Resource):
    """A model (CreateModel): the container(s) that serve it."""

    kind = "Model"
    arn_type = "model"
    summary_fields = ("ModelName", "ModelArn", "CreationTime")
    # DescribeModel's members for what CreateModel left out (ContainerDefinition: Mode
    # SingleModel, an empty Environment).
    answer_defaults = {
        "PrimaryContainer": {"Mode": "SingleModel", "Environment": {}},
        "Containers": [{"Mode": "SingleModel", "Environment": {}}],
        "EnableNetworkIsolation": False,
    }

    @classmethod
    def describe(cls, record: Mapping[str, Any]) -> dict[str, Any]:
        answer = super().describe(record)
        for member in ("PrimaryContainer", "Containers"):  # only the one the model has
            if not record.get(member):
                answer.pop(member, None)
        return answer

    @staticmethod
    def check(request: Mapping[str, Any]) -> None:
        """Raises ValidationException: ExecutionRoleArn missing; neither or both of
        PrimaryContainer/Containers; a container without Image (or ModelPackageName)."""
        if not request.get("ExecutionRoleArn"):
            raise ValidationException(
                "ExecutionRoleArn is required: pass the ARN of an IAM role, e.g. "
                "arn:aws:iam::123456789012:role/SageMakerRole (the local runtime accepts any "
                "well-formed role ARN)."
            )
        primary, containers = request.get("PrimaryContainer"), request.get("Containers")
        if bool(primary) == bool(containers):
            raise ValidationException(
                "Give exactly one of PrimaryContainer or Containers: the container (Image, "
                "ModelDataUrl, Environment) that serves the model."
            )
        for index, container in enumerate([primary] if primary else containers):
            if not container.get("Image") and not container.get("ModelPackageName"):
                where = "PrimaryContainer" if primary else f"Containers[{index}]"
                raise ValidationException(f"{where}.Image is required: the inference image URI.")

    @staticmethod
    def new(request: Mapping[str, Any], arn: str, now: float) -> dict[str, Any]:
        record = _without_tags(request)
        record.setdefault("EnableNetworkIsolation", False)
        record.update(ModelArn=arn, CreationTime=now)
        return record

    @staticmethod
    def containers(model: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The model's containers: ``[PrimaryContainer]`` or ``Containers``."""
        return [model["PrimaryContainer"]] if model.get("PrimaryContainer") else model.get("Containers", [])

    @staticmethod
    def not_found(arn: str) -> ValidationException:
        """The SageMaker Python SDK recognises this wording."""
        return ValidationException(f'Could not find model "{arn}".')

    @staticmethod
    def name_taken(arn: str) -> ValidationException:
        """The SageMaker Python SDK recognises this wording (it reuses the model)."""
        return ValidationException(f'Cannot create already existing model "{arn}".')


class EndpointConfig(Resource):
    """An endpoint configuration (CreateEndpointConfig): production variants, each a model."""

    kind = "EndpointConfig"
    arn_type = "endpoint-config"
    summary_fields = ("EndpointConfigName", "EndpointConfigArn", "CreationTime")
    # Members of features that run only on AWS -> how messages name them.
    UNSUPPORTED_FIELDS: ClassVar[dict[str, str]] = {
        "AsyncInferenceConfig": "asynchronous inference",
        "ShadowProductionVariants": "shadow variants",
        "ExplainerConfig": "SageMaker Clarify explainers",
        "DataCaptureConfig": "data capture",
    }

    @classmethod
    def check(cls, request: Mapping[str, Any]) -> None:
        """Raises ValidationException for a feature that runs only on AWS (async inference,
        shadow variants, explainers, data capture)."""
        for member, feature in cls.UNSUPPORTED_FIELDS.items():
            if request.get(member):
                raise ValidationException(
                    f"{member} ({feature}) is not supported by the smflow local runtime: "
                    "remove it to create a real-time endpoint configuration."
                )

    @staticmethod
    def variants(production_variants: Iterable[Mapping[str, Any]],
                 check_model: Callable[[str], Any]) -> list[dict[str, Any]]:
        """The variants to record (InitialVariantWeight defaults to 1.0), in order.

        ``check_model(name)`` raises when a variant's model does not exist. Raises
        ValidationException when a variant name is used twice.
        """
        variants = []
        seen: set[str] = set()
        for variant in production_variants:
            check_model(variant["ModelName"])
            if variant["VariantName"] in seen:
                raise ValidationException(
                    f"ProductionVariants: the variant name {variant['VariantName']!r} is used "
                    "more than once; variant names must be unique within an endpoint configuration."
                )
            seen.add(variant["VariantName"])
            variants.append({"InitialVariantWeight": 1.0, **variant})
        return variants

    @staticmethod
    def new(request: Mapping[str, Any], variants: list[dict[str, Any]], arn: str, now: float) -> dict[str, Any]:
        record = _without_tags(request)
        record.update(ProductionVariants=variants, EndpointConfigArn=arn, CreationTime=now)
        return record

    @staticmethod
    def not_found(arn: str) -> ValidationException:
        return ValidationException(f'Could not find endpoint configuration "{arn}".')

    @staticmethod
    def name_taken(arn: str) -> ValidationException:
        return ValidationException(f'Cannot create already existing endpoint configuration "{arn}".')


# ------------------------------------------------------------------------------------------
# Endpoints: Creating -> InService | Failed; InService -> Updating -> InService, or
# Updating -> RollingBack -> InService (old config); -> Deleting -> gone
# ------------------------------------------------------------------------------------------
class Endpoint(Resource):
    """An endpoint (CreateEndpoint) serving an endpoint configuration's variants.

    Its private ``_Variants`` field holds what it serves, ``[{"Variant": ProductionVariant,
    "Model": DescribeModel payload}]``, so that a restarted runtime starts it again even if the
    config or the models were deleted since (as AWS keeps serving them).
    """

    kind = "Endpoint"
    arn_type = "endpoint"
    status_field = "EndpointStatus"
    summary_fields = ("EndpointName", "EndpointArn", "CreationTime", "LastModifiedTime", "EndpointStatus")

    @staticmethod
    def new(name: str, arn: str, config_name: str, variants: list[dict[str, Any]], now: float,
            tags: Iterable[Mapping[str, Any]] = ()) -> dict[str, Any]:
        """A new endpoint, Creating."""
        return {
            TAGS_FIELD: [dict(tag) for tag in tags],
            "EndpointName": name,
            "EndpointArn": arn,
            "EndpointConfigName": config_name,
            "EndpointStatus": "Creating",
            "CreationTime": now,
            "LastModifiedTime": now,
            "_Variants": variants,
        }

    @staticmethod
    def not_found(arn: str) -> ValidationException:
        """Also what botocore's ``endpoint_deleted`` waiter waits for."""
        return ValidationException(f'Could not find endpoint "{arn}".')

    @staticmethod
    def name_taken(arn: str) -> ValidationException:
        return ValidationException(f'Cannot create already existing endpoint "{arn}".')

    @staticmethod
    def check_updatable(record: Mapping[str, Any], serving: bool) -> None:
        """Raises ValidationException unless the endpoint is InService and ``serving``."""
        status, arn = record["EndpointStatus"], record["EndpointArn"]
        if status == "Failed":
            raise ValidationException(
                f'Cannot update endpoint "{arn}" in status Failed: delete it and create it again.'
            )
        if status != "InService" or not serving:
            raise ValidationException(f'Cannot update in-progress endpoint "{arn}".')

    @staticmethod
    def variant_summaries(variants: list[dict[str, Any]], now: float) -> list[dict[str, Any]]:
        """DescribeEndpoint's ProductionVariants for ``_Variants``."""
        summaries = []
        for item in variants:
            variant, model = item["Variant"], item["Model"]
            weight = float(variant.get("InitialVariantWeight", 1.0))
            count = variant.get("InitialInstanceCount", 1)
            summaries.append({
                "VariantName": variant["VariantName"],
                "DeployedImages": [
                    {"SpecifiedImage": c["Image"], "ResolvedImage": c["Image"], "ResolutionTime": now}
                    for c in Model.containers(model) if c.get("Image")
                ],
                "CurrentWeight": weight,
                "DesiredWeight": weight,
                "CurrentInstanceCount": count,
                "DesiredInstanceCount": count,
            })
        return summaries

    @classmethod
    def in_service(cls, config_name: str, variants: list[dict[str, Any]], note: str | None,
                   now: float) -> dict[str, Any]:
        """Creating | Updating -> InService on ``config_name``; ``note`` becomes the
        FailureReason (None clears it)."""
        return {
            "EndpointStatus": "InService",
            "EndpointConfigName": config_name,
            "ProductionVariants": cls.variant_summaries(variants, now),
            "FailureReason": note,
            "LastModifiedTime": now,
            "PendingDeploymentSummary": None,
            "_Variants": variants,
        }

    @staticmethod
    def failed(reason: str, now: float) -> dict[str, Any]:
        """Creating -> Failed: the deployment did not start."""
        return {"EndpointStatus": "Failed", "FailureReason": reason, "LastModifiedTime": now,
                "PendingDeploymentSummary": None}

    @staticmethod
    def not_restartable(now: float) -> dict[str, Any]:
        """-> Failed at a restart: nothing recorded what it served."""
        return {"EndpointStatus": "Failed", "LastModifiedTime": now,
                "FailureReason": "The endpoint could not be restarted: its deployment was not recorded."}

    @staticmethod
    def updating(config_name: str, now: float) -> dict[str, Any]:
        """InService -> Updating to ``config_name`` (the old deployment keeps serving)."""
        return {
            "EndpointStatus": "Updating",
            "LastModifiedTime": now,
            "FailureReason": None,
            "PendingDeploymentSummary": {"EndpointConfigName": config_name, "StartTime": now},
        }

    @staticmethod
    def rolling_back(now: float) -> dict[str, Any]:
        """Updating -> RollingBack: the new deployment did not start."""
        return {"EndpointStatus": "RollingBack", "LastModifiedTime": now}

    @staticmethod
    def rolled_back(config_name: str, reason: str, now: float) -> dict[str, Any]:
        """RollingBack -> InService on the old config, FailureReason saying why."""
        return {
            "EndpointStatus": "InService",
            "FailureReason": f"Updating to endpoint configuration {config_name} failed and "
                             f"the endpoint was rolled back: {reason}",
            "LastModifiedTime": now,
            "PendingDeploymentSummary": None,
        }

    @staticmethod
    def deleting(now: float) -> dict[str, Any]:
        """-> Deleting (the record goes once the deployments stopped)."""
        return {"EndpointStatus": "Deleting", "LastModifiedTime": now}

    @staticmethod
    def restart_note(record: Mapping[str, Any]) -> str | None:
        """The FailureReason of an endpoint restarted while it was being updated (the update
        is abandoned: it comes back on its current config), else None."""
        if record["EndpointStatus"] in ("Updating", "RollingBack") and record.get("PendingDeploymentSummary"):
            pending = record["PendingDeploymentSummary"].get("EndpointConfigName")
            return (f"The smflow local runtime stopped while the endpoint was being updated to "
                    f"endpoint configuration {pending}; the update was abandoned and the endpoint "
                    f"runs endpoint configuration {record['EndpointConfigName']}.")
        return None
