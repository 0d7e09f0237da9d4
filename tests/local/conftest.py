"""Fixtures of the local runtime tests: a real server on a free port with a temporary state dir.

``runtime`` uses the real executors (training, hosting, transform); ``fake_runtime`` swaps in the
executor test doubles below (a Deployment steered by its model's container Environment, and job
runs that wait for the test to finish them), so lifecycles run in milliseconds.
"""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from smflow.local.services.sagemaker.backend import Executors
from smflow.local.server import LocalRuntime

REGION = "us-east-1"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
FAST_WAIT = {"Delay": 0.05, "MaxAttempts": 400}  # botocore waiters, polling every 50 ms


class Runtime:
    """A LocalRuntime that can be stopped and started again on the same state dir."""

    def __init__(self, state_dir: Path, executors: Executors | None = None):
        self.state_dir = state_dir
        self.executors = executors
        self.server: LocalRuntime | None = None
        self.url: str | None = None

    def start(self) -> str:
        self.server = LocalRuntime(self.state_dir, executors=self.executors, deployment_timeout=60)
        self.url = self.server.start()
        return self.url

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    def restart(self) -> str:
        self.stop()
        return self.start()

    def session(self) -> boto3.session.Session:
        return boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test",
                                     region_name=REGION)

    def client(self, service: str, **config: Any):
        return self.session().client(service, endpoint_url=self.url,
                                     config=Config(retries={"max_attempts": 1}, **config))


@pytest.fixture
def runtime(tmp_path):
    """A running local runtime with the real executors."""
    runtime = Runtime(tmp_path / "state")
    runtime.start()
    yield runtime
    runtime.stop()


# ------------------------------------------------------------------------------------------
# Test doubles of the executors
# ------------------------------------------------------------------------------------------
class FakeDeployment:
    """Stands in for hosting.Deployment. Behaviour comes from the first variant's model
    Environment: FAKE_START_SECONDS (start delay), FAKE_HOLD (start waits until the test sets
    ``executors.gates[tag]``), FAKE_FAIL (start raises ModelServerError with that text), FAKE_TAG
    (echoed in every answer)."""

    def __init__(self, endpoint_name, variants, work_dir, aws, registry, gates):
        self.endpoint_name = endpoint_name
        self.variants = variants
        self.work_dir = Path(work_dir)
        env = variants[0][1]["PrimaryContainer"].get("Environment", {})
        self.start_seconds = float(env.get("FAKE_START_SECONDS", "0"))
        self.fail = env.get("FAKE_FAIL")
        self.tag = env.get("FAKE_TAG", variants[0][1]["ModelName"])
        self.gate = gates[self.tag] if env.get("FAKE_HOLD") else None
        self.started = False
        self.stopped = False
        registry.append(self)

    def start(self, timeout: float = 120.0) -> None:
        from smflow.local.executors.hosting import ModelServerError

        assert self.work_dir.is_dir()
        self.start_began = time.monotonic()
        time.sleep(self.start_seconds)
        if self.gate is not None and not self.gate.wait(timeout=30):
            raise ModelServerError("the test never released the deployment")
        self.start_ended = time.monotonic()
        if self.fail:
            raise ModelServerError(self.fail)
        self.started = True

    def invoke(self, body, content_type, accept, target_variant=None, custom_attributes=None):
        from smflow.local.executors.hosting import InvocationResult

        if not self.started or self.stopped:
            raise AssertionError("invoked a deployment that is not serving")
        variant = target_variant or self.variants[0][0]["VariantName"]
        if content_type == "application/x-unsupported":
            return InvocationResult(415, b"unsupported content type: application/x-unsupported",
                                    "text/plain", variant)
        answer = {"tag": self.tag, "body": body.decode(), "accept": accept,
                  "custom_attributes": custom_attributes}
        return InvocationResult(200, json.dumps(answer).encode(), "application/json", variant)

    def stop(self) -> None:
        self.stopped = True


class HeldRun:
    """Stands in for TrainingRun/TransformRun: does nothing until the test finishes it."""

    def __init__(self, kind: str, description: dict, on_update):
        self.kind = kind
        self.description = description
        self.on_update = on_update
        self.started = threading.Event()
        self.stopped = threading.Event()

    def start(self) -> None:
        self.started.set()

    def stop(self) -> None:
        self.stopped.set()
        self.on_update({f"{self.kind}Status": "Stopped"})

    def finish(self, status: str, **fields: Any) -> None:
        self.on_update({f"{self.kind}Status": status, **fields})

    def join(self, timeout=None) -> None:
        pass


class FakeExecutors(Executors):
    def __init__(self):
        self.deployments: list[FakeDeployment] = []
        self.runs: dict[str, HeldRun] = {}
        self.gates: defaultdict[str, threading.Event] = defaultdict(threading.Event)

    def deployment(self, endpoint_name, variants, work_dir, aws):
        return FakeDeployment(endpoint_name, variants, work_dir, aws, self.deployments, self.gates)

    def training_run(self, description, work_dir, aws, on_update):
        run = HeldRun("TrainingJob", description, on_update)
        self.runs[description["TrainingJobName"]] = run
        return run

    def transform_run(self, description, model, work_dir, aws, on_update):
        run = HeldRun("TransformJob", description, on_update)
        self.runs[description["TransformJobName"]] = run
        return run


@pytest.fixture
def fake_runtime(tmp_path):
    """A running local runtime whose executors are the test doubles above (``.executors``)."""
    runtime = Runtime(tmp_path / "state", FakeExecutors())
    runtime.start()
    yield runtime
    runtime.stop()


def create_fake_model(sm, name: str, **environment: str) -> str:
    sm.create_model(ModelName=name, ExecutionRoleArn=ROLE,
                    PrimaryContainer={"Image": "fake.example/serving:1", "Environment": environment})
    return name


def create_config(sm, name: str, model_name: str, variant: str = "AllTraffic") -> str:
    sm.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[{
        "VariantName": variant, "ModelName": model_name, "InstanceType": "ml.m5.large",
        "InitialInstanceCount": 1}])
    return name
