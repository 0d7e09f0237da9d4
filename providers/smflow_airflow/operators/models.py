"""The model operator: ``SageMakerCreateModelOperator`` (``SageMakerClient.create_model``, boto3
``create_model``; arguments from ``smflow.resources.specs.MODEL``). Shared behaviour:
``operators.base``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from smflow.resources import specs
from smflow_airflow.links.sagemaker import SageMakerModelLink
from smflow_airflow.operators.base import SageMakerBaseOperator, spec_template_fields, user_errors

if TYPE_CHECKING:
    from airflow.sdk import Context


class SageMakerCreateModelOperator(SageMakerBaseOperator):
    """Create a model (boto3 ``create_model``) from a training job (``training_job_name``), from
    model data (``model_data`` S3 URI of a model.tar.gz plus an inference ``entry_point``), or from
    a raw CreateModel request (``config``). An identical existing model is reused.

    Arguments: ``smflow.resources.specs.MODEL``, as ``SageMakerClient.create_model``
    (``framework`` and ``framework_version`` None: the training job's image, else smflow's
    default framework and the framework's default version). Without code (``image_uri`` or
    ``algorithm`` with ``model_data``, or a job trained without a script) the image serves on its
    own, as the SDK's ``Model``.

    Returns (XCom): ``{"ModelName", "ModelArn", "Image", "ModelDataUrl"}``.
    """

    spec = specs.MODEL
    console_link = SageMakerModelLink
    operator_extra_links = (SageMakerModelLink(),)
    template_fields: Sequence[str] = spec_template_fields(spec)
    template_fields_renderers: ClassVar[dict[str, str]] = spec.renderers

    def __init__(
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
        model_server_workers: int | str | None = None,
        environment: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
        config: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.set_spec_arguments(locals())

    def execute(self, context: Context) -> dict:
        client = self.get_client()
        with user_errors():
            model = client.create_model(**self.spec_call_arguments(context))
        self.persist_link(context, client, model["ModelName"])
        return model
