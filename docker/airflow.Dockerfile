# Airflow 3 with smflow's provider (smflow[airflow]) for docker-compose.yml.
FROM apache/airflow:3.3.2-python3.11
COPY --chown=airflow:0 pyproject.toml README.md /opt/smflow/
COPY --chown=airflow:0 runtime /opt/smflow/runtime
COPY --chown=airflow:0 providers /opt/smflow/providers
COPY --chown=airflow:0 flows /opt/smflow/flows
RUN pip install --no-cache-dir "apache-airflow==3.3.2" "/opt/smflow[airflow]"
