"""Scale: 20 training jobs submitted at once and 5 endpoints live on one local runtime — every
job completes, none is lost — and the resident memory of an idle endpoint.

Training: the blog's training job (Iris, DecisionTree) submitted 20 times at once through the
client (``wait=False``, from 20 threads), then awaited; each job must be Completed with its
``model.tar.gz`` in S3. Beside it, the same job alone on the same runtime.

Endpoints: 5 endpoints of the blog model, each answering 100 one-row requests, then idle for 2 s;
the memory of each model server is read from /proc: RSS (the target), PSS (pages shared with
other processes counted in proportion) and USS (its own pages). Model servers are forked from
one fork server that has the libraries imported (its own memory is reported too). Beside them:
the floor — the minimal one-process HTTP server of the same model (``bench/_floor_server.py``)
after the same requests — and one model server started as a fresh process
(``SMFLOW_MODEL_SERVER_FORK=0``, how every model server started before the fork server).

Target (issue 5): every job completes; an idle endpoint under 150 MB.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import _common as c

MEMORY_TARGET_MB = 150.0
TERMINAL = ("Completed", "Failed", "Stopped")


def submit_and_wait(client, train_input: str, count: int, label: str, timeout: float = 900.0) -> dict:
    from smflow.examples import iris

    names = [f"bench-scale-{label}-{index}-{int(time.time())}" for index in range(count)]
    mark = time.perf_counter()

    def submit(name: str) -> None:
        client.train(entry_point=str(iris.TRAINING_SCRIPT), hyperparameters=iris.HYPERPARAMETERS,
                     inputs={"train": train_input}, job_name=name, wait=False)

    with ThreadPoolExecutor(max_workers=count) as pool:
        list(pool.map(submit, names))
    submitted = time.perf_counter() - mark
    deadline = time.monotonic() + timeout
    described: dict[str, dict] = {}
    while time.monotonic() < deadline:
        for name in names:
            if name not in described or described[name]["TrainingJobStatus"] not in TERMINAL:
                described[name] = client.describe_training_job(name)
        if all(d["TrainingJobStatus"] in TERMINAL for d in described.values()):
            break
        time.sleep(0.5)
    wall = time.perf_counter() - mark
    listed = set()
    for page in client.sagemaker.get_paginator("list_training_jobs").paginate(NameContains=f"bench-scale-{label}-"):
        listed |= {job["TrainingJobName"] for job in page["TrainingJobSummaries"]}
    completed = 0
    for name, description in described.items():
        if description["TrainingJobStatus"] != "Completed" or name not in listed:
            continue
        bucket, _, key = description["ModelArtifacts"]["S3ModelArtifacts"][5:].partition("/")
        client.s3.head_object(Bucket=bucket, Key=key)  # the artifacts are there
        completed += 1
    durations = [(d["TrainingEndTime"] - d["CreationTime"]).total_seconds()
                 for d in described.values() if d.get("TrainingEndTime")]
    failures = {n: d.get("FailureReason") for n, d in described.items() if d["TrainingJobStatus"] != "Completed"}
    return {"submitted": count, "completed": completed, "listed": len(listed), "submit_seconds": submitted,
            "wall_seconds": wall, "median_job_seconds": c.median(durations),
            "max_job_seconds": max(durations) if durations else None, "not_completed": failures}


def idle_memory(pids: list[int], port: int, requests: list[bytes]) -> list[dict]:
    """Send the requests (one connection), wait 2 s, then read the processes' memory."""
    connection = c.HttpConnection(port)
    for request in requests:
        status, _ = connection.request(request)
        if status != 200:
            raise RuntimeError(f"request answered {status}")
    connection.close()
    time.sleep(2.0)
    return [c.memory_mb(pid) for pid in pids]


def endpoint_memory(client, runtime, archive: Path, count: int, payload: bytes) -> dict:
    import invoke

    endpoints = []
    for index in range(count):
        name = f"bench-scale-endpoint-{index}"
        c.deploy_blog_model(client, archive, name)
        endpoints.append(name)
    pids = c.model_server_pids(runtime.pid)
    if len(pids) != count:
        raise RuntimeError(f"{len(pids)} model servers for {count} endpoints")
    for name in endpoints:
        request = invoke.boto3_request(client, payload, runtime.port, name)
        connection = c.HttpConnection(runtime.port)
        for _ in range(100):
            status, body = connection.request(request)
            if status != 200 or not body.strip():
                raise RuntimeError(f"{name} answered {status} {body[:100]!r}")
        connection.close()
    time.sleep(2.0)
    servers = [c.memory_mb(pid) for pid in pids]
    fork_servers = [c.memory_mb(pid) for pid in c.fork_server_pids(runtime.pid)]
    for name in endpoints:
        client.delete_endpoint(name, delete_model=True)
    return {"endpoints": count, "model_servers": servers, "fork_servers": fork_servers}


