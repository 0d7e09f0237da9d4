"""Packaging user code the way the SageMaker Python SDK does.

The SDK tars ``source_dir`` (or the lone ``entry_point`` file) into ``sourcedir.tar.gz``, uploads
it to ``s3://<bucket>/<job name>/source/sourcedir.tar.gz`` and passes its URI to the container as
``sagemaker_submit_directory`` (training) or ``SAGEMAKER_SUBMIT_DIRECTORY`` (hosting), with the
entry point's file name as ``sagemaker_program`` / ``SAGEMAKER_PROGRAM``.
"""

from __future__ import annotations

import hashlib
import io
import shutil
import tarfile
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from smflow.errors import ConfigurationError
from smflow.archives import make_tar_gz

SOURCE_ARCHIVE = "sourcedir.tar.gz"


@dataclass(frozen=True)
class UploadedCode:
    program: str  # entry point, relative to the root of the archive, e.g. "train.py"
    s3_uri: str  # s3://bucket/prefix/source/sourcedir.tar.gz


@dataclass(frozen=True)
class PackedCode:
    """User code packed as ``sourcedir.tar.gz`` in memory, not uploaded yet."""

    program: str  # entry point, relative to the root of the archive, e.g. "train.py"
    archive: bytes | None  # the .tar.gz; None when source_dir is an existing s3:// archive
    s3_uri: str | None = None  # that existing archive's URI

    def digest(self) -> str:
        """16 hex digits of the SHA-256 of what the archive holds: member names, types and file
        contents. Times and owners are left out (the gzip and tar headers carry the packing time
        and the files' mtimes), so the same files give the same digest on every machine."""
        if self.archive is None:
            raise ValueError("an s3:// source_dir is not packed here: it has no digest")
        digest = hashlib.sha256()
        with tarfile.open(fileobj=io.BytesIO(self.archive), mode="r:gz") as tar:
            for member in tar:
                digest.update(f"{member.name}\0{member.type!r}\0{member.size}\0".encode())
                if member.isfile():
                    digest.update(tar.extractfile(member).read())
        return digest.hexdigest()[:16]


def pack_code(*, entry_point: str, source_dir: str | None, dependencies: Sequence[str] | None = None) -> PackedCode:
    """Pack ``source_dir`` whole (with ``requirements.txt`` if any) or the lone ``entry_point``
    into ``sourcedir.tar.gz`` bytes, as the SDK does before uploading; each of ``dependencies``
    goes beside the code at the archive's root under its own name (a folder ``lib/common``
    becomes ``common/``, as the SDK's ``dependencies``), so the script imports it.

    Args:
        entry_point: path of the script; relative to ``source_dir`` when that is given.
        source_dir: a local folder, or an ``s3://`` URI of an existing ``.tar.gz`` that is used
            as it is (nothing is packed).
        dependencies: local folders (or files) to pack beside the code.

    Raises:
        ConfigurationError: the entry point, source_dir or a dependency does not exist;
            dependencies with an s3:// source_dir; two dependencies with the same name.
    """
    if not entry_point:
        raise ConfigurationError("entry_point is required: the script to run, e.g. 'train.py'")
    extras = _dependencies(dependencies)
    if source_dir and source_dir.startswith("s3://"):
        if extras:
            raise ConfigurationError("dependencies need a local source_dir (or none): an s3:// source_dir "
                                     "is used as it is; pack the dependencies into that archive")
        return PackedCode(program=entry_point, archive=None, s3_uri=source_dir)
    if source_dir:
        root = Path(source_dir)
        if not root.is_dir():
            raise ConfigurationError(f"source_dir {source_dir!r} is not a folder; pass an existing folder")
        if not (root / entry_point).is_file():
            raise ConfigurationError(
                f"entry_point {entry_point!r} not found in source_dir {source_dir!r}; "
                "give its path relative to source_dir"
            )
        program = Path(entry_point).as_posix()
    else:
        script = Path(entry_point)
        if not script.is_file():
            raise ConfigurationError(f"entry_point {entry_point!r} is not a file; pass the script's path")
        root, program = script.parent, script.name
    with tempfile.TemporaryDirectory(prefix="smflow-code-") as scratch:
        archive = Path(scratch) / SOURCE_ARCHIVE
        if source_dir and not extras:
            make_tar_gz(root, archive, exclude=_EXCLUDED)
        else:
            staging = Path(scratch) / "staging"
            if source_dir:
                shutil.copytree(root, staging, ignore=shutil.ignore_patterns(*_EXCLUDED))
            else:
                staging.mkdir()
                shutil.copy2(script, staging / program)
            for extra in extras:
                if extra.is_dir():
                    shutil.copytree(extra, staging / extra.name, dirs_exist_ok=True,
                                    ignore=shutil.ignore_patterns(*_EXCLUDED))
                else:
                    shutil.copy2(extra, staging / extra.name)
            make_tar_gz(staging, archive, exclude=_EXCLUDED)
        return PackedCode(program=program, archive=archive.read_bytes())


def _dependencies(dependencies: Sequence[str] | None) -> list[Path]:
    if dependencies is None:
        return []
    if isinstance(dependencies, (str, bytes)) or not isinstance(dependencies, Sequence):
        raise ConfigurationError(f"dependencies must be a list of local folders, got {dependencies!r}")
    paths = [Path(item) for item in dependencies]
    for item, path in zip(dependencies, paths):
        if str(item).startswith("s3://") or not path.exists():
            raise ConfigurationError(f"dependencies: {item!r} is not a local folder or file; pass existing paths")
    names = [path.name for path in paths]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ConfigurationError(f"dependencies: two entries are named {repeated[0]!r}; they would overwrite "
                                 "each other at the archive's root")
    return paths


def upload_packed(s3_client, code: PackedCode, *, bucket: str, key: str) -> UploadedCode:
    """Upload packed code to ``s3://<bucket>/<key>`` (an existing s3:// archive is kept as it is)."""
    if code.archive is None:
        return UploadedCode(program=code.program, s3_uri=code.s3_uri)
    s3_client.upload_fileobj(io.BytesIO(code.archive), bucket, key)
    return UploadedCode(program=code.program, s3_uri=f"s3://{bucket}/{key}")


def upload_code(
    s3_client, *, entry_point: str, source_dir: str | None, bucket: str, key_prefix: str,
    dependencies: Sequence[str] | None = None,
) -> UploadedCode:
    """Pack (:func:`pack_code`) and upload user code to ``<key_prefix>/source/sourcedir.tar.gz``
    in ``bucket``; return the program name and the archive's S3 URI.

    Raises:
        ConfigurationError: the entry point or source_dir does not exist.
    """
    code = pack_code(entry_point=entry_point, source_dir=source_dir, dependencies=dependencies)
    key = f"{key_prefix.strip('/')}/source/{SOURCE_ARCHIVE}"
    return upload_packed(s3_client, code, bucket=bucket, key=key)


_EXCLUDED = ("__pycache__", ".git", ".ipynb_checkpoints")
