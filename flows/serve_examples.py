"""Serve the example flows to a Prefect server: ``iris-lifecycle`` and ``iris-batch-scoring`` (run
them from the Prefect UI or ``prefect deployment run``) and ``iris-scheduled-retraining`` on its
cron schedule. This is the serve process of ``docker-compose.yml``; outside Compose::

    export PREFECT_API_URL=http://127.0.0.1:4200/api          # `prefect server start`
    export AWS_ENDPOINT_URL=http://127.0.0.1:9510              # what `smflow local up` printed
    export AWS_ACCESS_KEY_ID=smflow AWS_SECRET_ACCESS_KEY=smflow AWS_DEFAULT_REGION=us-east-1
    python flows/serve_examples.py

The served runs find AWS (or the local runtime) through boto3's usual configuration: the
``AWS_*`` variables above, or an instance role on AWS (pass ``role`` as a parameter there).
"""

import os
import sys
from pathlib import Path

if __name__ == "__main__":  # an offline example: no telemetry ("Failed to send telemetry" errors)
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")

sys.path.insert(0, str(Path(__file__).resolve().parent))

from iris_batch_scoring import iris_batch_scoring  # noqa: E402
from iris_lifecycle import iris_lifecycle  # noqa: E402
from iris_scheduled_retraining import DEFAULT_CRON, iris_scheduled_retraining  # noqa: E402

TAGS = ["smflow", "sagemaker", "iris"]


def deployments(cron: str = DEFAULT_CRON) -> list:
    """The example flows' deployments, as :func:`prefect.serve` takes them."""
    return [
        iris_lifecycle.to_deployment(name="iris-lifecycle", tags=TAGS,
                                     description="The Iris lifecycle of the seed blog post"),
        iris_batch_scoring.to_deployment(name="iris-batch-scoring", tags=TAGS,
                                         description="Batch-transform new Iris measurements with a model"),
        iris_scheduled_retraining.to_deployment(
            name="iris-scheduled-retraining", cron=cron, tags=TAGS, concurrency_limit=1,
            parameters={"endpoint_name": "iris-live"},
            description="Retrain the Iris model and update the live endpoint if it is not worse"),
    ]


def main() -> int:
    from prefect import serve
    from prefect.settings import PREFECT_API_URL

    if not PREFECT_API_URL.value():
        print("serve_examples: set PREFECT_API_URL to a Prefect server (`prefect server start`): the "
              "ephemeral API runs no schedules", file=sys.stderr)
        return 2
    serve(*deployments())
    return 0


if __name__ == "__main__":
    sys.exit(main())
