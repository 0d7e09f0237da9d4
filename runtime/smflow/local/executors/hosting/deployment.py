"""Endpoint hosting: the model-server instances of all production variants of an endpoint config.

:class:`Deployment` (one endpoint) prepares each variant's model (:mod:`.models`), starts its
instances (:mod:`.instances`), routes each invocation to a variant (``TargetVariant``, else at
random by ``InitialVariantWeight``) and round-robin to one of its instances, over kept-alive HTTP
connections (no per-request process or connection setup). The instances' output goes to
CloudWatch Logs (``/aws/sagemaker/Endpoints/<EndpointName>``), as a SageMaker container's log does.

Instances heal as SageMaker's do (its endpoints replace an instance that fails its health checks):

- an instance whose process exits (``kill -9``, a crash, the out-of-memory killer) leaves the
  rotation at once: a watcher thread polls each process's exit status every
  :data:`WATCH_INTERVAL` seconds (a ``waitpid``, or a flag set by the fork server's exit
  report), and a request that finds its instance's connection refused or dropped takes it out
  itself; InvokeEndpoint's path stays one list index, with nothing added;
- such an instance is replaced by a new process of the same model, in the same folder, which
  joins the rotation once it answers ``/ping``; an instance whose process still runs but misses
  :data:`PING_FAILURES` ``/ping`` checks in a row (one every :data:`PING_EVERY` seconds) is
  stopped and replaced the same way;
- a request whose instance turned out unavailable goes to another instance of its variant, or
  waits (within the invocation timeout) for one; a request goes to each instance object at most
  once, so a payload that crashes model servers ends as an error instead of crashing them all;
- :attr:`Deployment.can_answer` is False while some variant has no instance in rotation (the
  backend then reports the endpoint ``SystemUpdating`` instead of ``InService``).
"""

from __future__ import annotations

import itertools
import logging
import os
import random
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from smflow.local.containers import contract
from smflow.local.support.aws import LocalAws
from smflow.local.executors.hosting.errors import InstanceUnavailableError, ModelServerError, VariantNotFoundError
from smflow.local.executors.hosting.instances import ModelServerProcess, start_servers
from smflow.local.executors.hosting.models import prepare_model
from smflow.local.support.cloudwatch import LogShipper, instance_id

ENDPOINT_LOG_GROUP = "/aws/sagemaker/Endpoints/{endpoint_name}"
WATCH_INTERVAL = 0.1  # seconds between two looks at whether each instance's process still runs
PING_EVERY = 5.0  # seconds between two /ping health checks of each instance
PING_FAILURES = 3  # /ping checks failed in a row that take a running instance out (a busy model may miss one)
REPLACE_TIMEOUT = 120.0  # seconds for a replacement instance to answer /ping
REPLACE_RETRY_DELAYS = (0.5, 1.0, 2.0, 5.0, 10.0)  # seconds between failed replacements (then 10 s)

