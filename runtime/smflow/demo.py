"""``make demo``: the Iris lifecycle of the seed blog post on the local runtime.

Starts the local runtime in the background unless it is running (or uses ``--endpoint-url``),
then runs :func:`smflow.examples.iris.run_lifecycle`. Exits non-zero if any step fails. The
training script is ``dags/scripts/scikit_learn_iris.py`` of an smflow checkout (run from its root
after a non-editable install) or ``--entry-point``.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time

from smflow.client import SageMakerClient
from smflow.errors import SmflowError
from smflow.examples.iris import run_lifecycle, training_script


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m smflow.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint-url", help="an already running runtime (default: start the local one)")
    parser.add_argument("--port", type=int, default=None,
                        help="port of the local runtime it starts (default 9510, or a free one when 9510 is taken)")
    parser.add_argument("--entry-point", help="the Iris training script (default: "
                        "dags/scripts/scikit_learn_iris.py of the smflow checkout)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        script = training_script(args.entry_point)
    except SmflowError as error:
        print(f"demo: {error}", file=sys.stderr)
        return 2

    url = args.endpoint_url
    if not url:
        from smflow.local import launcher

        try:
            info, started = launcher.start_background(port=args.port)
        except launcher.LauncherError as error:
            print(f"demo: {error}", file=sys.stderr)
            return 1
        url = info.url
        print(f"{'Started' if started else 'Using'} the smflow local runtime at {url} (state in {info.state_dir})")

    begin = time.monotonic()
    client = SageMakerClient(endpoint_url=url, log=lambda line: print(f"  | {line}", flush=True))
    try:
        result = run_lifecycle(client, say=lambda line: print(line, flush=True), entry_point=script)
    except SmflowError as error:
        print(f"demo failed: {error}", file=sys.stderr)
        return 1
    print(f"Iris lifecycle finished in {time.monotonic() - begin:.1f} s: accuracy "
          f"{result['accuracy']:.3f}, transform output {result['transform_output']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
