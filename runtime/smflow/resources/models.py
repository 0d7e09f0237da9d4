"""Models: ``create_model`` (CreateModel, SDK ``Model`` / ``FrameworkModel``), from a training
job, from existing model data, or from a raw request; an identical model is reused, a different
one is never overwritten."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from smflow import algorithms, builders, frameworks, naming, states
from smflow.errors import ConfigurationError
from smflow.packaging import SOURCE_ARCHIVE, PackedCode, pack_code, upload_packed
from smflow.resources.base import ClientBase, field_differences, split_s3_uri


class Models(ClientBase):
    """The model calls of :class:`smflow.client.SageMakerClient`."""

    def create_model(
        self,
        *,
        model_name: str | None = None,
        training_job_name: str | None = None,
        model_data: str | None = None,
        entry_point: str | None = None,
        source_dir: str | None = None,
        image_uri: str | None = None,
        algorithm: str | None = None,
        framework: str | None = None,
        framework_version: str | None = None,
        py_version: str | None = None,
        instance_type: str | None = None,
        model_server_workers: int | None = None,
        role: str | None = None,
        environment: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
        config: Mapping[str, Any] | None = None,
    ) -> dict:
        """Create a model (boto3 ``create_model``) from a training job, from existing model data
        (the SDK docs, "Deploy an Endpoint from Model Data": ``model_data`` S3 URI of a model.tar.gz
        plus an inference ``entry_point``), or from a raw request ``config``.

        The container gets ``SAGEMAKER_PROGRAM`` / ``SAGEMAKER_SUBMIT_DIRECTORY``: from the
        training job's script unless a new ``entry_point`` is given. A new entry point (with
        ``source_dir``) is packed like the SDK and uploaded to ``s3://<default bucket>/
        <model_name>/model-code-<sha256 of the packed files, 16 hex>/sourcedir.tar.gz``: never over
        a training job's code (``<job>/source/``) nor another model's, and the same code gives
        the same URI, so calling again with the same arguments is idempotent.

        The image is ``image_uri``; else, from a training job, the inference image that goes with
        the job's training image (the framework's ``inference_image_uri``: the deep-learning
        containers' training images do not serve; a framework whose one image does both keeps
        it; an image no framework lists is used as it is); else the inference image of ``framework`` (default
        :data:`smflow.frameworks.DEFAULT_FRAMEWORK`) at ``framework_version`` and ``py_version``
        (None: its defaults). ``instance_type`` is the type the model will be served on: it picks
        the CPU or GPU inference image, as the SDK picks it when deploying (default: the
        training job's instance type; CPU for model data). ``model_server_workers`` (the SDK
        ``FrameworkModel`` argument) sets ``SAGEMAKER_MODEL_SERVER_WORKERS``; the framework adds
        what its containers read.

        For the containers that load the inference code from the model archive (the framework's
        ``code_in_model``: the model-server containers of recent versions, and any model with
        network isolation), the model is repacked as the SDK's ``FrameworkModel`` does: ``model.tar.gz`` plus the code under
        ``code/`` goes to ``s3://<default bucket>/<model_name>/model-<16 hex of model data and
        code>/model.tar.gz``, and ``SAGEMAKER_SUBMIT_DIRECTORY`` is ``/opt/ml/model/code``. This
        downloads the model archive (and the training code) once. Without ``model_name``, a model from
        model data is named after its image's repository and a timestamp, as the SDK's ``Model``.

        Without code (no ``entry_point``, and a training job without ``sagemaker_program``: an
        algorithm's or a bring-your-own image's job), the image serves on its own, as the SDK's
        ``Model(image_uri, model_data)`` and the algorithms' models (``KMeansModel``, ...): the
        request has the image, the model data and ``environment`` only. The image is
        ``image_uri``; else the algorithm's (``algorithm``, for the region); else, from a training
        job, the job's own training image (or its framework's inference image).

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
        version = framework_version
        network: dict[str, Any] = {}
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
            training_image = job["AlgorithmSpecification"].get("TrainingImage", "")
            found = frameworks.for_image(training_image)
            chosen = frameworks.get(framework) if framework else found[0] if found else _framework(None)
            version = framework_version or (found[1] if found else None)
            if algorithm and not image_uri:
                image_uri = algorithms.get(algorithm).image_uri(self.region_name, framework_version,
                                                                instance_type=instance_type)
            if not image_uri and not found and not framework:
                image_uri = training_image  # an image no framework's registry lists: it serves too
            if not image_uri:
                image_uri = chosen.inference_image_uri(
                    training_image, self.region_name,
                    instance_type=instance_type or (job.get("ResourceConfig") or {}).get("InstanceType"))
            hyperparameters = job.get("HyperParameters", {})
            program = _json_value(hyperparameters.get("sagemaker_program"))
            submit_directory = _json_value(hyperparameters.get("sagemaker_submit_directory"))
            if submit_directory and not submit_directory.startswith("s3://"):
                # a network-isolated job got its code through the "code" channel
                submit_directory = _channel_uri(job, "code") or submit_directory
            # as the SDK's Estimator.create_model: the model keeps the job's VPC and isolation
            network = {key: job[key] for key in ("VpcConfig", "EnableNetworkIsolation") if job.get(key)}
            model_name = model_name or training_job_name
        else:
            if not str(model_data).startswith("s3://"):
                raise ConfigurationError(f"model_data must be an s3:// URI of a model.tar.gz, got {model_data!r}")
            if not entry_point and not image_uri and not algorithm:
                raise ConfigurationError(
                    "entry_point is required with model_data (the inference script with model_fn), or image_uri "
                    "(or algorithm) for an image that serves on its own"
                )
            chosen = _framework(framework)
            if algorithm and not image_uri:
                image_uri = algorithms.get(algorithm).image_uri(self.region_name, framework_version,
                                                                instance_type=instance_type)
            image_uri = image_uri or chosen.image_uri(self.region_name, framework_version, py_version=py_version,
                                                      instance_type=instance_type, image_scope="inference")
            model_name = model_name or naming.timestamped_name(naming.base_name_from_image(image_uri, "model"))
        naming.validate_name(model_name, "model_name")
        code: _ModelCode | None = None
        if entry_point:
            code = self._pack_model_code(model_name, entry_point=entry_point, source_dir=source_dir)
            program, submit_directory = code.program, code.s3_uri
        if not program:
            # no code: the image serves on its own (SDK ``Model``; an algorithm's model)
            request = builders.model_request(
                model_name=model_name, image_uri=image_uri, model_data=model_data,
                role=self.role_arn(role), environment=environment, tags=tags,
            )
            request.update(network)
            return self._create_or_reuse_model(request)
        workers = None if model_server_workers is None else builders.as_int(model_server_workers,
                                                                              "model_server_workers")
        env = chosen.hosting_environment(program=program, submit_directory=submit_directory,
                                         region=self.region_name, model_server_workers=workers)
        env.update(environment or {})
        request = builders.model_request(
            model_name=model_name, image_uri=image_uri, model_data=model_data,
            role=self.role_arn(role), environment=env, tags=tags,
        )
        request.update(network)
        repack = None
        # A container that takes no SAGEMAKER_SUBMIT_DIRECTORY and reads its script from the archive
        # under a fixed name gets a new entry point in the archive too (as the SDK's model classes do).
        submit_in_env = "SAGEMAKER_SUBMIT_DIRECTORY" in env
        if (submit_in_env or code is not None) and chosen.code_in_model(
            version, network_isolation=bool(network.get("EnableNetworkIsolation"))
        ):
            # as the SDK's FrameworkModel: these containers load the inference code from the model
            # archive (code/), so the model gets a copy of model.tar.gz with the code in it
            bucket = self.default_bucket()
            identity = f"{model_data}\0{code.packed.digest() if code and code.packed.archive else submit_directory}"
            repack = _Repack(model_data=model_data, code=code, code_uri=submit_directory,
                             target=f"s3://{bucket}/{model_name}/model-{_digest(identity)}/{MODEL_ARCHIVE}")
            if submit_in_env:
                request["PrimaryContainer"]["Environment"]["SAGEMAKER_SUBMIT_DIRECTORY"] = MODEL_CODE_DIRECTORY
            request["PrimaryContainer"]["ModelDataUrl"] = repack.target
            code = None  # in the archive, not uploaded on its own
        return self._create_or_reuse_model(request, code, repack)

    def _pack_model_code(self, model_name: str, *, entry_point: str, source_dir: str | None) -> _ModelCode:
        """Pack the inference code (as for training) without uploading it; its S3 URI is named
        after its content. An ``s3://`` source_dir is used as it is."""
        packed = pack_code(entry_point=entry_point, source_dir=source_dir)
        if packed.archive is None:
            return _ModelCode(packed, packed.s3_uri)
        bucket = self.default_bucket()
        return _ModelCode(packed, f"s3://{bucket}/{model_name}/model-code-{packed.digest()}/{SOURCE_ARCHIVE}")

    def _repack(self, repack: _Repack) -> None:
        """Write ``repack.target``: the members of ``model_data`` plus the code's files under
        ``code/`` (SDK ``utils.repack_model``)."""
        model = self._read_s3(repack.model_data)
        packed = repack.code.packed.archive if repack.code is not None else None
        code = packed if packed is not None else self._read_s3(repack.code_uri)
        bucket, key = split_s3_uri(repack.target)
        self.s3.upload_fileobj(io.BytesIO(_with_code(model, code)), bucket, key)
        self.log(f"Repacked {repack.model_data} with the inference code into {repack.target}")

    def _read_s3(self, uri: str) -> bytes:
        if not str(uri).startswith("s3://"):
            raise ConfigurationError(f"cannot repack the model: {uri!r} is not an s3:// URI")
        bucket, key = split_s3_uri(uri)
        return self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()

    def _create_or_reuse_model(self, request: dict, code: _ModelCode | None = None,
                               repack: _Repack | None = None) -> dict:
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
            bucket, key = split_s3_uri(code.s3_uri)
            upload_packed(self.s3, code.packed, bucket=bucket, key=key)
        if repack is not None:
            self._repack(repack)
        self.sagemaker.create_model(**request)
        self.log(f"Created model {name}")
        return model_summary(self.sagemaker.describe_model(ModelName=name))


