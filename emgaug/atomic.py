"""Atomic output: everything emgaug writes goes to a temporary name first and is renamed when complete,
so an interrupted run never leaves a half-written file (or dataset folder) under the final name.

Temporary names are hidden siblings of the final name that carry the writing process's id and a host tag
(`.NAME.tmp-<pid>@<host>-XXXX`). A run killed with SIGKILL cannot remove its own; the next write of the same
output removes every such sibling whose process is gone (`clean_stale`). Finished outputs are recorded in this
process (`completed_outputs`), so an interrupted command can say what it kept.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# hidden temporaries of writers that predate the pid tag are only removed once this old (they may still be in use)
LEGACY_STALE_S = 3600.0
_completed: list[Path] = []


def _host_tag() -> str:
    return hashlib.sha1(socket.gethostname().encode("utf-8", "replace")).hexdigest()[:8]


def _owner_tag() -> str:
    return f"{os.getpid()}@{_host_tag()}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: another user's live process; anything else: cannot tell, assume alive
        return True
    return True


def clean_stale(final: str | os.PathLike) -> list[Path]:
    """Remove hidden temporaries (`.NAME.tmp-*`, `.NAME.old-*`) of `final` left by writers that were killed.

    A temporary is stale when it names a process of this host that no longer runs; temporaries of writers that
    predate the pid tag are stale once older than LEGACY_STALE_S. Returns what was removed."""
    final = Path(final)
    parent = final.parent
    if not parent.is_dir():
        return []
    pattern = re.compile(rf"^\.{re.escape(final.name)}\.(tmp|old)-(?:(\d+)@([0-9a-f]{{8}})-)?")
    removed = []
    me, host, now = os.getpid(), _host_tag(), time.time()
    try:
        entries = list(parent.iterdir())
    except OSError:
        return []
    for p in entries:
        m = pattern.match(p.name)
        if m is None:
            continue
        try:
            if m.group(2) is not None:
                pid = int(m.group(2))
                if m.group(3) != host or pid == me or _pid_alive(pid):
                    continue
            elif now - p.lstat().st_mtime < LEGACY_STALE_S:
                continue
            if m.group(1) == "old" and not final.exists() and not final.is_symlink():
                os.replace(p, final)  # killed between the two renames of a replacement: the old result comes back
            elif p.is_dir() and not p.is_symlink():
                shutil.rmtree(p, ignore_errors=True)
            else:
                p.unlink(missing_ok=True)
            removed.append(p)
        except OSError:
            continue
    return removed


@contextlib.contextmanager
def atomic_path(final: str | os.PathLike, is_dir: bool = False, clean: bool = True) -> Iterator[Path]:
    """Yield a temporary sibling path; on success rename it onto `final`, on error remove it.

    For directories an existing `final` is replaced only after the new one is complete. Stale temporaries of
    the same output left by killed runs are removed first (`clean=False` skips that scan, for writers filling a
    folder they just created themselves).
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    if clean:
        clean_stale(final)
    prefix = f".{final.name}.tmp-{_owner_tag()}-"
    if is_dir:
        tmp = Path(tempfile.mkdtemp(prefix=prefix, dir=final.parent))
    else:
        fd, name = tempfile.mkstemp(prefix=prefix, dir=final.parent)
        os.close(fd)
        tmp = Path(name)
    try:
        yield tmp
        # mkstemp/mkdtemp create private (0600/0700) entries; give the result the permissions a plain open() would
        os.chmod(tmp, (0o777 if is_dir else 0o666) & ~_umask())
        if is_dir:
            if final.exists():
                old = final.with_name(f".{final.name}.old-{_owner_tag()}-{os.urandom(3).hex()}")
                os.replace(final, old)
                os.replace(tmp, final)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.replace(tmp, final)
        else:
            os.replace(tmp, final)
        _completed.append(final)
    except BaseException:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)
        raise


def completed_outputs() -> list[Path]:
    """Outputs this process finished (renamed onto their final names) that still exist, oldest first, once each."""
    seen: dict[Path, None] = {}
    for p in _completed:
        if p.exists():
            seen.pop(p, None)
            seen[p] = None
    return list(seen)


def forget_completed() -> None:
    """Start a new record of finished outputs (the CLI calls this before each command)."""
    _completed.clear()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_json_atomic(path: str | os.PathLike, obj: Any) -> Path:
    """Write `obj` as indented JSON to `path` atomically and return the path."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=False, default=json_default) + "\n")
    return Path(path)


def json_default(o: Any) -> Any:
    """JSON fallback for numpy scalars/arrays, paths and objects with `to_dict` (configs, window geometry)."""
    import numpy as np

    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    if hasattr(o, "to_dict"):
        return o.to_dict()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")
