"""Which local environment runs a container image, and building it.

SageMaker decides what runs from the image URI. Locally, the framework modules
(:mod:`smflow.local.containers.frameworks`) each claim ECR repositories, named by tag or by
digest (``@sha256:<64 hex>``) in any region, and say which version the tag names and which
environment runs it. Any other image is refused with a reason that lists the images that run
locally.

A framework module's ``environment(framework_version)`` returns an :class:`EnvironmentSpec` (or
None: the runtime's own interpreter runs the image). A spec names a Python
virtual environment per (framework, version family), built on first use by
:func:`ensure_environment` under :func:`environments_dir` (``$SMFLOW_ENVIRONMENTS_DIR``, else
``<state dir>/environments``):

- ``<this python> -m venv``, then one ``pip install`` per install step of the spec, in order, then
  what smflow itself needs in every environment (:data:`BASE_REQUIREMENTS`: AWS's training
  toolkit ``sagemaker-training``, and what the model server imports: numpy, httptools, psutil),
  installed with the packages of the framework's steps pinned (a constraints file from
  ``pip list``) so that they cannot move the framework's own pins (e.g. ``numpy<1.24``).
  pip's own configuration (``pip.conf``, ``PIP_*`` variables: index, mirrors, find-links, cache)
  is honoured: nothing here names an index. pip's output goes to the caller's ``log``, line by
  line.
- The ``smflow`` package, and nothing else of the runtime's site-packages, is importable there: a
  ``.pth`` file adds ``$SMFLOW_PACKAGE_PATH`` (set by the runtime for the processes it starts: a
  folder holding only a symlink to its own ``smflow`` package, see :func:`package_path`), then the
  environment's ``smflow-path`` folder (a symlink to the ``smflow`` package of the runtime that
  built it). Environments are shared by every runtime that uses the same folder, whichever
  ``smflow`` checkout it runs from; the variable makes each run its own.
- It is built in a temporary folder beside its final one and renamed into place, so a failed
  build leaves nothing; a file lock (``fcntl.flock``) makes two jobs that need it at the same time
  (threads or processes) build it once; a stamp (``smflow-environment.json``) records a hash of the
  install steps, the base requirements, the build recipe and the Python version, and an
  environment whose stamp differs is rebuilt.

Why our own code: pip and ``venv`` do the installing; what is left (a shared cache with locking,
staleness and atomic replacement) has no small, well-kept library that does it for pip.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from smflow import image_uris
from smflow.image_uris import parse_image_uri
from smflow.local.containers import frameworks

ENVIRONMENTS_DIR_ENV = "SMFLOW_ENVIRONMENTS_DIR"
PACKAGE_PATH_ENV = "SMFLOW_PACKAGE_PATH"
STAMP_FILE = "smflow-environment.json"
PACKAGE_LINK_DIR = "smflow-path"  # inside an environment: holds the `smflow` symlink only
PTH_FILE = "_smflow.pth"

# What every environment gets after the framework's own steps: the training toolkit that runs
# `train` in SageMaker's framework images, and what `python -m smflow.local.containers.serving`
# imports (numpy: smflow.codecs; httptools: smflow.local.support.http11; psutil:
# smflow.local.support.processes). boto3 comes with sagemaker-training.
BASE_REQUIREMENTS = ("sagemaker-training>=4.7", "numpy", "httptools>=0.6", "psutil>=5.9")
# Changes when the way an environment is built changes, so that old environments are rebuilt.
BUILD_RECIPE = 1

# Modules the finished environment must import (the training toolkit's `train` and the model server).
_IMPORT_CHECK = "import sagemaker_training.cli.train, smflow.local.containers.serving.server"
# Variables of the runtime's own process that would send pip's installs elsewhere than the new
# environment, or put the runtime's packages on its path.
_DROPPED_ENV_NAMES = frozenset(
    {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PIP_TARGET", "PIP_PREFIX", "PIP_USER", "PIP_ROOT",
     "PIP_EDITABLE", "PIP_REQUIREMENT", "PIP_REQUIREMENTS"}
)
_ERROR_TAIL_LINES = 60

_state_dir: Path | None = None  # the running runtime's state folder (see use_state_dir)
_package_path_lock = threading.Lock()


class UnsupportedImageError(Exception):
    """The image cannot run locally. ``str(error)`` is a FailureReason fit for users."""


class EnvironmentBuildError(Exception):
    """An environment could not be built. ``str(error)`` names the failed step and ends with pip's
    error lines, fit for a FailureReason (callers trim it, keeping the end)."""


@dataclass(frozen=True)
class EnvironmentSpec:
    """The local environment that runs a framework's images (returned by a framework module's
    ``environment(framework_version)``).

    Attributes:
        framework: the framework module's NAME.
        family: the version family, part of the environment's folder name, e.g. ``"2.13"``.
        framework_version: the version installed, e.g. ``"2.13.1"``.
        display: e.g. ``"Framework 2.13"`` (StatusMessage "Preparing the Framework 2.13 environment").
        install_steps: ``pip install`` argument lists, run in order, e.g.
            ``(("numpy<1.24", "setuptools<70", "wheel"), ("--no-build-isolation", "package==7.8.1"))``.
        note: logged by the jobs that use it, e.g. "1.8.0 does not install on Python 3.11;
            using 1.9.1".
    """

    framework: str
    family: str
    framework_version: str
    display: str
    install_steps: tuple[tuple[str, ...], ...]
    note: str | None = None

    @property
    def folder_name(self) -> str:
        """``<framework>-<family>``: the environment's folder under :func:`environments_dir`."""
        return f"{self.framework}-{self.family}"


