"""The Iris example finds its training script in a checkout, takes its path, or says what to do."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import smflow
from smflow import demo
from smflow.errors import ConfigurationError
from smflow.examples import iris

CHECKOUT_SCRIPT = Path(__file__).resolve().parents[2] / "dags" / "scripts" / "scikit_learn_iris.py"


@pytest.fixture
def installed_from_a_wheel(monkeypatch, tmp_path):
    """As after a non-editable install: no checkout next to the package, cwd elsewhere."""
    monkeypatch.setattr(iris, "TRAINING_SCRIPT", tmp_path / "site-packages" / "dags" / "scripts" / "x.py")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_checkout_script_is_found():
    assert iris.training_script() == CHECKOUT_SCRIPT
    assert iris.training_script().samefile(iris.TRAINING_SCRIPT)


def test_installed_without_a_checkout_is_a_clear_error(installed_from_a_wheel):
    with pytest.raises(ConfigurationError, match="run from the root of an smflow checkout, or pass"):
        iris.training_script()


def test_installed_and_run_from_a_checkout_uses_its_script(installed_from_a_wheel):
    script = installed_from_a_wheel / "dags" / "scripts" / "scikit_learn_iris.py"
    script.parent.mkdir(parents=True)
    shutil.copy(CHECKOUT_SCRIPT, script)

    assert iris.training_script() == script


def test_an_explicit_path_wins_and_must_exist(installed_from_a_wheel):
    assert iris.training_script(CHECKOUT_SCRIPT) == CHECKOUT_SCRIPT
    with pytest.raises(ConfigurationError, match="'nowhere.py' is not a file"):
        iris.training_script("nowhere.py")


def test_run_lifecycle_refuses_before_any_request(installed_from_a_wheel):
    class NoCalls:
        def __getattr__(self, name):
            raise AssertionError(f"client.{name} used")

    with pytest.raises(ConfigurationError, match="checkout"):
        iris.run_lifecycle(NoCalls(), say=lambda line: None)


def test_demo_without_the_script_exits_2_before_starting_anything(installed_from_a_wheel, capsys):
    assert demo.main(["--endpoint-url", "http://127.0.0.1:9"]) == 2
    assert "--entry-point" in capsys.readouterr().err


def test_demo_of_a_copied_package_says_how_to_run_it(tmp_path):
    """``python -m smflow.demo`` from a copy of the package (the layout of site-packages)."""
    site = tmp_path / "site-packages"
    shutil.copytree(Path(smflow.__file__).parent, site / "smflow",
                    ignore=shutil.ignore_patterns("__pycache__"))
    env = {**os.environ, "PYTHONPATH": str(site)}
    probe = subprocess.run(
        [sys.executable, "-c", "import smflow; print(smflow.__file__)"],
        cwd=tmp_path, env=env, capture_output=True, text=True, check=True,
    )
    assert probe.stdout.strip() == str(site / "smflow" / "__init__.py")

    run = subprocess.run(
        [sys.executable, "-m", "smflow.demo", "--endpoint-url", "http://127.0.0.1:9"],
        cwd=tmp_path, env=env, capture_output=True, text=True,
    )

    assert run.returncode == 2, run.stderr
    assert "run from the root of an smflow checkout" in run.stderr
    assert "Traceback" not in run.stderr
