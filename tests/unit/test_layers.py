"""Layers point one way: a walk over the import statements of smflow, smflow_airflow and
smflow_prefect (module level and inside functions, read with :mod:`ast`, nothing imported).

The layers, lowest first:

- base: ``smflow.errors``, ``codecs``, ``recordio``, ``image_uris``, ``frameworks``, ``algorithms``, ``consoles``,
  ``naming``, ``archives``, ``states``: pure data and conventions, imported by everyone; they import only base modules.
- client: ``smflow.client``, ``resources``, ``aio``, ``waiting``, ``session``, ``packaging``,
  ``logs``, ``summaries``, ``builders``: base and client, never ``smflow.local``.
- local runtime: ``smflow.local``: base and local, never the client layer, the apps or the
  integrations.
- apps: ``smflow.cli``, ``smflow.demo``, ``smflow.examples``: anything, ``smflow.local`` only
  inside a function (the command that starts a runtime).
- integrations: ``smflow_airflow``, ``smflow_prefect``: base, client and their own package;
  ``smflow.local.launcher`` only, and only inside the function that starts a runtime.

A second rule keeps ``pip install smflow`` thin: outside ``smflow.local`` and the apps, nothing
imports a package that only the ``local`` extra installs (moto, werkzeug, httptools,
sagemaker-training, scikit-learn, scipy, pandas, joblib, psutil), at module level or in a
function. ``tests/packaging/test_install.py`` checks the same on a real install.

The ``smflow`` package itself (``__version__``, ``__file__``) may be imported by every layer;
it re-exports ``SageMakerClient`` lazily, so ``from smflow import SageMakerClient`` counts as an
import of ``smflow.client``, and the package imports base and client modules only inside a
function.

Imports under ``if TYPE_CHECKING:`` count as module-level imports: a type-only dependency still
points a way. Every module must belong to a layer, so a new module is placed before it ships.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCE_ROOTS = (ROOT / "runtime", ROOT / "providers", ROOT / "flows")
PACKAGES = ("smflow", "smflow_airflow", "smflow_prefect")

BASE = ("smflow.errors", "smflow.codecs", "smflow.recordio", "smflow.image_uris", "smflow.frameworks",
        "smflow.algorithms", "smflow.naming", "smflow.archives", "smflow.states", "smflow.consoles")
CLIENT = ("smflow.client", "smflow.resources", "smflow.aio", "smflow.waiting", "smflow.session",
          "smflow.packaging", "smflow.logs", "smflow.summaries", "smflow.builders")
APPS = ("smflow.cli", "smflow.demo", "smflow.examples")
LOCAL = ("smflow.local",)
LAUNCHER = "smflow.local.launcher"
ROOT_PACKAGE = "smflow"
# Names the smflow package re-exports lazily (PEP 562 ``__getattr__``) -> the module they live in.
REEXPORTS = {"SageMakerClient": "smflow.client"}

# Top-level import names of the distributions that only `smflow[local]` installs.
LOCAL_ONLY_PACKAGES = frozenset(
    {"moto", "werkzeug", "httptools", "sagemaker_training", "sklearn", "scipy", "pandas", "joblib", "psutil"}
)


def _within(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == prefix or module.startswith(prefix + ".") for prefix in prefixes)


def layer_of(module: str) -> str | None:
    """The layer of an smflow module: root (the ``smflow`` package), base, client, local, apps,
    airflow, prefect, or "unassigned" for an smflow module no rule places; None for anything else (stdlib,
    third-party)."""
    top = module.split(".")[0]
    if top == "smflow_airflow":
        return "airflow"
    if top == "smflow_prefect":
        return "prefect"
    if top != "smflow":
        return None
    if module == ROOT_PACKAGE:
        return "root"
    if _within(module, CLIENT):
        return "client"
    for name, prefixes in (("base", BASE), ("local", LOCAL), ("apps", APPS)):
        if _within(module, prefixes):
            return name
    return "unassigned"


@dataclass(frozen=True)
class Import:
    importer: str  # dotted module name
    path: str  # file, relative to the walked root's parent
    line: int
    target: str  # dotted name of the module imported (a submodule when `from pkg import sub`)
    in_function: bool

    def where(self) -> str:
        return f"{self.path}:{self.line} {self.importer} imports {self.target}" + (
            " (inside a function)" if self.in_function else " (at module level)"
        )


def discover(roots: tuple[Path, ...], packages: tuple[str, ...] = PACKAGES) -> dict[str, Path]:
    """Dotted module name -> file, for every .py file of ``packages`` under ``roots``."""
    modules: dict[str, Path] = {}
    for root in roots:
        for package in packages:
            folder = root / package
            if not folder.is_dir():
                continue
            for path in sorted(folder.rglob("*.py")):
                parts = list(path.relative_to(root).with_suffix("").parts)
                if parts[-1] == "__init__":
                    parts.pop()
                modules[".".join(parts)] = path
    return modules


class _ImportVisitor(ast.NodeVisitor):
    def __init__(self, module: str, is_package: bool, path: str, known: set[str]):
        self.module, self.is_package, self.path, self.known = module, is_package, path, known
        self.depth = 0
        self.found: list[Import] = []

    def _function(self, node):
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _function

    def _add(self, node: ast.stmt, target: str) -> None:
        self.found.append(Import(self.module, self.path, node.lineno, target, self.depth > 0))

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(node, alias.name)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            package = self.module if self.is_package else self.module.rpartition(".")[0]
            parts = package.split(".")
            anchor = ".".join(parts[: len(parts) - (node.level - 1)])
            base = f"{anchor}.{node.module}" if node.module else anchor
        else:
            base = node.module or ""
        for alias in node.names:
            submodule = f"{base}.{alias.name}"
            if submodule in self.known:
                self._add(node, submodule)
            elif base == ROOT_PACKAGE and alias.name in REEXPORTS:
                self._add(node, REEXPORTS[alias.name])
            else:
                self._add(node, base)


def collect_imports(modules: dict[str, Path], known: set[str] | None = None) -> list[Import]:
    """Every import statement of ``modules`` (module level, in classes and in functions);
    ``known``: the module names that ``from package import name`` may mean (default ``modules``)."""
    known = set(modules) if known is None else known
    found: list[Import] = []
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        depth = len(module.split(".")) + (path.name == "__init__.py")
        shown = path.relative_to(path.parents[depth - 1].parent)  # runtime/smflow/..., providers/...
        visitor = _ImportVisitor(module, path.name == "__init__.py", str(shown), known)
        visitor.visit(tree)
        found.extend(visitor.found)
    return found


def broken_rule(imp: Import) -> str | None:
    """The rule ``imp`` breaks, or None."""
    source = layer_of(imp.importer)
    target = layer_of(imp.target)
    if "unassigned" in (source, target):
        return None  # the module itself is reported (see violations)
    top = imp.target.split(".")[0]
    if top in LOCAL_ONLY_PACKAGES and source not in ("local", "apps"):
        return (f"the {source} layer must not import {top}: only `smflow[local]` installs it, and "
                "`pip install smflow` (with or without [airflow]/[prefect]) must work without it")
    if target is None or target == source or target == "root":
        return None
    if source == "root":
        if target in ("base", "client") and imp.in_function:
            return None
        return ("the smflow package imports base and client modules only inside a function (its lazy "
                f"re-exports), so that `import smflow` stays cheap; here the {target} layer")
    if source == "base":
        return f"base modules import only base modules, not the {target} layer"
    if source == "client":
        if target == "base":
            return None
        if target == "local":
            return "the client layer never imports smflow.local (it talks to the runtime through boto3 only)"
        return f"the client layer imports only base and client modules, not the {target} layer"
    if source == "local":
        if target == "base":
            return None
        return f"the local runtime imports only base and local modules, not the {target} layer"
    if source == "apps":
        if target == "local" and not imp.in_function:
            return "apps import smflow.local only inside a function (the command that starts a runtime)"
        return None
    # smflow_airflow / smflow_prefect
    if target in ("base", "client"):
        return None
    if target == "local":
        if imp.target != LAUNCHER:
            return f"{source} reaches the local runtime only through {LAUNCHER}"
        if not imp.in_function:
            return f"{source} imports {LAUNCHER} only inside the function that starts a runtime"
        return None
    return f"{source} imports only base and client modules (and its own package), not the {target} layer"


def violations(roots: tuple[Path, ...], packages: tuple[str, ...] = PACKAGES) -> list[str]:
    """One line per wrong-way import: where, what, and the rule it breaks."""
    modules = discover(roots, packages)
    lines = []
    for module in modules:
        if layer_of(module) == "unassigned":
            lines.append(f"{module}: belongs to no layer: add it to BASE, CLIENT, APPS or LOCAL in this test")
    for imp in collect_imports(modules):
        rule = broken_rule(imp)
        if rule:
            lines.append(f"{imp.where()}: {rule}")
    return lines


def test_layers_point_one_way():
    found = violations(SOURCE_ROOTS)
    for line in found:
        print(line)
    assert not found, "wrong-way imports:\n" + "\n".join(found)


def test_the_walk_sees_the_packages():
    modules = discover(SOURCE_ROOTS)
    assert {"smflow.client", "smflow.local.launcher", "smflow_airflow.operators.sagemaker",
            "smflow_prefect.training"} <= set(modules)
    imports = collect_imports({"smflow_prefect.local": modules["smflow_prefect.local"]}, set(modules))
    assert any(imp.target == LAUNCHER and imp.in_function for imp in imports)


# ---------------------------------------------------------------------------- the walk itself


def _tree(root: Path, files: dict[str, str]) -> tuple[Path, ...]:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return (root,)


FAKE_PACKAGES = {
    "smflow/__init__.py": "def __getattr__(name):\n    from smflow.client import SageMakerClient\n",
    "smflow/errors.py": "",
    "smflow/naming.py": "from smflow import errors\n",
    "smflow/client.py": "from smflow import errors, naming\n",
    "smflow/local/__init__.py": "",
    "smflow/local/launcher.py": "import smflow\nfrom smflow.errors import X\n",
    "smflow/local/server.py": "from . import launcher\n",
    "smflow/cli.py": "def main():\n    from smflow.local import launcher\n",
    "smflow_airflow/__init__.py": "",
    "smflow_airflow/hooks.py": "from smflow.client import SageMakerClient\n",
    "smflow_prefect/__init__.py": "",
    "smflow_prefect/local.py": (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from smflow.client import SageMakerClient\n"
        "def credentials():\n    from smflow.local import launcher\n"
    ),
}


def test_a_clean_tree_passes(tmp_path):
    assert violations(_tree(tmp_path, FAKE_PACKAGES)) == []


@pytest.mark.parametrize(
    ("path", "text", "expected"),
    [
        ("smflow/client.py", "from smflow.local import launcher\n",
         "smflow/client.py:1 smflow.client imports smflow.local.launcher (at module level): "
         "the client layer never imports smflow.local"),
        ("smflow/client.py", "def f():\n    import smflow.local.server\n",
         "smflow/client.py:2 smflow.client imports smflow.local.server (inside a function): "
         "the client layer never imports smflow.local"),
        ("smflow/local/server.py", "from .. import client\n",
         "smflow/local/server.py:1 smflow.local.server imports smflow.client (at module level): "
         "the local runtime imports only base and local modules, not the client layer"),
        ("smflow/local/server.py", "def f():\n    from smflow_airflow.hooks import Hook\n",
         "the local runtime imports only base and local modules, not the airflow layer"),
        ("smflow/naming.py", "from smflow import SageMakerClient\n",
         "smflow.naming imports smflow.client (at module level): base modules import only base "
         "modules, not the client layer"),
        ("smflow/local/server.py", "from smflow import SageMakerClient\n",
         "the local runtime imports only base and local modules, not the client layer"),
        ("smflow/__init__.py", "from smflow.client import SageMakerClient\n",
         "smflow imports smflow.client (at module level): the smflow package imports base and client "
         "modules only inside a function"),
        ("smflow/cli.py", "from smflow.local import launcher\n",
         "smflow.cli imports smflow.local.launcher (at module level): apps import smflow.local only inside"),
        ("smflow_airflow/hooks.py", "from smflow.local import launcher\n",
         "smflow_airflow.hooks imports smflow.local.launcher (at module level): airflow imports "
         "smflow.local.launcher only inside the function that starts a runtime"),
        ("smflow_prefect/local.py", "def f():\n    from smflow.local.server import serve\n",
         "smflow_prefect.local imports smflow.local.server (inside a function): prefect reaches the "
         "local runtime only through smflow.local.launcher"),
        ("smflow_prefect/local.py", "from smflow.cli import main\n",
         "prefect imports only base and client modules (and its own package), not the apps layer"),
        ("smflow_prefect/local.py", "import smflow_airflow.hooks\n",
         "prefect imports only base and client modules (and its own package), not the airflow layer"),
        ("smflow_airflow/hooks.py", "def f():\n    import moto\n",
         "smflow_airflow.hooks imports moto (inside a function): the airflow layer must not import moto"),
        ("smflow/client.py", "import sklearn.tree\n", "the client layer must not import sklearn"),
        ("smflow/errors.py", "from psutil import Process\n", "the base layer must not import psutil"),
        ("smflow/stray.py", "", "smflow.stray: belongs to no layer"),
        ("smflow/stray.py", "import moto\nfrom smflow import client\n", "smflow.stray: belongs to no layer"),
    ],
)
def test_a_wrong_way_import_is_reported(tmp_path, path, text, expected):
    found = violations(_tree(tmp_path, {**FAKE_PACKAGES, path: text}))
    assert len(found) == 1 and expected in found[0], found


def test_the_local_runtime_may_use_its_own_packages(tmp_path):
    files = {**FAKE_PACKAGES, "smflow/local/server.py": "import moto\nimport werkzeug\nimport psutil\n",
             "smflow/cli.py": "import argparse\ndef main():\n    from smflow.local.server import serve\n"}
    assert violations(_tree(tmp_path, files)) == []
