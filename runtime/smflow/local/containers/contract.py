"""The SageMaker container contract, as named constants: the ``/opt/ml`` paths, the environment
variables and the model-server routes that SageMaker and its framework containers agree on.

Sources: "Use Your Own Training Algorithms" and "Use Your Own Inference Code with Hosting
Services" (SageMaker developer guide), and AWS's ``sagemaker-training`` and
``sagemaker-inference`` toolkits, whose ``params`` / ``environment`` modules name the same
variables. Locally a job's or a model's folder stands in for ``/opt/ml``.
"""

from __future__ import annotations

# -- paths inside the container -------------------------------------------------------------
OPT_ML = "/opt/ml"
MODEL_DIR = "/opt/ml/model"  # model_fn(model_dir) receives it; training saves the model there
INPUT_CONFIG_DIR = "input/config"  # relative to /opt/ml
INPUT_DATA_DIR = "input/data"  # relative to /opt/ml; one folder per channel
OUTPUT_DATA_DIR = "output/data"  # relative to /opt/ml
FAILURE_FILE = "output/failure"  # relative to /opt/ml; the toolkit writes why training failed
HYPERPARAMETERS_FILE = "hyperparameters.json"
INPUT_DATA_CONFIG_FILE = "inputdataconfig.json"
RESOURCE_CONFIG_FILE = "resourceconfig.json"
CURRENT_HOST = "algo-1"  # the one training host's name

# -- environment variables ------------------------------------------------------------------
SAGEMAKER_BASE_DIR = "SAGEMAKER_BASE_DIR"  # the training toolkit's relocated /opt/ml
SAGEMAKER_PROGRAM = "SAGEMAKER_PROGRAM"  # the entry point's file name
SAGEMAKER_SUBMIT_DIRECTORY = "SAGEMAKER_SUBMIT_DIRECTORY"  # where the code comes from
SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT = "SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT"
SAGEMAKER_MODEL_SERVER_WORKERS = "SAGEMAKER_MODEL_SERVER_WORKERS"  # requests an instance serves at once
SM_MODEL_DIR = "SM_MODEL_DIR"
SM_STUDIO_LOCAL_MODE = "SM_STUDIO_LOCAL_MODE"  # the training toolkit's single-machine switch
TRAINING_JOB_NAME = "TRAINING_JOB_NAME"
TRAINING_JOB_ARN = "TRAINING_JOB_ARN"
S3_ENDPOINT_URL = "S3_ENDPOINT_URL"  # the training toolkit's S3 endpoint (sagemaker_training.params)
# Prefixes of the variables that belong to a container, never taken from the runtime's own environment.
CONTAINER_ENV_PREFIXES = ("AWS_", "SM_", "SAGEMAKER_")

# -- the model server's HTTP interface --------------------------------------------------------
PING_PATH = "/ping"
INVOCATIONS_PATH = "/invocations"
EXECUTION_PARAMETERS_PATH = "/execution-parameters"
CUSTOM_ATTRIBUTES_HEADER = "X-Amzn-SageMaker-Custom-Attributes"
DEFAULT_PROGRAM = "inference.py"  # the inference toolkit's default entry point name
INVOCATION_TIMEOUT = 60.0  # seconds: SageMaker gives a model 60 s to answer InvokeEndpoint
PING_TIMEOUT = 2.0  # seconds: SageMaker's /ping request timeout
