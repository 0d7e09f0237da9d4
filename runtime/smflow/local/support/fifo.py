"""A counting gate whose waiters are let in strictly in arrival order.

``threading.Semaphore`` lets a newly arriving thread take a freed place ahead of the thread woken
for it, which then waits again at the back of the queue: under steady load a few requests wait
far longer than the others. The runtime queues the requests for a model-server instance here
(:mod:`smflow.local.executors.hosting.instances`), and the model server the requests it computes
(:mod:`smflow.local.containers.serving.server`).
"""

from __future__ import annotations

import threading
from collections import deque


class FifoGate:
    """At most ``size`` holders at a time; the others wait and are let in strictly in arrival
    order (a freed place passes directly to the longest waiter: no overtaking, so no request
    waits much longer than the ones that came before it)."""

    def __init__(self, size: int):
        self._lock = threading.Lock()
        self._free = size
        self._waiting: deque[threading.Lock] = deque()  # each held until its turn comes

    def acquire(self, timeout: float | None = None) -> bool:
        """True once a place is held (until :meth:`release`); False when ``timeout`` seconds
        passed first (None: no limit)."""
        with self._lock:
            if self._free > 0 and not self._waiting:
                self._free -= 1
                return True
            turn = threading.Lock()
            turn.acquire()
            self._waiting.append(turn)
        if turn.acquire(timeout=-1 if timeout is None else max(timeout, 0.0)):
            return True
        with self._lock:
            if turn.acquire(blocking=False):  # its turn came just as the wait timed out
                return True
            self._waiting.remove(turn)
            return False

    def release(self) -> None:
        with self._lock:
            if self._waiting:
                self._waiting.popleft().release()
            else:
                self._free += 1
