"""``[database] sql_alchemy_connect_args`` of the test deployment (tests/airflow/deployment.py):
SQLite waits up to 60 s for a lock instead of 5 s. Four Airflow components and the task
processes write one SQLite file; on a loaded 2-core machine a writer can hold it past 5 s, and
the api-server then answers 500 ("database is locked"). A real deployment uses PostgreSQL (as
docker-compose.yml does)."""

CONNECT_ARGS = {"timeout": 60}
