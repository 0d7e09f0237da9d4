"""Transitional: the names that modules restructured in parallel still import from here.

The resource store moved to :mod:`smflow.local.state.store`, restart recovery to
:mod:`smflow.local.state.recovery` and the jobs' ``_Process`` field to
:mod:`smflow.local.services.sagemaker.models`. This module goes away at the merge of issue 9,
once ``smflow.local.training`` and ``tests/unit/test_processes.py`` import from those modules.
"""

from smflow.local.services.sagemaker.models import PROCESS_FIELD
from smflow.local.state.recovery import recover_after_restart
from smflow.local.state.store import ResourceStore

__all__ = ["PROCESS_FIELD", "ResourceStore", "recover_after_restart"]
