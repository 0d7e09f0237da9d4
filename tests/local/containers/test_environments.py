"""Which local environment runs an image (smflow.local.containers.environments): digest URIs of
a framework's repository run locally; other repositories are refused with a reason."""

from __future__ import annotations

import sys

import pytest

from smflow.image_uris import retrieve
from smflow.local.containers.environments import UnsupportedImageError, resolve_environment

DIGEST = "sha256:" + "0123456789abcdef" * 4
US_EAST_1 = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn"


def test_digest_uri_runs_in_the_local_scikit_learn_environment():
    environment = resolve_environment(f"{US_EAST_1}@{DIGEST}")

    assert (environment.name, environment.python) == ("sklearn", sys.executable)
    assert resolve_environment(retrieve("sklearn", "us-isob-east-1", "1.2-1")).name == "sklearn"


def test_other_repositories_by_digest_are_refused_with_a_reason():
    with pytest.raises(UnsupportedImageError, match="only SageMaker scikit-learn"):
        resolve_environment(f"683313688378.dkr.ecr.us-east-1.amazonaws.com/my-image@{DIGEST}")
