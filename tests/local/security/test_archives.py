"""Archive extraction refuses what could write outside its folder: CVE-2025-4517's layout (a
symlink chain whose expansion overruns PATH_MAX, which a non-strict realpath cannot follow) and
the classic tar tricks. Nothing outside the target, and nothing already stored, is touched by a
refused archive."""

from __future__ import annotations

import io
import os
import stat
import tarfile
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from smflow.local.support.files import (
    UnsafeArchiveError,
    check_tar,
    prepare_source_dir,
    safe_extract_tar,
)


class Maker:
    """Builds a tar.gz member by member, in order."""

    def __init__(self) -> None:
        self.buffer = io.BytesIO()
        self.tar = tarfile.open(fileobj=self.buffer, mode="w:gz")

    def add(self, name: str, *, content: bytes | None = None, kind: bytes = tarfile.REGTYPE,
            link: str = "", mode: int = 0o644) -> Maker:
        info = tarfile.TarInfo(name)
        info.type = kind
        info.mode = mode
        info.linkname = link
        data = None
        if kind == tarfile.REGTYPE:
            data = content or b""
            info.size = len(data)
        self.tar.addfile(info, io.BytesIO(data) if data is not None else None)
        return self

    def file(self, name: str, content: bytes = b"x", mode: int = 0o644) -> Maker:
        return self.add(name, content=content, mode=mode)

    def dir(self, name: str) -> Maker:
        return self.add(name, kind=tarfile.DIRTYPE, mode=0o755)

    def symlink(self, name: str, to: str) -> Maker:
        return self.add(name, kind=tarfile.SYMTYPE, link=to)

    def hardlink(self, name: str, to: str) -> Maker:
        return self.add(name, kind=tarfile.LNKTYPE, link=to)

    def save(self, path: Path) -> Path:
        self.tar.close()
        path.write_bytes(self.buffer.getvalue())
        return path


@pytest.fixture()
def place(tmp_path: Path):
    """``outer/`` holds a file that must survive (``flag``); the target is ``outer/dest``."""
    outer = tmp_path / "outer"
    outer.mkdir()
    (outer / "flag").write_text("original")
    dest = outer / "dest"
    dest.mkdir()
    (dest / "stored.txt").write_text("kept")  # what is already stored
    return outer


def _snapshot(root: Path) -> dict[str, bytes | str]:
    found: dict[str, bytes | str] = {}
    for path in sorted(root.rglob("*")):
        relative = str(path.relative_to(root))
        if path.is_symlink():
            found[relative] = "-> " + os.readlink(path)
        elif path.is_file():
            found[relative] = path.read_bytes()
        else:
            found[relative] = "dir"
    return found


