"""Names of SageMaker jobs, models, endpoint configs and endpoints.

SageMaker names match ``^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}`` (at most 63 characters; API reference,
CreateTrainingJob ``TrainingJobName``). Two kinds of name are made here:

* ``timestamped_name("iris")`` -> ``iris-2026-11-21-10-31-02-123``, the SageMaker Python SDK's
  ``name_from_base``: unique per call.
* ``stable_name("iris", key="dag.task.run")`` -> ``iris-<10 hex digits>``: the same for the same
  key, so an orchestrator's retry finds the job its earlier attempt started instead of launching a
  duplicate.
"""

from __future__ import annotations

import hashlib
import re
import time
from datetime import datetime, timezone
from typing import Literal, get_args

from smflow.errors import ConfigurationError

ActionIfJobExists = Literal["attach", "fail", "timestamp"]
"""What to do when a job of the chosen name exists (``SageMakerClient.train`` / ``batch_transform``):
``attach`` to it (or start ``<name>-2`` after one that failed), ``fail``, or start a ``timestamp``ed one."""
ACTIONS_IF_JOB_EXISTS: tuple[str, ...] = get_args(ActionIfJobExists)


def check_action_if_job_exists(value: str, *, where: str = "") -> str:
    """Return ``value`` if it is one of :data:`ACTIONS_IF_JOB_EXISTS`.

    Raises:
        ConfigurationError: any other value (``where``, e.g. ``"task 'train': "``, prefixes the message).
    """
    if value not in ACTIONS_IF_JOB_EXISTS:
        raise ConfigurationError(
            f"{where}action_if_job_exists must be 'attach', 'fail' or 'timestamp', got {value!r}"
        )
    return value

MAX_NAME_LENGTH = 63
_VALID_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
_INVALID_RUN = re.compile(r"[^a-zA-Z0-9]+")


def sanitize(base: str) -> str:
    """Turn any text into a valid name stem: runs of other characters become one ``-``."""
    cleaned = _INVALID_RUN.sub("-", base).strip("-")
    return cleaned or "smflow"


def validate_name(name: str, field: str = "name") -> str:
    """Return ``name`` if it is a valid SageMaker name, else raise ConfigurationError naming ``field``."""
    if not isinstance(name, str) or not _VALID_NAME.match(name):
        raise ConfigurationError(
            f"{field} {name!r} is not a valid SageMaker name: use 1-63 letters, digits and "
            "hyphens, starting and ending with a letter or digit"
        )
    return name


def base_name_from_image(image_uri: str | None, default: str) -> str:
    """The job name prefix the SageMaker Python SDK derives from an image (``base_name_from_image``):
    the image's repository name (``<account>.dkr.ecr.<region>.amazonaws.com/my-trainer:1.0`` ->
    ``my-trainer``), or ``default`` without an image."""
    if not image_uri:
        return default
    repository = image_uri.split("@", 1)[0].rsplit("/", 1)[-1].split(":", 1)[0]
    return repository or default


def _join(base: str, suffix: str) -> str:
    stem = sanitize(base)[: MAX_NAME_LENGTH - len(suffix) - 1].rstrip("-")
    return f"{stem}-{suffix}"


def timestamped_name(base: str, now: float | None = None) -> str:
    """``<base>-<YYYY-mm-dd-HH-MM-SS-mmm>`` (UTC), truncating ``base`` to fit 63 characters."""
    moment = datetime.fromtimestamp(time.time() if now is None else now, tz=timezone.utc)
    return _join(base, moment.strftime("%Y-%m-%d-%H-%M-%S-%f")[:-3])


_TIMESTAMP_SUFFIX = re.compile(r"-\d{4}(-\d{2}){5}-\d{3}$")


def base_of(name: str) -> str:
    """``name`` without a trailing ``timestamped_name`` suffix: the base to derive names from."""
    return _TIMESTAMP_SUFFIX.sub("", name) or name


def stable_name(base: str, key: str) -> str:
    """``<base>-<sha1(key)[:10]>``: deterministic for a key such as ``"<dag>.<task>.<run_id>"``."""
    digest = hashlib.sha1(key.encode("utf-8")).hexdigest()[:10]
    return _join(base, digest)


def attempt_name(name: str, attempt: int) -> str:
    """The name of retry ``attempt`` (1-based) of a job: ``name``, ``name-2``, ``name-3``, ..."""
    if attempt <= 1:
        return name
    return _join(name, str(attempt))