@dataclass(frozen=True)
class LocalEnvironment:
    """What runs an image.

    ``name``: the framework module's NAME; ``python``: the interpreter that runs the image (for an
    environment built on demand, where it is once built: call :meth:`ensure` before running it);
    ``framework_version``: the version its tag names (None for an image named by digest);
    ``spec``: the environment to build, or None for the runtime's own interpreter.
    """

    name: str
    python: str
    framework_version: str | None
    spec: EnvironmentSpec | None = None

    def ensure(self, log: Callable[[str], None] | None = None) -> str:
        """The interpreter, built first if needed (:func:`ensure_environment`).

        Raises:
            EnvironmentBuildError: the environment could not be built.
        """
        if self.spec is None:
            return self.python
        return ensure_environment(self.spec, log or _discard)


@dataclass(frozen=True)
class EnvironmentInfo:
    """A built environment found on disk (``smflow local env list``). ``state``: "ready", "stale"
    (its requirements changed since it was built: the next job rebuilds it) or "broken" (no stamp
    or no interpreter); ``size_bytes``: its files' total size."""

    framework: str
    family: str
    framework_version: str
    path: Path
    size_bytes: int
    state: str


# -- image -> environment ----------------------------------------------------------------------


def check_image_version(framework: str, display_name: str, framework_version: str | None) -> None:
    """Refuse an image version that is no version of SageMaker's ``framework`` images (their
    registry, :func:`smflow.image_uris.registry_versions`); None (an image by digest) passes.

    Raises:
        UnsupportedImageError: naming the versions that exist.
    """
    if framework_version is None or framework_version in image_uris.registry_versions(framework):
        return
    raise UnsupportedImageError(
        f"{display_name} {framework_version} is not a version of SageMaker's {display_name} images "
        f"({', '.join(image_uris.registry_versions(framework, aliases=False))}): use one of these as "
        "framework_version (the image tag's version)."
    )


def resolve_environment(image_uri: str) -> LocalEnvironment:
    """Map an image URI to a local environment (nothing is built).

    Raises:
        UnsupportedImageError: no framework module claims the image's repository, or its module
            cannot run that version (the message says which versions run).
    """
    ref = parse_image_uri(image_uri)
    framework = frameworks.for_repository(ref.repository) if ref is not None else None
    if framework is None:
        raise UnsupportedImageError(
            f"Image {image_uri!r} cannot run on the smflow local runtime: {supported_images()}"
        )
    framework_version = framework.version(ref.tag)
    spec = framework.environment(framework_version) if hasattr(framework, "environment") else None
    if spec is None:
        return LocalEnvironment(name=framework.NAME, python=framework.python(framework_version),
                                framework_version=framework_version)
    return LocalEnvironment(name=framework.NAME, python=str(environment_python(spec)),
                            framework_version=framework_version, spec=spec)


