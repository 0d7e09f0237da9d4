"""The SageMaker resources smflow manages, one module per kind, behind
:class:`smflow.client.SageMakerClient`; :mod:`smflow.resources.specs` declares their arguments."""
