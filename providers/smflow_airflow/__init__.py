"""smflow's Airflow provider: SageMaker lifecycle operators, sensors and deferrable triggers.

Modules: ``hooks.sagemaker`` (SageMakerClientHook), ``operators.sagemaker``,
``sensors.sagemaker``, ``triggers.sagemaker`` (SageMakerResourceTrigger), ``links.sagemaker``.
The provider metadata is ``get_provider_info`` (entry point ``apache_airflow_provider``).
"""
