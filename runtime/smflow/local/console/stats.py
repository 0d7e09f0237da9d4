"""Invocation counters of the local endpoints, for the console's endpoint pages.

What SageMaker publishes to CloudWatch per endpoint and variant (``Invocations``,
``ModelLatency``, ``Invocation4XXErrors``/``5XXErrors``, and the model's errors in the endpoint's
log group), kept in memory since the runtime started: the number of InvokeEndpoint calls that
reached a model server, the latency of each (seconds from the request to the model server's
answer, recent ones kept to give percentiles), and the last model errors (``ModelError``: the
model server answered a 4xx/5xx, or could not be reached) with their time and message.

Recorded by wrapping :meth:`SageMakerBackend.invoke_endpoint` (:meth:`InvocationStats.wrap`,
done by :mod:`smflow.local.server`), so the hot path pays one ``perf_counter`` pair and a lock.
Requests refused before a model server is asked (an unknown endpoint or variant) are not
counted, as on AWS, where they never reach the endpoint's metrics.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

RECENT_LATENCIES = 1000  # latencies kept per endpoint for the percentiles
RECENT_ERRORS = 20  # model errors kept per endpoint


@dataclass
class _Counters:
    invocations: int = 0
    errors: int = 0
    total_seconds: float = 0.0
    max_seconds: float = 0.0
    last_time: float | None = None
    latencies: deque = field(default_factory=lambda: deque(maxlen=RECENT_LATENCIES))
    recent_errors: deque = field(default_factory=lambda: deque(maxlen=RECENT_ERRORS))
    variants: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class EndpointStats:
    """A snapshot: counts; latencies in milliseconds (None before the first invocation);
    ``recent_errors`` newest first as ``(epoch seconds, status code or None, message)``;
    ``variants`` maps a variant name to its invocations."""

    invocations: int
    errors: int
    mean_ms: float | None
    p50_ms: float | None
    p99_ms: float | None
    max_ms: float | None
    last_time: float | None
    recent_errors: tuple[tuple[float, int | None, str], ...]
    variants: dict[str, int]


class InvocationStats:
    """Thread-safe counters per endpoint name (as given to InvokeEndpoint: names are
    case-sensitive there)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._endpoints: dict[str, _Counters] = {}

    def record(self, endpoint: str, variant: str | None, seconds: float,
               error: tuple[int | None, str] | None = None) -> None:
        """One invocation that reached a model server: its latency in seconds; ``error`` is
        ``(OriginalStatusCode or None, message)`` when it ended in a ModelError."""
        now = time.time()
        with self._lock:
            counters = self._endpoints.get(endpoint)
            if counters is None:
                counters = self._endpoints[endpoint] = _Counters()
            counters.invocations += 1
            counters.total_seconds += seconds
            counters.max_seconds = max(counters.max_seconds, seconds)
            counters.last_time = now
            counters.latencies.append(seconds)
            if variant:
                counters.variants[variant] = counters.variants.get(variant, 0) + 1
            if error is not None:
                counters.errors += 1
                counters.recent_errors.append((now, error[0], error[1]))

    def snapshot(self, endpoint: str) -> EndpointStats:
        with self._lock:
            counters = self._endpoints.get(endpoint) or _Counters()
            latencies = sorted(counters.latencies)
            count = counters.invocations
            result = EndpointStats(
                invocations=count,
                errors=counters.errors,
                mean_ms=counters.total_seconds / count * 1000 if count else None,
                p50_ms=_percentile(latencies, 0.50),
                p99_ms=_percentile(latencies, 0.99),
                max_ms=counters.max_seconds * 1000 if count else None,
                last_time=counters.last_time,
                recent_errors=tuple(reversed(counters.recent_errors)),
                variants=dict(counters.variants),
            )
        return result

    def forget(self, endpoint: str) -> None:
        """Drop an endpoint's counters (it was deleted)."""
        with self._lock:
            self._endpoints.pop(endpoint, None)

    def wrap(self, invoke: Callable[..., Any]) -> Callable[..., Any]:
        """``invoke`` (``SageMakerBackend.invoke_endpoint``'s signature) recording each call
        that reached a model server: a result, or a ModelError."""
        from smflow.local.services.runtime.exceptions import ModelError

        def recorded(endpoint_name: str, body: bytes, *args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                result = invoke(endpoint_name, body, *args, **kwargs)
            except ModelError as error:
                fields = getattr(error, "fields", {}) or {}
                self.record(endpoint_name, kwargs.get("target_variant"), time.perf_counter() - started,
                            (fields.get("OriginalStatusCode"), error.message))
                raise
            self.record(endpoint_name, getattr(result, "variant_name", None), time.perf_counter() - started)
            return result

        recorded.__wrapped__ = invoke  # type: ignore[attr-defined]
        return recorded


def _percentile(ordered: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile of sorted seconds, in milliseconds."""
    if not ordered:
        return None
    index = min(len(ordered) - 1, max(0, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[index] * 1000
