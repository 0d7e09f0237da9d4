"""Packing folders into the ``.tar.gz`` archives SageMaker exchanges (``sourcedir.tar.gz``,
``model.tar.gz``, ``output.tar.gz``).

Shared by the client (which packs training and inference code) and the local runtime (which packs
model artifacts), so it lives below both layers and imports neither.
"""

from __future__ import annotations

import os
import tarfile
from pathlib import Path


def make_tar_gz(
    source_dir: str | os.PathLike, archive: str | os.PathLike, exclude: tuple[str, ...] = ()
) -> Path:
    """Pack the *contents* of ``source_dir`` (not the folder itself) into ``archive`` (.tar.gz).

    This is the layout SageMaker expects for ``model.tar.gz`` and ``sourcedir.tar.gz``. Paths
    with a component named in ``exclude`` (e.g. ``"__pycache__"``) are left out.
    """
    source = Path(source_dir)
    archive = Path(archive)
    archive.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted(source.rglob("*")):
            relative = path.relative_to(source)
            if exclude and any(part in exclude for part in relative.parts):
                continue
            tar.add(path, arcname=relative.as_posix(), recursive=False)
    return archive
