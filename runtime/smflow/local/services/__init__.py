"""The AWS services the local runtime implements itself, each split as moto splits a service:
a state model and its operations (``models.py``, ``backend.py``) apart from the wire protocol
(``responses.py``).

- :mod:`.sagemaker`: the SageMaker API (training jobs, models, endpoint configs, endpoints,
  transform jobs), JSON 1.1;
- :mod:`.runtime`: SageMaker Runtime InvokeEndpoint, rest-json, served by the SageMaker
  backend's endpoints;
- :mod:`.protocol`: what both wire protocols share (botocore's service models and constraint
  checks, request ids, the SigV4 signing service).

S3, STS and CloudWatch Logs are moto's (see :mod:`smflow.local.server`).
"""
