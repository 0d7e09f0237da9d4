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


@dataclass(frozen=True)
class Deadline:
    """One time limit shared by the waits of one call (e.g. ``deploy``: an endpoint settling,
    then InService), so that a call's ``timeout`` bounds the call, not each of its waits."""

    at: float | None  # time.monotonic() value; None: no limit
    clock: Callable[[], float] = time.monotonic

    @classmethod
    def after(cls, timeout: float | None, clock: Callable[[], float] = time.monotonic) -> Deadline:
        """The deadline ``timeout`` seconds from now (None: never)."""
        return cls(None if timeout is None else clock() + timeout, clock)

    def remaining(self) -> float | None:
        """Seconds left (never negative), or None without a limit: the ``timeout`` of the next wait."""
        return None if self.at is None else max(0.0, self.at - self.clock())


def is_throttling(error: BaseException) -> bool:
    return isinstance(error, ClientError) and (
        error.response.get("Error", {}).get("Code") in THROTTLING_CODES
    )


class _Describe:
    """What the polling core yields when it wants a fresh description."""


_DESCRIBE = _Describe()


def _poll_steps(kind: ResourceKind, check, timeout: float | None, backoff: Backoff, now: Callable[[], float]):
    """The waiting algorithm, free of I/O, shared by the sync and async drivers.

    A generator: it yields ``_DESCRIBE`` to ask for a description (the driver sends it back, or
    None when the call was throttled) and a float to ask for a pause of that many seconds; it
    returns the final description, or raises ResourceFailedError / WaitTimeoutError.
    """
    deadline = None if timeout is None else now() + timeout
    delays = backoff.delays()
    last: dict | None = None
    while True:
        described = yield _DESCRIBE
        if described is not None:
            last = described
            if check(last) is Outcome.SUCCEEDED:
                return last
        delay = next(delays)
        if deadline is not None:
            remaining = deadline - now()
            if remaining <= 0:
                name = kind.name(last) if last else "?"
                status = kind.status(last) if last else "unknown"
                raise WaitTimeoutError(kind.kind, name, status, timeout)
            delay = min(delay, remaining)
        yield delay


def _is_terminal(kind: ResourceKind, description: dict) -> bool:
    try:
        return kind.outcome(description) is not Outcome.RUNNING
    except Exception:  # an unknown status is terminal too: check() reports it
        return True


def _describe_unless_throttled(describe: Callable[[], dict]) -> dict | None:
    try:
        return describe()
    except ClientError as error:
        if not is_throttling(error):
            raise
        return None


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
    steps = _poll_steps(kind, check or kind.check, timeout, backoff, clock)
    try:
        request = next(steps)
        while True:
            if request is _DESCRIBE:
                described = _describe_unless_throttled(describe)
                if described is not None and on_tick is not None and _is_terminal(kind, described):
                    on_tick()  # the last log lines, before success or failure is reported
                request = steps.send(described)
            else:
                _sleep_with_ticks(request, on_tick, tick_interval, sleep, clock)
                request = next(steps)
    except StopIteration as finished:
        return finished.value


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

    async def sleep_with_ticks(delay: float) -> None:
        if on_tick is None:
            await asyncio.sleep(delay)
            return
        end = loop.time() + delay
        while True:
            await asyncio.to_thread(on_tick)
            remaining = end - loop.time()
            if remaining <= 0:
                return
            await asyncio.sleep(min(tick_interval, remaining))

    steps = _poll_steps(kind, check or kind.check, timeout, backoff, loop.time)
    try:
        request = next(steps)
        while True:
            if request is _DESCRIBE:
                described = await asyncio.to_thread(_describe_unless_throttled, describe)
                if described is not None and on_tick is not None and _is_terminal(kind, described):
                    await asyncio.to_thread(on_tick)
                request = steps.send(described)
            else:
                await sleep_with_ticks(request)
                request = next(steps)
    except StopIteration as finished:
        return finished.value
