"""The floor of the invocation benchmark: the least an HTTP prediction service can cost in
Python. One process, the standard library's threaded HTTP/1.1 keep-alive server, no routing
framework: ``POST /invocations`` parses the CSV body with NumPy, calls the model's
``predict`` and answers the predictions as CSV, one per line, in a single write.

Run: ``python bench/_floor_server.py --model model.joblib --port N`` (127.0.0.1 only).
"""

from __future__ import annotations

import argparse
import http.server
import io

import joblib
import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    model = joblib.load(args.model)

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, format, *args):  # noqa: A002
            return None

        def _answer(self, status: int, body: bytes, content_type: str = "text/csv") -> None:
            head = (f"HTTP/1.1 {status} OK\r\nContent-Type: {content_type}\r\n"
                    f"Content-Length: {len(body)}\r\n\r\n").encode()
            self.wfile.write(head + body)

        def do_GET(self) -> None:  # noqa: N802
            self._answer(200, b"", "text/plain")

        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            features = np.loadtxt(io.BytesIO(body), delimiter=",", ndmin=2)
            predictions = model.predict(features)
            self._answer(200, ("\n".join(map(str, predictions.tolist())) + "\n").encode())

    class Server(http.server.ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 128

    Server(("127.0.0.1", args.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
