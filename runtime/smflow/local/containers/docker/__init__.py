"""Images that no local environment runs, run in Docker containers (bring-your-own containers).

SageMaker runs any image that follows its container contract ("Use Your Own Training Algorithms"
and "Use Your Own Inference Code with Hosting Services", SageMaker developer guide):
``docker run <image> train`` with ``/opt/ml`` laid out for training, ``docker run <image> serve``
with ``/opt/ml/model`` and a model server on port 8080 answering ``GET /ping`` and
``POST /invocations``. The local runtime does the same through the Docker Engine API (the
``docker`` Python package, never the ``docker`` command line) for every image that no local
environment claims (:mod:`smflow.local.containers.environments`), and, when the runtime is
started with ``smflow local up --docker-frameworks`` or ``SMFLOW_DOCKER_FRAMEWORKS=1``, for AWS's
own framework images too (exact parity for users who have pulled them).

- :mod:`.engine`: the daemon connection (``DOCKER_HOST`` or the default socket), the image
  check (images are never pulled), labels, container processes, clean-up;
- :mod:`.training`: ``train`` for :class:`smflow.local.executors.training.TrainingRun`;
- :mod:`.serving`: ``serve`` for the model-server instances of endpoints and transform jobs
  (:mod:`smflow.local.executors.hosting.instances`).
"""

from smflow.local.containers.docker.engine import (
    DOCKER_FRAMEWORKS_ENV,
    DockerError,
    DockerImage,
    docker_frameworks_enabled,
    docker_image,
    runs_in_docker,
)

__all__ = [
    "DOCKER_FRAMEWORKS_ENV",
    "DockerError",
    "DockerImage",
    "docker_frameworks_enabled",
    "docker_image",
    "runs_in_docker",
]
