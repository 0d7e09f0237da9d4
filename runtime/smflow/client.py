"""The smflow client: the SageMaker model lifecycle in a few typed calls over boto3.

Example (against the local runtime started by ``smflow local up``)::

    from smflow import SageMakerClient

    client = SageMakerClient(endpoint_url="http://127.0.0.1:9510")
    data = client.upload_data("data/iris.csv", key_prefix="iris/data")
    job = client.train(entry_point="train.py",
                       hyperparameters={"max_leaf_nodes": 30}, inputs={"train": data})
    model = client.create_model(training_job_name=job["TrainingJobName"])
    client.deploy(model_name=model["ModelName"], endpoint_name="iris")
    species = client.predict("iris", [[5.1, 3.5, 1.4, 0.2]])
    client.delete_endpoint("iris")

Every method maps onto the boto3 calls it names in its docstring; waiting uses one state table
(``smflow.states``) and polls with backoff (``smflow.waiting``). The calls are written one module
per kind of resource (:mod:`smflow.resources.training`, ``models``, ``endpoints``,
``transform``, ``algorithms``: ``record_set``); this class is their union, so each signature is written once.
"""

from __future__ import annotations

from smflow.image_uris import parse_image_uri
from smflow.resources.algorithms import RecordSets
from smflow.resources.base import completion_message, is_not_found
from smflow.resources.endpoints import Endpoints
from smflow.resources.models import Models
from smflow.resources.training import TrainingJobs
from smflow.resources.transform import TransformJobs


class SageMakerClient(TrainingJobs, Models, Endpoints, TransformJobs, RecordSets):
    """The SageMaker lifecycle over boto3's ``sagemaker``, ``sagemaker-runtime``, ``s3`` and
    ``logs`` clients.

    Args:
        boto_session: a boto3 session to use (credentials, region); default: boto3's chain.
        region_name: AWS region when no session is given.
        endpoint_url: one endpoint for every service (e.g. the smflow local runtime); default:
            boto3's configuration (``AWS_ENDPOINT_URL``). With a custom endpoint and no
            credentials, dummy credentials are used.
        role: default execution role ARN for jobs and models. Against a custom endpoint it
            defaults to a placeholder role of the caller's account.
        default_bucket: bucket for code, data and outputs; default ``sagemaker-<region>-<account>``
            (created when missing), as the SageMaker Python SDK.
        log: receives training log lines and progress messages; default the ``smflow`` logger.
        backoff: polling delays while waiting (seconds).
        botocore_config: a ``botocore.config.Config`` merged over smflow's client defaults
            (standard retries, 5 attempts): e.g. ``Config(read_timeout=900)``.
        verify: TLS certificate verification of every client, as boto3's ``verify``: False, or
            the path of a CA bundle; default boto3's configuration.
    """


__all__ = ["SageMakerClient", "completion_message", "is_not_found", "parse_image_uri"]