def fresh_process_memory(scratch: Path, archive: Path, payload: bytes) -> dict:
    """One endpoint on a runtime whose model servers start as fresh processes."""
    import invoke

    with c.local_runtime(scratch / "state-fresh", env={"SMFLOW_MODEL_SERVER_FORK": "0"}) as runtime:
        client = c.client_for(runtime.url)
        c.deploy_blog_model(client, archive, invoke.ENDPOINT)
        pids = c.model_server_pids(runtime.pid)
        request = invoke.boto3_request(client, payload, runtime.port)
        return idle_memory(pids, runtime.port, [request] * 100)[0]


def floor_memory(model_path: Path, payload: bytes) -> dict:
    port = c.free_port()
    floor = subprocess.Popen([c.PYTHON, str(c.BENCH_DIR / "_floor_server.py"), "--model", str(model_path),
                              "--port", str(port)], stdin=subprocess.DEVNULL)
    try:
        c.wait_http(port, process=floor)
        request = c.build_request("/invocations", port, payload, {"Content-Type": "text/csv", "Accept": "text/csv"})
        return idle_memory([floor.pid], port, [request] * 100)[0]
    finally:
        c.stop_process(floor)


def main(argv=None) -> int:
    args = c.parse_args(__doc__.splitlines()[0], argv)
    jobs = 5 if args.quick else 20
    endpoints = 2 if args.quick else 5
    payload = c.csv_rows(c.iris_features(), 1, start=7)
    details: dict = {"jobs": jobs, "endpoints": endpoints}
    with tempfile.TemporaryDirectory(prefix="smflow-bench-scale-") as scratch_name:
        scratch = Path(scratch_name)
        archive = c.write_blog_model(scratch)
        from smflow.examples import iris

        data_dir = iris.write_training_csv(scratch / "data" / "iris.csv").parent
        with c.local_runtime(scratch / "state") as runtime:
            client = c.client_for(runtime.url)
            train_input = client.upload_data(data_dir, key_prefix="bench/scale/data")
            c.log("one training job alone")
            details["one_job"] = submit_and_wait(client, train_input, 1, "alone")
            c.log(f"{jobs} training jobs at once")
            details["many_jobs"] = submit_and_wait(client, train_input, jobs, "many")
            c.log(f"{endpoints} endpoints")
            details["endpoints_memory"] = endpoint_memory(client, runtime, archive, endpoints, payload)
        c.log("floor and fresh-process model server memory")
        details["floor_memory"] = floor_memory(scratch / "model" / "model.joblib", payload)
        details["fresh_process_memory"] = fresh_process_memory(scratch, archive, payload)

    many, one = details["many_jobs"], details["one_job"]
    servers = details["endpoints_memory"]["model_servers"]
    fork_servers = details["endpoints_memory"]["fork_servers"]
    floor, fresh = details["floor_memory"], details["fresh_process_memory"]
    rss = c.median([s["VmRSS"] for s in servers])
    pss = c.median([s.get("Pss") for s in servers])
    uss = c.median([s.get("Uss") for s in servers])
    total_pss = sum(s.get("Pss", 0) for s in servers) + sum(s.get("Pss", 0) for s in fork_servers)
    rows = [
        c.Row(f"training jobs completed ({jobs} submitted at once)", "jobs", "submitted", jobs, many["completed"],
              c.ratio(many["completed"], jobs), "all complete, none lost",
              many["completed"] == jobs and many["listed"] == jobs,
              note=None if not many["not_completed"] else f"not completed: {many['not_completed']}"),
        c.Row(f"wall time of {jobs} jobs at once", "s", "1 job alone", one["wall_seconds"], many["wall_seconds"],
              c.ratio(many["wall_seconds"], one["wall_seconds"])),
        c.Row(f"idle endpoint RSS (median of {endpoints})", "MB", "floor server", floor["VmRSS"], rss,
              c.ratio(rss, floor["VmRSS"]), f"< {MEMORY_TARGET_MB:g} MB", rss < MEMORY_TARGET_MB),
        c.Row("idle endpoint PSS (shared pages split)", "MB", "floor server", floor.get("Pss"), pss,
              c.ratio(pss, floor.get("Pss"))),
        c.Row("idle endpoint USS (own pages)", "MB", "floor server", floor.get("Uss"), uss,
              c.ratio(uss, floor.get("Uss"))),
        c.Row(f"{endpoints} endpoints + fork server, total PSS", "MB", f"{endpoints} floor servers (RSS)",
              endpoints * floor["VmRSS"], total_pss, c.ratio(total_pss, endpoints * floor["VmRSS"])),
        c.Row("idle endpoint RSS, model server started as a fresh process", "MB", "floor server", floor["VmRSS"],
              fresh["VmRSS"], c.ratio(fresh["VmRSS"], floor["VmRSS"]),
              note="SMFLOW_MODEL_SERVER_FORK=0: how every model server started before the fork server"),
    ]
    c.print_table(f"Scale ({jobs} training jobs at once, {endpoints} endpoints live; memory from /proc after "
                  "100 requests and 2 s idle)", rows)
    c.write_results("scale", args, rows, details)
    return 0


if __name__ == "__main__":
    sys.exit(main())