logger = logging.getLogger(__name__)


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
    # The instances in rotation. Replaced as a whole (never changed in place) under the
    # Deployment's lock, so InvokeEndpoint reads it without a lock.
    healthy: tuple[ModelServerProcess, ...] = ()


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
        self._changed = threading.Condition(self._lock)  # an instance joined the rotation, or stop()
        self._stopped = threading.Event()
        self._replacing: set[ModelServerProcess] = set()  # starting replacements (stopped by stop())
        self._pending = 0  # replacements under way
        self._logs: LogShipper | None = None
        self.replacements = 0  # instances replaced since start (observability, tests)

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
            for variant in self._variants.values():
                variant.healthy = tuple(variant.servers)
            self._started = True
        threading.Thread(target=self._watch, name=f"endpoint-watch-{self.endpoint_name}", daemon=True).start()

    @property
    def can_answer(self) -> bool:
        """True while started and every variant has at least one instance in rotation."""
        return self._started and all(variant.healthy for variant in self._variants.values())

    # -- healing ------------------------------------------------------------------------------

    def _watch(self) -> None:
        """Take instances whose process has exited out of rotation (every WATCH_INTERVAL s), and
        those that stop answering /ping (every PING_EVERY s)."""
        next_ping = time.monotonic() + PING_EVERY
        missed: dict[int, int] = {}  # id(server) -> /ping checks failed in a row
        while not self._stopped.wait(WATCH_INTERVAL):
            ping = time.monotonic() >= next_ping
            if ping:
                next_ping = time.monotonic() + PING_EVERY
            for variant in list(self._variants.values()):
                for server in variant.healthy:
                    if not server.is_alive():
                        self._take_out(variant, server)
                    elif ping:
                        missed[id(server)] = 0 if server.ping() else missed.get(id(server), 0) + 1
                        if missed[id(server)] >= PING_FAILURES:
                            self._take_out(variant, server)

    def _take_out(self, variant: _Variant, server: ModelServerProcess) -> None:
        """Remove ``server`` from rotation (once) and replace it in the background."""
        with self._lock:
            if not self._started or server not in variant.healthy:
                return
            variant.healthy = tuple(other for other in variant.healthy if other is not server)
            if server.retired:  # the runtime is stopping its model servers
                self._changed.notify_all()
                return
            self._pending += 1
        logger.warning("endpoint %s: the model server of %s stopped answering (exit code %s); replacing it",
                       self.endpoint_name, server.label, server._process.poll() if server._process else None)
        threading.Thread(target=self._replace, args=(variant, server), daemon=True,
                         name=f"endpoint-replace-{self.endpoint_name}").start()

    def _replace(self, variant: _Variant, old: ModelServerProcess) -> None:
        try:
            self._replace_until_done(variant, old)
        finally:
            with self._lock:
                self._pending -= 1
                self._changed.notify_all()

    def _replace_until_done(self, variant: _Variant, old: ModelServerProcess) -> None:
        old.stop()
        attempt = 0
        while not self._stopped.is_set():
            new = ModelServerProcess(old.prepared, old.instance_dir, self._aws, old.label)
            with self._lock:
                if not self._started:
                    return
                self._replacing.add(new)
            try:
                new.spawn(time.monotonic() + REPLACE_TIMEOUT)
                new.wait_ready(time.monotonic() + REPLACE_TIMEOUT)
            except ModelServerError as exc:
                new.stop()
                with self._lock:
                    self._replacing.discard(new)
                delay = REPLACE_RETRY_DELAYS[min(attempt, len(REPLACE_RETRY_DELAYS) - 1)]
                attempt += 1
                logger.warning("endpoint %s: could not replace %s (retrying in %.1f s): %s",
                               self.endpoint_name, old.label, delay, exc)
                self._stopped.wait(delay)
                continue
            with self._lock:
                self._replacing.discard(new)
                if self._started:
                    variant.servers = [new if server is old else server for server in variant.servers]
                    variant.healthy = (*variant.healthy, new)
                    self.replacements += 1
                    self._changed.notify_all()
                    return
            new.stop()
            return

    def _wait_for_instance(self, variant: _Variant, tried: set[int], deadline: float) -> ModelServerProcess:
        """An instance of ``variant`` in rotation that this request has not tried yet; waits for one
        until ``deadline`` (a ``time.monotonic()`` value). A request tries at most
        ``instance_count + 1`` instances.

        Raises:
            InstanceUnavailableError: none before the deadline, or every try failed.
            ModelServerError: the endpoint stopped.
        """
        with self._lock:
            while True:
                if not self._started:
                    raise ModelServerError(f"Endpoint {self.endpoint_name!r} is not serving")
                fresh = [server for server in variant.healthy if id(server) not in tried]
                if fresh:
                    return fresh[next(variant.counter) % len(fresh)]
                if not variant.healthy and not self._pending:
                    raise InstanceUnavailableError(
                        f"The model servers of variant {variant.name!r} of endpoint "
                        f"{self.endpoint_name!r} are not running"
                    )
                remaining = deadline - time.monotonic()
                if remaining <= 0 or len(tried) > variant.instance_count:
                    raise InstanceUnavailableError(
                        f"No model server of variant {variant.name!r} of endpoint {self.endpoint_name!r} "
                        f"could answer ({len(tried)} tried, within {contract.INVOCATION_TIMEOUT:.0f} s)"
                    )
                self._changed.wait(min(remaining, 1.0))

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
        healthy = variant.healthy
        if healthy:
            server = healthy[next(variant.counter) % len(healthy)]
            try:
                status, data, response_type = server.invoke(body, content_type, accept, custom_attributes)
            except InstanceUnavailableError:
                status, data, response_type = self._invoke_elsewhere(
                    variant, server, body, content_type, accept, custom_attributes)
        else:
            status, data, response_type = self._invoke_elsewhere(
                variant, None, body, content_type, accept, custom_attributes)
        return InvocationResult(
            status=status, body=data, content_type=response_type, variant_name=variant.name
        )

    def _invoke_elsewhere(self, variant: _Variant, failed: ModelServerProcess | None, body: bytes,
                          content_type: str | None, accept: str | None,
                          custom_attributes: str | None) -> tuple[int, bytes, str]:
        """The slow path: ``failed`` (if any) is unavailable; send the request to another instance
        in rotation, or wait for one, within the invocation timeout."""
        deadline = time.monotonic() + contract.INVOCATION_TIMEOUT
        tried: set[int] = set()
        while True:
            if failed is not None:
                tried.add(id(failed))
                self._take_out(variant, failed)
            server = self._wait_for_instance(variant, tried, deadline)
            try:
                return server.invoke(body, content_type, accept, custom_attributes,
                                     timeout=max(deadline - time.monotonic(), 0.001))
            except InstanceUnavailableError:
                failed = server

    def stop(self) -> None:
        """Stop every instance; idempotent. No process is left running afterwards."""
        with self._lock:
            self._started = False
            self._stopped.set()
            replacing = list(self._replacing)
            self._changed.notify_all()
        for server in [*self.servers, *replacing]:
            server.stop()
        if self._logs is not None:
            self._logs.close()
