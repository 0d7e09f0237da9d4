"""Request builders: SDK-style arguments -> SageMaker API requests.

Each function returns the request dict of one boto3 call (``create_training_job``,
``create_model``, ``create_endpoint_config``, ``create_transform_job``), shaped as in the
SageMaker API reference. ``coerce_to_shape`` turns numbers that templating rendered as strings
("1", "3600") back into the types botocore's service model asks for.
"""

from __future__ import annotations

import functools
import numbers
import re
from collections.abc import Mapping
from typing import Any

import botocore.session

from smflow.errors import ConfigurationError
from smflow.resources.specs import (
    DEFAULT_INPUT_MODE,
    DEFAULT_INSTANCE_TYPE,
    DEFAULT_MAX_RUN,
    DEFAULT_VOLUME_SIZE,
    INPUT_MODES,
)

# The SageMaker Python SDK's framework docs: a single S3 URI is "available in the default train
# channel".
DEFAULT_CHANNEL = "train"
_INTEGER = re.compile(r"[+-]?[0-9]+")


def as_int(value: Any, field: str) -> int:
    """``value`` as an int, for the integer-valued arguments (instance counts, volume size in GB,
    max_run in seconds, max_payload_mb in MB, ...). Accepts ints, integral floats and digit
    strings as templating renders them (``"2"``, `` 2 ``).

    Raises:
        ConfigurationError: anything else (``"two"``, ``2.5``, ``True``, None), naming ``field``.
    """
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _INTEGER.fullmatch(value.strip()):
        return int(value.strip())
    raise ConfigurationError(f"{field} must be an integer (e.g. 2), got {value!r}")


