"""Which images go to Docker, and the reasons given when they cannot run there, without a Docker
daemon (the Docker tests themselves are in tests/local/docker)."""

from __future__ import annotations

import pytest

from smflow.cli import build_parser
from smflow.image_uris import retrieve
from smflow.local.containers.docker import DOCKER_FRAMEWORKS_ENV, DockerError, docker_image, runs_in_docker
from smflow.local.containers.docker.engine import REASON_LIMIT, local_images, pull_commands

OWN_IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/my-algorithm:2.0"


def test_images_no_framework_module_claims_run_in_docker(monkeypatch):
    monkeypatch.delenv(DOCKER_FRAMEWORKS_ENV, raising=False)
    framework_image = retrieve("sklearn", "us-east-1", "1.2-1", "py3", "ml.m5.large", "training")
    assert not runs_in_docker(framework_image)
    # a claimed repository keeps its module even for a version the module refuses (its error says which run)
    assert not runs_in_docker(framework_image.rsplit(":", 1)[0] + ":0.1-cpu-py3")
    assert runs_in_docker(OWN_IMAGE)
    assert runs_in_docker("busybox:latest")  # not of the ECR form: claimed by no module
    monkeypatch.setenv(DOCKER_FRAMEWORKS_ENV, "1")
    assert runs_in_docker(framework_image)


def test_smflow_local_up_and_serve_take_docker_frameworks():
    for action in ("up", "serve"):
        assert build_parser().parse_args(["local", action, "--docker-frameworks"]).docker_frameworks
        assert not build_parser().parse_args(["local", action]).docker_frameworks


def test_pull_commands_log_in_to_ecr_first():
    assert pull_commands(OWN_IMAGE) == (
        "aws ecr get-login-password --region eu-west-1 | docker login --username AWS --password-stdin "
        f"123456789012.dkr.ecr.eu-west-1.amazonaws.com && docker pull {OWN_IMAGE}")
    assert pull_commands("busybox:latest") == "docker pull busybox:latest"


@pytest.mark.parametrize("frameworks_in_docker", [False, True])
def test_without_a_daemon_the_reason_names_both_ways_out(monkeypatch, tmp_path, frameworks_in_docker):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/docker.sock")
    if frameworks_in_docker:
        monkeypatch.setenv(DOCKER_FRAMEWORKS_ENV, "1")
    else:
        monkeypatch.delenv(DOCKER_FRAMEWORKS_ENV, raising=False)
    with pytest.raises(DockerError) as error:
        docker_image(OWN_IMAGE)
    reason = str(error.value)
    assert reason.startswith(f"Image '{OWN_IMAGE}' cannot run on the smflow local runtime: ")
    assert f"no Docker daemon is reachable at unix://{tmp_path}/docker.sock" in reason
    assert "Start Docker (or set DOCKER_HOST" in reason or "start Docker (or set DOCKER_HOST" in reason
    if frameworks_in_docker:
        assert "without --docker-frameworks" in reason
    else:
        assert "use a framework image that runs in a local environment: SageMaker " in reason
        assert "sagemaker-scikit-learn" in reason
    assert len(reason) <= REASON_LIMIT


def test_the_list_of_local_images_fits_the_room_it_is_given():
    full = local_images(10_000)
    assert full.startswith("SageMaker ") and full.endswith(" images.")
    short = local_images(60)
    assert short.endswith(" more.") and len(short) < len(full)
