"""The per-instance concurrency cap of model servers (smflow.local.executors.hosting.instances): how many requests an
instance serves at once (``SAGEMAKER_MODEL_SERVER_WORKERS``), and the strict-FIFO gate that
admits the others in arrival order.

Threads are started one at a time and each is known to be queued (``len(gate._waiting)``)
before the next one starts, so the arrival order is the order of the test.
"""

from __future__ import annotations

import threading
import time

import pytest

from smflow.local.executors.hosting import instances
from smflow.local.executors.hosting.instances import ModelServerError, _FifoGate, model_server_workers
from smflow.local.support import fifo

WAIT = 10.0  # seconds: a bound on waits that should end at once (never reached when passing)


def _wait_until(condition, what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.001)


class Waiter:
    """A thread that acquires the gate, records its admission, holds its place until told to
    leave, then releases it."""

    def __init__(self, gate: _FifoGate, name, admitted: list, timeout: float = WAIT, hold: bool = True):
        self.gate = gate
        self.name = name
        self.admitted = admitted
        self.timeout = timeout
        self.hold = hold
        self.result: bool | None = None
        self.entered = threading.Event()
        self.leave = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        self.result = self.gate.acquire(self.timeout)
        if not self.result:
            return
        self.admitted.append(self.name)
        self.entered.set()
        if self.hold:
            self.leave.wait(WAIT)
        self.gate.release()

    def start_queued(self) -> Waiter:
        """Start, and return once the thread waits in the gate's queue."""
        queued = len(self.gate._waiting)
        self.thread.start()
        _wait_until(lambda: len(self.gate._waiting) == queued + 1, f"{self.name} is queued")
        return self

    def join(self) -> None:
        self.thread.join(WAIT)
        assert not self.thread.is_alive()


# ---------------------------------------------------------------------------- model_server_workers
def test_workers_default_to_the_number_of_cpus(monkeypatch):
    monkeypatch.setattr(instances.os, "cpu_count", lambda: 3)
    assert model_server_workers({}, "m") == 3
    assert model_server_workers({"SAGEMAKER_MODEL_SERVER_WORKERS": ""}, "m") == 3
    assert model_server_workers({"SAGEMAKER_MODEL_SERVER_WORKERS": "  "}, "m") == 3
    monkeypatch.setattr(instances.os, "cpu_count", lambda: None)  # unknown: one at a time
    assert model_server_workers({}, "m") == 1


@pytest.mark.parametrize("value, workers", [("1", 1), ("4", 4), (" 8 ", 8), ("64", 64)])
def test_workers_come_from_the_container_environment(value, workers):
    assert model_server_workers({"SAGEMAKER_MODEL_SERVER_WORKERS": value, "OTHER": "x"}, "m") == workers


@pytest.mark.parametrize("value", ["0", "-1", "abc", "1.5", "2 workers", "00"])
def test_invalid_workers_name_the_variable_the_model_and_the_fix(value):
    with pytest.raises(ModelServerError) as failure:
        model_server_workers({"SAGEMAKER_MODEL_SERVER_WORKERS": value}, "my-model")
    message = str(failure.value)
    assert "SAGEMAKER_MODEL_SERVER_WORKERS" in message
    assert repr(value.strip()) in message and "'my-model'" in message
    assert "positive integer" in message and "container Environment" in message


def test_a_superscript_digit_is_an_invalid_workers_value():
    with pytest.raises(ModelServerError, match="SAGEMAKER_MODEL_SERVER_WORKERS"):
        model_server_workers({"SAGEMAKER_MODEL_SERVER_WORKERS": "\u00b2"}, "m")


# ---------------------------------------------------------------------------------- _FifoGate
def test_at_most_size_holders_at_once():
    gate = _FifoGate(2)
    assert gate.acquire(0) and gate.acquire(0)
    assert gate.acquire(0) is False
    assert gate.acquire(0.05) is False
    gate.release()
    assert gate.acquire(0) is True
    assert gate.acquire(0) is False


def test_release_without_waiters_frees_a_place():
    gate = _FifoGate(1)
    assert gate.acquire(0)
    gate.release()
    assert gate.acquire(0)  # the freed place
    assert not gate.acquire(0)  # and only that one


