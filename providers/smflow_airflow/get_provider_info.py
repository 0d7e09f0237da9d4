"""Provider metadata, registered through the ``apache_airflow_provider`` entry point of the
``smflow`` distribution (pyproject.toml). Airflow's ProvidersManager reads it to list the
provider's hooks, operators, sensors, triggers and extra links (``airflow providers list``)."""

from __future__ import annotations

INTEGRATION = "Amazon SageMaker (smflow)"


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("smflow")
    except PackageNotFoundError:  # running from a source tree that is not installed
        return "0.0.0"


def get_provider_info() -> dict:
    return {
        # Airflow requires it to equal the distribution that declares the entry point.
        "package-name": "smflow",
        "name": "smflow",
        "description": (
            "SageMaker lifecycle operators, sensors and deferrable triggers over the smflow client; "
            "the same DAGs run against AWS or smflow's local runtime (endpoint_url in the aws connection)."
        ),
        "versions": [_version()],
        "integrations": [
            {
                "integration-name": INTEGRATION,
                "external-doc-url": "https://docs.aws.amazon.com/sagemaker/latest/APIReference/Welcome.html",
                "tags": ["aws"],
            }
        ],
        "hooks": [{"integration-name": INTEGRATION, "python-modules": ["smflow_airflow.hooks.sagemaker"]}],
        "operators": [{"integration-name": INTEGRATION, "python-modules": ["smflow_airflow.operators.sagemaker"]}],
        "sensors": [{"integration-name": INTEGRATION, "python-modules": ["smflow_airflow.sensors.sagemaker"]}],
        "triggers": [{"integration-name": INTEGRATION, "python-modules": ["smflow_airflow.triggers.sagemaker"]}],
        "extra-links": [
            "smflow_airflow.links.sagemaker.SageMakerTrainingJobLink",
            "smflow_airflow.links.sagemaker.SageMakerTransformJobLink",
            "smflow_airflow.links.sagemaker.SageMakerModelLink",
            "smflow_airflow.links.sagemaker.SageMakerEndpointLink",
        ],
    }
