"""Settings for the whole test suite.

Framework environments (``smflow.local.containers.environments``) are big (TensorFlow's is
1.6 GB) and slow to build, so every test session shares one cache: ``$SMFLOW_ENVIRONMENTS_DIR``
when set (CI pre-builds there with ``smflow local env build``), else ``<repo>/.smflow/environments``
(git ignores ``.smflow/``). Set here, at import, so that runtimes started in-process and in
subprocesses by any test see it.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

if not os.environ.get("SMFLOW_ENVIRONMENTS_DIR"):
    os.environ["SMFLOW_ENVIRONMENTS_DIR"] = str(REPO / ".smflow" / "environments")
