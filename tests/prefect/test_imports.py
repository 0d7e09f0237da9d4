"""Importing the package is cheap: no Prefect, boto3 or NumPy until a task is used."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytest.importorskip("prefect")


def test_importing_smflow_prefect_loads_no_heavy_module():
    code = ("import sys, smflow_prefect; heavy = [m for m in ('prefect', 'boto3', 'numpy', 'prefect_aws') "
            "if m in sys.modules]; print(heavy); assert not heavy, heavy; "
            "assert 'train_model' in dir(smflow_prefect)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_task_has_an_async_twin_with_the_same_parameters():
    import inspect

    import smflow_prefect

    sync_tasks = [name for name in smflow_prefect.__all__
                  if hasattr(getattr(smflow_prefect, name), "submit") and not getattr(smflow_prefect, name).isasync]
    assert len(sync_tasks) == 12  # record_set joined upload_data, train_model, ...
    for name in sync_tasks:
        twin = getattr(smflow_prefect, f"a{name}")
        assert twin.isasync and hasattr(twin, "with_options")
        assert inspect.signature(twin.fn).parameters.keys() == inspect.signature(getattr(smflow_prefect, name).fn).parameters.keys()
        assert "Example:" in getattr(smflow_prefect, name).fn.__doc__ and "Example:" in twin.fn.__doc__
