"""Endpoints: ``deploy`` (CreateEndpointConfig, then CreateEndpoint or UpdateEndpoint),
``delete_endpoint``, and inference (``invoke``, ``predict``: SageMaker Runtime InvokeEndpoint).

``deploy`` runs in three steps that :func:`smflow.aio.start_deploy` runs in the same order on an
event loop: :meth:`Endpoints.prepare_endpoint_config`, :meth:`Endpoints.next_deploy_wait` until
the way is clear, :meth:`Endpoints.apply_endpoint_config`; ``delete_endpoint`` likewise
(:meth:`Endpoints.start_endpoint_deletion`, the wait of :meth:`Endpoints.endpoint_deleted_options`,
:meth:`Endpoints.finish_endpoint_deletion`)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from botocore.exceptions import ClientError

from smflow import builders, codecs, naming, states
from smflow.errors import ConfigurationError, InvocationError
from smflow.resources.base import ClientBase, completion_message, ignore_not_found
from smflow.waiting import Backoff, Deadline, wait_for


class Endpoints(ClientBase):
    """The endpoint and inference calls of :class:`smflow.client.SageMakerClient`."""

    def describe_endpoint(self, endpoint_name: str) -> dict:
        """boto3 ``describe_endpoint``."""
        return self.sagemaker.describe_endpoint(EndpointName=endpoint_name)

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
            return endpoint, self.endpoint_deleted_options(endpoint_name)
        if states.ENDPOINT.outcome(endpoint) is states.Outcome.RUNNING:
            self.log(f"Endpoint {endpoint_name} is {status}; waiting before deploying")
            return endpoint, self._endpoint_settled_options(endpoint_name)
        if status in ("Failed", "OutOfService"):
            self.log(f"Endpoint {endpoint_name} is {status}; deleting and creating it again")
            ignore_not_found(self.sagemaker.delete_endpoint, EndpointName=endpoint_name)
            return endpoint, self.endpoint_deleted_options(endpoint_name)
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
        wait_for(timeout=timeout, **self.endpoint_deleted_options(endpoint_name))

    def endpoint_deleted_options(self, endpoint_name: str) -> dict[str, Any]:
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
        deletion = self.start_endpoint_deletion(endpoint_name, delete_endpoint_config, delete_model)
        if wait and deletion.endpoint_existed:
            self._wait_endpoint_deleted(endpoint_name, timeout)
        return self.finish_endpoint_deletion(deletion)

    def start_endpoint_deletion(
        self, endpoint_name: str, delete_endpoint_config: bool, delete_model: bool
    ) -> EndpointDeletion:
        """``delete_endpoint`` up to the wait: find the config and models, delete the endpoint."""
        deletion = EndpointDeletion(endpoint_name, delete_endpoint_config, delete_model)
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
            if ignore_not_found(self.sagemaker.delete_endpoint, EndpointName=endpoint_name):
                deletion.deleted.append(f"Endpoint/{endpoint_name}")
        return deletion

    def finish_endpoint_deletion(self, deletion: EndpointDeletion) -> dict:
        """``delete_endpoint`` after the wait: the endpoint config and models, then the result."""
        if deletion.config_name and deletion.delete_endpoint_config:
            if ignore_not_found(self.sagemaker.delete_endpoint_config, EndpointConfigName=deletion.config_name):
                deletion.deleted.append(f"EndpointConfig/{deletion.config_name}")
        if deletion.delete_model:
            for model_name in deletion.model_names:
                if ignore_not_found(self.sagemaker.delete_model, ModelName=model_name):
                    deletion.deleted.append(f"Model/{model_name}")
        self.log(f"Deleted {', '.join(deletion.deleted) if deletion.deleted else 'nothing (already gone)'}")
        return {"EndpointName": deletion.endpoint_name, "Deleted": deletion.deleted}

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
    ) -> np.ndarray | dict | list:
        """Predict with a NumPy array or a list (SDK ``Predictor.predict``).

        The request is serialized as ``content_type`` (``application/x-npy`` by default, as the
        SDK's ``NumpySerializer``; or ``application/json``, ``text/csv``,
        ``application/x-recordio-protobuf`` as the SDK's ``RecordSerializer``: one record per row,
        what the built-in algorithms read; a scipy.sparse matrix is sent as sparse records) and the
        answer, requested as ``accept``, is returned as a NumPy array, or as the algorithms'
        answers are, as Python data: a JSON object as a dict (``{"predictions": [{"closest_cluster":
        3.0, "distance_to_cluster": 5.1}]}``), JSON Lines (``application/jsonlines``) as a list
        of dicts, RecordIO-protobuf as a list of dicts, one per record, of its ``label`` map
        (``[{"closest_cluster": 3.0, "distance_to_cluster": 5.1}]``).

        Raises: InvocationError; UnsupportedContentTypeError for another content type;
            smflow.recordio.RecordIOError for a corrupt RecordIO-protobuf answer.
        """
        sparse = hasattr(data, "tocsr") and hasattr(data, "nnz")
        array = data if sparse else np.asarray(data)
        if codecs.base_type(content_type) == codecs.CSV and array.ndim == 1:
            array = array.reshape(1, -1)  # one record, as the SDK's CSVSerializer writes it
        body, response_type = self.invoke(
            endpoint_name, codecs.encode(array, content_type),
            content_type=content_type, accept=accept, target_variant=target_variant,
        )
        return decode_answer(body, response_type or accept)


# ---------------------------------------------------------------------- helpers
JSON_LINES = ("application/jsonlines", "application/jsonl", "application/x-jsonlines")


def plain_answer(answer):
    """A ``predict`` answer as JSON-able Python data: an array as a (nested) list, the rest as is."""
    return answer.tolist() if isinstance(answer, np.ndarray) else answer


def prediction_rows(answer) -> list:
    """The per-row entries of a ``predict`` answer: a list (an array's rows), or the one list an
    algorithm's JSON object holds (``{"predictions": [...]}``, ``{"projections": [...]}``);
    ``[answer]`` for anything else (a scalar, an object with several lists)."""
    plain = plain_answer(answer)
    if isinstance(plain, list):
        return plain
    if isinstance(plain, dict):
        lists = [value for value in plain.values() if isinstance(value, list)]
        if len(plain) == 1 and len(lists) == 1:
            return lists[0]
    return [plain]


def decode_answer(body: bytes, content_type: str | None):
    """An InvokeEndpoint answer as Python data: see ``predict``."""
    kind = codecs.base_type(content_type)
    if kind == codecs.RECORDIO_PROTOBUF:
        from smflow import recordio

        return recordio.records_to_dicts(recordio.read_records(body))
    if kind in JSON_LINES:
        return [json.loads(line) for line in body.decode("utf-8").splitlines() if line.strip()]
    if kind == codecs.JSON:
        try:
            answer = json.loads(body)
        except ValueError as exc:
            raise ValueError(f"body is not valid JSON: {exc}") from None
        if isinstance(answer, dict):
            return answer
        return np.array(answer)
    return codecs.decode(body, content_type)


@dataclass
class EndpointDeletion:
    """What ``delete_endpoint`` found and deleted so far (shared by the sync and async paths)."""

    endpoint_name: str
    delete_endpoint_config: bool
    delete_model: bool
    config_name: str | None = None
    model_names: list[str] = field(default_factory=list)
    endpoint_existed: bool = False
    deleted: list[str] = field(default_factory=list)


def _variants_key(variants: list[dict]) -> list[tuple]:
    return sorted(
        (v.get("VariantName"), v.get("ModelName"), v.get("InstanceType"), int(v.get("InitialInstanceCount", 1)))
        for v in variants
    )
