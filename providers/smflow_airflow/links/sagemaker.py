"""Extra links from a task to the SageMaker resource it works on: the AWS console page, or the
local console's page with the smflow local runtime.

An operator stores ``{"name", "region", "partition"}`` (and ``"endpoint_url"`` with a custom
endpoint) in XCom under the link's ``key`` as soon
as it knows the resource (before waiting, so a failed job still has its link), whether or not
``do_xcom_push`` is set (that option governs the task's return value). When the task finishes,
Airflow 3's task runner calls ``get_link`` and stores the URL under the link's ``xcom_key``
(``_link_<class name>``), which the UI reads.

Against a custom endpoint (the smflow local runtime, ``endpoint_url`` in the connection) the
partition is stored as ``"local"`` with the endpoint URL, and the link is the runtime's own
console page of the resource (``<endpoint_url>/console/training-jobs/<name>``, see
``smflow.local.console``): the AWS console does not know that resource. The URL is the one the
task's connection uses (or ``$SMFLOW_CONSOLE_URL``, see :mod:`smflow.consoles`); a browser must
be able to reach it (and, for a name other than a loopback one, the runtime must be started with
``--allow-host``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar
from airflow.sdk import BaseOperatorLink

from smflow import consoles

if TYPE_CHECKING:
    from airflow.sdk import BaseOperator, Context
    from airflow.sdk.types import TaskInstanceKey

CONSOLE_DOMAINS = consoles.CONSOLE_DOMAINS  # kept for imports of earlier versions


class SageMakerConsoleLink(BaseOperatorLink):
    """A link to the SageMaker console page of one resource (set ``name``, ``key``, ``kind``)."""

    name: ClassVar[str]
    key: ClassVar[str]
    kind: ClassVar[str]  # smflow.consoles.ROUTES kind, e.g. "training-job"

    def url(self, *, name: str, region: str, partition: str = "aws", endpoint_url: str | None = None) -> str:
        """The page (:func:`smflow.consoles.resource_url`); ``""`` when there is none."""
        if partition == "local":
            if not endpoint_url:
                return ""
            return consoles.resource_url(self.kind, name, region=region, endpoint_url=endpoint_url)
        if partition not in consoles.CONSOLE_DOMAINS:
            return ""
        return consoles.resource_url(self.kind, name, region=region, partition=partition)

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        """The console URL, or ``""`` when the task stored nothing (it failed before starting the
        resource; or a local runtime whose URL was not stored, by an earlier smflow)."""
        # The configured XCom backend ([core] xcom_backend), as the Amazon provider's links read
        # it (through common.compat). airflow.sdk's public BaseXCom.get_value would skip a
        # custom backend's deserialize_value; Airflow 3.3 exports no public name for the
        # configured backend class.
        from airflow.sdk.execution_time.xcom import XCom

        stored = XCom.get_value(ti_key=ti_key, key=self.key)
        if not isinstance(stored, dict):
            return ""
        return self.url(
            name=stored.get("name", ""),
            region=stored.get("region", ""),
            partition=stored.get("partition", "aws"),
            endpoint_url=stored.get("endpoint_url"),
        )

    @classmethod
    def persist(cls, context: Context, *, name: str, region: str, partition: str,
                endpoint_url: str | None = None) -> None:
        """Store what ``get_link`` needs in XCom under ``cls.key`` (``endpoint_url``: the custom
        endpoint, with partition ``"local"``)."""
        value: dict[str, Any] = {"name": name, "region": region, "partition": partition}
        if endpoint_url:
            value["endpoint_url"] = endpoint_url
        context["ti"].xcom_push(key=cls.key, value=value)


class SageMakerTrainingJobLink(SageMakerConsoleLink):
    name = "SageMaker Training Job"
    key = "smflow_training_job"
    kind = "training-job"


class SageMakerTransformJobLink(SageMakerConsoleLink):
    name = "SageMaker Transform Job"
    key = "smflow_transform_job"
    kind = "transform-job"


class SageMakerModelLink(SageMakerConsoleLink):
    name = "SageMaker Model"
    key = "smflow_model"
    kind = "model"


class SageMakerEndpointLink(SageMakerConsoleLink):
    name = "SageMaker Endpoint"
    key = "smflow_endpoint"
    kind = "endpoint"


ALL_LINKS = (SageMakerTrainingJobLink, SageMakerTransformJobLink, SageMakerModelLink, SageMakerEndpointLink)
