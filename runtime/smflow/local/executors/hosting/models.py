"""Preparing a model to be served locally, as SageMaker does with CreateModel / CreateEndpoint
(SageMaker API reference, and AWS's inference toolkit):

- ``PrimaryContainer.Image`` picks the local environment (:mod:`smflow.local.containers.environments`),
  built first when the framework's environment is not there yet (a failed build fails the
  CreateEndpoint or transform job with pip's error);
- ``ModelDataUrl`` (``model.tar.gz``) is downloaded and safely extracted into the model dir
  (the container's ``/opt/ml/model``), which ``model_fn(model_dir)`` receives;
- the code comes from ``SAGEMAKER_SUBMIT_DIRECTORY``: an ``s3://.../sourcedir.tar.gz`` (downloaded
  and extracted), or ``/opt/ml/model/code`` (the model archive's ``code/`` folder, also the
  default); ``SAGEMAKER_PROGRAM`` names the entry point;
- a ``requirements.txt`` in the code is installed with pip into a per-model folder on the
  server's ``PYTHONPATH`` (the SageMaker Python SDK docs, "Using third-party libraries"); the
  runtime's own environment is never modified.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tarfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError

from smflow.local.support.aws import LocalAws, split_s3_uri
from smflow.local.containers import contract
from smflow.local.containers.environments import (
    EnvironmentBuildError,
    UnsupportedImageError,
    resolve_environment,
)
from smflow.local.executors.hosting.errors import ModelServerError
from smflow.local.support.files import UnsafeArchiveError, download_s3_prefix, safe_extract_tar

OUTPUT_TAIL_LINES = 15
REASON_MAX_CHARS = 1024  # FailureReason's length limit (DescribeEndpoint, DescribeTransformJob)


@dataclass(frozen=True)
class PreparedModel:
    """A model ready to be served locally.

    ``environment`` is the container Environment (with any overrides, e.g. a transform job's);
    ``site_dir`` holds the packages of the code's requirements.txt (None without one);
    ``python`` is the interpreter of the image's local environment (built);
    ``built_environment``: that interpreter is an environment built on demand (not the runtime's),
    whose processes get :data:`smflow.local.containers.environments.PACKAGE_PATH_ENV`.
    """

    model_name: str
    model_dir: Path
    code_dir: Path
    site_dir: Path | None
    environment: dict[str, str]
    python: str
    framework: str  # the framework module that serves it (smflow.local.containers.frameworks)
    built_environment: bool = False


def primary_container(model: Mapping) -> dict:
    """The container definition of a DescribeModel dict.

    Raises:
        ModelServerError: the model has no container or several (an inference pipeline), or
            uses multi-model mode.
    """
    name = model.get("ModelName", "<unnamed>")
    container = model.get("PrimaryContainer")
    if not container:
        containers = model.get("Containers") or []
        if len(containers) != 1:
            raise ModelServerError(
                f"Model {name!r} has {len(containers)} containers: the smflow local runtime "
                "serves models with one container (PrimaryContainer); inference pipelines are "
                "not supported locally."
            )
        container = containers[0]
    if container.get("Mode", "SingleModel") != "SingleModel":
        raise ModelServerError(
            f"Model {name!r} uses container Mode {container.get('Mode')!r}: only SingleModel "
            "containers run on the smflow local runtime."
        )
    return container


def prepare_model(
    model: Mapping,
    target_dir: str | os.PathLike,
    aws: LocalAws,
    environment_overrides: Mapping[str, str] | None = None,
    install_timeout: float = 900.0,
    log: Callable[[str], None] | None = None,
) -> PreparedModel:
    """Download and unpack a model's artifacts and code into ``target_dir``.

    Layout: ``target_dir/model`` (ModelDataUrl extracted; recreated each time),
    ``target_dir/code`` (when the code comes from an S3 sourcedir.tar.gz),
    ``target_dir/site-packages`` (requirements.txt, reused while requirements.txt is unchanged;
    ``install_timeout`` seconds at most). The image's environment is built first if needed
    (:func:`smflow.local.containers.environments.ensure_environment`; its output goes to ``log``).

    Raises:
        ModelServerError: unsupported image, an environment that could not be built (pip's
            error), missing or unreadable artifacts or code, unsafe archives, or a failed
            requirements install; the message names the field and the fix.
    """
    name = model.get("ModelName", "<unnamed>")
    container = primary_container(model)
    image = container.get("Image", "")
    try:
        local_environment = resolve_environment(image)
    except UnsupportedImageError as exc:
        raise ModelServerError(str(exc)) from None
    try:
        python = local_environment.ensure(log)
    except EnvironmentBuildError as exc:
        prefix = f"Could not prepare the {local_environment.spec.display} environment of model {name!r}: "
        detail = str(exc)
        room = REASON_MAX_CHARS - len(prefix)
        if len(detail) > room:  # pip's error is at the end
            detail = "..." + detail[-(room - 3):]
        raise ModelServerError(prefix + detail) from None
    environment = {str(k): str(v) for k, v in (container.get("Environment") or {}).items()}
    environment.update({str(k): str(v) for k, v in (environment_overrides or {}).items()})

    target = Path(target_dir)
    target.mkdir(parents=True, exist_ok=True)
    model_dir = target / "model"
    _fresh_dir(model_dir)
    s3 = aws.client("s3")
    model_data_url = container.get("ModelDataUrl")
    model_data_source = (container.get("ModelDataSource") or {}).get("S3DataSource")
    if model_data_url:
        _download_and_extract(s3, model_data_url, model_dir, target, "ModelDataUrl", name)
    elif model_data_source:
        _download_uncompressed(s3, model_data_source, model_dir, name)

    code_dir = _resolve_code_dir(environment.get(contract.SAGEMAKER_SUBMIT_DIRECTORY), model_dir, target, s3, name)
    site_dir = None
    requirements = code_dir / "requirements.txt"
    if requirements.is_file():
        site_dir = _install_requirements(
            requirements, target / "site-packages", python, name, install_timeout
        )
    return PreparedModel(
        model_name=name,
        model_dir=model_dir,
        code_dir=code_dir,
        site_dir=site_dir,
        environment=environment,
        python=python,
        framework=local_environment.name,
        built_environment=local_environment.spec is not None,
    )


def _fresh_dir(path: Path) -> None:
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)


def _download(s3, uri: str, destination: Path, field: str, model_name: str) -> None:
    try:
        bucket, key = split_s3_uri(uri)
    except ValueError:
        raise ModelServerError(
            f"{field} {uri!r} of model {model_name!r} is not an S3 URI: use s3://bucket/key"
        ) from None
    try:
        s3.download_file(bucket, key, str(destination))
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in ("404", "NoSuchKey", "NoSuchBucket", "NotFound"):
            reason = "the object does not exist"
        else:
            reason = str(exc)
        raise ModelServerError(
            f"Could not download {field} {uri} of model {model_name!r}: {reason}"
        ) from None
    except BotoCoreError as exc:
        raise ModelServerError(f"Could not download {field} {uri} of model {model_name!r}: {exc}") from None


def _download_and_extract(
    s3, uri: str, destination: Path, scratch: Path, field: str, model_name: str
) -> None:
    archive = scratch / f".{field}.tar.gz"
    _download(s3, uri, archive, field, model_name)
    try:
        safe_extract_tar(archive, destination)
    except UnsafeArchiveError as exc:
        raise ModelServerError(f"{field} {uri} of model {model_name!r} is unsafe: {exc}") from None
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise ModelServerError(
            f"{field} {uri} of model {model_name!r} is not a readable .tar.gz archive ({exc}): "
            "pack it with `tar -czf model.tar.gz -C <dir> .`"
        ) from None
    finally:
        archive.unlink(missing_ok=True)


def _download_uncompressed(s3, source: Mapping, destination: Path, model_name: str) -> None:
    uri = source.get("S3Uri", "")
    if source.get("CompressionType", "None") != "None":
        _download_and_extract(s3, uri, destination, destination.parent, "ModelDataSource", model_name)
        return
    try:
        if source.get("S3DataType", "S3Prefix") == "S3Object":
            _download(s3, uri, destination / os.path.basename(uri), "ModelDataSource", model_name)
        else:
            download_s3_prefix(s3, uri, destination)
    except (FileNotFoundError, UnsafeArchiveError, ValueError) as exc:
        raise ModelServerError(f"ModelDataSource of model {model_name!r}: {exc}") from None


def _resolve_code_dir(submit: str | None, model_dir: Path, target: Path, s3, model_name: str) -> Path:
    if not submit:
        return model_dir / "code"
    if submit.startswith("s3://"):
        code_dir = target / "code"
        _fresh_dir(code_dir)
        _download_and_extract(s3, submit, code_dir, target, contract.SAGEMAKER_SUBMIT_DIRECTORY, model_name)
        return code_dir
    if submit == contract.MODEL_DIR or submit.startswith(contract.MODEL_DIR + "/"):
        relative = submit[len(contract.MODEL_DIR) :].strip("/")
        code_dir = (model_dir / relative).resolve()
        if code_dir != model_dir.resolve() and model_dir.resolve() not in code_dir.parents:
            raise ModelServerError(
                f"{contract.SAGEMAKER_SUBMIT_DIRECTORY} {submit!r} of model {model_name!r} leaves {contract.MODEL_DIR}"
            )
        return code_dir
    if submit.startswith("file://"):
        local = Path(submit[len("file://") :])
        if local.is_dir():
            return local
        if local.is_file():
            code_dir = target / "code"
            _fresh_dir(code_dir)
            try:
                safe_extract_tar(local, code_dir)
            except (UnsafeArchiveError, tarfile.TarError, OSError) as exc:
                raise ModelServerError(
                    f"{contract.SAGEMAKER_SUBMIT_DIRECTORY} {submit!r} of model {model_name!r}: {exc}"
                ) from None
            return code_dir
        raise ModelServerError(f"{contract.SAGEMAKER_SUBMIT_DIRECTORY} {submit!r} of model {model_name!r} does not exist")
    raise ModelServerError(
        f"{contract.SAGEMAKER_SUBMIT_DIRECTORY} {submit!r} of model {model_name!r} is not supported: use the S3 "
        f"URI of a sourcedir.tar.gz (s3://bucket/.../sourcedir.tar.gz) or {contract.MODEL_DIR}/code "
        "for code packed in model.tar.gz."
    )


def _install_requirements(
    requirements: Path, site_dir: Path, python: str, model_name: str, timeout: float
) -> Path:
    """pip-install ``requirements`` into ``site_dir`` once per distinct requirements.txt."""
    digest = hashlib.sha256(requirements.read_bytes()).hexdigest()
    stamp = site_dir / ".smflow-requirements.sha256"
    if stamp.is_file() and stamp.read_text(encoding="utf-8").strip() == digest:
        return site_dir
    _fresh_dir(site_dir)
    env = dict(os.environ)
    env.update({"PIP_TARGET": str(site_dir), "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1"})
    env.pop("PIP_USER", None)
    command = [python, "-m", "pip", "install", "--quiet", "--target", str(site_dir), "-r", requirements.name]
    try:
        completed = subprocess.run(
            command, cwd=requirements.parent, env=env, capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        raise ModelServerError(
            f"Installing requirements.txt of model {model_name!r} took longer than {timeout:.0f} s"
        ) from None
    if completed.returncode != 0:
        tail = tail_lines(completed.stderr or completed.stdout, OUTPUT_TAIL_LINES)
        raise ModelServerError(
            f"Installing requirements.txt of model {model_name!r} failed (pip exit code "
            f"{completed.returncode}): {tail}"
        )
    stamp.write_text(digest, encoding="utf-8")
    return site_dir


def tail_lines(text: str, count: int) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return "\n".join(lines[-count:])
