"""The model-server process of SageMaker framework containers, run locally, independent of the
framework: :mod:`.handlers` (the serving functions), :mod:`.server` (HTTP and the process),
:mod:`.fork_server` (model servers forked from a process with the libraries imported).
``python -m smflow.local.containers.serving`` runs a model server or a fork server."""
