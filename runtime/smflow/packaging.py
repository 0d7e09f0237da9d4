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


def pack_code(*, entry_point: str, source_dir: str | None) -> PackedCode:
    """Pack ``source_dir`` whole (with ``requirements.txt`` if any) or the lone ``entry_point``
    into ``sourcedir.tar.gz`` bytes, as the SDK does before uploading.

    Args:
        entry_point: path of the script; relative to ``source_dir`` when that is given.
        source_dir: a local folder, or an ``s3://`` URI of an existing ``.tar.gz`` that is used
            as it is (nothing is packed).

    Raises:
        ConfigurationError: the entry point or source_dir does not exist.
    """
    if not entry_point:
        raise ConfigurationError("entry_point is required: the script to run, e.g. 'train.py'")
    if source_dir and source_dir.startswith("s3://"):
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
        if source_dir:
            make_tar_gz(root, archive, exclude=_EXCLUDED)
        else:
            staging = Path(scratch) / "staging"
            staging.mkdir()
            shutil.copy2(script, staging / program)
            make_tar_gz(staging, archive)
        return PackedCode(program=program, archive=archive.read_bytes())


def upload_packed(s3_client, code: PackedCode, *, bucket: str, key: str) -> UploadedCode:
    """Upload packed code to ``s3://<bucket>/<key>`` (an existing s3:// archive is kept as it is)."""
    if code.archive is None:
        return UploadedCode(program=code.program, s3_uri=code.s3_uri)
    s3_client.upload_fileobj(io.BytesIO(code.archive), bucket, key)
    return UploadedCode(program=code.program, s3_uri=f"s3://{bucket}/{key}")


def upload_code(
    s3_client, *, entry_point: str, source_dir: str | None, bucket: str, key_prefix: str
) -> UploadedCode:
    """Pack (:func:`pack_code`) and upload user code to ``<key_prefix>/source/sourcedir.tar.gz``
    in ``bucket``; return the program name and the archive's S3 URI.

    Raises:
        ConfigurationError: the entry point or source_dir does not exist.
    """
    code = pack_code(entry_point=entry_point, source_dir=source_dir)
    key = f"{key_prefix.strip('/')}/source/{SOURCE_ARCHIVE}"
    return upload_packed(s3_client, code, bucket=bucket, key=key)


_EXCLUDED = ("__pycache__", ".git", ".ipynb_checkpoints")
