"""A model whose model_fn leaves processes outside the model server's session: a child that calls
``os.setsid()`` and ignores SIGTERM, and a double-forked grandchild that ``exec``s a fresh
interpreter. Each invocation answers with the model server's pid and those pids."""

import json
import os
import signal
import sys
import time


def _setsid_child() -> int:
    pid = os.fork()
    if pid == 0:
        os.setsid()
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        time.sleep(600)
        os._exit(0)
    return pid


def _double_fork(pid_file: str) -> int:
    read_end, write_end = os.pipe()
    middle = os.fork()
    if middle == 0:
        os.close(read_end)
        if os.fork() == 0:
            os.setsid()
            os.write(write_end, str(os.getpid()).encode())
            os.close(write_end)
            os.execv(sys.executable, [sys.executable, "-c", "import time; time.sleep(600)"])
        os._exit(0)
    os.close(write_end)
    os.waitpid(middle, 0)
    pid = int(os.read(read_end, 32))
    os.close(read_end)
    return pid


def model_fn(model_dir):
    return {"server": os.getpid(), "runaways": [_setsid_child(), _double_fork(model_dir)]}


def transform_fn(model, request_body, content_type, accept):
    return json.dumps(model), "application/json"