def test_waiters_are_admitted_strictly_in_arrival_order():
    gate = _FifoGate(1)
    admitted: list = []
    assert gate.acquire(0)  # the test holds the only place
    waiters = [Waiter(gate, index, admitted, hold=False).start_queued() for index in range(6)]
    gate.release()  # each waiter, once in, releases to the next one
    for waiter in waiters:
        waiter.join()
    assert admitted == list(range(6))
    assert all(waiter.result for waiter in waiters)
    assert gate.acquire(0) and not gate.acquire(0)  # the place is back, once


def test_a_freed_place_goes_to_the_longest_waiter_not_to_a_newcomer():
    gate = _FifoGate(2)
    admitted: list = []
    assert gate.acquire(0) and gate.acquire(0)
    first = Waiter(gate, "first", admitted).start_queued()
    second = Waiter(gate, "second", admitted).start_queued()
    gate.release()
    assert first.entered.wait(WAIT)
    assert gate.acquire(0) is False  # a newcomer does not overtake "second"
    gate.release()
    assert second.entered.wait(WAIT)
    assert admitted == ["first", "second"]
    first.leave.set()
    second.leave.set()
    first.join()
    second.join()
    assert gate.acquire(0) and gate.acquire(0) and not gate.acquire(0)


def test_a_timed_out_waiter_gives_up_its_turn_to_the_next_one():
    gate = _FifoGate(1)
    admitted: list = []
    assert gate.acquire(0)
    impatient = Waiter(gate, "impatient", admitted, timeout=0.05, hold=False)
    impatient.thread.start()
    impatient.join()
    assert impatient.result is False
    assert len(gate._waiting) == 0  # it left the queue
    patient = Waiter(gate, "patient", admitted).start_queued()
    gate.release()  # must reach "patient", not vanish with the timed-out waiter
    assert patient.entered.wait(WAIT)
    assert admitted == ["patient"]
    patient.leave.set()
    patient.join()
    assert gate.acquire(0) and not gate.acquire(0)


def test_a_timed_out_waiter_in_the_middle_of_the_queue_is_skipped():
    gate = _FifoGate(1)
    admitted: list = []
    assert gate.acquire(0)
    first = Waiter(gate, "first", admitted, hold=False).start_queued()
    middle = Waiter(gate, "middle", admitted, timeout=0.5, hold=False).start_queued()
    last = Waiter(gate, "last", admitted, hold=False).start_queued()
    middle.join()  # times out while "first" still waits
    assert middle.result is False and len(gate._waiting) == 2
    gate.release()
    first.join()
    last.join()
    assert admitted == ["first", "last"]
    assert gate.acquire(0) and not gate.acquire(0)


def test_a_turn_that_comes_as_the_wait_times_out_is_kept(monkeypatch):
    """The race between a waiter's timeout and the release that hands it the place: the waiter
    keeps the place (acquire returns True); the place is neither lost nor given twice."""
    gate = _FifoGate(1)
    assert gate.acquire(0)

    class TurnReleasedAtTimeout:
        """A waiter's turn lock whose timed wait fails just after the holder released."""

        def __init__(self):
            self._lock = threading.Lock()

        def acquire(self, blocking=True, timeout=-1):
            if blocking and timeout >= 0:  # the waiter's wait for its turn
                gate.release()  # the holder leaves at that very moment...
                return False  # ...but the wait has already timed out
            return self._lock.acquire(blocking, timeout)

        def release(self):
            self._lock.release()

    class Threading:
        Lock = TurnReleasedAtTimeout

        def __getattr__(self, name):
            return getattr(threading, name)

    monkeypatch.setattr(fifo, "threading", Threading())  # the gate's module (instances imports it)
    assert gate.acquire(0.01) is True
    monkeypatch.undo()
    assert len(gate._waiting) == 0
    assert gate.acquire(0) is False  # the waiter holds the only place
    gate.release()
    assert gate.acquire(0) is True and gate.acquire(0) is False


def test_many_threads_never_exceed_the_size():
    gate = _FifoGate(3)
    lock = threading.Lock()
    inside = peak = 0
    refused: list = []
    start = threading.Barrier(12)

    def work():
        nonlocal inside, peak
        start.wait(WAIT)
        for _ in range(200):
            if not gate.acquire(WAIT):
                refused.append(threading.get_ident())
                return
            with lock:
                inside += 1
                peak = max(peak, inside)
            time.sleep(0)
            with lock:
                inside -= 1
            gate.release()

    threads = [threading.Thread(target=work) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not any(thread.is_alive() for thread in threads)
    assert not refused
    assert 1 <= peak <= 3
    assert inside == 0
    assert [gate.acquire(0) for _ in range(4)] == [True, True, True, False]
