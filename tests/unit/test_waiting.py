import pytest
from botocore.exceptions import ClientError

from smflow import states
from smflow.errors import ResourceFailedError, WaitTimeoutError
from smflow.waiting import Backoff, wait_for


class FakeClock:
    def __init__(self):
        self.now = 0.0
        self.sleeps = []

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds

    def __call__(self):
        return self.now


def describer(statuses):
    calls = []

    def describe():
        status = statuses[min(len(calls), len(statuses) - 1)]
        calls.append(status)
        if isinstance(status, Exception):
            raise status
        return {"TrainingJobName": "j", "TrainingJobStatus": status, "FailureReason": "bad data"}

    return describe, calls


def throttle():
    return ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "DescribeTrainingJob")


def test_backoff_grows_and_caps():
    delays = Backoff(initial=0.2, factor=1.2, maximum=30).delays()
    first = [next(delays) for _ in range(40)]
    assert first[0] == 0.2 and first[1] == pytest.approx(0.24)
    assert max(first) == 30 and first == sorted(first)


def test_default_backoff_costs_at_most_150_describe_calls_per_hour():
    elapsed, calls = 0.0, 0
    for delay in Backoff().delays():
        if elapsed > 3600:
            break
        elapsed += delay
        calls += 1
    assert calls <= 150


def test_waits_until_completed_with_growing_delays():
    clock = FakeClock()
    describe, calls = describer(["InProgress"] * 5 + ["Completed"])
    result = wait_for(describe, states.TRAINING_JOB, sleep=clock.sleep, clock=clock)
    assert result["TrainingJobStatus"] == "Completed"
    assert len(calls) == 6
    assert clock.sleeps == sorted(clock.sleeps) and clock.sleeps[0] == 0.2


def test_failure_raises_with_reason():
    clock = FakeClock()
    describe, _ = describer(["InProgress", "Failed"])
    with pytest.raises(ResourceFailedError, match="bad data"):
        wait_for(describe, states.TRAINING_JOB, sleep=clock.sleep, clock=clock)


def test_throttling_is_survived():
    clock = FakeClock()
    describe, calls = describer([throttle(), throttle(), "Completed"])
    assert wait_for(describe, states.TRAINING_JOB, sleep=clock.sleep, clock=clock)["TrainingJobStatus"] == "Completed"
    assert len(calls) == 3


def test_other_client_errors_propagate():
    error = ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "DescribeTrainingJob")
    describe, _ = describer([error])
    with pytest.raises(ClientError, match="AccessDenied"):
        wait_for(describe, states.TRAINING_JOB, sleep=lambda s: None)


def test_timeout_raises_and_is_bounded():
    clock = FakeClock()
    describe, _ = describer(["InProgress"])
    with pytest.raises(WaitTimeoutError, match="still InProgress after 10 s"):
        wait_for(describe, states.TRAINING_JOB, timeout=10, sleep=clock.sleep, clock=clock)
    assert clock.now <= 10.0 + 1e-9


def test_ticks_run_between_polls_and_after_the_end():
    clock = FakeClock()
    describe, _ = describer(["InProgress", "InProgress", "Completed"])
    ticks = []
    wait_for(describe, states.TRAINING_JOB, sleep=clock.sleep, clock=clock,
             on_tick=lambda: ticks.append(clock.now), tick_interval=0.1)
    assert len(ticks) >= 3
    assert ticks[-1] == clock.now  # a last tick once the job is terminal: the final log lines


def test_async_wait_does_not_block_the_event_loop():
    import asyncio
    import time as time_module

    from smflow.waiting import async_wait_for

    statuses = iter(["InProgress", "InProgress", "Completed"])

    def slow_describe():
        time_module.sleep(0.05)  # a blocking boto3 call
        return {"TrainingJobName": "j", "TrainingJobStatus": next(statuses)}

    async def main():
        beats = 0

        async def heartbeat():
            nonlocal beats
            while True:
                beats += 1
                await asyncio.sleep(0.005)

        task = asyncio.create_task(heartbeat())
        result = await async_wait_for(slow_describe, states.TRAINING_JOB, backoff=Backoff.fixed(0.01))
        task.cancel()
        return result, beats

    result, beats = asyncio.run(main())
    assert result["TrainingJobStatus"] == "Completed"
    assert beats >= 10  # the loop kept running while describe() blocked in a thread


def test_async_wait_raises_failures_and_timeouts():
    import asyncio

    from smflow.waiting import async_wait_for

    def failed():
        return {"TrainingJobName": "j", "TrainingJobStatus": "Failed", "FailureReason": "OOM"}

    with pytest.raises(ResourceFailedError, match="OOM"):
        asyncio.run(async_wait_for(failed, states.TRAINING_JOB))

    def running():
        return {"TrainingJobName": "j", "TrainingJobStatus": "InProgress"}

    with pytest.raises(WaitTimeoutError):
        asyncio.run(async_wait_for(running, states.TRAINING_JOB, timeout=0.05, backoff=Backoff.fixed(0.01)))
