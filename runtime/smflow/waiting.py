"""Waiting for SageMaker resources: polling with backoff, bounded by a timeout, throttle-proof.

The delay between Describe* calls starts at ``initial`` seconds and grows by ``factor`` up to
``maximum`` seconds. With the defaults (0.2 s, x1.2, 30 s) a job that ends after t seconds is
seen about t/12 seconds later on average while t is small, and an hour of waiting costs about
145 Describe* calls (Airflow's Amazon provider polls every 30 s with no backoff, so short jobs
wait up to 30 s for nothing).

Throttling errors (``ThrottlingException`` and its cousins) are not failures: the poll is
skipped and the next one comes after the next, longer delay.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from botocore.exceptions import ClientError

from smflow.errors import WaitTimeoutError
from smflow.states import Outcome, ResourceKind

THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "SlowDown",
    }
)


@dataclass(frozen=True)
class Backoff:
    """Delays between polls, in seconds: ``initial``, ``initial*factor``, ... capped at ``maximum``."""

    initial: float = 0.2
    factor: float = 1.2
    maximum: float = 30.0

    def delays(self) -> Iterator[float]:
        delay = self.initial
        while True:
            yield delay
            delay = min(self.maximum, delay * self.factor)

    @classmethod
    def fixed(cls, interval: float) -> "Backoff":
        """No growth: every poll ``interval`` seconds apart (still capped by nothing else)."""
        return cls(initial=interval, factor=1.0, maximum=interval)


DEFAULT_BACKOFF = Backoff()


def is_throttling(error: BaseException) -> bool:
    return isinstance(error, ClientError) and (
        error.response.get("Error", {}).get("Code") in THROTTLING_CODES
    )


def wait_for(
    describe: Callable[[], dict],
    kind: ResourceKind,
    *,
    timeout: float | None = None,
    backoff: Backoff = DEFAULT_BACKOFF,
    on_tick: Callable[[], None] | None = None,
    tick_interval: float = 2.0,
    check: Callable[[dict], Outcome] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> dict:
    """Poll ``describe()`` until the resource is terminal; return its last description.

    Args:
        describe: returns the Describe* payload (one API call).
        kind: the state table of the resource (``smflow.states.TRAINING_JOB`` ...).
        timeout: seconds to wait at most; None waits for ever.
        backoff: delays between Describe* calls.
        on_tick: called between polls at most every ``tick_interval`` seconds (log streaming),
            and once more when the resource is terminal.
        check: outcome of a description; default ``kind.check``.

    Raises:
        ResourceFailedError: the resource ended Failed/Stopped (carries FailureReason).
        WaitTimeoutError: ``timeout`` seconds passed; the resource is left as it is.
        botocore.exceptions.ClientError: any non-throttling API error.
    """
    check = check or kind.check
    deadline = None if timeout is None else clock() + timeout
    delays = backoff.delays()
    last: dict | None = None
    while True:
        try:
            last = describe()
        except ClientError as error:
            if not is_throttling(error):
                raise
        else:
            try:
                outcome = check(last)
            finally:
                if on_tick is not None and kind.outcome(last) is not Outcome.RUNNING:
                    on_tick()
            if outcome is Outcome.SUCCEEDED:
                return last
        delay = next(delays)
        if deadline is not None:
            remaining = deadline - clock()
            if remaining <= 0:
                name = kind.name(last) if last else "?"
                status = kind.status(last) if last else "unknown"
                raise WaitTimeoutError(kind.kind, name, status, timeout)
            delay = min(delay, remaining)
        _sleep_with_ticks(delay, on_tick, tick_interval, sleep, clock)


def _sleep_with_ticks(delay, on_tick, tick_interval, sleep, clock) -> None:
    if on_tick is None:
        sleep(delay)
        return
    end = clock() + delay
    while True:
        on_tick()
        remaining = end - clock()
        if remaining <= 0:
            return
        sleep(min(tick_interval, remaining))


async def async_wait_for(
    describe: Callable[[], dict],
    kind: ResourceKind,
    *,
    timeout: float | None = None,
    backoff: Backoff = DEFAULT_BACKOFF,
    on_tick: Callable[[], None] | None = None,
    tick_interval: float = 2.0,
    check: Callable[[dict], Outcome] | None = None,
) -> dict:
    """``wait_for`` for event loops (Airflow triggers, Prefect async tasks).

    The blocking boto3 calls (``describe``, ``on_tick``) run in worker threads
    (``asyncio.to_thread``) and the delays are ``asyncio.sleep``, so the event loop is never
    blocked. Same arguments, result and errors as :func:`wait_for`.
    """
    import asyncio

    loop = asyncio.get_running_loop()
    no_ticks = on_tick is None

    async def tick() -> None:
        if on_tick is not None:
            await asyncio.to_thread(on_tick)

    async def sleep_with_ticks(delay: float) -> None:
        if no_ticks:
            await asyncio.sleep(delay)
            return
        end = loop.time() + delay
        while True:
            await tick()
            remaining = end - loop.time()
            if remaining <= 0:
                return
            await asyncio.sleep(min(tick_interval, remaining))

    check = check or kind.check
    deadline = None if timeout is None else loop.time() + timeout
    delays = backoff.delays()
    last: dict | None = None
    while True:
        try:
            last = await asyncio.to_thread(describe)
        except ClientError as error:
            if not is_throttling(error):
                raise
        else:
            try:
                outcome = check(last)
            finally:
                if kind.outcome(last) is not Outcome.RUNNING:
                    await tick()
            if outcome is Outcome.SUCCEEDED:
                return last
        delay = next(delays)
        if deadline is not None:
            remaining = deadline - loop.time()
            if remaining <= 0:
                name = kind.name(last) if last else "?"
                status = kind.status(last) if last else "unknown"
                raise WaitTimeoutError(kind.kind, name, status, timeout)
            delay = min(delay, remaining)
        await sleep_with_ticks(delay)
