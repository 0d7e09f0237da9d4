"""Whether a process is still running, by pid, for processes the runtime did not necessarily
start itself (the runtime of ``smflow local up``, model servers forked by the fork server)."""

from __future__ import annotations

import os


def is_running(pid: int) -> bool:
    """True while ``pid`` is a live process. A process that has exited but is not reaped yet (a
    zombie) is not running: when it is a child of this process it is reaped here; otherwise
    (e.g. an orphan adopted by a runtime that is a container's PID 1) its state is read from
    /proc. Where there is no /proc, such a zombie counts as running."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    try:
        finished, _ = os.waitpid(pid, os.WNOHANG)
        if finished:
            return False
    except ChildProcessError:
        pass  # not a child of this process
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            state = stat.read().rpartition(b")")[2].split()[0]
    except (OSError, IndexError):
        return True
    return state not in (b"Z", b"X")
