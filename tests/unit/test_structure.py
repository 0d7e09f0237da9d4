"""A framework is data plus one module: outside its registry file and its two modules (the client's
conventions, the local runtime's container contract), the library never names it. Example
pipelines (``smflow.examples``, the demos, dags/, flows/*.py) train a scikit-learn script and may
say so; the client, the local runtime, the Airflow provider and the Prefect tasks may not."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LIBRARY = [ROOT / "runtime" / "smflow", ROOT / "providers" / "smflow_airflow", ROOT / "flows" / "smflow_prefect"]
EXAMPLES = {
    "runtime/smflow/examples",
    "runtime/smflow/demo.py",
    "providers/smflow_airflow/demo.py",
}
# framework name -> the words that name it in code, messages and docstrings
FRAMEWORKS = {
    "sklearn": re.compile(r"sklearn|scikit", re.IGNORECASE),
    "pytorch": re.compile(r"torch", re.IGNORECASE),
    "tensorflow": re.compile(r"tensorflow|\btf\b|\btfs\b", re.IGNORECASE),
    "mxnet": re.compile(r"mxnet", re.IGNORECASE),
    "chainer": re.compile(r"chainer", re.IGNORECASE),
    "xgboost": re.compile(r"xgboost", re.IGNORECASE),
}
DEFAULT_FRAMEWORK = "sklearn"
# A quoted pip requirement with a version ("scikit-learn==1.2.2"): an environment's package, not a framework named.
_REQUIREMENT = re.compile(r"""["'][A-Za-z0-9_.-]+\s*(==|>=|<=|~=|!=|<|>)[^"']*["']""")


def _own_files(framework: str) -> set[str]:
    return {
        f"runtime/smflow/frameworks/{framework}.py",
        f"runtime/smflow/frameworks/data/{framework}.json",
        f"runtime/smflow/local/containers/frameworks/{framework}.py",
        f"runtime/smflow/local/containers/algorithms/{framework}.py",  # an image that is also a built-in algorithm
    }


def _library_files():
    for root in LIBRARY:
        for path in sorted(root.rglob("*")):
            if path.is_file() and path.suffix in {".py", ".json"} and "__pycache__" not in path.parts:
                relative = path.relative_to(ROOT).as_posix()
                if not any(relative == example or relative.startswith(example + "/") for example in EXAMPLES):
                    yield relative, path


@pytest.mark.parametrize("framework", sorted(FRAMEWORKS))
def test_a_framework_is_named_only_in_its_own_module_and_data_file(framework):
    allowed = _own_files(framework) | {"runtime/smflow/frameworks/__init__.py"}
    pattern = FRAMEWORKS[framework]
    offenders = []
    for relative, path in _library_files():
        if relative in allowed:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if pattern.search(_REQUIREMENT.sub('""', line)):
                offenders.append(f"{relative}:{number}: {line.strip()}")
    assert not offenders, f"{framework} named outside its own files:\n" + "\n".join(offenders)


@pytest.mark.parametrize("framework", sorted(FRAMEWORKS))
def test_the_registry_names_only_the_default_framework(framework):
    """``smflow.frameworks`` (the registry) may name one framework, the default one, once."""
    text = (ROOT / "runtime/smflow/frameworks/__init__.py").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if FRAMEWORKS[framework].search(line)]
    if framework == DEFAULT_FRAMEWORK:
        assert len(lines) <= 1 and all("DEFAULT_FRAMEWORK" in line for line in lines), lines
    else:
        assert not lines, lines


def test_every_framework_with_a_registry_file_is_checked():
    data = ROOT / "runtime" / "smflow" / "frameworks" / "data"
    assert {path.stem for path in data.glob("*.json")} <= set(FRAMEWORKS)
