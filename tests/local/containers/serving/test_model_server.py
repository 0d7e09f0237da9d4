"""The local model server (smflow.local.containers.serving) with scikit-learn's contract
(smflow.local.containers.frameworks.sklearn), run as real processes.

Behaviour checked against the SageMaker Python SDK docs ("SageMaker Scikit-learn Model Server") and AWS's
scikit-learn container: model_fn is required, input_fn/predict_fn/output_fn default to NPY/JSON/
CSV <-> NumPy and model.predict, user overrides and transform_fn replace them, 415/406 for
unsupported types, 500 with the message when user code raises.
"""

from __future__ import annotations

import http.client
import importlib.util
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from smflow import codecs
from smflow.local.containers.frameworks import sklearn
from smflow.local.containers.serving import handlers

_SUPPORT_PATH = Path(__file__).resolve().parents[2] / "serving_scripts" / "support.py"
_spec = importlib.util.spec_from_file_location("smflow_serving_test_support", _SUPPORT_PATH)
support = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(support)


class ServerProcess:
    """``python -m smflow.local.containers.serving`` serving one entry point."""

    def __init__(self, root: Path, program: str, model_dir: Path, env: dict | None = None):
        self.root = root
        self.code_dir = root / "code"
        support.copy_script(program, self.code_dir)
        self.port_file = root / "port"
        self.stderr_path = root / "stderr.log"
        environment = dict(os.environ, SAGEMAKER_PROGRAM=program, PYTHONUNBUFFERED="1", **(env or {}))
        with open(self.stderr_path, "wb") as stderr:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "smflow.local.containers.serving",
                    "--framework",
                    "sklearn",
                    "--model-dir",
                    str(model_dir),
                    "--code-dir",
                    str(self.code_dir),
                    "--port",
                    "0",
                    "--port-file",
                    str(self.port_file),
                ],
                env=environment,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
        self.connection: http.client.HTTPConnection | None = None

    def wait_ready(self, timeout: float = 60.0) -> ServerProcess:
        deadline = time.monotonic() + timeout
        while not self.port_file.exists():
            assert self.process.poll() is None, f"server exited: {self.stderr()}"
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.02)
        self.connection = http.client.HTTPConnection("127.0.0.1", int(self.port_file.read_text()))
        return self

    def wait_exit(self, timeout: float = 60.0) -> int:
        return self.process.wait(timeout)

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        self.connection.request(method, path, body=body, headers=headers or {})
        response = self.connection.getresponse()
        return response.status, response.getheader("Content-Type"), response.read()

    def invoke(self, body: bytes, content_type: str | None, accept: str | None = None):
        headers = {}
        if content_type:
            headers["Content-Type"] = content_type
        if accept:
            headers["Accept"] = accept
        return self.request("POST", "/invocations", body, headers)

    def stop(self) -> None:
        if self.connection:
            self.connection.close()
        self.process.terminate()
        self.process.wait(10)


@pytest.fixture(scope="module")
def iris_model(tmp_path_factory):
    model_dir = tmp_path_factory.mktemp("iris-model")
    model = support.train_iris_model(model_dir)
    return model, model_dir


WEIGHTS = [1.0, 10.0, 100.0, 1000.0]


@pytest.fixture(scope="module")
def servers(tmp_path_factory, iris_model):
    """The blog's entry point on the Iris tree, and the overrides and transform_fn scripts on a
    light linear model (model_dir/weights.json), all started at once."""
    _, iris_dir = iris_model
    linear_dir = tmp_path_factory.mktemp("linear-model")
    (linear_dir / "weights.json").write_text(json.dumps({"weights": WEIGHTS}))
    started = {
        name: ServerProcess(tmp_path_factory.mktemp(name), program, model_dir)
        for name, program, model_dir in (
            ("blog", "scikit_learn_iris.py", iris_dir),
            ("overrides", "overrides.py", linear_dir),
            ("transform", "transform_fn_script.py", linear_dir),
        )
    }
    try:
        for server in started.values():
            server.wait_ready()
        yield started
    finally:
        for server in started.values():
            server.stop()


def _npy(array) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(array))
    return buffer.getvalue()


def _csv(array) -> bytes:
    return "\n".join(",".join(repr(float(v)) for v in row) for row in array).encode() + b"\n"


REQUEST_BODIES = {
    codecs.NPY: lambda features: _npy(features),
    codecs.JSON: lambda features: json.dumps(features.tolist()).encode(),
    codecs.CSV: lambda features: _csv(features),
}


def test_ping_answers_once_model_is_loaded(servers):
    assert servers["blog"].request("GET", "/ping")[0] == 200