def supported_images() -> str:
    """A sentence naming the images that run locally, from the framework modules."""
    modules = frameworks.all_frameworks()
    names = " and ".join(module.DISPLAY_NAME for module in modules)
    forms = "; ".join(", or ".join(module.IMAGE_FORMS) for module in modules)
    return f"only SageMaker {names} images ({forms}) are supported locally."


# -- where environments live -------------------------------------------------------------------


def use_state_dir(state_dir: str | Path | None) -> None:
    """Called by the runtime with its state folder: environments default to
    ``<state_dir>/environments`` (``$SMFLOW_ENVIRONMENTS_DIR`` still wins)."""
    global _state_dir  # noqa: PLW0603 - one runtime per process sets it once
    _state_dir = Path(state_dir) if state_dir is not None else None


def environments_dir(state_dir: str | Path | None = None) -> Path:
    """``$SMFLOW_ENVIRONMENTS_DIR``, else ``<state dir>/environments``, the state dir being
    ``state_dir``, the running runtime's (:func:`use_state_dir`), or the default one
    (``$SMFLOW_STATE_DIR``, else ``~/.smflow/state``)."""
    configured = os.environ.get(ENVIRONMENTS_DIR_ENV)
    if configured:
        return Path(configured).expanduser().absolute()
    if state_dir is None:
        state_dir = _state_dir
    if state_dir is None:
        from smflow.local.launcher import default_state_dir

        state_dir = default_state_dir()
    return Path(state_dir).expanduser().absolute() / "environments"


def environment_path(spec: EnvironmentSpec, root: Path | None = None) -> Path:
    """The folder of ``spec``'s environment (built or not)."""
    return (root or environments_dir()) / spec.folder_name


def environment_python(spec: EnvironmentSpec, root: Path | None = None) -> Path:
    """The interpreter of ``spec``'s environment (built or not)."""
    return environment_path(spec, root) / "bin" / "python"


def package_path(root: Path | None = None) -> str:
    """A folder that holds only a symlink ``smflow`` to this runtime's ``smflow`` package; the
    runtime puts it in :data:`PACKAGE_PATH_ENV` for the processes it starts in an environment, so
    that they import the same smflow as the runtime (environments are shared between checkouts)."""
    package = Path(__file__).resolve().parents[2]  # .../smflow
    digest = hashlib.sha256(str(package).encode()).hexdigest()[:16]
    folder = (root or environments_dir()) / ".packages" / digest
    link = folder / "smflow"
    with _package_path_lock:
        if not (link.is_symlink() and os.readlink(link) == str(package)):
            folder.mkdir(parents=True, exist_ok=True)
            temporary = folder / f".smflow-{uuid.uuid4().hex}"
            os.symlink(package, temporary)
            os.replace(temporary, link)
    return str(folder)


def package_path_env(root: Path | None = None) -> dict[str, str]:
    """``{PACKAGE_PATH_ENV: package_path()}``: add it to the environment of a process that runs an
    environment's python."""
    return {PACKAGE_PATH_ENV: package_path(root)}


# -- building ----------------------------------------------------------------------------------


def base_requirements() -> tuple[str, ...]:
    """What every environment gets after the framework's steps (:data:`BASE_REQUIREMENTS`)."""
    return BASE_REQUIREMENTS


def stamp_digest(spec: EnvironmentSpec) -> str:
    """The hash that decides whether a built environment is current: install steps, base
    requirements, build recipe and this Python's version."""
    material = json.dumps(
        {
            "install_steps": [list(step) for step in spec.install_steps],
            "base_requirements": list(base_requirements()),
            "recipe": BUILD_RECIPE,
            "python": ".".join(map(str, sys.version_info[:3])),
            "implementation": sys.implementation.name,
        },
        sort_keys=True,
    )
    return hashlib.sha256(material.encode()).hexdigest()


