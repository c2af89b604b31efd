"""A small per-process cache of open h5py files.

h5py handles cannot be pickled or shared across fork, so each DataLoader worker opens its own, lazily,
and at most `capacity` stay open: memory and descriptors stay flat however many files a dataset has.
"""

from __future__ import annotations

import os
from collections import OrderedDict

import h5py

_CAPACITY = 64
_cache: OrderedDict[str, h5py.File] = OrderedDict()
_owner_pid: int | None = None


def open_h5(path: str) -> h5py.File:
    """Return a read-only h5py.File for `path`, reusing this process's handle when one is open."""
    global _owner_pid
    pid = os.getpid()
    if _owner_pid != pid:  # forked child: never reuse the parent's handles
        _cache.clear()
        _owner_pid = pid
    f = _cache.get(path)
    if f is not None and f.id.valid:
        _cache.move_to_end(path)
        return f
    f = h5py.File(path, "r")
    _cache[path] = f
    while len(_cache) > _CAPACITY:
        _, old = _cache.popitem(last=False)
        try:
            old.close()
        except Exception:  # noqa: BLE001 - closing a stale handle must never fail a read
            pass
    return f


def close_all() -> None:
    """Close every handle this process holds (tests and long-lived tools call this)."""
    while _cache:
        _, f = _cache.popitem()
        try:
            f.close()
        except Exception:  # noqa: BLE001
            pass


def open_count() -> int:
    return len(_cache)