@pytest.mark.parametrize("content_type", [codecs.NPY, codecs.JSON, codecs.CSV])
@pytest.mark.parametrize("accept", [codecs.NPY, codecs.JSON, codecs.CSV])
def test_default_functions_match_the_models_own_predictions(servers, iris_model, content_type, accept):
    model, _ = iris_model
    features, _ = support.iris()
    expected = model.predict(features)

    status, response_type, body = servers["blog"].invoke(
        REQUEST_BODIES[content_type](features), content_type, accept
    )

    assert status == 200, body
    assert response_type == accept
    assert codecs.decode(body, accept).astype(int).tolist() == expected.tolist()


def test_one_csv_row_is_one_prediction(servers, iris_model):
    model, _ = iris_model
    features, _ = support.iris()
    status, _, body = servers["blog"].invoke(_csv(features[100:101]), "text/csv", "text/csv")
    assert status == 200
    assert body == f"{model.predict(features[100:101])[0]}\n".encode()


@pytest.mark.parametrize("accept", [None, "*/*"])
def test_missing_or_any_accept_answers_json_like_the_container(servers, accept):
    status, response_type, body = servers["blog"].invoke(
        b"[[5.1, 3.5, 1.4, 0.2]]", "application/json", accept
    )
    assert (status, response_type) == (200, "application/json")
    assert json.loads(body) == [0]


def test_missing_content_type_is_read_as_json(servers):
    status, _, body = servers["blog"].invoke(b"[[6.7, 3.0, 5.2, 2.3]]", None)
    assert status == 200 and json.loads(body) == [2]


def test_unsupported_content_type_is_415_naming_the_supported_ones(servers):
    status, _, body = servers["blog"].invoke(b"a=1", "application/x-www-form-urlencoded", "application/json")
    message = body.decode()
    assert status == 415
    assert "application/x-www-form-urlencoded" in message
    assert all(kind in message for kind in codecs.SUPPORTED_CONTENT_TYPES)
    assert "input_fn" in message


def test_unsupported_accept_is_406_naming_the_supported_ones(servers):
    status, _, body = servers["blog"].invoke(b"[[5.1, 3.5, 1.4, 0.2]]", "application/json", "image/png")
    message = body.decode()
    assert status == 406
    assert "image/png" in message and all(kind in message for kind in codecs.SUPPORTED_CONTENT_TYPES)


def test_error_in_prediction_is_500_with_the_message(servers):
    status, _, body = servers["blog"].invoke(b"[[1.0, 2.0, 3.0]]", "application/json")
    assert status == 500
    assert "3 features" in body.decode() and "expecting 4 features" in body.decode()
    assert "ValueError" in servers["blog"].stderr()  # the traceback lands in the instance log


def test_unknown_route_is_404(servers):
    assert servers["blog"].request("GET", "/metrics")[0] == 404


def test_user_input_predict_and_output_fns_are_used(servers):
    rows = [[1.0, 2.0, 3.0, 4.0], [0.5, 0.0, 0.0, 2.0]]
    body = ";".join("|".join(str(v) for v in row) for row in rows).encode()

    status, response_type, answer = servers["overrides"].invoke(body, "application/x-pipes", "text/csv")

    assert status == 200
    assert response_type == "application/vnd.smflow+json"
    assert json.loads(answer) == {
        "scores": [float(np.dot(row, WEIGHTS)) for row in rows],
        "accept": "text/csv",
        "by": "output_fn",
    }


def test_user_input_fn_sees_other_types_and_its_error_is_500(servers):
    status, _, body = servers["overrides"].invoke(b"[[1, 2, 3, 4]]", "application/json")
    assert status == 500
    assert "only reads application/x-pipes, not application/json" in body.decode()


def test_user_predict_fn_raising_is_500_with_its_message(servers):
    status, _, body = servers["overrides"].invoke(b"5.1|-3.5|1.4|0.2", "application/x-pipes")
    assert status == 500
    assert "negative measurements cannot be scored" in body.decode()


def test_transform_fn_receives_body_content_type_and_accept(servers):
    rows = [[1, 1, 1, 1], [2, 0, 0, 0]]
    request = json.dumps({"instances": rows}).encode()

    status, response_type, body = servers["transform"].invoke(request, "application/json", "text/csv")

    assert (status, response_type) == (200, "text/csv")  # transform_fn's (body, content_type)
    assert json.loads(body) == {
        "scores": [1111.0, 2.0],
        "content_type": "application/json",
        "accept": "text/csv",
    }


def test_keep_alive_connection_serves_many_requests(servers):
    server = servers["blog"]
    for _ in range(50):
        assert server.invoke(b"[[5.1, 3.5, 1.4, 0.2]]", "application/json")[0] == 200
    assert server.connection.sock is not None  # the same connection stayed open