def as_bool(value: Any, field: str) -> bool:
    """``value`` as a bool: True/False, or ``"true"``/``"false"`` as templating renders them.

    Raises:
        ConfigurationError: anything else, naming ``field``.
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ConfigurationError(f"{field} must be True or False, got {value!r}")


def check_input_mode(value: Any, field: str = "input_mode") -> str:
    """``value`` if it is one of SageMaker's input modes (File, Pipe, FastFile).

    Raises: ConfigurationError naming ``field`` and the allowed modes.
    """
    if value not in INPUT_MODES:
        raise ConfigurationError(f"{field} must be one of {', '.join(INPUT_MODES)}, got {value!r}")
    return value


# SDK ``TrainingInput`` arguments -> where they go in a Channel.
_TRAINING_INPUT_KEYS = ("s3_data", "input_mode", "content_type", "distribution", "s3_data_type", "compression",
                        "record_wrapping")
# What ``record_set`` adds to TrainingInput arguments (smflow.resources.algorithms): facts about the data,
# read by ``train`` (feature_dim, mini_batch_size), not part of the Channel.
_RECORD_SET_KEYS = ("num_records", "feature_dim", "channel")
_DISTRIBUTIONS = ("FullyReplicated", "ShardedByS3Key")
_S3_DATA_TYPES = ("S3Prefix", "ManifestFile", "AugmentedManifestFile")


def input_data_config(inputs: str | Mapping[str, Any] | None) -> list[dict]:
    """Channels from ``fit()``-style inputs.

    ``"s3://bucket/prefix"`` -> one channel named ``train``; ``{"train": uri, "test": uri}`` -> one
    channel each. A value may also be the arguments of the SDK's ``TrainingInput``
    (``{"s3_data": uri, "input_mode": "Pipe", "content_type": ..., "distribution":
    "ShardedByS3Key", "s3_data_type": ..., "compression": "Gzip", "record_wrapping": "RecordIO"}``),
    built into the Channel as the SDK does, or a full Channel dict (``{"DataSource": ...}``),
    used as is. A ``record_set`` result is TrainingInput arguments with ``num_records``,
    ``feature_dim`` and ``channel`` besides, which the Channel leaves out.

    Raises:
        ConfigurationError: a value is not an S3 URI, TrainingInput arguments or Channel dict
            (the field is named: ``inputs['train'].input_mode``).
    """
    if inputs is None:
        return []
    if isinstance(inputs, str):
        inputs = {DEFAULT_CHANNEL: inputs}
    if not isinstance(inputs, Mapping):
        raise ConfigurationError(
            "inputs must be an S3 URI or a dict of channel name -> S3 URI, "
            f"got {type(inputs).__name__}"
        )
    return [_channel(str(name), value) for name, value in inputs.items()]


def _channel(name: str, value: Any) -> dict:
    field = f"inputs[{name!r}]"
    if isinstance(value, Mapping) and "DataSource" in value:
        return {"ChannelName": name, **value}
    options: Mapping[str, Any] = value if isinstance(value, Mapping) else {"s3_data": value}
    unknown = sorted(set(options) - set(_TRAINING_INPUT_KEYS) - set(_RECORD_SET_KEYS))
    if unknown:
        raise ConfigurationError(
            f"{field} has unknown keys {unknown}: use an S3 URI, a Channel dict with DataSource, or "
            f"TrainingInput arguments ({', '.join(_TRAINING_INPUT_KEYS)})"
        )
    uri = options.get("s3_data")
    if not isinstance(uri, str) or not uri.startswith("s3://"):
        raise ConfigurationError(f"{field} must be an s3:// URI (upload local data first), got {uri!r}")
    distribution = options.get("distribution") or "FullyReplicated"
    if distribution not in _DISTRIBUTIONS:
        raise ConfigurationError(f"{field}.distribution must be one of {', '.join(_DISTRIBUTIONS)}, "
                                 f"got {distribution!r}")
    data_type = options.get("s3_data_type") or "S3Prefix"
    if data_type not in _S3_DATA_TYPES:
        raise ConfigurationError(f"{field}.s3_data_type must be one of {', '.join(_S3_DATA_TYPES)}, "
                                 f"got {data_type!r}")
    channel: dict[str, Any] = {
        "ChannelName": name,
        "DataSource": {"S3DataSource": {"S3DataType": data_type, "S3Uri": uri,
                                        "S3DataDistributionType": distribution}},
    }
    if options.get("compression"):
        channel["CompressionType"] = options["compression"]
    if options.get("content_type"):
        channel["ContentType"] = options["content_type"]
    if options.get("record_wrapping"):
        channel["RecordWrapperType"] = options["record_wrapping"]
    if options.get("input_mode"):
        channel["InputMode"] = check_input_mode(options["input_mode"], f"{field}.input_mode")
    return channel


def _string_list(value: Any, field: str) -> list[str]:
    if isinstance(value, str) or not isinstance(value, (list, tuple)) or not all(
        isinstance(item, str) and item for item in value
    ):
        raise ConfigurationError(f"{field} must be a list of IDs (e.g. ['subnet-0abc']), got {value!r}")
    return list(value)


def _metric_definitions(value: Any) -> list[dict[str, str]]:
    if not isinstance(value, (list, tuple)) or not all(
        isinstance(item, Mapping) and set(item) == {"Name", "Regex"} for item in value
    ):
        raise ConfigurationError(
            "metric_definitions must be a list of {'Name': ..., 'Regex': ...} dicts "
            f"(e.g. [{{'Name': 'accuracy', 'Regex': 'accuracy=([0-9.]+)'}}]), got {value!r}"
        )
    return [{"Name": str(item["Name"]), "Regex": str(item["Regex"])} for item in value]


def training_job_request(
    *,
    job_name: str,
    image_uri: str,
    role: str,
    hyperparameters: Mapping[str, str],
    inputs: str | Mapping[str, Any] | None,
    output_path: str,
    instance_type: str = DEFAULT_INSTANCE_TYPE,
    instance_count: int = 1,
    volume_size: int = DEFAULT_VOLUME_SIZE,
    max_run: int = DEFAULT_MAX_RUN,
    input_mode: str = DEFAULT_INPUT_MODE,
    use_spot_instances: bool = False,
    max_wait: int | None = None,
    max_retry_attempts: int | None = None,
    checkpoint_s3_uri: str | None = None,
    checkpoint_local_path: str | None = None,
    output_kms_key: str | None = None,
    volume_kms_key: str | None = None,
    metric_definitions: list[Mapping[str, str]] | None = None,
    subnets: list[str] | None = None,
    security_group_ids: list[str] | None = None,
    enable_network_isolation: bool = False,
    environment: Mapping[str, str] | None = None,
    tags: Mapping[str, str] | None = None,
) -> dict:
    """A CreateTrainingJob request, its fields as the SDK's ``Session._get_train_request`` sets
    them. ``volume_size`` in GB, ``max_run`` and ``max_wait`` in seconds. Optional fields are
    left out when their argument is None/False: ``MetricDefinitions``, ``CheckpointConfig``,
    ``EnableManagedSpotTraining`` and ``StoppingCondition.MaxWaitTimeInSeconds``,
    ``RetryStrategy``, ``OutputDataConfig.KmsKeyId``, ``ResourceConfig.VolumeKmsKeyId``,
    ``VpcConfig``, ``EnableNetworkIsolation``, ``Environment``, ``Tags``.

    Raises: ConfigurationError, naming the argument and what it accepts: an integer argument
        that is not one, bad ``inputs``, an unknown ``input_mode``, ``use_spot_instances``
        without ``max_wait >= max_run`` (or ``max_wait`` without spot), ``checkpoint_local_path``
        without ``checkpoint_s3_uri``, ``subnets`` without ``security_group_ids`` (or the
        reverse), ``max_retry_attempts`` outside 1-30, malformed ``metric_definitions``.
    """
    run_seconds = as_int(max_run, "max_run")
    algorithm: dict[str, Any] = {"TrainingImage": image_uri, "TrainingInputMode": check_input_mode(input_mode)}
    if metric_definitions:
        algorithm["MetricDefinitions"] = _metric_definitions(metric_definitions)
    output: dict[str, Any] = {"S3OutputPath": output_path}
    if output_kms_key:
        output["KmsKeyId"] = output_kms_key
    resources: dict[str, Any] = {
        "InstanceType": instance_type,
        "InstanceCount": as_int(instance_count, "instance_count"),
        "VolumeSizeInGB": as_int(volume_size, "volume_size"),
    }
    if volume_kms_key:
        resources["VolumeKmsKeyId"] = volume_kms_key
    stopping: dict[str, Any] = {"MaxRuntimeInSeconds": run_seconds}
    spot = as_bool(use_spot_instances, "use_spot_instances")
    if spot:
        if max_wait is None:
            raise ConfigurationError("max_wait is required with use_spot_instances=True: the seconds to wait "
                                     "for spot capacity plus training, at least max_run")
        wait_seconds = as_int(max_wait, "max_wait")
        if wait_seconds < run_seconds:
            raise ConfigurationError(f"max_wait must be at least max_run ({run_seconds} s), got {wait_seconds}")
        stopping["MaxWaitTimeInSeconds"] = wait_seconds
    elif max_wait is not None:
        raise ConfigurationError("max_wait applies to spot training only: pass use_spot_instances=True, "
                                 "or leave max_wait out")
    request: dict[str, Any] = {
        "TrainingJobName": job_name,
        "AlgorithmSpecification": algorithm,
        "RoleArn": role,
        "HyperParameters": dict(hyperparameters),
        "InputDataConfig": input_data_config(inputs),
        "OutputDataConfig": output,
        "ResourceConfig": resources,
        "StoppingCondition": stopping,
    }
    if not request["InputDataConfig"]:
        del request["InputDataConfig"]
    if spot:
        request["EnableManagedSpotTraining"] = True
    if checkpoint_s3_uri:
        if not str(checkpoint_s3_uri).startswith("s3://"):
            raise ConfigurationError(f"checkpoint_s3_uri must be an s3:// URI, got {checkpoint_s3_uri!r}")
        request["CheckpointConfig"] = {"S3Uri": checkpoint_s3_uri}
        if checkpoint_local_path:
            request["CheckpointConfig"]["LocalPath"] = checkpoint_local_path
    elif checkpoint_local_path:
        raise ConfigurationError("checkpoint_local_path needs checkpoint_s3_uri: the S3 URI the local "
                                 "checkpoints are synced to")
    if max_retry_attempts is not None:
        attempts = as_int(max_retry_attempts, "max_retry_attempts")
        if not 1 <= attempts <= 30:
            raise ConfigurationError(f"max_retry_attempts must be between 1 and 30, got {attempts}")
        request["RetryStrategy"] = {"MaximumRetryAttempts": attempts}
    if bool(subnets) != bool(security_group_ids):
        raise ConfigurationError("subnets and security_group_ids go together (the job's VpcConfig): "
                                 "pass both or neither")
    if subnets:
        request["VpcConfig"] = {"Subnets": _string_list(subnets, "subnets"),
                                "SecurityGroupIds": _string_list(security_group_ids, "security_group_ids")}
    if as_bool(enable_network_isolation, "enable_network_isolation"):
        request["EnableNetworkIsolation"] = True
    if environment:
        request["Environment"] = {str(key): str(value) for key, value in environment.items()}
    if tags:
        request["Tags"] = tag_list(tags)
    return request


def model_request(
    *,
    model_name: str,
    image_uri: str,
    model_data: str | None,
    role: str,
    environment: Mapping[str, str] | None = None,
    tags: Mapping[str, str] | None = None,
) -> dict:
    """A CreateModel request with one PrimaryContainer."""
    container: dict[str, Any] = {"Image": image_uri, "Environment": dict(environment or {})}
    if model_data:
        container["ModelDataUrl"] = model_data
    request = {"ModelName": model_name, "PrimaryContainer": container, "ExecutionRoleArn": role}
    if tags:
        request["Tags"] = tag_list(tags)
    return request


def endpoint_config_request(
    *,
    config_name: str,
    model_name: str,
    instance_type: str = DEFAULT_INSTANCE_TYPE,
    initial_instance_count: int = 1,
    variant_name: str = "AllTraffic",
) -> dict:
    """A CreateEndpointConfig request with one production variant taking all traffic.

    Raises: ConfigurationError (``initial_instance_count`` is not an integer).
    """
    return {
        "EndpointConfigName": config_name,
        "ProductionVariants": [
            {
                "VariantName": variant_name,
                "ModelName": model_name,
                "InitialInstanceCount": as_int(initial_instance_count, "initial_instance_count"),
                "InstanceType": instance_type,
                "InitialVariantWeight": 1.0,
            }
        ],
    }


def transform_job_request(
    *,
    job_name: str,
    model_name: str,
    data: str,
    output_path: str,
    content_type: str | None = "text/csv",
    split_type: str | None = "Line",
    compression_type: str = "None",
    batch_strategy: str | None = "MultiRecord",
    max_payload_mb: int | None = 6,
    max_concurrent_transforms: int | None = None,
    assemble_with: str | None = "Line",
    accept: str | None = None,
    instance_type: str = DEFAULT_INSTANCE_TYPE,
    instance_count: int = 1,
    environment: Mapping[str, str] | None = None,
    tags: Mapping[str, str] | None = None,
) -> dict:
    """A CreateTransformJob request over the objects under the S3 prefix ``data``.

    ``split_type``, ``batch_strategy``, ``max_payload_mb`` (MB), ``max_concurrent_transforms``
    and ``assemble_with`` are left out of the request when None (SageMaker's defaults apply:
    SplitType ``None``, i.e. each object is one record, as the SDK's ``Transformer``).

    Raises: ConfigurationError (``data``/``output_path`` not s3:// URIs, an integer argument
        that is not one).
    """
    if not isinstance(data, str) or not data.startswith("s3://"):
        raise ConfigurationError(f"data must be an s3:// URI of the input objects, got {data!r}")
    if not isinstance(output_path, str) or not output_path.startswith("s3://"):
        raise ConfigurationError(f"output_path must be an s3:// URI, got {output_path!r}")
    transform_input: dict[str, Any] = {
        "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": data}},
        "CompressionType": compression_type,
    }
    if split_type:
        transform_input["SplitType"] = split_type
    if content_type:
        transform_input["ContentType"] = content_type
    output: dict[str, Any] = {"S3OutputPath": output_path}
    if assemble_with:
        output["AssembleWith"] = assemble_with
    if accept:
        output["Accept"] = accept
    request: dict[str, Any] = {
        "TransformJobName": job_name,
        "ModelName": model_name,
        "TransformInput": transform_input,
        "TransformOutput": output,
        "TransformResources": {"InstanceType": instance_type,
                               "InstanceCount": as_int(instance_count, "instance_count")},
    }
    if batch_strategy:
        request["BatchStrategy"] = batch_strategy
    if max_payload_mb is not None:
        request["MaxPayloadInMB"] = as_int(max_payload_mb, "max_payload_mb")
    if max_concurrent_transforms is not None:
        request["MaxConcurrentTransforms"] = as_int(max_concurrent_transforms, "max_concurrent_transforms")
    if environment:
        request["Environment"] = dict(environment)
    if tags:
        request["Tags"] = tag_list(tags)
    return request


def tag_list(tags: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"Key": str(key), "Value": str(value)} for key, value in tags.items()]


@functools.lru_cache(maxsize=1)
def _sagemaker_model():
    return botocore.session.get_session().get_service_model("sagemaker")


def coerce_to_shape(request: Mapping[str, Any], operation_name: str) -> dict:
    """Convert strings to the integer, float and boolean types the operation's input shape asks
    for (botocore's service model), e.g. ``{"InstanceCount": "1"}`` -> ``{"InstanceCount": 1}``.

    Values that do not convert are left alone for botocore's validation to report by field.
    """
    shape = _sagemaker_model().operation_model(operation_name).input_shape
    return _coerce(dict(request), shape)


def _coerce(value, shape):
    kind = shape.type_name
    if kind == "structure" and isinstance(value, Mapping):
        return {
            key: _coerce(item, shape.members[key]) if key in shape.members else item
            for key, item in value.items()
        }
    if kind == "list" and isinstance(value, list):
        return [_coerce(item, shape.member) for item in value]
    if kind == "map" and isinstance(value, Mapping):
        return {key: _coerce(item, shape.value) for key, item in value.items()}
    if isinstance(value, str):
        text = value.strip()
        try:
            if kind in ("integer", "long"):
                return int(text)
            if kind in ("float", "double"):
                return float(text)
        except ValueError:
            return value
        if kind == "boolean" and text.lower() in ("true", "false"):
            return text.lower() == "true"
    return value
