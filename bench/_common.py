"""Shared helpers of the benchmarks: arguments, statistics, tables, JSON results, the local
runtime as a child process, process metrics from /proc, the Iris model and a raw HTTP client.

Everything binds or connects to 127.0.0.1 only. Every wait is bounded.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import selectors
import signal
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
BLOG_SCRIPT = REPO / "dags" / "scripts" / "scikit_learn_iris.py"
PYTHON = sys.executable
HOST = "127.0.0.1"


# ------------------------------------------------------------------------------- arguments --
def parse_args(description: str, argv: Sequence[str] | None = None,
               extra: Callable[[argparse.ArgumentParser], None] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="fewer and shorter runs (a smoke test)")
    parser.add_argument("--runs", type=int, default=None, help="repetitions (median reported)")
    parser.add_argument("--results-dir", default=str(RESULTS_DIR), help="where the JSON goes")
    if extra is not None:
        extra(parser)
    return parser.parse_args(argv)


# ------------------------------------------------------------------------------ statistics --
def median(values: Sequence[float]) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100)."""
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, int(round(q / 100.0 * len(ordered) + 0.5)) - 1))
    return ordered[index]


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or denominator in (None, 0):
        return None
    return numerator / denominator


# ---------------------------------------------------------------------------------- tables --
@dataclass
class Row:
    """One line of a benchmark's table: a metric, the baseline's and smflow's medians, their
    ratio (as the target reads it), the target and whether it is met."""

    metric: str
    unit: str
    baseline_name: str | None
    baseline: float | None
    smflow: float | None
    ratio: float | None = None
    target: str | None = None
    met: bool | None = None
    note: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items()}


def _fmt(value: float | None, unit: str = "") -> str:
    if value is None:
        return "n/a"
    if abs(value) >= 100:
        text = f"{value:,.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.3g}" if abs(value) < 1 else f"{value:.2f}"
    return f"{text} {unit}".strip()


def print_table(title: str, rows: list[Row]) -> str:
    headers = ("metric", "baseline", "baseline value", "smflow", "ratio", "target", "met")
    lines = [
        (
            row.metric,
            row.baseline_name or "-",
            _fmt(row.baseline, row.unit) if row.baseline_name else "-",
            _fmt(row.smflow, row.unit),
            "n/a" if row.ratio is None else f"{row.ratio:.2f}x",
            row.target or "-",
            {True: "yes", False: "NO", None: "-"}[row.met],
        )
        for row in rows
    ]
    widths = [max(len(h), *(len(line[i]) for line in lines)) if lines else len(h) for i, h in enumerate(headers)]
    out = [title, "  ".join(h.ljust(w) for h, w in zip(headers, widths)),
           "  ".join("-" * w for w in widths)]
    out += ["  ".join(c.ljust(w) for c, w in zip(line, widths)) for line in lines]
    notes = [f"  * {row.metric}: {row.note}" for row in rows if row.note]
    out += notes
    text = "\n".join(out)
    print(text, flush=True)
    return text


def machine() -> dict[str, Any]:
    try:
        load = os.getloadavg()
    except OSError:
        load = None
    return {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
            "load_average": load}


