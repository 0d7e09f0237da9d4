"""Training jobs: ``train`` (CreateTrainingJob, SDK ``Estimator.fit``), ``attach``
(SDK ``Estimator.attach``), their waits and ``stop_training_job``."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from botocore.exceptions import ClientError

from smflow import algorithms, builders, frameworks, naming, states
from smflow.errors import ConfigurationError
from smflow.frameworks.script_mode import encode_hyperparameters
from smflow.logs import TRAINING_LOG_GROUP, LogTail
from smflow.naming import ActionIfJobExists
from smflow.packaging import SOURCE_ARCHIVE, pack_code, upload_packed
from smflow.resources.algorithms import channels_of, train_record_set
from smflow.resources.base import (
    ClientBase,
    completion_message,
    error_code,
    field_differences,
    s3_path,
    split_s3_uri,
    stop_ignoring_ended,
)
from smflow.waiting import Backoff, Deadline

CODE_CHANNEL = "code"  # the channel carrying the code into a network-isolated job, as the SDK names it
TRAINING_JOB_BASE_NAME = "training-job"  # the SDK's name prefix for a job whose image is unknown


class TrainingJobs(ClientBase):
    """The training-job calls of :class:`smflow.client.SageMakerClient`."""

    def describe_training_job(self, job_name: str) -> dict:
        """boto3 ``describe_training_job``."""
        return self.sagemaker.describe_training_job(TrainingJobName=job_name)

    def prepare_training_job(
        self,
        *,
        job_name: str,
        entry_point: str,
        source_dir: str | None = None,
        hyperparameters: Mapping[str, Any] | None = None,
        framework: str | None = None,
        framework_version: str | None = None,
        py_version: str | None = None,
        image_uri: str | None = None,
        role: str | None = None,
        instance_type: str = builders.DEFAULT_INSTANCE_TYPE,
        instance_count: int = 1,
        volume_size: int = builders.DEFAULT_VOLUME_SIZE,
        inputs: str | Mapping[str, Any] | None = None,
        output_path: str | None = None,
        code_location: str | None = None,
        dependencies: Sequence[str] | None = None,
        distribution: Mapping[str, Any] | None = None,
        max_run: int = builders.DEFAULT_MAX_RUN,
        environment: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
        framework_options: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> dict:
        """Upload the code and return the CreateTrainingJob request (SDK ``Estimator.fit``).

        The code (with ``dependencies`` beside it) goes to ``<code_location or s3://<default
        bucket>>/<job_name>/source/sourcedir.tar.gz``; model artifacts to
        ``<output_path>/<job_name>/output/``. ``volume_size`` is in GB, ``max_run`` in seconds;
        integer arguments may be digit strings (``"1"``, as templating renders them).

        ``framework`` (default :data:`smflow.frameworks.DEFAULT_FRAMEWORK`) decides the image
        (unless ``image_uri`` is given), the script-mode hyperparameters (with ``distribution``
        and ``framework_options``) and how many instances one job may use;
        ``framework_version`` None is the framework's default version. ``options`` are the
        request options of :func:`smflow.builders.training_job_request` (``input_mode``,
        ``use_spot_instances``, ``max_wait``, ``checkpoint_s3_uri``, ...).

        Everything is checked before anything is uploaded.

        Raises:
            ConfigurationError: missing code, an unknown framework, version or py_version, a
                distribution or option the framework does not take, more instances than the
                framework trains on, a bad request option (each named with what it accepts),
                ``code_location`` not an s3:// URI.
        """
        chosen, image_uri = self._training_image(
            framework=framework, framework_version=framework_version, py_version=py_version, image_uri=image_uri,
            instance_type=instance_type, instance_count=instance_count, distribution=distribution,
            framework_options=framework_options,
        )
        output_path = output_path or f"s3://{self.default_bucket()}/"
        request = builders.training_job_request(
            job_name=job_name, image_uri=image_uri, role="", hyperparameters={}, inputs=inputs,
            output_path=output_path, instance_type=instance_type, instance_count=instance_count,
            volume_size=volume_size, max_run=max_run, environment=environment, tags=tags, **options,
        )
        time_series = chosen.metrics_time_series(framework_version)
        if time_series is not None:  # as the SDK's framework estimators set it
            request["AlgorithmSpecification"]["EnableSageMakerMetricsTimeSeries"] = time_series
        packed = pack_code(entry_point=entry_point, source_dir=source_dir, dependencies=dependencies)
        request["RoleArn"] = self.role_arn(role)
        code_bucket, code_prefix = split_s3_uri(code_location) if code_location else (self.default_bucket(), "")
        code = upload_packed(self.s3, packed, bucket=code_bucket,
                             key=f"{code_prefix}/{job_name}".strip("/") + f"/source/{SOURCE_ARCHIVE}")
        submit_directory = code.s3_uri
        if request.get("EnableNetworkIsolation"):
            # the container cannot reach S3: the code arrives as an input channel (SDK
            # ``Framework._stage_user_code_in_s3`` and ``_get_train_args``' code channel)
            request.setdefault("InputDataConfig", []).append(builders.input_data_config({CODE_CHANNEL: code.s3_uri})[0])
            submit_directory = f"/opt/ml/input/data/{CODE_CHANNEL}/{SOURCE_ARCHIVE}"
        request["HyperParameters"] = chosen.training_hyperparameters(
            hyperparameters,
            program=code.program,
            submit_directory=submit_directory,
            region=self.region_name,
            job_name=job_name,
            output_path=output_path,
            instance_type=instance_type,
            instance_count=builders.as_int(instance_count, "instance_count"),
            distribution=distribution,
            framework_version=framework_version,
            py_version=py_version,
            framework_options=framework_options,
        )
        return request

    def _training_image(
        self, *, framework, framework_version, py_version, image_uri, instance_type, instance_count, distribution,
        framework_options,
    ) -> tuple[frameworks.Framework, str]:
        """The framework (its arguments checked) and the training image of a script-mode job."""
        chosen = frameworks.get(framework or frameworks.DEFAULT_FRAMEWORK)
        count = builders.as_int(instance_count, "instance_count")
        if distribution is not None and not isinstance(distribution, Mapping):
            raise ConfigurationError(
                f"distribution must be a dict such as {{'mpi': {{'enabled': True}}}}, got {distribution!r}"
            )
        chosen.validate_training(
            framework_version=framework_version, py_version=py_version, instance_type=instance_type,
            instance_count=count, distribution=distribution, framework_options=framework_options,
        )
        return chosen, image_uri or chosen.image_uri(
            self.region_name, framework_version, instance_type=instance_type, py_version=py_version,
            distribution=distribution,
        )

    def _training_preview(
        self, *, hyperparameters, image_uri, instance_type, instance_count, inputs, output_path,
    ) -> dict:
        """The parts of the CreateTrainingJob request that SDK-style arguments make and that
        decide whether an existing job is the one asked for; built without uploading anything."""
        preview: dict[str, Any] = {
            "AlgorithmSpecification": {"TrainingImage": image_uri},
            "ResourceConfig": {
                "InstanceType": instance_type,
                "InstanceCount": builders.as_int(instance_count, "instance_count"),
            },
        }
        if hyperparameters is not None:  # encoded as the request will be (see _hyperparameter_value)
            preview["HyperParameters"] = encode_hyperparameters(hyperparameters)
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
        algorithm: str | None = None,
        framework: str | None = None,
        framework_version: str | None = None,
        py_version: str | None = None,
        image_uri: str | None = None,
        role: str | None = None,
        instance_type: str = builders.DEFAULT_INSTANCE_TYPE,
        instance_count: int = 1,
        volume_size: int = builders.DEFAULT_VOLUME_SIZE,
        inputs: str | Mapping[str, Any] | None = None,
        input_mode: str = builders.DEFAULT_INPUT_MODE,
        output_path: str | None = None,
        code_location: str | None = None,
        dependencies: Sequence[str] | None = None,
        distribution: Mapping[str, Any] | None = None,
        max_run: int = builders.DEFAULT_MAX_RUN,
        use_spot_instances: bool = False,
        max_wait: int | None = None,
        max_retry_attempts: int | None = None,
        checkpoint_s3_uri: str | None = None,
        checkpoint_local_path: str | None = None,
        output_kms_key: str | None = None,
        volume_kms_key: str | None = None,
        metric_definitions: Sequence[Mapping[str, str]] | None = None,
        subnets: Sequence[str] | None = None,
        security_group_ids: Sequence[str] | None = None,
        enable_network_isolation: bool = False,
        use_mpi: bool | None = None,
        num_processes: int | None = None,
        process_slots_per_host: int | None = None,
        additional_mpi_options: str | None = None,
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

        Either SDK-style arguments, as the SageMaker Python SDK v2's framework estimators take them
        (``entry_point``, ``source_dir``, ``dependencies``, ``hyperparameters``, ``framework``,
        ``framework_version``, ``py_version``, ``distribution``, ``instance_type``,
        ``instance_count``, ``inputs``, ``input_mode``, ``output_path``, ``max_run`` seconds,
        ``volume_size`` GB, ``use_spot_instances`` with ``max_wait`` seconds,
        ``max_retry_attempts``, ``checkpoint_s3_uri``/``checkpoint_local_path``,
        ``output_kms_key``, ``volume_kms_key``, ``metric_definitions``, ``subnets`` with
        ``security_group_ids``, ``enable_network_isolation``, ``environment``, ``tags``, and the
        MPI options ``use_mpi``, ``num_processes``, ``process_slots_per_host``,
        ``additional_mpi_options`` for the framework whose estimator takes them), or ``config``: a raw
        CreateTrainingJob request (boto3 ``create_training_job``), as Airflow's Amazon provider
        accepts. The job name is ``job_name``; else ``<base>-<hash of idempotency_key>`` (stable
        across retries); else ``<base>-<timestamp>`` like the SDK.

        Without ``entry_point``, the image trains on its own, as the SDK's plain ``Estimator``
        (``image_uri``, any image following SageMaker's container contract) or its Amazon
        algorithm estimators (``algorithm``: ``"kmeans"``, ``"pca"``, ``"linear-learner"``,
        or a framework's built-in algorithm mode, its ``framework_version`` the image's: see
        :mod:`smflow.algorithms`): the image is the algorithm's for the region (SDK
        ``image_uris.retrieve``), the hyperparameters are checked against AWS's documentation of
        the algorithm (names, types, the required ones) before anything is sent, and written as
        the SDK's estimator writes them; ``feature_dim`` and ``mini_batch_size`` come from the
        ``train`` record set when not given, as the SDK's ``fit``. ``inputs`` may then be what
        ``record_set`` returned, or a list of those (each in its ``channel``).

        ``inputs`` is a dict of channel name -> S3 URI (or Channel dict), or one S3 URI, which
        becomes the channel named ``train``, "the default train channel" of the SDK's framework docs: the
        script reads it from ``SM_CHANNEL_TRAIN``. The SageMaker Python SDK v2
        names that channel ``training`` instead; pass ``{"training": uri}`` for a script written
        for that. A channel's value may be the SDK's ``TrainingInput`` arguments
        (``{"s3_data": uri, "input_mode": "Pipe"}``, see :func:`smflow.builders.input_data_config`).

        ``role`` is an ARN or a role name (expanded through IAM ``GetRole``, as the SDK).

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
        if config is None:
            inputs = channels_of(inputs)
        if config is None and not entry_point and (algorithm or image_uri):
            request = self._no_code_training_request(
                algorithm=algorithm, image_uri=image_uri, hyperparameters=hyperparameters,
                framework_version=framework_version, role=role, instance_type=instance_type,
                instance_count=instance_count, volume_size=volume_size, inputs=inputs, output_path=output_path,
                max_run=max_run, environment=environment, tags=tags, input_mode=input_mode,
                use_spot_instances=use_spot_instances, max_wait=max_wait, max_retry_attempts=max_retry_attempts,
                checkpoint_s3_uri=checkpoint_s3_uri, checkpoint_local_path=checkpoint_local_path,
                output_kms_key=output_kms_key, volume_kms_key=volume_kms_key, metric_definitions=metric_definitions,
                subnets=subnets, security_group_ids=security_group_ids,
                enable_network_isolation=enable_network_isolation,
            )
            name = self._job_name(job_name, base_job_name, idempotency_key,
                                  naming.base_name_from_image(image_uri or request["AlgorithmSpecification"][
                                      "TrainingImage"], TRAINING_JOB_BASE_NAME))
            wanted = _training_fields(request)
            added: set[str] = set()
        elif config is not None:
            request = builders.coerce_to_shape(config, "CreateTrainingJob")
            image = (request.get("AlgorithmSpecification") or {}).get("TrainingImage")
            name = request.get("TrainingJobName") or self._job_name(
                job_name, base_job_name, idempotency_key, naming.base_name_from_image(image, TRAINING_JOB_BASE_NAME)
            )
            wanted = _training_fields(request)
            added: set[str] = set()
        else:
            if algorithm:
                raise ConfigurationError("algorithm trains without a script: leave entry_point out (or pass "
                                         "image_uri with entry_point for a script on another image)")
            if not entry_point:
                raise ConfigurationError("entry_point is required (or algorithm=..., or image_uri=... for an image "
                                         "that trains on its own, or a raw request as config)")
            request = None
            framework_options = {key: value for key, value in (
                ("use_mpi", use_mpi), ("num_processes", num_processes),
                ("process_slots_per_host", process_slots_per_host),
                ("additional_mpi_options", additional_mpi_options),
            ) if value is not None}
            options = dict(
                input_mode=input_mode, use_spot_instances=use_spot_instances, max_wait=max_wait,
                max_retry_attempts=max_retry_attempts, checkpoint_s3_uri=checkpoint_s3_uri,
                checkpoint_local_path=checkpoint_local_path, output_kms_key=output_kms_key,
                volume_kms_key=volume_kms_key, metric_definitions=metric_definitions, subnets=subnets,
                security_group_ids=security_group_ids, enable_network_isolation=enable_network_isolation,
            )
            chosen, image_uri = self._training_image(
                framework=framework, framework_version=framework_version, py_version=py_version,
                image_uri=image_uri, instance_type=instance_type, instance_count=instance_count,
                distribution=distribution, framework_options=framework_options,
            )
            # every request option checked now, before a job is looked up or code uploaded
            builders.training_job_request(
                job_name="check", image_uri=image_uri, role="", hyperparameters={}, inputs=inputs,
                output_path=output_path or "s3://check/", instance_type=instance_type,
                instance_count=instance_count, volume_size=volume_size, max_run=max_run,
                environment=environment, tags=tags, **options,
            )
            name = self._job_name(job_name, base_job_name, idempotency_key,
                                  naming.base_name_from_image(image_uri, TRAINING_JOB_BASE_NAME))
            wanted = _training_fields(self._training_preview(
                hyperparameters=hyperparameters, image_uri=image_uri, instance_type=instance_type,
                instance_count=instance_count, inputs=inputs, output_path=output_path,
            ))
            # the hyperparameters the framework adds (sagemaker_*, a model_dir, distribution
            # keys) are not the user's: an existing job is compared on the user's only
            added = set(chosen.training_hyperparameters(
                None, program=entry_point, submit_directory="s3://b/k",
                region=self.region_name, job_name=name, output_path=output_path or "s3://b/",
                instance_type=instance_type, instance_count=builders.as_int(instance_count, "instance_count"),
                distribution=distribution, framework_version=framework_version, py_version=py_version,
                framework_options=framework_options,
            )) - set(hyperparameters or {})

        name, existing = self._resolve_job(
            name,
            lambda candidate: self._describe_or_none(
                self.sagemaker.describe_training_job, TrainingJobName=candidate
            ),
            states.TRAINING_JOB,
            action_if_job_exists,
            differences=lambda found: field_differences(wanted, _training_fields(found, added)),
            timeout=timeout,
        )
        if existing is None:
            if request is None:
                request = self.prepare_training_job(
                    job_name=name,
                    entry_point=entry_point,
                    source_dir=source_dir,
                    hyperparameters=hyperparameters,
                    framework=framework,
                    framework_version=framework_version,
                    py_version=py_version,
                    image_uri=image_uri,
                    role=role,
                    instance_type=instance_type,
                    instance_count=instance_count,
                    volume_size=volume_size,
                    inputs=inputs,
                    output_path=output_path,
                    code_location=code_location,
                    dependencies=dependencies,
                    distribution=distribution,
                    max_run=max_run,
                    environment=environment,
                    tags=tags,
                    framework_options=framework_options,
                    **options,
                )
            else:
                request = {**request, "TrainingJobName": name}
                request.setdefault("RoleArn", self.role_arn(role))
            try:
                self.sagemaker.create_training_job(**request)
                self.log(f"Created training job {name}")
            except ClientError as error:
                if error_code(error) != "ResourceInUse":
                    raise
                self.log(f"Training job {name} was created concurrently; attaching to it")
        if not wait:
            return self.describe_training_job(name)
        return self.wait_for_training_job(name, logs=logs, timeout=deadline.remaining())

    def _no_code_training_request(
        self, *, algorithm, image_uri, hyperparameters, framework_version, role, instance_type, instance_count,
        inputs, output_path, **options,
    ) -> dict:
        """The CreateTrainingJob request of an image that trains without a script (SDK ``Estimator``,
        or the algorithm's estimator), its name left to the caller."""
        count = builders.as_int(instance_count, "instance_count")
        if algorithm:
            chosen = algorithms.get(algorithm)
            image_uri = image_uri or chosen.image_uri(self.region_name, framework_version, instance_type=instance_type)
            records = train_record_set(inputs)
            encoded = chosen.training_hyperparameters(
                hyperparameters, instance_count=count,
                num_records=records["num_records"] if records else None,
                feature_dim=records["feature_dim"] if records else None,
            )
        else:
            if framework_version:
                raise ConfigurationError("framework_version names a framework's or algorithm's image: with image_uri "
                                         "the image is given; leave framework_version out")
            encoded = {str(key): json.dumps(value) if isinstance(value, list) else str(value)
                       for key, value in (hyperparameters or {}).items() if value is not None}
        return builders.training_job_request(
            job_name="", image_uri=image_uri, role=self.role_arn(role), hyperparameters=encoded, inputs=inputs,
            output_path=output_path or f"s3://{self.default_bucket()}/", instance_type=instance_type,
            instance_count=count, **options,
        )

    def attach(self, job_name: str, *, wait: bool = True, logs: bool = True, timeout: float | None = None) -> dict:
        """Attach to an existing training job (SDK ``Estimator.attach``): if it is in
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

    def stop_training_job(self, job_name: str) -> None:
        """boto3 ``stop_training_job``; a job that already ended is left as it is."""
        stop_ignoring_ended(self.sagemaker.stop_training_job, TrainingJobName=job_name)


# ---------------------------------------------------------------------- helpers
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


def _training_fields(request: Mapping[str, Any], added: set[str] | frozenset[str] = frozenset()) -> dict[str, Any]:
    """What decides whether an existing training job is the one a request asks for, read the
    same way from a CreateTrainingJob request and a DescribeTrainingJob payload: user
    HyperParameters (not ``sagemaker_*``), channel name -> S3Uri, TrainingImage, S3OutputPath,
    InstanceType, InstanceCount. A field the request does not set is absent; hyperparameters
    named in ``added`` (those the framework adds) are left out."""
    fields: dict[str, Any] = {}
    if request.get("HyperParameters") is not None:
        fields["HyperParameters"] = {
            str(key): _hyperparameter_value(value)
            for key, value in request["HyperParameters"].items()
            if not str(key).startswith("sagemaker_") and str(key) not in added
        }
    if request.get("InputDataConfig") is not None:
        fields["InputDataConfig"] = _channel_uris(request["InputDataConfig"])
    image = (request.get("AlgorithmSpecification") or {}).get("TrainingImage")
    if image:
        fields["TrainingImage"] = image
    output = (request.get("OutputDataConfig") or {}).get("S3OutputPath")
    if output:
        fields["S3OutputPath"] = s3_path(output)
    resources = request.get("ResourceConfig") or {}
    for key in ("InstanceType", "InstanceCount"):
        if resources.get(key) is not None:
            fields[key] = resources[key]
    return fields
