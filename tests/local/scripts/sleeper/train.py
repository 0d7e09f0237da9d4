"""Saves a checkpoint-like model file, says so, then trains 'forever' (sleeps).

With ``--ignore-sigterm 1`` it ignores SIGTERM, like a script that does not stop when asked.
"""

import argparse
import os
import signal
import time

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--ignore-sigterm", type=int, default=0)
    args, _ = parser.parse_known_args()
    if args.ignore_sigterm:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    model_dir = os.environ["SM_MODEL_DIR"]
    with open(os.path.join(model_dir, "partial.txt"), "w") as f:
        f.write("saved before the stop\n")
    with open(os.path.join(model_dir, "pid"), "w") as f:
        f.write(str(os.getpid()))
    print("checkpoint saved, training for a long time", flush=True)
    time.sleep(600)