def read_stamp(path: Path) -> dict | None:
    """The stamp of the environment in ``path``, or None when it has none (or not readable)."""
    try:
        return json.loads((path / STAMP_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _is_current(path: Path, spec: EnvironmentSpec) -> bool:
    stamp = read_stamp(path)
    return bool(stamp) and stamp.get("digest") == stamp_digest(spec) and (path / "bin" / "python").exists()


def _discard(line: str) -> None:
    return None


def ensure_environment(spec: EnvironmentSpec, log: Callable[[str], None] = _discard, *,
                       root: Path | None = None) -> str:
    """The environment's python path; builds it first if missing or stale (pip output -> log),
    once even when several jobs ask at the same time (file lock); a failed build leaves nothing
    and raises EnvironmentBuildError(str = pip's error, fit for a FailureReason).

    Args:
        spec: the environment (a framework module's ``environment(version)``).
        log: called with each line of the build's output (pip's, and smflow's own few lines);
            never called when the environment is current.
        root: the folder of environments; default :func:`environments_dir`.

    Raises:
        EnvironmentBuildError: venv, a pip step or the final import check failed.
    """
    root = root or environments_dir()
    path = environment_path(spec, root)
    python = path / "bin" / "python"
    if _is_current(path, spec):
        return str(python)
    root.mkdir(parents=True, exist_ok=True)
    with _locked(root / ".locks" / f"{spec.folder_name}.lock", spec, log):
        if _is_current(path, spec):  # another job built it while this one waited
            log(f"The {spec.display} environment was built by another job: {path}")
            return str(python)
        _build(spec, path, log)
    return str(python)


@contextlib.contextmanager
def _locked(lock_file: Path, spec: EnvironmentSpec, log: Callable[[str], None]) -> Iterator[None]:
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_file, "a+b") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            if error.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            log(f"Waiting for another job that is building the {spec.display} environment")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _build(spec: EnvironmentSpec, path: Path, log: Callable[[str], None]) -> None:
    """Build ``spec`` into a temporary folder beside ``path`` and rename it into place (replacing
    a stale environment). Call with the environment's lock held."""
    started = time.monotonic()
    for leftover in path.parent.glob(f".{path.name}.*"):  # of builds killed with their process
        if re.fullmatch(rf"\.{re.escape(path.name)}\.(building|stale|removing)-[0-9a-f]{{12}}", leftover.name):
            shutil.rmtree(leftover, ignore_errors=True)  # (the lock is ours: no build is running)
    temporary = path.parent / f".{path.name}.building-{uuid.uuid4().hex[:12]}"
    stale = path.exists() or path.is_symlink()
    log(f"{'Rebuilding' if stale else 'Building'} the {spec.display} environment in {path} "
        f"(framework {spec.framework} {spec.framework_version}, Python {sys.version.split()[0]})")
    try:
        _run(
            [sys.executable, "-m", "venv", str(temporary)],
            log, f"{sys.executable} -m venv", env=_pip_env(),
        )
        new_python = temporary / "bin" / "python"
        for step in spec.install_steps:
            _pip_install(new_python, list(step), log)
        _install_base_requirements(new_python, temporary, log)
        site_packages = _site_packages(new_python)
        link_dir = temporary / PACKAGE_LINK_DIR
        link_dir.mkdir()
        os.symlink(Path(__file__).resolve().parents[2], link_dir / "smflow")
        (site_packages / PTH_FILE).write_text(
            # Line 1: the package folder of the runtime that starts the process, when it says one;
            # line 2: this environment's own link (the runtime that built it).
            f"import os, sys; p = os.environ.get({PACKAGE_PATH_ENV!r}); p and p not in sys.path "
            "and sys.path.append(p)\n"
            f"{path / PACKAGE_LINK_DIR}\n",
            encoding="utf-8",
        )
        check_env = {**_pip_env(), PACKAGE_PATH_ENV: str(link_dir)}
        _run([str(new_python), "-c", _IMPORT_CHECK], log, "the import check of smflow and sagemaker-training",
             env=check_env)
        _relocate(temporary, path)
        stamp = {
            "framework": spec.framework,
            "family": spec.family,
            "framework_version": spec.framework_version,
            "display": spec.display,
            "install_steps": [list(step) for step in spec.install_steps],
            "base_requirements": list(base_requirements()),
            "python": sys.version.split()[0],
            "digest": stamp_digest(spec),
            "built_at": time.time(),
            "build_seconds": round(time.monotonic() - started, 1),
        }
        (temporary / STAMP_FILE).write_text(json.dumps(stamp, indent=2), encoding="utf-8")
        if stale:
            aside = path.parent / f".{path.name}.stale-{uuid.uuid4().hex[:12]}"
            os.rename(path, aside)
            os.rename(temporary, path)
            shutil.rmtree(aside, ignore_errors=True)
        else:
            os.rename(temporary, path)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    log(f"The {spec.display} environment is ready ({directory_size(path) / 1e6:.0f} MB, "
        f"{time.monotonic() - started:.0f} s): {path}")


def _pip_env() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in _DROPPED_ENV_NAMES}
    env["PYTHONNOUSERSITE"] = "1"
    env["PIP_NO_INPUT"] = "1"
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _pip_install(python: Path, arguments: list[str], log: Callable[[str], None],
                 constraints: Path | None = None) -> None:
    command = [str(python), "-m", "pip", "install", "--progress-bar", "off", "--disable-pip-version-check"]
    if constraints is not None:
        command += ["-c", str(constraints)]
    log(f"pip install {' '.join(arguments)}")
    _run(command + arguments, log, f"pip install {' '.join(arguments)}", env=_pip_env())


