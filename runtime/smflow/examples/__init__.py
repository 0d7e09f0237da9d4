"""Example pipelines' shared pieces (the Iris lifecycle of seed 002), used by the demo, the
Airflow DAGs and the Prefect flows alike."""