# ---------------------------------------------------------------------- helpers
def _framework(name: str | None) -> frameworks.Framework:
    """The framework whose conventions a script-mode model follows (default
    :data:`smflow.frameworks.DEFAULT_FRAMEWORK`). Raises ConfigurationError (unknown; named)."""
    return frameworks.get(name or frameworks.DEFAULT_FRAMEWORK)


MODEL_ARCHIVE = "model.tar.gz"
MODEL_CODE_DIRECTORY = "/opt/ml/model/code"  # where the containers find code/ of the model archive


@dataclass(frozen=True)
class _Repack:
    model_data: str  # the trained model.tar.gz
    code: _ModelCode | None  # new inference code packed here, or
    code_uri: str | None  # the training job's sourcedir.tar.gz
    target: str  # where the model archive with code/ goes


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _with_code(model: bytes, code: bytes) -> bytes:
    """``model`` (a .tar.gz) with ``code``'s members (a .tar.gz) under ``code/``; the model's own
    ``code/`` members are replaced."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as target:
        with tarfile.open(fileobj=io.BytesIO(model), mode="r:gz") as source:
            for member in source:
                if member.name == "code" or member.name.startswith("code/"):
                    continue
                target.addfile(member, source.extractfile(member) if member.isfile() else None)
        with tarfile.open(fileobj=io.BytesIO(code), mode="r:gz") as source:
            for member in source:
                data = source.extractfile(member) if member.isfile() else None
                member.name = f"code/{member.name.lstrip('./')}".rstrip("/")
                target.addfile(member, data)
    return out.getvalue()


def _channel_uri(job: Mapping[str, Any], name: str) -> str | None:
    for channel in job.get("InputDataConfig") or []:
        if channel.get("ChannelName") == name:
            return channel.get("DataSource", {}).get("S3DataSource", {}).get("S3Uri")
    return None


def _json_value(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        decoded = json.loads(value)
    except ValueError:
        return value
    return decoded if isinstance(decoded, str) else value


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
    return names + field_differences({"Environment": wanted.get("Environment") or {}},
                                {"Environment": have.get("Environment") or {}})