def _install_base_requirements(python: Path, folder: Path, log: Callable[[str], None]) -> None:
    """Install :data:`BASE_REQUIREMENTS` with every package already installed pinned."""
    listed = subprocess.run(
        [str(python), "-m", "pip", "list", "--format=json", "--disable-pip-version-check"], check=False,
        stdin=subprocess.DEVNULL, capture_output=True, text=True, env=_pip_env(), timeout=300,
    )
    if listed.returncode != 0:
        raise EnvironmentBuildError(f"pip list failed: {listed.stderr.strip()[-800:]}")
    pins = [f"{item['name']}=={item['version']}" for item in json.loads(listed.stdout)
            if item["name"].lower() not in ("pip", "setuptools", "wheel")]
    constraints = folder / "smflow-constraints.txt"
    constraints.write_text("\n".join(pins) + "\n", encoding="utf-8")
    try:
        _pip_install(python, list(base_requirements()), log, constraints=constraints)
    finally:
        constraints.unlink(missing_ok=True)


def _site_packages(python: Path) -> Path:
    found = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, env=_pip_env(), timeout=60, check=True,
    )
    return Path(found.stdout.strip())


def _run(command: list[str], log: Callable[[str], None], what: str, env: dict[str, str]) -> None:
    """Run ``command``, its output to ``log`` line by line.

    Raises:
        EnvironmentBuildError: it exited with an error; the message ends with its error lines.
    """
    tail: deque[str] = deque(maxlen=_ERROR_TAIL_LINES)
    process = subprocess.Popen(
        command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
        cwd=tempfile.gettempdir(),
    )
    assert process.stdout is not None
    with process.stdout:
        for raw in iter(process.stdout.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            tail.append(line)
            log(line)
    code = process.wait()
    if code != 0:
        raise EnvironmentBuildError(f"{what} failed (exit code {code}): {_error_lines(list(tail))}")


def _error_lines(tail: list[str]) -> str:
    """pip's error: from its first ``ERROR:`` line (or a traceback) on, else its last lines."""
    lines = [line for line in tail if line.strip()]
    for index, line in enumerate(lines):
        if line.startswith(("ERROR:", "error:", "Traceback (most recent call last):")):
            return "\n".join(lines[index:])
    return "\n".join(lines[-10:]) or "no output"


def _relocate(temporary: Path, final: Path) -> None:
    """Point what ``venv`` and pip wrote with the temporary folder's path (script shebangs,
    ``pyvenv.cfg``) at the final folder."""
    old, new = str(temporary).encode(), str(final).encode()
    bin_dir = temporary / "bin"
    for item in bin_dir.iterdir():
        if item.is_symlink() or not item.is_file():
            continue
        content = item.read_bytes()
        if content.startswith(b"#!") and old in content:
            item.write_bytes(content.replace(old, new))
    config = temporary / "pyvenv.cfg"
    if config.is_file():
        config.write_bytes(config.read_bytes().replace(old, new))


def directory_size(path: Path) -> int:
    """Total size in bytes of the files under ``path`` (symlinks not followed)."""
    total = 0
    for folder, _, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(folder, name)).st_size
    return total


