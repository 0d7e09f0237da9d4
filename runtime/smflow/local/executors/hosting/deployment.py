"""Endpoint hosting: the model-server instances of all production variants of an endpoint config.

:class:`Deployment` (one endpoint) prepares each variant's model (:mod:`.models`), starts its
instances (:mod:`.instances`), routes each invocation to a variant (``TargetVariant``, else at
random by ``InitialVariantWeight``) and round-robin to one of its instances, over kept-alive HTTP
connections (no per-request process or connection setup). The instances' output goes to
CloudWatch Logs (``/aws/sagemaker/Endpoints/<EndpointName>``), as a SageMaker container's log does.
"""

from __future__ import annotations

import itertools
import os
import random
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from smflow.local.support.aws import LocalAws
from smflow.local.executors.hosting.errors import ModelServerError, VariantNotFoundError
from smflow.local.executors.hosting.instances import ModelServerProcess, start_servers
from smflow.local.executors.hosting.models import prepare_model
from smflow.local.support.cloudwatch import LogShipper, instance_id

ENDPOINT_LOG_GROUP = "/aws/sagemaker/Endpoints/{endpoint_name}"


@dataclass
class InvocationResult:
    """What a model server answered to ``POST /invocations``.

    ``status`` is the HTTP status (200 on success; 4xx/5xx are the model's errors, which
    InvokeEndpoint reports as ModelError with this OriginalStatusCode); ``body`` the raw bytes;
    ``content_type`` the response Content-Type; ``variant_name`` the variant that answered
    (InvokeEndpoint's InvokedProductionVariant).
    """

    status: int
    body: bytes
    content_type: str
    variant_name: str


@dataclass
class _Variant:
    name: str
    weight: float
    instance_count: int
    production_variant: dict
    model: dict
    servers: list[ModelServerProcess]
    counter: itertools.count


class Deployment:
    """All instances of all production variants of one endpoint config.

    ``variants`` is a list of (ProductionVariant dict from the endpoint config, DescribeModel
    dict of its model). Files go under ``work_dir/<VariantName>/`` (model, code, packages,
    ``instance-<n>/output.log``); the servers' output also goes to CloudWatch Logs, group
    ``/aws/sagemaker/Endpoints/<EndpointName>``, stream ``<VariantName>/<instance-id>``.
    """

    def __init__(
        self,
        endpoint_name: str,
        variants: list[tuple[dict, dict]],
        work_dir: str | os.PathLike,
        aws: LocalAws,
    ):
        if not variants:
            raise ModelServerError(f"Endpoint {endpoint_name!r} has no production variants")
        self.endpoint_name = endpoint_name
        self.work_dir = Path(work_dir)
        self._aws = aws
        self._variants: dict[str, _Variant] = {}
        for production_variant, model in variants:
            name = production_variant.get("VariantName") or "AllTraffic"
            if "ServerlessConfig" in production_variant:
                count = 1
            else:
                count = int(production_variant.get("InitialInstanceCount", 1) or 1)
            if count < 1:
                raise ModelServerError(
                    f"Variant {name!r} of endpoint {endpoint_name!r} has InitialInstanceCount "
                    f"{count}: use 1 or more"
                )
            self._variants[name] = _Variant(
                name=name,
                weight=float(production_variant.get("InitialVariantWeight", 1.0)),
                instance_count=count,
                production_variant=production_variant,
                model=model,
                servers=[],
                counter=itertools.count(),
            )
        self._names = list(self._variants)
        self._weights = [max(variant.weight, 0.0) for variant in self._variants.values()]
        if sum(self._weights) <= 0:
            self._weights = [1.0] * len(self._weights)
        self._random = random.Random()
        self._started = False
        self._lock = threading.Lock()
        self._logs: LogShipper | None = None

    @property
    def variant_names(self) -> list[str]:
        return list(self._names)

    @property
    def servers(self) -> list[ModelServerProcess]:
        """Every model-server process, variant by variant."""
        return [server for variant in self._variants.values() for server in variant.servers]

    def start(self, timeout: float = 120.0) -> None:
        """Prepare each variant's model and start all instances; blocks until all answer /ping.

        ``timeout`` (seconds) bounds the whole start, downloads and pip installs included.

        Raises:
            ModelServerError: a variant's model cannot be prepared or an instance fails to
                start; the message names the variant. No process is left running.
        """
        if self._started:
            return
        deadline = time.monotonic() + timeout
        servers: list[ModelServerProcess] = []
        for variant in self._variants.values():
            variant_dir = self.work_dir / variant.name
            try:
                prepared = prepare_model(
                    variant.model,
                    variant_dir,
                    self._aws,
                    install_timeout=max(deadline - time.monotonic(), 1.0),
                )
            except ModelServerError as exc:
                raise ModelServerError(f"Variant {variant.name!r}: {exc}") from None
            variant.servers = [
                ModelServerProcess(
                    prepared,
                    variant_dir / f"instance-{index + 1}",
                    self._aws,
                    f"variant {variant.name!r} instance {index + 1}",
                )
                for index in range(variant.instance_count)
            ]
            servers.extend(variant.servers)
        logs = LogShipper(
            self._aws.client("logs"), ENDPOINT_LOG_GROUP.format(endpoint_name=self.endpoint_name)
        )
        for variant in self._variants.values():
            for server in variant.servers:
                logs.follow(server.log_path, f"{variant.name}/{instance_id()}")
        logs.start()
        self._logs = logs
        try:
            start_servers(servers, max(deadline - time.monotonic(), 1.0))
        except BaseException:
            logs.close()  # the failed start's output (e.g. model_fn's traceback) reaches the logs
            raise
        with self._lock:
            self._started = True

    def _pick_variant(self, target_variant: str | None) -> _Variant:
        if target_variant:
            variant = self._variants.get(target_variant)
            if variant is None:
                raise VariantNotFoundError(
                    f"TargetVariant {target_variant!r} is not a production variant of endpoint "
                    f"{self.endpoint_name!r}: use one of {', '.join(self._names)}"
                )
            return variant
        if len(self._names) == 1:
            return self._variants[self._names[0]]
        return self._variants[self._random.choices(self._names, self._weights)[0]]

    def invoke(
        self,
        body: bytes,
        content_type: str | None,
        accept: str | None,
        target_variant: str | None = None,
        custom_attributes: str | None = None,
    ) -> InvocationResult:
        """Send one InvokeEndpoint request to an instance (SageMaker Runtime InvokeEndpoint).

        Returns the model server's answer, whatever its status.
        Raises:
            VariantNotFoundError: ``target_variant`` is not a variant of this endpoint.
            ModelServerError: the endpoint is not running, or the instance is unreachable.
        """
        if not self._started:
            raise ModelServerError(f"Endpoint {self.endpoint_name!r} is not serving")
        variant = self._pick_variant(target_variant)
        server = variant.servers[next(variant.counter) % len(variant.servers)]
        status, data, response_type = server.invoke(body, content_type, accept, custom_attributes)
        return InvocationResult(
            status=status, body=data, content_type=response_type, variant_name=variant.name
        )

    def stop(self) -> None:
        """Stop every instance; idempotent. No process is left running afterwards."""
        with self._lock:
            self._started = False
        for server in self.servers:
            server.stop()
        if self._logs is not None:
            self._logs.close()
