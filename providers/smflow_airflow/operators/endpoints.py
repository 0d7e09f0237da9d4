"""Endpoint operators: ``SageMakerDeployOperator`` (``SageMakerClient.deploy``; arguments from
``smflow.resources.specs.ENDPOINT``), ``SageMakerPredictOperator`` (``predict``, boto3
``invoke_endpoint``) and ``SageMakerDeleteEndpointOperator`` (``delete_endpoint``, a teardown
task). Shared behaviour: ``operators.base``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from smflow.resources import specs
from smflow_airflow import _common
from smflow_airflow.links.sagemaker import SageMakerEndpointLink
from smflow_airflow.operators.base import (
    SageMakerBaseOperator,
    SageMakerWaitingOperator,
    spec_template_fields,
    user_errors,
)

if TYPE_CHECKING:
    from airflow.sdk import Context


class SageMakerDeployOperator(SageMakerWaitingOperator):
    """Deploy a model to an endpoint (boto3 ``create_endpoint_config``, ``create_endpoint`` or,
    for an existing endpoint, ``update_endpoint`` — it keeps serving until the new config is
    InService) and wait for InService. A Failed endpoint, or an update that rolled back, fails
    the task with SageMaker's FailureReason.

    Arguments (``smflow.resources.specs.ENDPOINT``, as ``SageMakerClient.deploy``):
    ``model_name``, ``endpoint_name`` (default: the model name), ``instance_type``,
    ``initial_instance_count``, ``endpoint_config_name``; or ``config``: a raw
    CreateEndpointConfig request.

    Returns (XCom): ``smflow.summaries.endpoint_summary`` — EndpointName, EndpointArn,
    EndpointStatus, EndpointConfigName, times, FailureReason.
    """

    kind = _common.ENDPOINT
    spec = specs.ENDPOINT
    console_link = SageMakerEndpointLink
    operator_extra_links = (SageMakerEndpointLink(),)
    template_fields: Sequence[str] = spec_template_fields(spec)
    template_fields_renderers: ClassVar[dict[str, str]] = spec.renderers

    def __init__(
        self,
        *,
        model_name: str | None = None,
        endpoint_name: str | None = None,
        instance_type: str | None = specs.DEFAULT_INSTANCE_TYPE,
        initial_instance_count: int | str = 1,
        endpoint_config_name: str | None = None,
        config: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.set_spec_arguments(locals())

    def execute(self, context: Context) -> dict:
        client = self.get_client()
        endpoint_name = self.endpoint_name or self.model_name
        if endpoint_name:
            self.persist_link(context, client, endpoint_name)
        synchronous = self.wait_for_completion and not self.deferrable
        arguments = self.spec_call_arguments(context)
        with user_errors():
            if synchronous:
                return self.result(client.deploy(**arguments, timeout=self.max_ingestion_time))
            expected, description = client.start_deploy(**arguments, timeout=self.max_ingestion_time)
        return self.result(self.wait(context, client, description["EndpointName"], description,
                                     expected_endpoint_config=expected))

    def wait_sync(self, client, name, *, timeout, expected_endpoint_config=None) -> dict:
        return client.wait_for_endpoint(name, expected_config=expected_endpoint_config, timeout=timeout)


class SageMakerPredictOperator(SageMakerBaseOperator):
    """Send rows to an endpoint and return its predictions (SDK ``Predictor.predict``; boto3
    ``invoke_endpoint``).

    Args:
        endpoint_name: the endpoint (templated).
        data: the rows: a list (of lists), or a JSON array as a string (what Jinja renders); an
            XComArg resolves to the upstream task's list (templated).
        content_type, accept: ``application/x-npy`` (default, as the SDK's NumPy serializer
            and deserializer), ``application/json``, ``text/csv``, or
            ``application/x-recordio-protobuf`` (Amazon's built-in algorithms; an answer in it is
            a list of dicts, one per record); ``accept`` also ``application/jsonlines``.
        target_variant: the production variant to invoke.

    Returns (XCom): ``{"EndpointName", "Count", "Predictions": [...]}`` (a plain list, never a
    NumPy array; an algorithm's JSON answer as its object, e.g. ``{"predictions": [...]}``,
    ``Count`` then the length of its list).
    """

    console_link = SageMakerEndpointLink
    operator_extra_links = (SageMakerEndpointLink(),)
    template_fields: Sequence[str] = SageMakerBaseOperator.template_fields + (
        "endpoint_name", "data", "content_type", "accept", "target_variant",
    )
    template_fields_renderers: ClassVar[dict[str, str]] = {"data": "json"}

    def __init__(
        self,
        *,
        endpoint_name: str,
        data: Any,
        content_type: str = "application/x-npy",
        accept: str = "application/x-npy",
        target_variant: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.endpoint_name = endpoint_name
        self.data = data
        self.content_type = content_type
        self.accept = accept
        self.target_variant = target_variant

    def rows(self) -> Any:
        """``data`` as a Python value; a string must be a JSON array.

        Raises: AirflowFailException naming ``data``."""
        import json

        from airflow.sdk.exceptions import AirflowFailException

        data = self.data
        if isinstance(data, (str, bytes)):
            try:
                data = json.loads(data)
            except ValueError:
                raise AirflowFailException(
                    f"data must be a list of rows or a JSON array string, got {str(self.data)[:80]!r}"
                ) from None
        if data is None or isinstance(data, Mapping):
            raise AirflowFailException(f"data must be a list of rows, got {type(data).__name__}")
        return data

    def execute(self, context: Context) -> dict:
        client = self.get_client()
        rows = self.rows()
        self.persist_link(context, client, self.endpoint_name)
        from smflow.codecs import UnsupportedContentTypeError

        try:
            predictions = client.predict(
                self.endpoint_name, rows, content_type=self.content_type, accept=self.accept,
                target_variant=self.target_variant,
            )
        except UnsupportedContentTypeError as error:
            from airflow.sdk.exceptions import AirflowFailException

            raise AirflowFailException(str(error)) from error
        from smflow.resources.endpoints import plain_answer, prediction_rows

        values = plain_answer(predictions)  # an algorithm's JSON object or records as Python data
        count = len(prediction_rows(predictions)) if isinstance(values, (list, dict)) else 1
        self.log.info("Endpoint %s returned %d predictions", self.endpoint_name, count)
        return {"EndpointName": self.endpoint_name, "Count": count, "Predictions": values}


class SageMakerDeleteEndpointOperator(SageMakerBaseOperator):
    """Delete an endpoint and, by default, its endpoint config (boto3 ``delete_endpoint``,
    ``delete_endpoint_config``; ``delete_model=True`` also deletes its models).

    Idempotent: deleting what is already gone succeeds, so it fits a teardown task::

        delete = SageMakerDeleteEndpointOperator(task_id="delete", endpoint_name=...)
        deploy >> predict >> delete.as_teardown(setups=deploy)

    Naming the deploy task as its setup makes clearing ``predict`` (or any task between them)
    deploy the endpoint again before it runs. Its trigger rule defaults to ``all_done``
    (``as_teardown`` sets Airflow's teardown rule).

    Returns (XCom): ``{"EndpointName", "Deleted": ["Endpoint/<name>", "EndpointConfig/<name>", ...]}``.
    """

    template_fields: Sequence[str] = SageMakerBaseOperator.template_fields + ("endpoint_name",)

    def __init__(
        self,
        *,
        endpoint_name: str,
        delete_endpoint_config: bool = True,
        delete_model: bool = False,
        wait_for_completion: bool = True,
        max_ingestion_time: float | None = 600,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("trigger_rule", "all_done")
        super().__init__(**kwargs)
        self.endpoint_name = endpoint_name
        self.delete_endpoint_config = delete_endpoint_config
        self.delete_model = delete_model
        self.wait_for_completion = wait_for_completion
        self.max_ingestion_time = max_ingestion_time

    def execute(self, context: Context) -> dict:
        client = self.get_client()
        with user_errors():
            return client.delete_endpoint(
                self.endpoint_name,
                delete_endpoint_config=self.delete_endpoint_config,
                delete_model=self.delete_model,
                wait=self.wait_for_completion,
                timeout=self.max_ingestion_time,
            )