# -- listing and removing (smflow local env) ---------------------------------------------------


def list_environments(root: Path | None = None) -> list[EnvironmentInfo]:
    """The environments under ``root`` (default :func:`environments_dir`), by folder name. An
    environment is "stale" when its framework module now asks for other install steps."""
    root = root or environments_dir()
    if not root.is_dir():
        return []
    found = []
    for path in sorted(root.iterdir()):
        if path.name.startswith(".") or not path.is_dir():
            continue
        stamp = read_stamp(path) or {}
        framework, _, family = path.name.partition("-")
        framework = stamp.get("framework", framework)
        family = stamp.get("family", family)
        if not stamp or not (path / "bin" / "python").exists():
            state = "broken"
        else:
            current = _current_spec(framework, stamp.get("framework_version"))
            state = "ready" if current is None or stamp.get("digest") == stamp_digest(current) else "stale"
        found.append(EnvironmentInfo(framework=framework, family=family,
                                     framework_version=stamp.get("framework_version", "?"), path=path,
                                     size_bytes=directory_size(path), state=state))
    return found


def _current_spec(framework: str, framework_version: str | None) -> EnvironmentSpec | None:
    """What the framework module asks for today for this version (None: cannot tell)."""
    try:
        module = frameworks.get(framework)
        spec = module.environment(framework_version) if hasattr(module, "environment") else None
    except Exception:  # noqa: BLE001 - an unknown module or version: the state stays "ready"
        return None
    return spec if isinstance(spec, EnvironmentSpec) else None


def remove_environments(framework: str | None = None, family: str | None = None,
                        root: Path | None = None) -> list[EnvironmentInfo]:
    """Delete the environments of ``framework`` (all when None), of version family ``family``
    (all of the framework's when None), each under its lock; returns what was removed."""
    root = root or environments_dir()
    removed = []
    for info in list_environments(root):
        if framework is not None and info.framework != framework:
            continue
        if family is not None and info.family != family:
            continue
        lock_file = root / ".locks" / f"{info.path.name}.lock"
        spec = EnvironmentSpec(info.framework, info.family, info.framework_version, info.path.name, ())
        with _locked(lock_file, spec, _discard):
            aside = root / f".{info.path.name}.removing-{uuid.uuid4().hex[:12]}"
            os.rename(info.path, aside)
            shutil.rmtree(aside, ignore_errors=True)
        removed.append(info)
    for leftover in root.glob(".*.building-*") if root.is_dir() else ():
        # A build killed with its process (SIGKILL) leaves its temporary folder: not in use unless locked.
        name = leftover.name[1:].split(".building-")[0]
        with _try_locked(root / ".locks" / f"{name}.lock") as acquired:
            if acquired:
                shutil.rmtree(leftover, ignore_errors=True)
    return removed


@contextlib.contextmanager
def _try_locked(lock_file: Path) -> Iterator[bool]:
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_file, "a+b") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def spec_for(framework: str, framework_version: str | None = None) -> EnvironmentSpec | None:
    """The spec of ``framework``'s environment for ``framework_version`` (its module's default
    version when None); None when the runtime's own interpreter runs it.

    Raises:
        KeyError: no framework module has that name.
        UnsupportedImageError: the module cannot run that version.
    """
    module = frameworks.get(framework)
    if not hasattr(module, "environment"):
        return None
    return module.environment(framework_version)


__all__ = [
    "BASE_REQUIREMENTS", "ENVIRONMENTS_DIR_ENV", "PACKAGE_PATH_ENV", "EnvironmentBuildError", "EnvironmentInfo",
    "EnvironmentSpec", "LocalEnvironment", "UnsupportedImageError", "ensure_environment",
    "environment_path", "environment_python", "environments_dir", "list_environments", "package_path",
    "package_path_env", "remove_environments", "resolve_environment", "spec_for", "supported_images",
    "use_state_dir",
]
