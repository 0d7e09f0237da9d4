"""Lifecycle: wall time of each step of the Iris lifecycle on the local runtime, through the
smflow client (as ``make demo`` runs it), beside the floor: the same work done directly in one
Python process (``bench/_lifecycle_floor.py``: import, fit and save, load, predict, score the
file).

Steps: upload the data (training CSV and batch CSV) -> train to Completed -> create the model
and deploy to InService -> first prediction (the blog's 29 rows) -> batch transform of one CSV
file to Completed -> delete the endpoint (and its config). The runtime is started once, before
the runs (as ``smflow local up`` leaves it running); its start-up is reported apart.

Target (issue 5): the full lifecycle in at most 5 s median on this machine.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _common as c

STEPS = ("upload data", "train", "deploy", "first prediction", "transform", "delete")
TARGET_SECONDS = 5.0


def run_smflow(client, scratch: Path, index: int) -> dict[str, float]:
    from smflow.examples import iris

    train_dir = iris.write_training_csv(scratch / f"train-{index}" / "iris.csv").parent
    test_x, _ = iris.blog_test_rows()
    batch_dir = iris.write_features_csv(scratch / f"batch-{index}" / "iris-features.csv", test_x).parent
    prefix = f"bench-lifecycle-{index}"
    endpoint = f"bench-lifecycle-{index}-{int(time.time())}"
    times: dict[str, float] = {}

    mark = time.perf_counter()
    train_input = client.upload_data(train_dir, key_prefix=f"{prefix}/data")
    batch_input = client.upload_data(batch_dir, key_prefix=f"{prefix}/batch-input")
    times["upload data"] = time.perf_counter() - mark

    mark = time.perf_counter()
    job = client.train(entry_point=str(iris.TRAINING_SCRIPT), hyperparameters=iris.HYPERPARAMETERS,
                       inputs={"train": train_input}, base_job_name=f"{prefix}-train", timeout=300)
    times["train"] = time.perf_counter() - mark

    mark = time.perf_counter()
    model = client.create_model(training_job_name=job["TrainingJobName"])
    client.deploy(model_name=model["ModelName"], endpoint_name=endpoint, timeout=300)
    times["deploy"] = time.perf_counter() - mark
    try:
        mark = time.perf_counter()
        predictions = client.predict(endpoint, test_x)
        times["first prediction"] = time.perf_counter() - mark
        if len(predictions) != len(test_x):
            raise RuntimeError(f"{len(predictions)} predictions for {len(test_x)} rows")

        mark = time.perf_counter()
        client.batch_transform(model_name=model["ModelName"], data=batch_input, content_type="text/csv",
                               accept="text/csv", split_type="Line", instance_count=1, timeout=300)
        times["transform"] = time.perf_counter() - mark
    finally:
        mark = time.perf_counter()
        client.delete_endpoint(endpoint)
        times["delete"] = time.perf_counter() - mark
    times["total"] = sum(times[step] for step in STEPS)
    return times


def run_floor(scratch: Path, index: int) -> dict[str, float]:
    from smflow.examples import iris

    work = scratch / f"floor-{index}"
    work.mkdir(parents=True, exist_ok=True)
    train_csv = iris.write_training_csv(work / "iris.csv")
    test_x, _ = iris.blog_test_rows()
    features_csv = iris.write_features_csv(work / "iris-features.csv", test_x)
    mark = time.perf_counter()
    completed = subprocess.run([c.PYTHON, str(c.BENCH_DIR / "_lifecycle_floor.py"), str(train_csv),
                                str(features_csv), str(work)], capture_output=True, text=True, timeout=300,
                               check=True)
    wall = time.perf_counter() - mark
    steps = json.loads(completed.stdout.strip().splitlines()[-1])
    steps["interpreter start and imports"] = wall - sum(v for k, v in steps.items() if k != "import libraries")
    steps["total"] = wall
    return steps


def main(argv=None) -> int:
    args = c.parse_args(__doc__.splitlines()[0], argv)
    runs = args.runs or (1 if args.quick else 5)
    details: dict = {"runs": runs, "smflow": [], "floor": []}
    with tempfile.TemporaryDirectory(prefix="smflow-bench-lifecycle-") as scratch_name:
        scratch = Path(scratch_name)
        mark = time.perf_counter()
        with c.local_runtime(scratch / "state") as runtime:
            details["runtime_start_s"] = time.perf_counter() - mark
            client = c.client_for(runtime.url)
            client.default_bucket()
            for index in range(runs):
                details["floor"].append(run_floor(scratch, index))
                times = run_smflow(client, scratch, index)
                details["smflow"].append(times)
                c.log(f"run {index + 1}: " + ", ".join(f"{k} {v:.2f} s" for k, v in times.items()))

    rows = []
    for step in (*STEPS, "total"):
        smflow = c.median([run[step] for run in details["smflow"]])
        if step == "total":
            floor = c.median([run["total"] for run in details["floor"]])
            rows.append(c.Row("total (full lifecycle)", "s", "one process", floor, smflow, c.ratio(smflow, floor),
                              f"<= {TARGET_SECONDS:g} s", smflow <= TARGET_SECONDS,
                              note="the floor's total includes interpreter start-up and imports "
                                   f"(median {c.median([r['interpreter start and imports'] for r in details['floor']]):.2f} s)"))
        else:
            floor = c.median([run.get(step, 0.0) for run in details["floor"]])
            rows.append(c.Row(step, "s", "one process", floor, smflow, c.ratio(smflow, floor)))
    c.print_table(f"Lifecycle (Iris, through the client; medians of {runs} run(s); runtime started once, "
                  f"in {details['runtime_start_s']:.2f} s)", rows)
    c.write_results("lifecycle", args, rows, details)
    return 0


if __name__ == "__main__":
    sys.exit(main())