def _cve_2025_4517(outer: Path, dest: Path) -> Maker:
    """The layout of CPython's test_realpath_limit_attack: directories of long names, each with a
    one-letter symlink to it, so that the chain ``a/b/.../p`` is short but expands past PATH_MAX;
    a link at its end climbs back to the top, and ``escape`` climbs one more level."""
    steps = "abcdefghijklmnop"
    max_path = os.pathconf(outer, "PC_PATH_MAX")
    component = "d" * ((max_path - len(str(dest)) - 1) // (len(steps) + 1))
    maker = Maker()
    path = ""
    for step in steps:
        maker.add(os.path.join(path, component), kind=tarfile.DIRTYPE, mode=0o777)
        maker.symlink(os.path.join(path, step), component)
        path = os.path.join(path, component)
    long_link = os.path.join(*steps, "l" * 254)
    maker.symlink(long_link, os.path.join(*[".."] * len(steps)))
    maker.symlink("escape", os.path.join(long_link, ".."))
    maker.hardlink("flaglink", os.path.join("escape", "flag"))
    maker.file("flaglink", b"overwrite")
    maker.file("escape/newfile", b"new")
    return maker


TRICKS = {
    "absolute path": lambda: Maker().file("/tmp/smflow-absolute-{pid}", b"pwned"),
    "dot-dot": lambda: Maker().file("../flag", b"pwned"),
    "dot-dot inside a path": lambda: Maker().dir("a").file("a/../../flag", b"pwned"),
    "symlink out, absolute": lambda: Maker().symlink("link", "/etc"),
    "symlink out, relative": lambda: Maker().symlink("link", "../"),
    "write through a symlink out": lambda: Maker().symlink("link", "..").file("link/flag", b"pwned"),
    "symlink chain out": lambda: Maker().dir("a").symlink("a/up", "..").symlink("b", "a/up/..").file("b/flag", b"pwned"),
    "hard link out, relative": lambda: Maker().hardlink("flaglink", "../flag").file("flaglink", b"pwned"),
    "hard link out, absolute": lambda: Maker().hardlink("passwd", "/etc/passwd"),
    "hard link through a symlink out": lambda: Maker().symlink("up", "..").hardlink("flaglink", "up/flag"),
    "directory replaced by a symlink": lambda: Maker().dir("d").symlink("d", "..").file("d/flag", b"pwned"),
    "character device": lambda: Maker().add("null", kind=tarfile.CHRTYPE),
    "block device": lambda: Maker().add("disk", kind=tarfile.BLKTYPE),
    "FIFO": lambda: Maker().add("pipe", kind=tarfile.FIFOTYPE),
    "symlink loop": lambda: Maker().symlink("x", "y").symlink("y", "x").file("x/f", b"pwned"),
}


@pytest.mark.parametrize("trick", sorted(TRICKS))
def test_classic_tricks_are_refused_and_nothing_changes(place: Path, tmp_path: Path, trick: str):
    archive = TRICKS[trick]().save(tmp_path / "archive.tar.gz")
    before = _snapshot(place)
    with pytest.raises(UnsafeArchiveError):
        safe_extract_tar(archive, place / "dest")
    with pytest.raises(UnsafeArchiveError):
        check_tar(archive)
    assert _snapshot(place) == before
    assert not Path(f"/tmp/smflow-absolute-{os.getpid()}").exists()


def test_cve_2025_4517_layout_is_refused(place: Path, tmp_path: Path):
    dest = place / "dest"
    archive = _cve_2025_4517(place, dest).save(tmp_path / "cve.tar.gz")
    before = _snapshot(place)
    with pytest.raises(UnsafeArchiveError, match="escape"):
        safe_extract_tar(archive, dest)
    assert (place / "flag").read_text() == "original"
    assert not (place / "newfile").exists()
    assert _snapshot(place) == before


def test_setuid_and_world_writable_bits_are_dropped(tmp_path: Path):
    archive = Maker().file("bin/tool", b"#!/bin/sh\n", mode=0o6777).dir("shared") \
        .save(tmp_path / "modes.tar.gz")
    safe_extract_tar(archive, tmp_path / "out")
    mode = stat.S_IMODE((tmp_path / "out" / "bin" / "tool").stat().st_mode)
    assert mode == 0o755
    assert not mode & (stat.S_ISUID | stat.S_ISGID | stat.S_IWOTH)


def test_links_inside_the_archive_are_extracted(tmp_path: Path):
    archive = (Maker().dir("pkg").file("pkg/data.txt", b"data").symlink("latest", "pkg/data.txt")
               .symlink("pkg/self", ".").hardlink("copy.txt", "pkg/data.txt").file("./top.py", b"print(1)")
               .save(tmp_path / "ok.tar.gz"))
    out = tmp_path / "out"
    safe_extract_tar(archive, out)
    assert (out / "latest").read_bytes() == b"data"
    assert os.readlink(out / "latest") == "pkg/data.txt"
    assert (out / "copy.txt").read_bytes() == b"data"
    assert os.stat(out / "copy.txt").st_ino == os.stat(out / "pkg" / "data.txt").st_ino
    assert (out / "pkg" / "self" / "data.txt").read_bytes() == b"data"
    assert (out / "top.py").read_bytes() == b"print(1)"


def test_a_symlink_already_in_the_target_is_not_written_through(tmp_path: Path):
    outside = tmp_path / "outside"
    outside.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    (out / "sub").symlink_to(outside)
    archive = Maker().file("sub/x", b"pwned").save(tmp_path / "a.tar.gz")
    with pytest.raises(UnsafeArchiveError):
        safe_extract_tar(archive, out)
    assert not (outside / "x").exists()


@mock_aws
def test_prepare_source_dir_refuses_the_cve_layout_before_the_toolkit_runs(place: Path, tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="code")
    code_dir = place / "dest"
    archive = _cve_2025_4517(place, code_dir).save(tmp_path / "cve.tar.gz")
    s3.upload_file(str(archive), "code", "job/sourcedir.tar.gz")
    good = Maker().file("train.py", b"print('hi')").save(tmp_path / "good.tar.gz")
    s3.upload_file(str(good), "code", "good/sourcedir.tar.gz")
    hyperparameters = {"sagemaker_submit_directory": '"s3://code/job/sourcedir.tar.gz"'}
    with pytest.raises(UnsafeArchiveError, match="s3://code/job/sourcedir.tar.gz"):
        prepare_source_dir(s3, hyperparameters, code_dir, tmp_path / "scratch")
    assert (place / "flag").read_text() == "original"
    assert not list((tmp_path / "scratch").iterdir())  # the download does not stay

    fresh = tmp_path / "code"
    uri = prepare_source_dir(s3, {"sagemaker_submit_directory": "s3://code/good/sourcedir.tar.gz"},
                             fresh, tmp_path / "scratch")
    assert uri == "s3://code/good/sourcedir.tar.gz"
    assert (fresh / "train.py").read_text() == "print('hi')"
    with pytest.raises(FileNotFoundError, match="s3://code/missing.tar.gz"):
        prepare_source_dir(s3, {"sagemaker_submit_directory": "s3://code/missing.tar.gz"}, tmp_path / "c2",
                           tmp_path / "scratch")
    with pytest.raises(ValueError, match="not an S3 URI"):
        prepare_source_dir(s3, {"sagemaker_submit_directory": "file:///etc"}, tmp_path / "c3", tmp_path / "scratch")
    assert prepare_source_dir(s3, {}, tmp_path / "c4", tmp_path / "scratch") is None
