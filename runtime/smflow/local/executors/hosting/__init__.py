"""The hosting executor: endpoints (:class:`.deployment.Deployment`) and the model-server
instances that endpoints and transform jobs share (:mod:`.models`, :mod:`.instances`,
:mod:`.fork_server`)."""

from smflow.local.executors.hosting.deployment import Deployment, InvocationResult
from smflow.local.executors.hosting.errors import ModelServerError, VariantNotFoundError
from smflow.local.executors.hosting.fork_server import FORK_ENV, FORK_SERVER, warm_up_model_servers
from smflow.local.executors.hosting.models import PreparedModel

__all__ = [
    "Deployment",
    "FORK_ENV",
    "FORK_SERVER",
    "InvocationResult",
    "ModelServerError",
    "PreparedModel",
    "VariantNotFoundError",
    "warm_up_model_servers",
]
