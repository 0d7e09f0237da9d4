"""Writes checkpoints where the job keeps them, checks that the runtime uploads them while it
still runs, and records which checkpoints it found at its start (restored from S3)."""

import json
import os
import time
from urllib.parse import urlparse

import boto3

folder = os.environ.get("SMFLOW_CHECKPOINT_DIR", "/opt/ml/checkpoints")
found = sorted(os.listdir(folder)) if os.path.isdir(folder) else []
print("checkpoints at start:", found, flush=True)
with open(os.path.join(os.environ["SM_MODEL_DIR"], "found.json"), "w") as handle:
    json.dump(found, handle)

run = json.loads(os.environ["SM_HPS"])["run"]
os.makedirs(os.path.join(folder, "nested"), exist_ok=True)
with open(os.path.join(folder, "nested", f"during-{run}.txt"), "w") as handle:
    handle.write(f"written during run {run}")

target = urlparse(os.environ["CHECKPOINT_S3_URI"])
s3 = boto3.client("s3", endpoint_url=os.environ["S3_ENDPOINT_URL"])
key = f"{target.path.strip('/')}/nested/during-{run}.txt"
uploaded = False
deadline = time.time() + 30
while time.time() < deadline and not uploaded:
    uploaded = "Contents" in s3.list_objects_v2(Bucket=target.netloc, Prefix=key)
    time.sleep(0.5)
print("uploaded while training:", uploaded, flush=True)

with open(os.path.join(folder, f"final-{run}.txt"), "w") as handle:  # only the last sync sends it
    handle.write(f"written at the end of run {run}")
