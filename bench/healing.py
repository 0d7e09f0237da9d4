"""Self-healing endpoints: InvokeEndpoint figures before and after a model server is killed, the
calls lost meanwhile, and the time to the first answer when the only instance is killed.

On the local runtime as users start it (a child process), with the blog's Iris model:

1. two instances: 1-row CSV throughput and latency at concurrency 1 and 8 (the health checks
   running, as always); then ``kill -9`` of one model server while 200 calls are sent over 10 s
   (failed calls counted); then the same throughput and latency once it has been replaced;
2. one instance: ``kill -9`` of it, then calls until one succeeds: the time from the kill to that
   answer (a forked replacement, then a fresh-process one with ``SMFLOW_MODEL_SERVER_FORK=0``);
3. ``kill -9`` of the fork server while 100 calls are sent over 5 s (failed calls counted).

Targets (issue 10): 0 failed calls after the kill of one of two instances and after the kill of
the fork server; the first answer within 3 s of the kill of the only instance; throughput after
the healing within noise of before.
"""

from __future__ import annotations

import os
import signal
import tempfile
import threading
import time
from pathlib import Path

import _common as c

ENDPOINT = "bench-healing"


def invoke_request(client, port: int, endpoint: str, body: bytes) -> bytes:
    from invoke import boto3_request

    return boto3_request(client, body, port, endpoint)


def paced_calls(port: int, request: bytes, count: int, seconds: float, threads: int = 2):
    """Start ``count`` calls spread over ``seconds`` from ``threads`` connections; returns (the
    threads, answered 200 per thread, failed per thread), filled as the calls end."""
    ok = [0] * threads
    failed = [0] * threads
    per_thread = count // threads

    def sender(index: int) -> None:
        connection = c.HttpConnection(port)
        start = time.monotonic()
        for call in range(per_thread):
            time.sleep(max(0.0, start + call * seconds / per_thread - time.monotonic()))
            try:
                status, _ = connection.request(request)
            except OSError:
                status = 0
                connection = c.HttpConnection(port)
            if status == 200:
                ok[index] += 1
            else:
                failed[index] += 1
        connection.close()

    workers = [threading.Thread(target=sender, args=(index,)) for index in range(threads)]
    for worker in workers:
        worker.start()
    return workers, ok, failed


def load(port: int, request: bytes, duration: float) -> dict:
    figures = {}
    for concurrency in (1, 8):
        result = c.closed_loop(port, request, concurrency, duration, warmup=30)
        figures[concurrency] = {
            "requests_per_s": result.throughput,
            "p50_ms": c.percentile(result.latencies, 50) * 1e3,
            "p99_ms": c.percentile(result.latencies, 99) * 1e3,
            "errors": result.errors,
        }
    return figures


def first_answer_after_kill(port: int, request: bytes, victim: int) -> float:
    connection = c.HttpConnection(port)
    os.kill(victim, signal.SIGKILL)
    killed = time.monotonic()
    while True:
        try:
            status, _ = connection.request(request)
        except OSError:
            status = 0
            connection = c.HttpConnection(port)
        if status == 200:
            return time.monotonic() - killed
        if time.monotonic() - killed > 120:
            raise RuntimeError("no answer within 120 s of the kill")


def main(argv=None) -> int:
    args = c.parse_args(__doc__.splitlines()[0], argv)
    duration = 0.7 if args.quick else 2.0
    features = c.iris_features()
    body = c.csv_rows(features, 1, start=7)
    details: dict = {"duration_s": duration}
    with tempfile.TemporaryDirectory(prefix="smflow-bench-healing-") as scratch_name:
        scratch = Path(scratch_name)
        archive = c.write_blog_model(scratch)
        for fork in ("1", "0"):
            env = {"SMFLOW_MODEL_SERVER_FORK": fork}
            with c.local_runtime(scratch / f"state-{fork}", env=env) as runtime:
                client = c.client_for(runtime.url)
                if fork == "1":
                    c.log("two instances: figures before the kill")
                    c.deploy_blog_model(client, archive, ENDPOINT, instance_count=2)
                    request = invoke_request(client, runtime.port, ENDPOINT, body)
                    details["before"] = load(runtime.port, request, duration)
                    servers = c.model_server_pids(runtime.pid)
                    workers, ok, failed = paced_calls(runtime.port, request, 200, 10.0)
                    time.sleep(0.5)
                    os.kill(servers[0], signal.SIGKILL)
                    for worker in workers:
                        worker.join()
                    details["kill_one_of_two"] = {"answered": sum(ok), "failed": sum(failed)}
                    c.log(f"kill -9 of one of two instances: {sum(failed)} of 200 calls failed")
                    details["after"] = load(runtime.port, request, duration)

                    fork_servers = c.fork_server_pids(runtime.pid)
                    workers, ok, failed = paced_calls(runtime.port, request, 100, 5.0)
                    time.sleep(0.5)
                    os.kill(fork_servers[0], signal.SIGKILL)
                    for worker in workers:
                        worker.join()
                    details["kill_fork_server"] = {"answered": sum(ok), "failed": sum(failed)}
                    c.log(f"kill -9 of the fork server: {sum(failed)} of 100 calls failed")
                name = f"{ENDPOINT}-one"
                time.sleep(0.5)  # replacements settled
                existing = set(c.model_server_pids(runtime.pid))
                c.deploy_blog_model(client, archive, name, instance_count=1)
                request = invoke_request(client, runtime.port, name, body)
                (victim,) = set(c.model_server_pids(runtime.pid)) - existing  # its only instance
                seconds = first_answer_after_kill(runtime.port, request, victim)
                key = "forked" if fork == "1" else "fresh process"
                details.setdefault("first_answer_s", {})[key] = seconds
                c.log(f"kill -9 of the only instance ({key} replacement): first answer after {seconds:.2f} s")

    rows: list[c.Row] = []
    for concurrency in (1, 8):
        before, after = details["before"][concurrency], details["after"][concurrency]
        ratio = c.ratio(after["requests_per_s"], before["requests_per_s"])
        rows.append(c.Row(f"1 row, concurrency {concurrency}: throughput after healing", "req/s",
                          "before the kill", before["requests_per_s"], after["requests_per_s"], ratio,
                          ">= 0.8x before (noise)", ratio is not None and ratio >= 0.8))
        rows.append(c.Row(f"1 row, concurrency {concurrency}: p50 latency after healing", "ms",
                          "before the kill", before["p50_ms"], after["p50_ms"],
                          c.ratio(after["p50_ms"], before["p50_ms"])))
    failed = details["kill_one_of_two"]["failed"]
    rows.append(c.Row("kill -9 of one of two instances: failed calls of 200 over 10 s", "", None, None,
                      failed, None, "0", failed == 0))
    failed = details["kill_fork_server"]["failed"]
    rows.append(c.Row("kill -9 of the fork server: failed calls of 100 over 5 s", "", None, None,
                      failed, None, "0", failed == 0))
    for key, seconds in details["first_answer_s"].items():
        rows.append(c.Row(f"kill -9 of the only instance: first answer ({key} replacement)", "s", None, None,
                          seconds, None, "< 3 s", seconds < 3.0))
    c.print_table("Self-healing endpoints (Iris CSV, 1 row; the local runtime as a child process)", rows)
    c.write_results("healing", args, rows, details)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
