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
task's connection uses; a browser must be able to reach it (and, for a name other than a
loopback one, the runtime must be started with ``--allow-host``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import quote

from airflow.sdk import BaseOperatorLink

if TYPE_CHECKING:
    from airflow.sdk import BaseOperator, Context
    from airflow.sdk.types import TaskInstanceKey

# Console domains per AWS partition (boto3 ``Session.get_partition_for_region``).
CONSOLE_DOMAINS = {
    "aws": "console.aws.amazon.com",
    "aws-cn": "console.amazonaws.cn",
    "aws-us-gov": "console.amazonaws-us-gov.com",
}


class SageMakerConsoleLink(BaseOperatorLink):
    """A link to the SageMaker console page of one resource (set ``name``, ``key``, ``fragment``)."""

    name: ClassVar[str]
    key: ClassVar[str]
    fragment: ClassVar[str]  # console route, e.g. "jobs" for training jobs
    local_page: ClassVar[str] = ""  # the local console's folder of the kind, e.g. "training-jobs"

    def url(self, *, name: str, region: str, partition: str = "aws", endpoint_url: str | None = None) -> str:
        if partition == "local":
            if not (endpoint_url and name and self.local_page) or not endpoint_url.startswith(("http://", "https://")):
                return ""
            return f"{endpoint_url.rstrip('/')}/console/{self.local_page}/{quote(name, safe='')}"
        domain = CONSOLE_DOMAINS.get(partition)
        if not domain or not name or not region:
            return ""
        return (
            f"https://{domain}/sagemaker/home?region={quote(region)}"
            f"#/{self.fragment}/{quote(name, safe='')}"
        )

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
    fragment = "jobs"
    local_page = "training-jobs"


class SageMakerTransformJobLink(SageMakerConsoleLink):
    name = "SageMaker Transform Job"
    key = "smflow_transform_job"
    fragment = "transform-jobs"
    local_page = "transform-jobs"


class SageMakerModelLink(SageMakerConsoleLink):
    name = "SageMaker Model"
    key = "smflow_model"
    fragment = "models"
    local_page = "models"


class SageMakerEndpointLink(SageMakerConsoleLink):
    name = "SageMaker Endpoint"
    key = "smflow_endpoint"
    fragment = "endpoints"
    local_page = "endpoints"


ALL_LINKS = (SageMakerTrainingJobLink, SageMakerTransformJobLink, SageMakerModelLink, SageMakerEndpointLink)
