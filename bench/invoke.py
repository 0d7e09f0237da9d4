"""Invocations: latency p50/p99 and requests/s of one-row and 100-row Iris CSV payloads at
concurrency 1 and 8, through the local runtime's InvokeEndpoint, beside

- the floor: a minimal HTTP server in one process calling the same model's ``predict``
  (``bench/_floor_server.py``);
- the peer: MLflow's ``mlflow models serve --env-manager local`` on the same model (installed
  by this script into ``.venv-bench/``, never into ``.venv``).

One load generator drives all three: threads on kept-alive connections sending pre-built
requests (for the runtime, the exact request boto3's ``invoke_endpoint`` sends, SigV4 headers
included), so the client's cost is the same for everyone. Runs of the three servers are
interleaved, so that noise from other work on the machine falls on all of them.

Targets (issue 5): smflow >= 0.7x the floor's requests/s and >= 2x MLflow's; p99 < 10 ms at
concurrency 8 with one-row payloads.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _common as c

ENDPOINT = "bench-invoke"


def boto3_request(client, body: bytes, port: int, endpoint: str = ENDPOINT) -> bytes:
    """The raw HTTP request boto3's ``invoke_endpoint`` sends (captured from a real call)."""
    captured: dict = {}

    def capture(request, **_):
        captured["headers"] = dict(request.headers)

    runtime = client.runtime
    runtime.meta.events.register("before-send.sagemaker-runtime.InvokeEndpoint", capture)
    try:
        runtime.invoke_endpoint(EndpointName=endpoint, Body=body, ContentType="text/csv", Accept="text/csv")
    finally:
        runtime.meta.events.unregister("before-send.sagemaker-runtime.InvokeEndpoint", capture)
    headers = {
        k: (v.decode() if isinstance(v, bytes) else v)
        for k, v in captured["headers"].items()
        if k.lower() not in ("content-length", "host")
    }
    return c.build_request(f"/endpoints/{endpoint}/invocations", port, body, headers)


def count_csv(body: bytes) -> int:
    return len([line for line in body.splitlines() if line.strip()])


def count_mlflow(body: bytes) -> int:
    return len(json.loads(body)["predictions"])


def measure_boto3(client, body: bytes, requests: int) -> dict:
    """Sequential invoke_endpoint calls through boto3 (the client's own cost included)."""
    runtime = client.runtime
    latencies = []
    for index in range(requests + 50):
        begin = time.perf_counter()
        runtime.invoke_endpoint(EndpointName=ENDPOINT, Body=body, ContentType="text/csv",
                                Accept="text/csv")["Body"].read()
        if index >= 50:
            latencies.append(time.perf_counter() - begin)
    return {"p50_ms": c.percentile(latencies, 50) * 1e3, "p99_ms": c.percentile(latencies, 99) * 1e3,
            "requests_per_s": len(latencies) / sum(latencies)}


