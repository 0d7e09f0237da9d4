"""Packaging user code the way the SageMaker Python SDK does.

The SDK tars ``source_dir`` (or the lone ``entry_point`` file) into ``sourcedir.tar.gz``, uploads
it to ``s3://<bucket>/<job name>/source/sourcedir.tar.gz`` and passes its URI to the container as
``sagemaker_submit_directory`` (training) or ``SAGEMAKER_SUBMIT_DIRECTORY`` (hosting), with the
entry point's file name as ``sagemaker_program`` / ``SAGEMAKER_PROGRAM``.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from smflow.errors import ConfigurationError
from smflow.local.files import make_tar_gz

SOURCE_ARCHIVE = "sourcedir.tar.gz"


@dataclass(frozen=True)
class UploadedCode:
    program: str  # entry point, relative to the root of the archive, e.g. "train.py"
    s3_uri: str  # s3://bucket/prefix/source/sourcedir.tar.gz


def upload_code(
    s3_client, *, entry_point: str, source_dir: str | None, bucket: str, key_prefix: str
) -> UploadedCode:
    """Pack and upload user code; return the program name and the archive's S3 URI.

    Args:
        entry_point: path of the script; relative to ``source_dir`` when that is given.
        source_dir: a local folder to pack whole (with ``requirements.txt`` if any), or an
            ``s3://`` URI of an existing ``.tar.gz`` that is used as it is.
        bucket, key_prefix: where to upload (``<key_prefix>/source/sourcedir.tar.gz``).

    Raises:
        ConfigurationError: the entry point or source_dir does not exist.
    """
    if not entry_point:
        raise ConfigurationError("entry_point is required: the script to run, e.g. 'train.py'")
    if source_dir and source_dir.startswith("s3://"):
        return UploadedCode(program=entry_point, s3_uri=source_dir)
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
    key = f"{key_prefix.strip('/')}/source/{SOURCE_ARCHIVE}"
    with tempfile.TemporaryDirectory(prefix="smflow-code-") as scratch:
        archive = Path(scratch) / SOURCE_ARCHIVE
        if source_dir:
            make_tar_gz(root, archive, exclude=_EXCLUDED)
        else:
            staging = Path(scratch) / "staging"
            staging.mkdir()
            shutil.copy2(script, staging / program)
            make_tar_gz(staging, archive)
        s3_client.upload_file(str(archive), bucket, key)
    return UploadedCode(program=program, s3_uri=f"s3://{bucket}/{key}")


_EXCLUDED = ("__pycache__", ".git", ".ipynb_checkpoints")
