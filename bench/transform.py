"""Batch transform: rows/s over an Iris-shaped CSV file of at least 200 MB (generated here) with
SplitType Line, BatchStrategy MultiRecord, MaxPayloadInMB 6, on the local runtime with one and
with two instances, beside the floor: the same file read, predicted and written in one process
(``bench/_transform_floor.py``).

An untimed warm-up job on a small file comes first: model servers are forked from a process
that imports scikit-learn once (about 1.5 s, paid by the first model server after the runtime
starts, or in the background during a training job), and that one-time start-up is not the
throughput this measures. A job's time is the runtime's own (DescribeTransformJob ``TransformEndTime - CreationTime``:
model servers started, input read from S3, predictions, output uploaded to S3); the time the
client saw (polling included) is in the JSON too. Every run checks that the output has one
line per input row.

Targets (issue 5): one instance >= 0.5x the floor's rows/s; two instances >= 1.6x faster than one.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _common as c

MODEL = "bench-transform"


def write_input(path: Path, megabytes: int) -> int:
    """An Iris-shaped CSV file of ``megabytes`` MiB (rows cycle over the Iris features);
    returns its number of rows."""
    block = c.csv_rows(c.iris_features(), 150)
    target = megabytes * 1024 * 1024
    rows = 0
    with open(path, "wb") as handle:
        chunk = block * 64
        written = 0
        while written + len(chunk) <= target:
            handle.write(chunk)
            written += len(chunk)
            rows += 150 * 64
        while written + len(block) <= target:
            handle.write(block)
            written += len(block)
            rows += 150
    return rows


def count_lines(client, bucket: str, key: str) -> int:
    body = client.s3.get_object(Bucket=bucket, Key=key)["Body"]
    lines = 0
    while chunk := body.read(8 * 1024 * 1024):
        lines += chunk.count(b"\n")
    return lines


def run_job(client, bucket: str, index: int, instances: int, rows: int, prefix: str = "transform-input") -> dict:
    name = f"bench-transform-{instances}x-{index}-{int(time.time())}"
    output = f"s3://{bucket}/bench/transform-output/{name}"
    mark = time.perf_counter()
    described = client.batch_transform(
        model_name=MODEL, data=f"s3://{bucket}/bench/{prefix}/", output_path=output,
        content_type="text/csv", split_type="Line", batch_strategy="MultiRecord", max_payload_mb=6,
        assemble_with="Line", accept="text/csv", instance_count=instances, job_name=name, timeout=900,
    )
    client_seconds = time.perf_counter() - mark
    seconds = (described["TransformEndTime"] - described["CreationTime"]).total_seconds()
    lines = count_lines(client, bucket, f"bench/transform-output/{name}/input.csv.out")
    if lines != rows:
        raise RuntimeError(f"{name}: {lines} output lines for {rows} input rows")
    return {"seconds": seconds, "client_seconds": client_seconds, "rows_per_s": rows / seconds}


def run_floor(model_path: Path, input_path: Path, scratch: Path, rows: int) -> dict:
    completed = subprocess.run(
        [c.PYTHON, str(c.BENCH_DIR / "_transform_floor.py"), str(model_path), str(input_path),
         str(scratch / "floor.csv.out")],
        capture_output=True, text=True, timeout=900, check=True,
    )
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    if result["rows"] != rows:
        raise RuntimeError(f"the floor predicted {result['rows']} rows of {rows}")
    (scratch / "floor.csv.out").unlink()
    return {"seconds": result["seconds"], "rows_per_s": rows / result["seconds"]}


def main(argv=None) -> int:
    args = c.parse_args(__doc__.splitlines()[0], argv,
                        extra=lambda p: p.add_argument("--megabytes", type=int, default=None,
                                                       help="input size in MiB (default 200; 50 with --quick)"))
    runs = args.runs or (1 if args.quick else 5)  # two instances need two idle cores: more runs, steadier median
    megabytes = args.megabytes or (50 if args.quick else 200)
    details: dict = {"runs": runs, "input_mib": megabytes, "floor": [], "1 instance": [], "2 instances": []}
    with tempfile.TemporaryDirectory(prefix="smflow-bench-transform-") as scratch_name:
        scratch = Path(scratch_name)
        archive = c.write_blog_model(scratch)
        input_path = scratch / "input.csv"
        rows = write_input(input_path, megabytes)
        details["rows"] = rows
        details["input_bytes"] = input_path.stat().st_size
        c.log(f"input: {details['input_bytes'] / 1e6:.0f} MB, {rows:,} rows")
        with c.local_runtime(scratch / "state") as runtime:
            client = c.client_for(runtime.url)
            bucket = client.default_bucket()
            client.s3.upload_file(str(input_path), bucket, "bench/transform-input/input.csv")
            c.create_blog_model(client, archive, MODEL)
            warm = c.csv_rows(c.iris_features(), 150)
            client.s3.put_object(Bucket=bucket, Key="bench/transform-warm-up/input.csv", Body=warm)
            run_job(client, bucket, 0, 2, 150, prefix="transform-warm-up")
            for index in range(runs):
                details["floor"].append(run_floor(scratch / "model" / "model.joblib", input_path, scratch, rows))
                for instances, key in ((1, "1 instance"), (2, "2 instances")):
                    details[key].append(run_job(client, bucket, index, instances, rows))
                c.log(f"run {index + 1}: " + ", ".join(
                    f"{key} {details[key][-1]['seconds']:.2f} s" for key in ("floor", "1 instance", "2 instances")))

    floor = c.median([r["rows_per_s"] for r in details["floor"]])
    one = c.median([r["rows_per_s"] for r in details["1 instance"]])
    two = c.median([r["rows_per_s"] for r in details["2 instances"]])
    speedups = [a["seconds"] / b["seconds"] for a, b in zip(details["1 instance"], details["2 instances"])]
    details["speedup_per_run"] = speedups
    size = f"{details['input_bytes'] / 1e6:.0f} MB"
    rows_table = [
        c.Row(f"rows/s, 1 instance ({size})", "rows/s", "one process", floor, one, c.ratio(one, floor),
              ">= 0.5x floor", None if one is None else one / floor >= 0.5),
        c.Row(f"rows/s, 2 instances ({size})", "rows/s", "one process", floor, two, c.ratio(two, floor)),
        c.Row("speed-up of 2 instances over 1 (same run)", "x", "1 instance", 1.0, c.median(speedups),
              c.median(speedups), ">= 1.6x", c.median(speedups) >= 1.6),
        c.Row("seconds, 1 instance", "s", "one process", c.median([r["seconds"] for r in details["floor"]]),
              c.median([r["seconds"] for r in details["1 instance"]]),
              c.ratio(c.median([r["seconds"] for r in details["1 instance"]]),
                      c.median([r["seconds"] for r in details["floor"]]))),
    ]
    if megabytes < 200:
        rows_table[0].note = f"input of {size} (--quick/--megabytes): the issue asks for at least 200 MB"
    c.print_table(f"Batch transform (Iris CSV, SplitType Line, MultiRecord, MaxPayloadInMB 6; medians of "
                  f"{runs} run(s))", rows_table)
    c.write_results("transform", args, rows_table, details)
    return 0


if __name__ == "__main__":
    sys.exit(main())
