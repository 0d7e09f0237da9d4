"""SageMaker lifecycle operators: thin Airflow wrappers over :class:`smflow.client.SageMakerClient`.

=========================================  ===================================================
operator                                   client call (boto3 calls in ``smflow.client``)
=========================================  ===================================================
``SageMakerTrainOperator``                 ``train`` (CreateTrainingJob), then waits
``SageMakerAttachOperator``                ``attach`` (DescribeTrainingJob), waits if running
``SageMakerCreateModelOperator``           ``create_model`` (CreateModel)
``SageMakerDeployOperator``                ``deploy`` (CreateEndpointConfig, Create/UpdateEndpoint)
``SageMakerPredictOperator``               ``predict`` (InvokeEndpoint)
``SageMakerBatchTransformOperator``        ``batch_transform`` (CreateTransformJob), then waits
``SageMakerDeleteEndpointOperator``        ``delete_endpoint`` (idempotent; a teardown task)
=========================================  ===================================================

The public import path of the operators: they are defined one module per resource
(``training``, ``models``, ``endpoints``, ``transform``) over the bases of ``operators.base``,
which also describes what every operator shares (connection, arguments, naming, waiting,
errors). Importing this module imports neither boto3 nor the smflow client (DAG parsing stays
fast).
"""

from __future__ import annotations

from smflow_airflow.operators.base import SageMakerBaseOperator, SageMakerWaitingOperator
from smflow_airflow.operators.endpoints import (
    SageMakerDeleteEndpointOperator,
    SageMakerDeployOperator,
    SageMakerPredictOperator,
)
from smflow_airflow.operators.models import SageMakerCreateModelOperator
from smflow_airflow.operators.training import SageMakerAttachOperator, SageMakerTrainOperator
from smflow_airflow.operators.transform import SageMakerBatchTransformOperator

__all__ = [
    "SageMakerAttachOperator",
    "SageMakerBaseOperator",
    "SageMakerBatchTransformOperator",
    "SageMakerCreateModelOperator",
    "SageMakerDeleteEndpointOperator",
    "SageMakerDeployOperator",
    "SageMakerPredictOperator",
    "SageMakerTrainOperator",
    "SageMakerWaitingOperator",
]
