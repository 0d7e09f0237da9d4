"""Durable storage of the local runtime's SageMaker resources.

Every resource is one JSON file, ``<root>/<kind>/<name>.json``, holding its Describe* payload
(timestamps as epoch-second floats). Files are written atomically (temporary file in the same
folder, fsync, ``os.replace``), so a crash leaves either the old or the new version, never a torn
one. An in-memory copy serves reads; one lock serialises changes, so the store is thread-safe.

Names are looked up case-insensitively, as SageMaker does ("The name is case-insensitive in
CreateEndpoint, but the case is preserved": CreateEndpoint, SageMaker API reference); the file
name is the lower-cased name and the payload keeps the original spelling.

What happens to the stored resources when the runtime starts again is
:mod:`smflow.local.state.recovery`'s.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import re
import tempfile
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

# Resource kind -> folder under <state_dir>/sagemaker/.
KIND_FOLDERS: dict[str, str] = {
    "TrainingJob": "training-jobs",
    "Model": "models",
    "EndpointConfig": "endpoint-configs",
    "Endpoint": "endpoints",
    "TransformJob": "transform-jobs",
}

# Every name these kinds accept fits this (SageMaker's name patterns, max 63 characters), which
# also makes it a safe file name.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,62}")


class ResourceStore:
    """Thread-safe, file-backed map ``(kind, name) -> resource dict``.

    Args:
        root: the folder that holds one sub-folder per kind (``<state_dir>/sagemaker``).

    Unreadable files found at start-up are renamed ``<file>.corrupt`` (never deleted) and skipped,
    with a warning; leftover temporary files of interrupted writes are removed.

    Raises (every method taking a name):
        ValueError: the kind is unknown or the name is not a valid SageMaker resource name.
    """

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self._lock = threading.RLock()
        self._items: dict[str, dict[str, dict[str, Any]]] = {kind: {} for kind in KIND_FOLDERS}
        for kind in KIND_FOLDERS:
            self._load_kind(kind)

    # -- reads -------------------------------------------------------------------------------
    def get(self, kind: str, name: str) -> dict[str, Any] | None:
        """A deep copy of the resource, or None. ``name`` matches case-insensitively."""
        key = self._key(kind, name)
        with self._lock:
            item = self._items[kind].get(key)
            return copy.deepcopy(item) if item is not None else None

    def list(self, kind: str) -> list[dict[str, Any]]:
        """Deep copies of every resource of ``kind`` (unordered)."""
        self._check_kind(kind)
        with self._lock:
            return [copy.deepcopy(item) for item in self._items[kind].values()]

    # -- writes ------------------------------------------------------------------------------
    def insert(self, kind: str, name: str, record: Mapping[str, Any]) -> bool:
        """Store a new resource. Returns False (and stores nothing) if the name is taken."""
        key = self._key(kind, name)
        with self._lock:
            if key in self._items[kind]:
                return False
            item = copy.deepcopy(dict(record))
            self._write(kind, key, item)
            self._items[kind][key] = item
            return True

    def update(
        self,
        kind: str,
        name: str,
        change: Mapping[str, Any] | Callable[[dict[str, Any]], Mapping[str, Any] | None],
    ) -> dict[str, Any] | None:
        """Merge top-level fields into a resource and persist it.

        ``change`` is either the fields to merge (a value of None removes the field), or a
        function called under the store lock with a copy of the current resource that returns
        such fields (or None to change nothing). Returns a copy of the new resource, or None if
        the resource does not exist.
        """
        key = self._key(kind, name)
        with self._lock:
            current = self._items[kind].get(key)
            if current is None:
                return None
            fields = change(copy.deepcopy(current)) if callable(change) else change
            if not fields:
                return copy.deepcopy(current)
            updated = copy.deepcopy(current)
            for field, value in fields.items():
                if value is None:
                    updated.pop(field, None)
                else:
                    updated[field] = copy.deepcopy(value)
            self._write(kind, key, updated)
            self._items[kind][key] = updated
            return copy.deepcopy(updated)

    def delete(self, kind: str, name: str) -> dict[str, Any] | None:
        """Remove a resource; returns what was stored, or None if nothing was."""
        key = self._key(kind, name)
        with self._lock:
            item = self._items[kind].pop(key, None)
            if item is not None:
                try:
                    self._path(kind, key).unlink()
                except FileNotFoundError:
                    pass
            return item

    # -- files -------------------------------------------------------------------------------
    def _path(self, kind: str, key: str) -> Path:
        return self.root / KIND_FOLDERS[kind] / f"{key}.json"

    def _write(self, kind: str, key: str, item: dict[str, Any]) -> None:
        atomic_write_bytes(self._path(kind, key), json.dumps(item, indent=1, sort_keys=True).encode())

    def _load_kind(self, kind: str) -> None:
        folder = self.root / KIND_FOLDERS[kind]
        folder.mkdir(parents=True, exist_ok=True)
        for path in sorted(folder.iterdir()):
            if path.name.endswith(".tmp"):
                path.unlink(missing_ok=True)  # an interrupted write; the real file is intact
                continue
            if path.suffix != ".json":
                continue
            try:
                item = json.loads(path.read_text(encoding="utf-8"))
                if not isinstance(item, dict):
                    raise ValueError("not a JSON object")
                if not _NAME.fullmatch(path.stem) or path.stem != path.stem.lower():
                    raise ValueError("file name is not a lower-cased resource name")
            except (OSError, ValueError) as error:
                aside = path.with_name(path.name + ".corrupt")
                logger.warning("ignoring unreadable %s file %s (%s); moved to %s", kind, path, error, aside)
                os.replace(path, aside)
                continue
            self._items[kind][path.stem] = item

    @staticmethod
    def _check_kind(kind: str) -> None:
        if kind not in KIND_FOLDERS:
            raise ValueError(f"unknown resource kind {kind!r}; expected one of {sorted(KIND_FOLDERS)}")

    def _key(self, kind: str, name: str) -> str:
        self._check_kind(kind)
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise ValueError(
                f"invalid {kind} name {name!r}: use 1-63 letters, digits and hyphens, "
                "starting with a letter or digit"
            )
        return name.lower()


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old or the new content, never a mix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
