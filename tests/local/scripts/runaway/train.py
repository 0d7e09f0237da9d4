"""Leaves processes outside its process group, then trains 'forever' or ends at once.

- a child that calls ``os.setsid()`` (a session and group of its own) and sleeps, ignoring SIGTERM;
- a double fork: a child forks a grandchild and exits, the grandchild (an orphan, reparented
  away from the job) calls ``os.setsid()`` and sleeps;
- a grandchild of the double fork that ``exec``s a fresh interpreter (``python -c``), as user
  code starting a tool does.

Their pids go to ``$SM_MODEL_DIR/runaways`` (one per line) once all are running. With
``--finish 1`` the script then exits 0 (the job ends while they run); otherwise it sleeps.
"""

import argparse
import os
import signal
import subprocess
import sys
import time


def setsid_child() -> int:
    pid = os.fork()
    if pid == 0:
        os.setsid()
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        time.sleep(600)
        os._exit(0)
    return pid


def double_fork(exec_python: bool, pid_file: str) -> None:
    """The grandchild writes its own pid to ``pid_file``; the middle process exits at once."""
    middle = os.fork()
    if middle == 0:
        if os.fork() == 0:
            os.setsid()
            with open(pid_file, "w") as handle:
                handle.write(str(os.getpid()))
            if exec_python:
                os.execv(sys.executable, [sys.executable, "-c", "import time; time.sleep(600)"])
            time.sleep(600)
            os._exit(0)
        os._exit(0)
    os.waitpid(middle, 0)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--finish", type=int, default=0)
    args, _ = parser.parse_known_args()
    model_dir = os.environ["SM_MODEL_DIR"]
    pids = [setsid_child()]
    for index, exec_python in enumerate((False, True)):
        pid_file = os.path.join(model_dir, f"grandchild-{index}")
        double_fork(exec_python, pid_file)
        deadline = time.monotonic() + 10
        while not (os.path.exists(pid_file) and open(pid_file).read().strip()) and time.monotonic() < deadline:
            time.sleep(0.01)
        pids.append(int(open(pid_file).read()))
    subprocess.run([sys.executable, "-c", "pass"], check=True)  # an ordinary child, for contrast
    with open(os.path.join(model_dir, "runaways"), "w") as handle:
        handle.write("\n".join(str(pid) for pid in pids) + "\n")
    print("runaways started", flush=True)
    if args.finish:
        sys.exit(0)
    time.sleep(600)
