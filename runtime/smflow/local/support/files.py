"""File helpers shared by the local executors: S3 transfers and safe archive handling.

Archives come from users (``sourcedir.tar.gz``, ``model.tar.gz``), so extraction refuses any
member that would land outside the target directory, links that point outside it, and device
files (Python's ``tarfile`` "data" filter, with the same checks made explicitly for Pythons that
lack it).
"""

from __future__ import annotations

import os
import tarfile
from pathlib import Path

from smflow.local.support.aws import split_s3_uri


class UnsafeArchiveError(ValueError):
    """An archive member would escape the extraction directory."""


def safe_extract_tar(archive: str | os.PathLike, target_dir: str | os.PathLike) -> None:
    """Extract a (gzipped) tar archive into ``target_dir``.

    Raises:
        UnsafeArchiveError: a member is absolute, climbs out with ``..``, is a link pointing
            outside ``target_dir``, or is a device/FIFO. Nothing is extracted in that case.
        tarfile.TarError: the file is not a readable tar archive.
    """
    target = Path(target_dir).resolve()
    target.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "r:*") as tar:
        members = tar.getmembers()
        for member in members:
            _check_member(member, target)
        if hasattr(tarfile, "data_filter"):
            tar.extractall(target, members=members, filter="data")
        else:  # pragma: no cover - Python < 3.10.12
            tar.extractall(target, members=members)


def _check_member(member: tarfile.TarInfo, target: Path) -> None:
    destination = (target / member.name).resolve()
    if not _is_within(destination, target):
        raise UnsafeArchiveError(f"archive member {member.name!r} would be written outside {target}")
    if member.issym() or member.islnk():
        link_base = destination.parent if member.issym() else target
        link_target = (link_base / member.linkname).resolve()
        if os.path.isabs(member.linkname) or not _is_within(link_target, target):
            raise UnsafeArchiveError(
                f"archive member {member.name!r} links to {member.linkname!r}, outside {target}"
            )
    if member.isdev() or member.isfifo():
        raise UnsafeArchiveError(f"archive member {member.name!r} is a device or FIFO")


def _is_within(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def download_s3_prefix(s3_client, uri: str, target_dir: str | os.PathLike) -> list[Path]:
    """Download every object under the S3 prefix ``uri`` into ``target_dir``.

    Keys keep their path relative to the prefix (SageMaker File mode, S3DataType S3Prefix). A
    prefix that names one object downloads that object under its base name. Keys that would
    escape ``target_dir`` are refused.

    Returns: the local paths written, in key order.
    Raises:
        FileNotFoundError: no object exists under the prefix.
        UnsafeArchiveError: a key would be written outside ``target_dir``.
    """
    bucket, prefix = split_s3_uri(uri)
    target = Path(target_dir).resolve()
    target.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    paginator = s3_client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            key = item["Key"]
            if key.endswith("/"):
                continue
            relative = key[len(prefix) :].lstrip("/") if key != prefix else os.path.basename(key)
            if not relative:
                relative = os.path.basename(key)
            destination = (target / relative).resolve()
            if not _is_within(destination, target):
                raise UnsafeArchiveError(f"S3 key {key!r} would be written outside {target}")
            destination.parent.mkdir(parents=True, exist_ok=True)
            s3_client.download_file(bucket, key, str(destination))
            written.append(destination)
    if not written:
        raise FileNotFoundError(f"no S3 object under {uri}")
    return written


def upload_file(s3_client, path: str | os.PathLike, uri: str) -> str:
    """Upload one local file to the S3 URI ``uri``; returns ``uri``."""
    bucket, key = split_s3_uri(uri)
    s3_client.upload_file(str(path), bucket, key)
    return uri
