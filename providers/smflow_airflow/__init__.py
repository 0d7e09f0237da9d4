"""smflow's Airflow provider: SageMaker lifecycle operators, sensors and deferrable triggers.

Modules: ``hooks.sagemaker`` (SageMakerClientHook), ``operators.sagemaker`` (every operator;
defined in ``operators.training``, ``models``, ``endpoints``, ``transform`` over
``operators.base``), ``sensors.sagemaker``, ``triggers.sagemaker`` (SageMakerResourceTrigger),
``links.sagemaker``.
The provider metadata is ``get_provider_info`` (entry point ``apache_airflow_provider``).
"""
