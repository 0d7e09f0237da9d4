"""Run every benchmark (``make bench``), each in its own process with a time limit, then print
one summary of the rows that carry a target, as text and as a Markdown table (the README's
Performance section), and write it to ``bench/results/summary.json``.

Usage: ``python bench/run_all.py [--quick] [--only lifecycle,invoke,...]``. About 12 minutes on
2 cores (``--quick``: about 3, a smoke test: single short runs, a 50 MB transform input); the
first run also creates ``.venv-bench`` for MLflow (about a minute, needs the package index).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
# name -> time limit in seconds
BENCHMARKS = {"lifecycle": 600, "invoke": 900, "transform": 900, "orchestration": 900, "scale": 900, "clients": 900,
              "healing": 600,
              # per framework (bench/frameworks/_harness.py): training, deployment, environment builds,
              # invoke throughput; a cold environment build alone takes 1-4 minutes
              **{f"frameworks/{name}": 1800 for name in ("sklearn", "pytorch", "tensorflow", "mxnet", "chainer",
                                                        "xgboost")}}


def _fmt(value, unit: str) -> str:
    if value is None:
        return "n/a"
    text = f"{value:,.0f}" if abs(value) >= 100 else (f"{value:.1f}" if abs(value) >= 10 else f"{value:.3g}")
    return f"{text} {unit}".strip()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer and shorter runs (a smoke test)")
    parser.add_argument("--only", default="", help="comma-separated benchmark names")
    args = parser.parse_args(argv)
    names = [n for n in args.only.split(",") if n] or list(BENCHMARKS)
    unknown = set(names) - set(BENCHMARKS)
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(sorted(unknown))}: choose from {', '.join(BENCHMARKS)}")

    outcomes: dict[str, str] = {}
    began = time.perf_counter()
    for name in names:
        command = [sys.executable, str(BENCH_DIR / f"{name}.py"), *(["--quick"] if args.quick else [])]
        print(f"\n=== {name} ===", flush=True)
        mark = time.perf_counter()
        (RESULTS_DIR / f"{name}.json").unlink(missing_ok=True)
        try:
            completed = subprocess.run(command, cwd=BENCH_DIR.parent, timeout=BENCHMARKS[name])
            outcomes[name] = "ok" if completed.returncode == 0 else f"failed (exit code {completed.returncode})"
        except subprocess.TimeoutExpired:
            outcomes[name] = f"stopped after {BENCHMARKS[name]} s"
        print(f"=== {name}: {outcomes[name]} in {time.perf_counter() - mark:.0f} s", flush=True)

    lines = ["| benchmark | metric | baseline | smflow | ratio | target | met |", "|---|---|---|---|---|---|---|"]
    summary: dict = {"quick": args.quick, "seconds": time.perf_counter() - began, "benchmarks": {}}
    for name in names:
        path = RESULTS_DIR / f"{name}.json"
        if outcomes[name] != "ok" or not path.is_file():
            lines.append(f"| {name} | {outcomes[name]} | | | | | |")
            summary["benchmarks"][name] = {"outcome": outcomes[name]}
            continue
        result = json.loads(path.read_text())
        summary["benchmarks"][name] = {"outcome": "ok", "rows": result["rows"]}
        for row in result["rows"]:
            if not row.get("target"):
                continue
            baseline = f"{row['baseline_name']}: {_fmt(row['baseline'], row['unit'])}" if row["baseline_name"] else "-"
            ratio = "n/a" if row["ratio"] is None else f"{row['ratio']:.2f}x"
            met = {True: "yes", False: "**no**", None: "-"}[row["met"]]
            lines.append(f"| {name} | {row['metric']} | {baseline} | {_fmt(row['smflow'], row['unit'])} | {ratio} "
                         f"| {row['target']} | {met} |")
    print(f"\nSummary ({'quick, ' if args.quick else ''}{summary['seconds']:.0f} s):\n")
    print("\n".join(lines))
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return 0 if all(outcome == "ok" for outcome in outcomes.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
