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
from smflow.resources.specs import DEFAULT_INSTANCE_TYPE, DEFAULT_MAX_RUN, DEFAULT_VOLUME_SIZE

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


def input_data_config(inputs: str | Mapping[str, Any] | None) -> list[dict]:
    """Channels from ``fit()``-style inputs.

    ``"s3://bucket/prefix"`` -> one channel named ``train``; ``{"train": uri, "test": uri}`` -> one
    channel each. A value may also be a full Channel dict (``{"DataSource": ...}``), used as is.

    Raises:
        ConfigurationError: a value is not an S3 URI or Channel dict.
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
    channels = []
    for name, value in inputs.items():
        if isinstance(value, Mapping):
            channels.append({"ChannelName": name, **value})
            continue
        if not isinstance(value, str) or not value.startswith("s3://"):
            raise ConfigurationError(
                f"inputs[{name!r}] must be an s3:// URI (upload local data first), got {value!r}"
            )
        channels.append(
            {
                "ChannelName": name,
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": value,
                        "S3DataDistributionType": "FullyReplicated",
                    }
                },
            }
        )
    return channels


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
    environment: Mapping[str, str] | None = None,
    tags: Mapping[str, str] | None = None,
) -> dict:
    """A CreateTrainingJob request (File input mode). ``volume_size`` in GB, ``max_run`` in
    seconds.

    Raises: ConfigurationError (an integer argument that is not one, or bad ``inputs``).
    """
    request = {
        "TrainingJobName": job_name,
        "AlgorithmSpecification": {"TrainingImage": image_uri, "TrainingInputMode": "File"},
        "RoleArn": role,
        "HyperParameters": dict(hyperparameters),
        "InputDataConfig": input_data_config(inputs),
        "OutputDataConfig": {"S3OutputPath": output_path},
        "ResourceConfig": {
            "InstanceType": instance_type,
            "InstanceCount": as_int(instance_count, "instance_count"),
            "VolumeSizeInGB": as_int(volume_size, "volume_size"),
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": as_int(max_run, "max_run")},
    }
    if not request["InputDataConfig"]:
        del request["InputDataConfig"]
    if environment:
        request["Environment"] = dict(environment)
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
