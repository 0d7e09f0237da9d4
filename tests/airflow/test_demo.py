"""``python -m smflow_airflow.demo`` (what ``make demo`` runs): its Airflow environment and its
refusal of a wrong DAG folder. The full run is what tests/airflow/test_dags.py runs with
``airflow dags test``."""

from __future__ import annotations

import json
from pathlib import Path

from smflow_airflow import demo


def test_the_demo_environment_points_airflow_at_sqlite_the_dags_and_the_runtime(tmp_path):
    env = demo.airflow_env(tmp_path, demo.DEFAULT_DAGS_FOLDER, "http://127.0.0.1:9510", deferrable=True)
    assert env["AIRFLOW_HOME"] == str(tmp_path)
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == f"sqlite:///{tmp_path / 'airflow.db'}"
    assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "False"
    assert Path(env["AIRFLOW__CORE__DAGS_FOLDER"], "iris_lifecycle.py").is_file()
    assert env["AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE"] == "True"
    connection = json.loads(env["AIRFLOW_CONN_AWS_DEFAULT"])
    assert connection["conn_type"] == "aws"
    assert connection["extra"] == {"endpoint_url": "http://127.0.0.1:9510", "region_name": "us-east-1"}


def test_the_demo_refuses_a_dags_folder_without_the_dag(tmp_path, capsys):
    assert demo.main(["--dags-folder", str(tmp_path), "--endpoint-url", "http://127.0.0.1:9"]) == 2
    assert "iris_lifecycle.py not found; pass --dags-folder" in capsys.readouterr().err
