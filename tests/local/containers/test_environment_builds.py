"""Building framework environments on demand (smflow.local.containers.environments): real venvs
built with pip, with the real base requirements (sagemaker-training, numpy, httptools, psutil),
each into a temporary folder of environments. Each build takes about a minute (pip's cache
helps the next ones)."""

from __future__ import annotations

import json
import subprocess
import threading

import pytest

from smflow.local.containers import environments
from smflow.local.containers.environments import (
    EnvironmentBuildError,
    EnvironmentSpec,
    ensure_environment,
    list_environments,
    remove_environments,
)

SIX = EnvironmentSpec(framework="tiny", family="1", framework_version="1.0", display="Tiny 1",
                      install_steps=(("six==1.16.0",),))


def _run(python: str, program: str, **env: str) -> str:
    return subprocess.run([python, "-c", program], capture_output=True, text=True, check=True,
                          env={"PATH": "/usr/bin:/bin", **env}).stdout.strip()


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return tmp_path_factory.mktemp("environments")


@pytest.fixture(scope="module")
def built(root):
    """SIX built by two threads at once: (python paths, log lines of each thread)."""
    logs: list[list[str]] = [[], []]
    results: list[str | BaseException] = [None, None]

    def build(index: int) -> None:
        try:
            results[index] = ensure_environment(SIX, logs[index].append, root=root)
        except BaseException as error:  # noqa: BLE001 - reported by the test
            results[index] = error

    threads = [threading.Thread(target=build, args=(index,)) for index in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=900)
    return results, logs


def test_two_jobs_asking_at_once_build_the_environment_once(built, root):
    results, logs = built

    assert results[0] == results[1] == str(root / "tiny-1" / "bin" / "python")
    builders = [log for log in logs if any(line.startswith("Building the Tiny 1 environment") for line in log)]
    assert len(builders) == 1, logs
    waiter = logs[1 - logs.index(builders[0])]
    assert any("Collecting six==1.16.0" in line or "six==1.16.0" in line for line in builders[0])
    assert waiter[-1] == f"The Tiny 1 environment was built by another job: {root / 'tiny-1'}"
    assert [path.name for path in root.iterdir() if not path.name.startswith(".")] == ["tiny-1"]
    assert not list(root.glob(".*building*"))


def test_the_environment_runs_the_toolkit_and_smflow_but_not_the_runtime_packages(built, root):
    python = built[0][0]

    found = _run(python, "import six, sagemaker_training, numpy, httptools, smflow.local.containers.serving.server;"
                         "import importlib.util as u; print(six.__version__, u.find_spec('sklearn') is None,"
                         " u.find_spec('moto') is None)")
    assert found == "1.16.0 True True"
    # The runtime that starts a process says which smflow it imports (environments are shared).
    package = environments.package_path(root)
    assert _run(python, "import smflow; print(smflow.__file__)", SMFLOW_PACKAGE_PATH=package).startswith(package)
    # Without it, the environment's own link (the runtime that built it) serves.
    assert _run(python, "import smflow; print(smflow.__file__)").startswith(str(root / "tiny-1" / "smflow-path"))
    # Installed scripts point at the final folder, not the temporary one it was built in.
    assert (root / "tiny-1" / "bin" / "pip").read_text().startswith(f"#!{root / 'tiny-1'}/bin/python")


def test_a_current_environment_is_not_rebuilt(built, root):
    lines: list[str] = []

    assert ensure_environment(SIX, lines.append, root=root) == built[0][0]
    assert lines == []


def test_changed_install_steps_rebuild_the_environment(built, root):
    before = json.loads((root / "tiny-1" / "smflow-environment.json").read_text())
    changed = EnvironmentSpec(framework="tiny", family="1", framework_version="1.1", display="Tiny 1",
                              install_steps=(("six==1.17.0",),))
    lines: list[str] = []

    python = ensure_environment(changed, lines.append, root=root)

    after = json.loads((root / "tiny-1" / "smflow-environment.json").read_text())
    assert lines[0].startswith("Rebuilding the Tiny 1 environment")
    assert after["digest"] != before["digest"] and after["framework_version"] == "1.1"
    assert _run(python, "import six; print(six.__version__)") == "1.17.0"
    assert not list(root.glob(".tiny-1.*"))


def test_a_failed_build_leaves_nothing_and_says_pips_error(root):
    broken = EnvironmentSpec(framework="broken", family="0", framework_version="0", display="Broken 0",
                             install_steps=(("smflow-test-no-such-package==0.0.1",),))
    lines: list[str] = []

    with pytest.raises(EnvironmentBuildError) as raised:
        ensure_environment(broken, lines.append, root=root)

    message = str(raised.value)
    assert message.startswith("pip install smflow-test-no-such-package==0.0.1 failed (exit code 1): ERROR:")
    assert "No matching distribution found for smflow-test-no-such-package==0.0.1" in message
    assert any("No matching distribution found" in line for line in lines)  # streamed as it ran
    assert not (root / "broken-0").exists()
    assert not list(root.glob(".broken-0*"))


def test_list_and_remove(built, root):
    listed = {info.path.name: info for info in list_environments(root)}

    assert listed["tiny-1"].state == "ready" and listed["tiny-1"].size_bytes > 50_000_000
    assert listed["tiny-1"].framework == "tiny"
    removed = remove_environments("tiny", root=root)
    assert [info.path.name for info in removed] == ["tiny-1"]
    assert not (root / "tiny-1").exists() and list_environments(root) == []