def main(argv=None) -> int:
    args = c.parse_args(__doc__.splitlines()[0], argv)
    runs = args.runs or (1 if args.quick else 3)
    duration = 0.7 if args.quick else 2.0
    features = c.iris_features()
    payloads = {"1 row": c.csv_rows(features, 1, start=7), "100 rows": c.csv_rows(features, 100)}
    header = b"f0,f1,f2,f3\n"  # MLflow's CSV input names its columns in a first line

    details: dict = {"runs": runs, "duration_s": duration, "figures": {}, "cpu_ms_per_request": {}}
    with tempfile.TemporaryDirectory(prefix="smflow-bench-invoke-") as scratch_name:
        scratch = Path(scratch_name)
        archive = c.write_blog_model(scratch)
        model_path = scratch / "model" / "model.joblib"

        servers: dict[str, dict] = {}
        cleanups = []
        try:
            runtime_cm = c.local_runtime(scratch / "state")
            runtime = runtime_cm.__enter__()
            cleanups.append(lambda: runtime_cm.__exit__(None, None, None))
            client = c.client_for(runtime.url)
            c.log("deploying the blog model on the local runtime")
            c.deploy_blog_model(client, archive, ENDPOINT)
            servers["smflow"] = {
                "port": runtime.port, "check": count_csv,
                "requests": {name: boto3_request(client, body, runtime.port) for name, body in payloads.items()},
                "pids": {"runtime": runtime.pid, **{f"model server {i + 1}": pid for i, pid in
                                                     enumerate(c.model_server_pids(runtime.pid))}},
            }

            floor_port = c.free_port()
            floor = subprocess.Popen([c.PYTHON, str(c.BENCH_DIR / "_floor_server.py"), "--model", str(model_path),
                                      "--port", str(floor_port)], stdin=subprocess.DEVNULL)
            cleanups.append(lambda: c.stop_process(floor))
            c.wait_http(floor_port, process=floor)
            plain = {"Content-Type": "text/csv", "Accept": "text/csv"}
            servers["floor"] = {
                "port": floor_port, "check": count_csv,
                "requests": {name: c.build_request("/invocations", floor_port, body, plain)
                             for name, body in payloads.items()},
                "pids": {"floor": floor.pid},
            }

            mlflow_reason = None
            try:
                import _mlflow_peer as peer

                python = peer.ensure_venv()
                mlflow_model = peer.export_model(python, model_path, scratch / "mlflow-model")
                mlflow_port = c.free_port()
                mlflow = peer.MlflowServer(mlflow_model, mlflow_port, scratch / "mlflow.log")
                mlflow.__enter__()
                cleanups.append(lambda: mlflow.__exit__())
                servers["mlflow"] = {
                    "port": mlflow_port, "check": count_mlflow,
                    "requests": {name: c.build_request("/invocations", mlflow_port, header + body,
                                                       {"Content-Type": "text/csv"})
                                 for name, body in payloads.items()},
                    "pids": {f"mlflow {i}": pid for i, pid in enumerate(mlflow.pids())},
                }
            except Exception as error:  # noqa: BLE001 - reported in the table and the JSON
                mlflow_reason = f"{type(error).__name__}: {error}"
                c.log(f"MLflow peer unavailable: {mlflow_reason}")
            details["mlflow_unavailable"] = mlflow_reason

            # every server answers every payload with one prediction per row
            for name, server in servers.items():
                for payload_name, request in server["requests"].items():
                    connection = c.HttpConnection(server["port"])
                    status, body = connection.request(request)
                    connection.close()
                    expected = count_csv(payloads[payload_name])
                    if status != 200 or server["check"](body) != expected:
                        raise RuntimeError(f"{name} answered {status} {body[:200]!r} to {payload_name}")

            order = list(servers)
            for payload_name in payloads:
                for concurrency in (1, 8):
                    key = f"{payload_name}, concurrency {concurrency}"
                    figures = details["figures"].setdefault(key, {name: [] for name in servers})
                    for run in range(runs):
                        for name in order[run % len(order):] + order[:run % len(order)]:
                            server = servers[name]
                            cpu_before = {p: c.cpu_seconds(pid) for p, pid in server["pids"].items()}
                            result = c.closed_loop(server["port"], server["requests"][payload_name],
                                                   concurrency, duration, warmup=30)
                            cpu = {p: (c.cpu_seconds(pid) - cpu_before[p]) * 1e3 / max(1, len(result.latencies))
                                   for p, pid in server["pids"].items()}
                            figures[name].append({
                                "requests_per_s": result.throughput,
                                "p50_ms": c.percentile(result.latencies, 50) * 1e3,
                                "p99_ms": c.percentile(result.latencies, 99) * 1e3,
                                "requests": len(result.latencies), "errors": result.errors,
                                "cpu_ms_per_request": cpu,
                            })
                            c.log(f"{key} run {run + 1} {name}: {result.throughput:,.0f} req/s, "
                                  f"p50 {figures[name][-1]['p50_ms']:.2f} ms, p99 {figures[name][-1]['p99_ms']:.2f} ms"
                                  f", CPU ms/request {', '.join(f'{p} {v:.3f}' for p, v in cpu.items())}")
            details["boto3_sequential_1_row"] = measure_boto3(client, payloads["1 row"], 200 if args.quick else 1000)
        finally:
            for cleanup in reversed(cleanups):
                try:
                    cleanup()
                except Exception as error:  # noqa: BLE001
                    c.log(f"cleanup failed: {error}")

    rows = build_rows(details, "mlflow" in servers)
    title = (f"Invocations (Iris CSV, medians of {runs} run(s) of {duration:g} s; the same load generator "
             "for all servers)")
    c.print_table(title, rows)
    boto = details["boto3_sequential_1_row"]
    print(f"boto3 invoke_endpoint, 1 row, sequential (client cost included): p50 {boto['p50_ms']:.2f} ms, "
          f"p99 {boto['p99_ms']:.2f} ms")
    if details.get("mlflow_unavailable"):
        print(f"MLflow peer not measured: {details['mlflow_unavailable']}")
    c.write_results("invoke", args, rows, details)
    return 0


def _median_of(details: dict, key: str, server: str, figure: str):
    runs = details["figures"][key].get(server) or []
    return c.median([run[figure] for run in runs])


def build_rows(details: dict, with_mlflow: bool) -> list[c.Row]:
    rows: list[c.Row] = []
    for key in details["figures"]:
        smflow_rps = _median_of(details, key, "smflow", "requests_per_s")
        floor_rps = _median_of(details, key, "floor", "requests_per_s")
        r = c.ratio(smflow_rps, floor_rps)
        rows.append(c.Row(f"{key}: throughput", "req/s", "floor", floor_rps, smflow_rps, r, ">= 0.7x floor",
                          None if r is None else r >= 0.7))
        if with_mlflow:
            mlflow_rps = _median_of(details, key, "mlflow", "requests_per_s")
            r = c.ratio(smflow_rps, mlflow_rps)
            rows.append(c.Row(f"{key}: throughput", "req/s", "MLflow", mlflow_rps, smflow_rps, r, ">= 2x MLflow",
                              None if r is None else r >= 2.0))
        else:
            rows.append(c.Row(f"{key}: throughput", "req/s", "MLflow", None, smflow_rps, None, ">= 2x MLflow",
                              None, note=f"MLflow not measured: {details.get('mlflow_unavailable')}"))
        for percentile in ("p50", "p99"):
            figure = f"{percentile}_ms"
            smflow = _median_of(details, key, "smflow", figure)
            floor = _median_of(details, key, "floor", figure)
            target, met = None, None
            if percentile == "p99" and key == "1 row, concurrency 8":
                target, met = "< 10 ms", (smflow is not None and smflow < 10.0)
            rows.append(c.Row(f"{key}: {percentile} latency", "ms", "floor", floor, smflow, c.ratio(smflow, floor),
                              target, met))
            if with_mlflow:
                mlflow = _median_of(details, key, "mlflow", figure)
                rows.append(c.Row(f"{key}: {percentile} latency", "ms", "MLflow", mlflow, smflow,
                                  c.ratio(smflow, mlflow)))
    return rows


if __name__ == "__main__":
    sys.exit(main())
