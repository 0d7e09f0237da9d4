"""File helpers shared by the local executors: S3 transfers and safe archive handling.

Archives come from users (``sourcedir.tar.gz``, ``model.tar.gz``), so they are checked in full
before anything is written, and then extracted by this module itself rather than by
``tarfile.extractall``. The check resolves every member's path and every link's target within
the archive's own tree (the links the archive defines, in archive order, followed the way the
kernel follows them), so it does not depend on what ``os.path.realpath`` makes of links that do
not exist yet. That non-strict realpath is what CVE-2025-4517 defeats: a chain of symlinks whose
resolved path exceeds ``PATH_MAX`` makes ``realpath`` give up and return a path that looks
inside, and the ``tarfile`` "data" filter of Python releases before the June 2025 fixes (3.11.7
among them) then writes through the chain. Refused, each with :class:`UnsafeArchiveError`:

- absolute member names and names that climb out with ``..``;
- symlinks whose target (followed through the archive's earlier links) leaves the target
  directory, is absolute, or needs more than :data:`MAX_LINK_HOPS` hops or a path longer than
  :data:`MAX_RESOLVED_PATH` characters to resolve (the CVE's layout);
- hard links to anything but a regular file extracted earlier from the same archive;
- members written through a link, or over a directory;
- devices, FIFOs and any other special member.

Extracted files keep only the permission bits ``0o755`` (owner read/write added): setuid,
setgid, sticky and group/other write bits are dropped, and ownership is not restored, as the
"data" filter does. Nothing is written when an archive is refused.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import tarfile
from collections.abc import Mapping
from pathlib import Path

from smflow.local.support.aws import split_s3_uri

MAX_LINK_HOPS = 40  # Linux's own limit of symlinks followed in one path resolution (MAXSYMLINKS)
MAX_RESOLVED_PATH = 4000  # characters; below Linux's PATH_MAX (4096), which the CVE's chain overruns
_CHUNK = 1 << 20


class UnsafeArchiveError(ValueError):
    """An archive member would escape the extraction directory, or is not a plain file,
    directory or link inside it."""


def safe_extract_tar(archive: str | os.PathLike, target_dir: str | os.PathLike) -> None:
    """Extract a (gzipped) tar archive into ``target_dir`` (created if missing).

    Every member is checked before anything is written (see the module docstring).

    Raises:
        UnsafeArchiveError: a member is absolute, climbs out with ``..``, is a link whose
            resolution leaves ``target_dir``, is written through a link, or is a device/FIFO.
            Nothing is extracted in that case.
        tarfile.TarError: the file is not a readable tar archive.
    """
    target = Path(target_dir)
    target.mkdir(parents=True, exist_ok=True)
    target = target.resolve(strict=True)
    with tarfile.open(archive, "r:*") as tar:
        plan = _plan(tar.getmembers())
        for member, destination, link_source in plan:
            _extract(tar, member, target, destination, link_source)


def check_tar(archive: str | os.PathLike) -> int:
    """Check a (gzipped) tar archive as :func:`safe_extract_tar` does, without extracting it.

    Returns: the number of members. Raises as :func:`safe_extract_tar`.
    """
    with tarfile.open(archive, "r:*") as tar:
        return len(_plan(tar.getmembers()))


# ------------------------------------------------------------------------------------------
# The check: each member's place in the archive's own tree
# ------------------------------------------------------------------------------------------
_Parts = tuple[str, ...]


def _plan(members: list[tarfile.TarInfo]) -> list[tuple[tarfile.TarInfo, _Parts, _Parts | None]]:
    """``(member, destination, hard-link source)`` for every member to extract, in order;
    raises UnsafeArchiveError for the first unsafe member."""
    links: dict[_Parts, str] = {}  # symlinks defined so far: path -> link text
    files: set[_Parts] = set()
    dirs: set[_Parts] = set()
    plan: list[tuple[tarfile.TarInfo, _Parts, _Parts | None]] = []
    for member in members:
        name = member.name
        if "\x00" in name or "\x00" in (member.linkname or ""):
            raise UnsafeArchiveError(f"archive member {name!r} has a NUL character in its name")
        if name.startswith("/") or os.path.isabs(name):
            raise UnsafeArchiveError(f"archive member {name!r} has an absolute path")
        parts = [part for part in name.split("/") if part not in ("", ".")]
        if not parts:
            if member.isdir():
                continue  # "./": the target directory itself
            raise UnsafeArchiveError(f"archive member {name!r} would replace the target directory")
        if parts[-1] == "..":
            raise UnsafeArchiveError(f"archive member {name!r} climbs out with '..'")
        parent = _resolve(parts[:-1], links, name)
        destination = parent + (parts[-1],)
        if member.isdir():
            if destination in files or destination in links:
                links.pop(destination, None)
                files.discard(destination)
            dirs.add(destination)
            plan.append((member, destination, None))
            continue
        if destination in dirs:
            raise UnsafeArchiveError(f"archive member {name!r} would replace a directory of the archive")
        if member.issym():
            link = member.linkname
            if not link or link.startswith("/") or os.path.isabs(link):
                raise UnsafeArchiveError(f"archive member {name!r} links to {link!r}, outside the target")
            _resolve(list(parent) + link.split("/"), links, name)  # raises if it leaves
            files.discard(destination)
            links[destination] = link
            plan.append((member, destination, None))
        elif member.islnk():
            link = member.linkname
            if not link or link.startswith("/") or os.path.isabs(link):
                raise UnsafeArchiveError(f"archive member {name!r} links to {link!r}, outside the target")
            source = _resolve(link.split("/"), links, name)
            if source not in files:
                raise UnsafeArchiveError(
                    f"archive member {name!r} is a hard link to {link!r}, which is not a file of the archive"
                )
            links.pop(destination, None)
            files.add(destination)
            plan.append((member, destination, source))
        elif member.isreg():
            links.pop(destination, None)
            files.add(destination)
            plan.append((member, destination, None))
        elif member.isdev() or member.isfifo():
            raise UnsafeArchiveError(f"archive member {name!r} is a device or FIFO")
        else:
            raise UnsafeArchiveError(f"archive member {name!r} is not a file, directory or link")
    return plan


def _resolve(parts: list[str], links: Mapping[_Parts, str], name: str) -> _Parts:
    """The path ``parts`` (relative to the target) with every link of the archive followed, as
    the kernel resolves a path; UnsafeArchiveError when it leaves the target, is absolute, or
    needs too many hops or too long a path (a resolution that would fail is refused, never
    guessed)."""
    resolved: list[str] = []
    pending = list(reversed(parts))
    hops = 0
    while pending:
        part = pending.pop()
        if part in ("", "."):
            continue
        if part == "..":
            if not resolved:
                raise UnsafeArchiveError(f"archive member {name!r} resolves outside the target (through '..')")
            resolved.pop()
            continue
        resolved.append(part)
        link = links.get(tuple(resolved))
        if link is None:
            if sum(len(item) + 1 for item in resolved) > MAX_RESOLVED_PATH:
                raise UnsafeArchiveError(f"archive member {name!r} resolves to a path too long to check")
            continue
        resolved.pop()
        hops += 1
        if hops > MAX_LINK_HOPS:
            raise UnsafeArchiveError(f"archive member {name!r} resolves through more than {MAX_LINK_HOPS} links")
        if link.startswith("/"):
            raise UnsafeArchiveError(f"archive member {name!r} resolves through a link to {link!r}, outside the target")
        pending.extend(reversed(link.split("/")))
        if sum(len(item) + 1 for item in pending) > MAX_RESOLVED_PATH * 4:
            raise UnsafeArchiveError(f"archive member {name!r} resolves to a path too long to check")
    return tuple(resolved)


# ------------------------------------------------------------------------------------------
# Extraction of a checked member
# ------------------------------------------------------------------------------------------
def _extract(tar: tarfile.TarFile, member: tarfile.TarInfo, target: Path, destination: _Parts,
             link_source: _Parts | None) -> None:
    parent = _make_parents(target, destination[:-1], member.name)
    path = parent / destination[-1]
    existing = _lstat(path)
    if member.isdir():
        if existing is not None and not stat.S_ISDIR(existing.st_mode):
            path.unlink()
            existing = None
        if existing is None:
            path.mkdir()
        path.chmod((member.mode & 0o755) | 0o700)
        return
    if existing is not None:
        if stat.S_ISDIR(existing.st_mode):
            raise UnsafeArchiveError(f"archive member {member.name!r} would replace the directory {path}")
        path.unlink()
    if member.issym():
        os.symlink(member.linkname, path)
        return
    if link_source is not None:
        source = target.joinpath(*link_source)
        found = _lstat(source)
        if found is None or not stat.S_ISREG(found.st_mode):
            raise UnsafeArchiveError(f"archive member {member.name!r} links to {member.linkname!r}, not a file")
        os.link(source, path, follow_symlinks=False)
        return
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    descriptor = os.open(path, flags, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        source_file = tar.extractfile(member)
        if source_file is not None:
            shutil.copyfileobj(source_file, out, _CHUNK)
        os.fchmod(out.fileno(), (member.mode & 0o755) | 0o600)
    if member.mtime:
        try:
            os.utime(path, (member.mtime, member.mtime), follow_symlinks=False)
        except (OSError, OverflowError, ValueError):
            pass


def _make_parents(target: Path, parts: _Parts, name: str) -> Path:
    """Create ``target/parts`` one folder at a time; every existing component must be a real
    folder (never a link: the checked path has none of the archive's)."""
    current = target
    for part in parts:
        current = current / part
        found = _lstat(current)
        if found is None:
            current.mkdir(mode=0o755)
        elif not stat.S_ISDIR(found.st_mode):
            raise UnsafeArchiveError(f"archive member {name!r} would be written through {current}, not a folder")
    return current


def _lstat(path: Path) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None


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


# ------------------------------------------------------------------------------------------
# The training job's code
# ------------------------------------------------------------------------------------------
SUBMIT_DIRECTORY = "sagemaker_submit_directory"  # the training toolkit's hyperparameter


def submit_directory(hyperparameters: Mapping[str, str]) -> str | None:
    """The ``sagemaker_submit_directory`` hyperparameter, JSON-decoded as the toolkit reads it
    (the SageMaker Python SDK stores it as a JSON string: ``'"s3://bucket/key"'``)."""
    value = hyperparameters.get(SUBMIT_DIRECTORY)
    if value is None:
        return None
    try:
        decoded = json.loads(value)
    except (TypeError, ValueError):
        return str(value)
    return decoded if isinstance(decoded, str) else str(value)


def prepare_source_dir(
    s3_client, hyperparameters: Mapping[str, str], code_dir: str | os.PathLike, scratch_dir: str | os.PathLike
) -> str | None:
    """Download the training job's ``sourcedir.tar.gz`` (``sagemaker_submit_directory``), check
    it and extract it into ``code_dir`` (the container's ``/opt/ml/code``) with
    :func:`safe_extract_tar`, before the training toolkit starts.

    The toolkit (``sagemaker_training.files.download_and_extract``) extracts the archive only
    into an empty code folder; once the checked contents are there it leaves them as they are,
    so its own extraction, which on some Pythons trusts a non-strict realpath, never runs on a
    user's archive. ``scratch_dir`` holds the downloaded archive while it is extracted.

    Returns: the URI extracted, or None when the job names no submit directory (or an empty
    archive, which the toolkit may extract itself: it has no member to misplace).
    Raises:
        UnsafeArchiveError: the archive is unsafe (nothing is extracted).
        ValueError: the location is not an ``s3://`` URI, or not a readable tar archive.
        FileNotFoundError: no object at that URI.
    """
    uri = submit_directory(hyperparameters)
    if not uri:
        return None
    if not uri.startswith("s3://"):
        raise ValueError(
            f"{SUBMIT_DIRECTORY} {uri!r} is not an S3 URI: upload the code as a .tar.gz and use s3://bucket/key"
        )
    from botocore.exceptions import ClientError

    bucket, key = split_s3_uri(uri)
    scratch = Path(scratch_dir)
    scratch.mkdir(parents=True, exist_ok=True)
    archive = scratch / "sourcedir.tar.gz"
    try:
        s3_client.download_file(bucket, key, str(archive))
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code in ("404", "NoSuchKey", "NoSuchBucket", "NotFound"):
            raise FileNotFoundError(
                f"{SUBMIT_DIRECTORY} {uri} does not exist: upload the code there, or correct the hyperparameter"
            ) from None
        raise
    try:
        safe_extract_tar(archive, code_dir)
    except UnsafeArchiveError as error:
        raise UnsafeArchiveError(f"{SUBMIT_DIRECTORY} {uri} is unsafe: {error}") from None
    except (tarfile.TarError, EOFError, OSError) as error:
        raise ValueError(
            f"{SUBMIT_DIRECTORY} {uri} is not a readable .tar.gz archive ({error}): "
            "pack the code with `tar -czf sourcedir.tar.gz -C <dir> .`"
        ) from None
    finally:
        archive.unlink(missing_ok=True)
    return uri