def test_model_fn_raising_stops_the_server_with_the_message(tmp_path):
    server = ServerProcess(tmp_path, "broken_model_fn.py", tmp_path)
    assert server.wait_exit() != 0
    assert not server.port_file.exists()
    assert "cannot load weights: model.joblib is corrupted" in server.stderr()


def test_missing_model_fn_is_a_clear_error(tmp_path):
    server = ServerProcess(tmp_path, "no_model_fn.py", tmp_path)
    assert server.wait_exit() != 0
    stderr = server.stderr()
    assert "does not define model_fn(model_dir)" in stderr and "no_model_fn.py" in stderr


def test_missing_entry_point_names_it(tmp_path):
    (tmp_path / "code").mkdir()
    process = subprocess.run(
        [
            sys.executable,
            "-m",
            "smflow.local.containers.serving",
            "--framework",
            "sklearn",
            "--model-dir",
            str(tmp_path),
            "--code-dir",
            str(tmp_path / "code"),
            "--port",
            "0",
        ],
        env=dict(os.environ, SAGEMAKER_PROGRAM="serve.py"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert process.returncode != 0
    assert "'serve.py'" in process.stderr and "SAGEMAKER_PROGRAM" in process.stderr


# -- request handling in-process: Accept resolution ------------------------------------------


class _Doubler:
    def predict(self, rows):
        return np.asarray(rows) * 2


def _handlers(default_accept: str) -> handlers.Handlers:
    return handlers.Handlers(
        model=_Doubler(),
        transform_fn=None,
        input_fn=sklearn.default_input_fn,
        predict_fn=sklearn.default_predict_fn,
        output_fn=sklearn.default_output_fn,
        execution_parameters_fn=None,
        default_accept=default_accept,
    )


def test_default_accept_comes_from_sagemaker_default_invocations_accept():
    reply = handlers.handle_invocation(_handlers("text/csv"), b"[[1, 2]]", "application/json", "*/*")
    assert (reply.status, reply.content_type, reply.body) == (200, "text/csv", b"2.0,4.0\n")


def test_accept_list_uses_the_first_supported_type():
    reply = handlers.handle_invocation(
        _handlers("application/json"), b"1,2\n", "text/csv", "image/png, text/csv;q=0.9, application/json"
    )
    assert (reply.status, reply.content_type) == (200, "text/csv")


def test_json_and_csv_inputs_become_float32_like_the_container():
    assert sklearn.default_input_fn("[[1, 2]]", "application/json").dtype == np.float32
    assert sklearn.default_input_fn("1,2\n", "text/csv").dtype == np.float32
    assert (
        sklearn.default_input_fn(_npy(np.array([[1, 2]], dtype=np.int64)), codecs.NPY).dtype == np.int64
    )


# -- large payloads: the vectorized CSV paths give exactly what smflow.codecs gives -----------


# -- workers: requests computed at once ------------------------------------------------------


@pytest.mark.parametrize("workers", [1, 2])
def test_the_server_computes_at_most_its_workers_requests_at_once(workers):
    import threading

    from smflow.local.containers.serving import server as serving_server

    lock, state = threading.Lock(), {"now": 0, "most": 0}

    def transform_fn(model, body, content_type, accept):
        with lock:
            state["now"] += 1
            state["most"] = max(state["most"], state["now"])
        time.sleep(0.15)
        with lock:
            state["now"] -= 1
        return b"done", "text/plain"

    served = handlers.Handlers(model=None, transform_fn=transform_fn, input_fn=None, predict_fn=None,
                               output_fn=None, execution_parameters_fn=None, default_accept=codecs.JSON)
    httpd = serving_server.make_server(served, 0, workers=workers)
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    answers = []

    def ask() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", httpd.server_address[1], timeout=30)
        connection.request("POST", "/invocations", body=b"{}", headers={"Content-Type": "application/json"})
        answers.append(connection.getresponse().read())
        connection.close()

    try:
        askers = [threading.Thread(target=ask) for _ in range(4)]
        for asker in askers:
            asker.start()
        for asker in askers:
            asker.join(30)
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert answers == [b"done"] * 4
    assert state["most"] == workers  # four at once, computed `workers` at a time


@pytest.mark.parametrize("value, expected", [("3", 3), (" 1 ", 1), ("", None), ("0", None), ("two", None)])
def test_workers_come_from_sagemaker_model_server_workers_else_the_cpu_count(monkeypatch, value, expected):
    from smflow.local.containers.serving import server as serving_server

    monkeypatch.setenv("SAGEMAKER_MODEL_SERVER_WORKERS", value)
    assert serving_server.workers_from_environment() == (expected or max(1, os.cpu_count() or 1))
