# The smflow local runtime (smflow[local]) for docker-compose.yml.
FROM python:3.11-slim
COPY pyproject.toml README.md /src/
COPY runtime /src/runtime
COPY providers /src/providers
COPY flows /src/flows
RUN pip install --no-cache-dir '/src[local]'
EXPOSE 9510
CMD ["smflow", "local", "serve", "--host", "0.0.0.0", "--port", "9510", "--state-dir", "/state", "--allow-host", "smflow"]
