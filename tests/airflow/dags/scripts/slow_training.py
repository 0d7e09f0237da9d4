"""A training script that logs, waits four seconds, and logs again (to see log streaming)."""

import os
import time

print("smflow-streaming-first", flush=True)
time.sleep(4)
print("smflow-streaming-last", flush=True)
with open(os.path.join(os.environ.get("SM_MODEL_DIR", "."), "model.txt"), "w") as model:
    model.write("nothing to learn\n")
