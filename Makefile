# The two commands of the README: `make demo` and `make test`. Both set up from nothing:
# a virtual environment in .venv (created or reused), smflow installed into it in editable mode with
# every extra: dev, the local runtime, Airflow, Prefect.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
EXTRAS ?= dev,local,airflow,prefect
STAMP := $(VENV)/.smflow-installed-$(EXTRAS)

.PHONY: demo demo-client test install local-up local-down bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[$(EXTRAS)]'
	@touch $(STAMP)

install: $(STAMP)

# `make demo PORT=9600`: the runtime's port (default 9510, or a free one when 9510 is taken).
PORT_ARG := $(if $(PORT),--port $(PORT),)

demo: $(STAMP)
	$(BIN)/python -m smflow_airflow.demo $(PORT_ARG)

demo-client: $(STAMP)
	$(BIN)/python -m smflow.demo $(PORT_ARG)

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

local-up: $(STAMP)
	$(BIN)/smflow local up $(PORT_ARG)

bench: $(STAMP)
	$(BIN)/python bench/run_all.py

local-down: $(STAMP)
	$(BIN)/smflow local down

clean:
	rm -rf $(VENV) .smflow build *.egg-info
