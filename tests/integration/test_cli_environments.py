"""`smflow local env list | build | remove`: the framework environments on disk, seen, built ahead
of jobs (CI, offline use) and deleted from the command line.

The build test gives the scikit-learn image a small environment (six plus the real base
requirements) in a temporary folder of environments, and runs the command in-process so that the
framework module can be patched; the other tests run the installed `smflow` command.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from smflow import cli
from smflow.local.containers.environments import EnvironmentSpec
from smflow.local.containers.frameworks import sklearn as sklearn_module

pytestmark = pytest.mark.integration
SMFLOW = str(Path(sys.executable).with_name("smflow"))
TINY = EnvironmentSpec(framework="sklearn", family="cli-six", framework_version="1.2-1", display="CLI six",
                       install_steps=(("six==1.16.0",),), note="six stands in for scikit-learn here")


def run(*args: str, environments: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "SMFLOW_ENVIRONMENTS_DIR": str(environments)}
    return subprocess.run([SMFLOW, *args], capture_output=True, text=True, timeout=120, check=False, env=env)


def test_build_list_and_remove_an_environment(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SMFLOW_ENVIRONMENTS_DIR", str(tmp_path))
    monkeypatch.setattr(sklearn_module, "environment", lambda version: TINY)

    assert cli.main(["local", "env", "build", "sklearn", "1.2-1"]) == 0
    built = capsys.readouterr().out.splitlines()
    assert built[0] == "six stands in for scikit-learn here"
    assert built[1].startswith(f"Building the CLI six environment in {tmp_path / 'sklearn-cli-six'}")
    assert any("six==1.16.0" in line for line in built)  # pip's own output
    assert built[-1] == f"CLI six environment ready: {tmp_path / 'sklearn-cli-six' / 'bin' / 'python'}"

    assert cli.main(["local", "env", "build", "sklearn"]) == 0  # built already: nothing from pip
    assert capsys.readouterr().out.splitlines()[1:] == [
        f"CLI six environment ready: {tmp_path / 'sklearn-cli-six' / 'bin' / 'python'}"]

    assert cli.main(["local", "env", "list"]) == 0
    header, row = capsys.readouterr().out.splitlines()
    assert header.split() == ["FRAMEWORK", "FAMILY", "VERSION", "SIZE_MB", "STATE", "PATH"]
    framework, family, version, size, state, path = row.split()
    assert (framework, family, version, state, path) == ("sklearn", "cli-six", "1.2-1", "ready",
                                                         str(tmp_path / "sklearn-cli-six"))
    assert 50 < int(size) < 2000

    # The framework module now asks for other requirements: the next job rebuilds it.
    changed = EnvironmentSpec(**{**TINY.__dict__, "install_steps": (("six==1.17.0",),)})
    monkeypatch.setattr(sklearn_module, "environment", lambda version: changed)
    assert cli.main(["local", "env", "list"]) == 0
    assert capsys.readouterr().out.splitlines()[1].split()[4] == "stale"

    assert cli.main(["local", "env", "remove", "sklearn", "1.2-1"]) == 0
    assert capsys.readouterr().out.strip() == (
        f"removed sklearn cli-six (1.2-1, {size} MB): {tmp_path / 'sklearn-cli-six'}")
    assert not (tmp_path / "sklearn-cli-six").exists()
    assert cli.main(["local", "env", "list"]) == 0
    assert capsys.readouterr().out.strip() == f"no environments in {tmp_path}"


def test_a_failed_build_exits_1_with_pips_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SMFLOW_ENVIRONMENTS_DIR", str(tmp_path))
    broken = EnvironmentSpec(framework="sklearn", family="cli-broken", framework_version="0", display="CLI broken",
                             install_steps=(("smflow-test-no-such-package==0.0.1",),))
    monkeypatch.setattr(sklearn_module, "environment", lambda version: broken)

    assert cli.main(["local", "env", "build", "sklearn"]) == 1

    error = capsys.readouterr().err
    assert error.startswith("smflow: could not build the CLI broken environment: pip install")
    assert "No matching distribution found for smflow-test-no-such-package==0.0.1" in error
    assert [path.name for path in tmp_path.iterdir()] == [".locks"]


def test_the_runtimes_own_framework_has_nothing_to_build(tmp_path):
    result = run("local", "env", "build", "sklearn", environments=tmp_path)

    assert result.returncode == 0, result.stderr
    assert "sklearn runs in the runtime's own interpreter" in result.stdout and "nothing to build" in result.stdout


def test_an_unknown_framework_is_a_clear_error(tmp_path):
    result = run("local", "env", "build", "no-such-framework", environments=tmp_path)

    assert result.returncode == 1
    assert "unknown framework 'no-such-framework': use one of" in result.stderr and "sklearn" in result.stderr


def test_build_needs_a_framework_or_all(tmp_path):
    result = run("local", "env", "build", environments=tmp_path)

    assert result.returncode == 1 and "give FRAMEWORK [VERSION], or --all" in result.stderr


def test_list_and_remove_with_no_environments(tmp_path):
    listed = run("local", "env", "list", environments=tmp_path / "none")
    removed = run("local", "env", "remove", environments=tmp_path / "none")

    assert listed.returncode == removed.returncode == 0
    assert listed.stdout.strip() == f"no environments in {tmp_path / 'none'}"
    assert removed.stdout.strip() == f"nothing to remove: no environment of any framework in {tmp_path / 'none'}"
