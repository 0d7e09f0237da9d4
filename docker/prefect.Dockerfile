# Prefect 3 with smflow's tasks (smflow[prefect]) and the example flows for docker-compose.yml.
FROM prefecthq/prefect:3-python3.11
COPY pyproject.toml README.md /opt/smflow/
COPY runtime /opt/smflow/runtime
COPY providers /opt/smflow/providers
COPY flows /opt/smflow/flows
COPY dags/scripts /opt/smflow/dags/scripts
RUN pip install --no-cache-dir "/opt/smflow[prefect]"
WORKDIR /opt/smflow