def write_results(name: str, args: argparse.Namespace, rows: list[Row], details: dict[str, Any]) -> Path:
    """``<results-dir>/<name>.json``: the table's rows plus the raw figures of every run."""
    folder = Path(args.results_dir)
    folder.mkdir(parents=True, exist_ok=True)
    payload = {
        "benchmark": name,
        "when": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "quick": bool(args.quick),
        "machine": machine(),
        "rows": [row.as_dict() for row in rows],
        "details": details,
    }
    path = folder / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n", encoding="utf-8")
    print(f"results: {path}", flush=True)
    return path


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------- /proc metrics --
def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (seconds)."""
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def memory_mb(pid: int) -> dict[str, float]:
    """RSS (VmRSS), its anonymous and file parts, and PSS/USS (smaps_rollup) in MB."""
    out: dict[str, float] = {}
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith(("VmRSS", "RssAnon", "RssFile", "VmHWM")):
                name, value = line.split(":", 1)
                out[name] = int(value.split()[0]) / 1024
    try:
        with open(f"/proc/{pid}/smaps_rollup") as handle:
            private = 0
            for line in handle:
                if line.startswith("Pss:"):
                    out["Pss"] = int(line.split()[1]) / 1024
                elif line.startswith(("Private_Clean:", "Private_Dirty:")):
                    private += int(line.split()[1])
            out["Uss"] = private / 1024
    except OSError:
        pass
    return out


def children_of(pid: int) -> list[int]:
    """Direct children of ``pid`` (from /proc/<pid>/task/*/children)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(x) for x in (task / "children").read_text().split()]
        except OSError:
            continue
    return sorted(set(found))


def cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []


def model_server_pids(runtime_pid: int) -> list[int]:
    """The model-server processes of a runtime: its children running
    ``smflow.local.containers.serving`` (started as fresh processes) and the children of its fork
    server (``model_server --fork-server``), which are forked from it."""
    found: list[int] = []
    for child in children_of(runtime_pid):
        command = cmdline(child)
        if "smflow.local.containers.serving" not in command:
            continue
        if "--fork-server" in command:
            found += children_of(child)
        else:
            found.append(child)
    return found


def fork_server_pids(runtime_pid: int) -> list[int]:
    return [child for child in children_of(runtime_pid) if "--fork-server" in cmdline(child)]


# ---------------------------------------------------------------------------- the runtime --
@dataclass
class RuntimeProcess:
    url: str
    port: int
    pid: int
    state_dir: Path
    process: subprocess.Popen = field(repr=False)


@contextlib.contextmanager
def local_runtime(state_dir: Path | None = None, timeout: float = 60.0,
                  env: dict[str, str] | None = None) -> Iterator[RuntimeProcess]:
    """The runtime as users start it (``smflow local serve``, what ``smflow local up`` runs) on
    127.0.0.1 and a free port, as a child process; stopped (SIGTERM, then SIGKILL) on exit."""
    scratch = None
    if state_dir is None:
        scratch = tempfile.TemporaryDirectory(prefix="smflow-bench-")
        state_dir = Path(scratch.name) / "state"
    process = subprocess.Popen(
        [PYTHON, "-m", "smflow.cli", "local", "serve", "--host", HOST, "--port", "0", "--state-dir", str(state_dir)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, text=True,
        env={**os.environ, **(env or {})},
    )
    try:
        url = _read_ready_line(process, timeout)
        port = int(url.rsplit(":", 1)[1])
        yield RuntimeProcess(url, port, process.pid, Path(state_dir), process)
    finally:
        stop_process(process, grace=30.0)
        if scratch is not None:
            scratch.cleanup()


def _read_ready_line(process: subprocess.Popen, timeout: float) -> str:
    result: list[str] = []

    def read() -> None:
        for line in process.stdout:
            if "listening on" in line:
                result.append(line.split("listening on", 1)[1].split()[0].rstrip("/"))
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout)
    if not result:
        stop_process(process)
        raise RuntimeError(f"the local runtime did not start within {timeout:.0f} s")
    # keep draining stdout so that the child never blocks on a full pipe
    threading.Thread(target=lambda: [None for _ in process.stdout], daemon=True).start()
    return result[0]


def stop_process(process: subprocess.Popen, grace: float = 10.0) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def client_for(url: str):
    """An smflow client bound to the runtime, silent."""
    from smflow import SageMakerClient

    return SageMakerClient(endpoint_url=url, log=lambda line: None)


# ---------------------------------------------------------------------------- the model --
def iris_features():
    from sklearn.datasets import load_iris

    return load_iris().data


def write_blog_model(folder: Path) -> Path:
    """The blog's model (DecisionTreeClassifier(max_leaf_nodes=30) fitted on Iris) as
    ``folder/model.joblib`` with the blog script in ``folder/code``; returns ``model.tar.gz``
    (SageMaker's model archive layout)."""
    import shutil

    import joblib
    from sklearn.datasets import load_iris
    from sklearn.tree import DecisionTreeClassifier

    data = load_iris()
    model = DecisionTreeClassifier(max_leaf_nodes=30, random_state=0).fit(data.data, data.target)
    model_dir = folder / "model"
    (model_dir / "code").mkdir(parents=True, exist_ok=True)
    joblib.dump(model, model_dir / "model.joblib")
    shutil.copy(BLOG_SCRIPT, model_dir / "code" / BLOG_SCRIPT.name)
    archive = folder / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted(model_dir.rglob("*")):
            tar.add(path, arcname=path.relative_to(model_dir).as_posix(), recursive=False)
    return archive


def create_blog_model(client, archive: Path, model_name: str, environment: dict[str, str] | None = None) -> str:
    """Upload ``archive`` and create a model serving it with the blog script (code in the
    archive's ``code/``); returns the model name."""
    from smflow.image_uris import retrieve

    bucket = client.default_bucket()
    key = f"bench/{model_name}/model.tar.gz"
    client.s3.upload_file(str(archive), bucket, key)
    client.sagemaker.create_model(
        ModelName=model_name,
        ExecutionRoleArn="arn:aws:iam::123456789012:role/smflow-bench",
        PrimaryContainer={
            "Image": retrieve("sklearn", client.region_name, "1.2-1"),
            "ModelDataUrl": f"s3://{bucket}/{key}",
            "Environment": {"SAGEMAKER_PROGRAM": BLOG_SCRIPT.name,
                            "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code", **(environment or {})},
        },
    )
    return model_name


def deploy_blog_model(client, archive: Path, endpoint_name: str, instance_count: int = 1,
                      timeout: float = 180.0, environment: dict[str, str] | None = None) -> str:
    """:func:`create_blog_model` and an endpoint of the same name; returns once InService."""
    create_blog_model(client, archive, endpoint_name, environment)
    client.deploy(model_name=endpoint_name, endpoint_name=endpoint_name,
                  initial_instance_count=instance_count, timeout=timeout)
    return endpoint_name


def csv_rows(features, count: int, start: int = 0) -> bytes:
    rows = [features[(start + i) % len(features)] for i in range(count)]
    return "".join(",".join(f"{v:.1f}" for v in row) + "\n" for row in rows).encode()


# ------------------------------------------------------------------------ raw HTTP client --
class HttpConnection:
    """A minimal HTTP/1.1 keep-alive client: sends pre-built requests, reads the
    Content-Length or chunked answer. The same code drives every server under test, so the
    client's own cost is equal for all of them."""

    def __init__(self, port: int, timeout: float = 30.0):
        self.port = port
        self.timeout = timeout
        self.sock: socket.socket | None = None
        self.buffer = bytearray()
        self.connects = 0
        self._connect()

    def _connect(self) -> None:
        self.sock = socket.create_connection((HOST, self.port), timeout=self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = bytearray()
        self.connects += 1

    def close(self) -> None:
        if self.sock is not None:
            with contextlib.suppress(OSError):
                self.sock.close()
            self.sock = None

    def request(self, raw: bytes) -> tuple[int, bytes]:
        """Send one request; a server that answers ``Connection: close`` gets a new connection
        for the next request (as boto3/urllib3 do)."""
        if self.sock is None:
            self._connect()
        self.sock.sendall(raw)
        status, body, close = self._response()
        if close:
            self.close()
        return status, body

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed the connection")
        self.buffer += chunk

    def _response(self) -> tuple[int, bytes, bool]:
        buffer = self.buffer
        while (end := buffer.find(b"\r\n\r\n")) < 0:
            self._fill()
        head = bytes(buffer[:end]).decode("latin-1").split("\r\n")
        del buffer[: end + 4]
        status = int(head[0].split(" ", 2)[1])
        fields = {}
        for line in head[1:]:
            name, _, value = line.partition(":")
            fields[name.strip().lower()] = value.strip()
        close = fields.get("connection", "").lower() == "close" or head[0].startswith("HTTP/1.0")
        if "content-length" in fields:
            length = int(fields["content-length"])
            while len(buffer) < length:
                self._fill()
            body = bytes(buffer[:length])
            del buffer[:length]
            return status, body, close
        if "chunked" in fields.get("transfer-encoding", ""):
            parts = []
            while True:
                while (line_end := buffer.find(b"\r\n")) < 0:
                    self._fill()
                size = int(bytes(buffer[:line_end]).split(b";")[0], 16)
                del buffer[: line_end + 2]
                while len(buffer) < size + 2:
                    self._fill()
                parts.append(bytes(buffer[:size]))
                del buffer[: size + 2]
                if size == 0:
                    return status, b"".join(parts), close
        raise ConnectionError("response without Content-Length or chunked encoding")


def build_request(path: str, port: int, body: bytes, headers: dict[str, str]) -> bytes:
    lines = [f"POST {path} HTTP/1.1", f"Host: {HOST}:{port}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


@dataclass
class LoadResult:
    latencies: list[float]
    elapsed: float
    errors: int

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.elapsed if self.elapsed > 0 else 0.0


def closed_loop(port: int, request: bytes, concurrency: int, duration: float, warmup: int = 50,
                check: Callable[[int, bytes], bool] | None = None) -> LoadResult:
    """``concurrency`` kept-alive connections, each sending ``request`` again as soon as the
    previous answer is complete, for ``duration`` seconds (after ``warmup`` requests each).
    Latencies in seconds.

    One thread drives every connection through ``selectors`` (as wrk's event loop does): no
    client threads competing for the GIL, whose waits would otherwise show up in every
    server's latency tail. A server that answers ``Connection: close`` gets a new connection.
    """
    connections = [HttpConnection(port) for _ in range(concurrency)]
    for connection in connections:
        for _ in range(warmup):
            status, body = connection.request(request)
            if status != 200 or (check is not None and not check(status, body)):
                raise RuntimeError(f"warm-up request failed: {status} {body[:200]!r}")
    selector = selectors.DefaultSelector()
    clock = time.perf_counter
    states: dict[int, list] = {}  # fileno -> [connection, sent at, buffer]
    latencies: list[float] = []
    errors = 0

    def send(connection: HttpConnection) -> None:
        if connection.sock is None:
            connection._connect()
        connection.sock.setblocking(False)
        state = [connection, clock(), bytearray()]
        states[connection.sock.fileno()] = state
        selector.register(connection.sock, selectors.EVENT_READ, state)
        connection.sock.sendall(request)  # small requests fit the socket buffer

    start = clock()
    end = start + duration
    for connection in connections:
        send(connection)
    while states:
        for key, _ in selector.select(timeout=30):
            connection, sent, buffer = key.data
            try:
                chunk = connection.sock.recv(65536)
            except BlockingIOError:
                continue
            if not chunk:
                raise ConnectionError("the server closed the connection mid-answer")
            buffer += chunk
            answer = _complete_answer(buffer)
            if answer is None:
                continue
            status, close = answer
            now = clock()
            latencies.append(now - sent)
            if status != 200:
                errors += 1
            selector.unregister(connection.sock)
            del states[connection.sock.fileno()]
            connection.sock.setblocking(True)
            if close:
                connection.close()
            if now < end:
                send(connection)
    elapsed = clock() - start
    selector.close()
    for connection in connections:
        connection.close()
    return LoadResult(latencies, elapsed, errors)


def _complete_answer(buffer: bytearray) -> tuple[int, bool] | None:
    """``(status, connection closes)`` once ``buffer`` holds a whole Content-Length answer."""
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        return None
    head = bytes(buffer[:end]).decode("latin-1").split("\r\n")
    length, close = None, head[0].startswith("HTTP/1.0")
    for line in head[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "connection":
            close = close or value.strip().lower() == "close"
    if length is None:
        raise ConnectionError("answer without Content-Length")
    if len(buffer) < end + 4 + length:
        return None
    return int(head[0].split(" ", 2)[1]), close


def wait_http(port: int, path: str = "/ping", timeout: float = 120.0,
              process: subprocess.Popen | None = None) -> None:
    """Until ``GET path`` answers 200 on 127.0.0.1:port (raises TimeoutError)."""
    deadline = time.monotonic() + timeout
    request = f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\n\r\n".encode()
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the server exited with code {process.returncode} while starting")
        try:
            connection = HttpConnection(port, timeout=2)
            try:
                status, _ = connection.request(request)
            finally:
                connection.close()
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"127.0.0.1:{port}{path} did not answer within {timeout:.0f} s")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]
