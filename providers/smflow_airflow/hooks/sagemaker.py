"""The hook that hands :class:`smflow.client.SageMakerClient` to operators, sensors and triggers.

It reads Airflow's standard ``aws`` connection (``aws_default`` by default) through the Amazon
provider's :class:`AwsBaseHook`: credentials, region, assume-role and the other session options of
that connection build the boto3 session, and ``endpoint_url`` in the connection's extras points
every service (SageMaker, SageMaker Runtime, S3, CloudWatch Logs, STS) at one URL. So the same DAG
runs against AWS or, with only the connection changed, against the smflow local runtime::

    AIRFLOW_CONN_AWS_DEFAULT='{"conn_type": "aws",
        "extra": {"endpoint_url": "http://127.0.0.1:9510", "region_name": "us-east-1"}}'

All lifecycle logic (naming, states, waiting, logs) is in the client; this hook only builds it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

if TYPE_CHECKING:
    from smflow.client import SageMakerClient
    from smflow.waiting import Backoff


class SageMakerClientHook(AwsBaseHook):
    """Builds an smflow :class:`~smflow.client.SageMakerClient` from an ``aws`` connection.

    Args:
        aws_conn_id: the Airflow connection (conn type ``aws``); ``None`` uses boto3's own
            configuration (environment, profiles, instance role).
        region_name: overrides the connection's region.
        verify, botocore_config: as :class:`AwsBaseHook`; with the connection's ``verify`` and
            ``config_kwargs`` extras they reach every client the smflow client makes
            (``botocore_config`` merged over smflow's retry defaults).
        role: default SageMaker execution role ARN for jobs and models. Against a custom
            endpoint it defaults to a placeholder role (smflow client); against AWS it is
            required by the calls that need one.
        default_bucket: bucket for code, data and outputs; default ``sagemaker-<region>-<account>``.

    The connection's ``endpoint_url`` extra (the global one, not per-service ``service_config``
    endpoints) is passed to the client, which uses it for every service.

    What has no operator is a client call in an ``@task``: ``record_set`` (training data of
    Amazon's built-in algorithms, made from a NumPy array in Python) returns a JSON-able channel
    that ``SageMakerTrainOperator(algorithm=..., inputs=...)`` takes by XCom::

        @task
        def rows() -> dict:
            import numpy as np
            array = np.random.default_rng(0).normal(size=(500, 16)).astype("float32")
            return SageMakerClientHook().get_client().record_set(array, algorithm="kmeans")

        SageMakerTrainOperator(task_id="train", algorithm="kmeans", hyperparameters={"k": 10}, inputs=rows())

    (``dags/kmeans_digits.py`` is the whole example.)
    """

    hook_name = "Amazon SageMaker (smflow)"

    def __init__(
        self,
        aws_conn_id: str | None = AwsBaseHook.default_conn_name,
        region_name: str | None = None,
        verify: bool | str | None = None,
        botocore_config: dict[str, Any] | None = None,
        *,
        role: str | None = None,
        default_bucket: str | None = None,
    ) -> None:
        super().__init__(
            aws_conn_id=aws_conn_id,
            region_name=region_name,
            verify=verify,
            config=botocore_config,
            client_type="sagemaker",
        )
        self.role = role
        self.default_bucket = default_bucket

    @property
    def endpoint_url(self) -> str | None:
        """The connection's ``endpoint_url`` extra (None: boto3's configuration, i.e. AWS or
        ``AWS_ENDPOINT_URL``)."""
        return self.conn_config.endpoint_url

    def get_client(
        self, *, log: Callable[[str], None] | None = None, backoff: Backoff | None = None
    ) -> SageMakerClient:
        """A SageMaker client on this connection's session.

        Args:
            log: receives training log lines and progress messages (e.g. ``self.log.info`` of
                the task, so they land in the task log).
            backoff: delays between Describe* polls (seconds); default ``smflow.waiting.DEFAULT_BACKOFF``.

        With a custom ``endpoint_url`` the connection's session is kept (its credentials,
        assume-role and other options); only what it lacks is filled in as
        ``smflow.session.make_session`` does without Airflow: the region defaults to
        ``us-east-1``, and smflow's dummy credentials are used only when the session resolves
        none (the local runtime accepts any).

        Raises:
            smflow.errors.ConfigurationError: no region in the connection, the hook or boto3's
                configuration while talking to AWS itself.
        """
        from smflow.client import SageMakerClient
        from smflow.errors import ConfigurationError
        from smflow.session import LOCAL_DEFAULT_REGION, configured_endpoint_url
        from smflow.waiting import DEFAULT_BACKOFF

        endpoint_url = self.endpoint_url
        session = self.get_session(region_name=self.region_name)
        region = session.region_name
        # The connection's endpoint_url extra, or one boto3's configuration resolves (AWS_ENDPOINT_URL,
        # the shared config file): a custom endpoint needs no region and no credentials.
        if configured_endpoint_url(endpoint_url, session=session):
            if region is None:
                region = LOCAL_DEFAULT_REGION
                session = self.get_session(region_name=region)
            if session.get_credentials() is None:
                session = None  # smflow.session.make_session adds its dummy credentials
        elif region is None:
            raise ConfigurationError(
                f"no AWS region for connection {self.aws_conn_id!r}: set region_name in its extras "
                "(or pass region_name to the operator)"
            )
        return SageMakerClient(
            session,
            region_name=region,
            endpoint_url=endpoint_url,
            role=self.role,
            default_bucket=self.default_bucket,
            log=log,
            backoff=backoff or DEFAULT_BACKOFF,
            botocore_config=self.conn_config.botocore_config,
            verify=self.verify,
        )
