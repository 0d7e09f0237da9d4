"""The local console: what the SageMaker console shows, for the resources of this runtime.

Served by the runtime itself at ``http://127.0.0.1:<port>/console/`` (``smflow local up``
prints the URL): server-rendered HTML from the runtime's own state, one stylesheet and one
small script served from this package (no build step, no CDN). Read-only, except Stop on a
running training or transform job and Delete on an endpoint, each a POST from a confirmation
page. See :mod:`.app` for the pages and the actions, :mod:`.stats` for the invocation counters.

The Airflow extra links and the Prefect link artifacts point at these pages when the client
talks to a custom endpoint (``<endpoint>/console/training-jobs/<name>`` and so on: the paths of
:data:`PAGES`).
"""

from __future__ import annotations

from smflow.local.console.stats import InvocationStats

# The page of each kind of resource, relative to the runtime's URL (what links point at).
PAGES = {
    "training-job": "/console/training-jobs/{name}",
    "transform-job": "/console/transform-jobs/{name}",
    "model": "/console/models/{name}",
    "endpoint": "/console/endpoints/{name}",
    "s3-prefix": "/console/s3/{bucket}?prefix={prefix}",
}
CONSOLE_PATH = "/console/"

__all__ = ["CONSOLE_PATH", "PAGES", "InvocationStats"]
