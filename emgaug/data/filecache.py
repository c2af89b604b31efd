"""Per-process cache of parsed data files (Ninapro .mat, 3DC text), shared by the readers that parse whole files.

Entries are keyed by (path, size, mtime), so a rewritten file is parsed again; arrays are bounded by bytes (least
recently used dropped first); small per-file facts (shapes, label tables) sit beside them. A forked DataLoader
worker starts empty instead of sharing its parent's copies.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from typing import Any

import numpy as np

from emgaug.errors import EmgaugError

FileKey = tuple[str, int, int]


def stat_key(path: str) -> FileKey:
    """(path, size, mtime_ns) of `path`, or a one-line error when it cannot be opened."""
    try:
        st = os.stat(path)
    except OSError as e:
        raise EmgaugError(f"{path}: cannot open ({e.strerror}); restore the file or re-list the dataset") from e
    return (path, st.st_size, st.st_mtime_ns)


class ParsedFileCache:
    """Arrays of parsed files, LRU-bounded by `max_bytes` (always keeping the newest), plus unbounded small facts."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self._arrays: OrderedDict[FileKey, Any] = OrderedDict()
        self._nbytes = 0
        self._facts: dict[FileKey, Any] = {}
        self._pid: int | None = None

    def _own(self) -> None:
        if self._pid != os.getpid():
            self.clear()
            self._pid = os.getpid()

    def clear(self) -> None:
        self._arrays.clear()
        self._facts.clear()
        self._nbytes = 0

    def get(self, key: FileKey) -> Any | None:
        self._own()
        hit = self._arrays.get(key)
        if hit is not None:
            self._arrays.move_to_end(key)
        return hit

    def put(self, key: FileKey, value: Any) -> Any:
        """Store `value` (an array or a tuple of arrays) and evict the least recently used beyond the budget."""
        self._own()
        self._nbytes += _nbytes(value) - _nbytes(self._arrays.pop(key, ()))
        self._arrays[key] = value
        while self._nbytes > self.max_bytes and len(self._arrays) > 1:
            _, old = self._arrays.popitem(last=False)
            self._nbytes -= _nbytes(old)
        return value

    def fact(self, key: FileKey) -> Any | None:
        self._own()
        return self._facts.get(key)

    def set_fact(self, key: FileKey, value: Any) -> Any:
        self._own()
        self._facts[key] = value
        return value


def _nbytes(value: Any) -> int:
    if isinstance(value, np.ndarray):
        return value.nbytes
    return sum(_nbytes(v) for v in value) if isinstance(value, tuple) else 0
