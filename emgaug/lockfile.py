"""One writer per output: a lock file next to the output, created atomically (O_CREAT | O_EXCL), holding `pid@host`.

A second process that wants the same output while the lock exists is refused with one line naming the owner, so
two runs into one `--out` can no longer both "succeed" while the last rename silently drops the first one's rows.
A lock left by a process of this host that no longer runs (killed with SIGKILL, a lost node) is taken over with a
logged note; a lock of another host is never taken over (its process cannot be checked from here): the message says
which file to delete once that run is known to be gone.

The lock is `.<name>.lock` beside `<name>` (not inside it: the output folder itself is created by an atomic rename,
and a Parquet set folder must hold only Parquet files). It is removed when the writer finishes or fails.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

from emgaug.atomic import _pid_alive
from emgaug.errors import EmgaugError

logger = logging.getLogger(__name__)
EMPTY_LOCK_GRACE_S = 10.0  # an empty lock younger than this is a writer between create and write: wait, do not steal
_held: set[Path] = set()  # locks this process holds (a lock naming this pid but not held here is a previous process's)


def lock_path(final: str | os.PathLike) -> Path:
    final = Path(os.path.abspath(final))
    return final.parent / f".{final.name}.lock"


def _me() -> str:
    return f"{os.getpid()}@{socket.gethostname()}"


def _read(lock: Path) -> tuple[str, os.stat_result] | None:
    """(owner `pid@host` from the first line, stat) of the lock file, or None when it vanished meanwhile."""
    try:
        with open(lock, "rb") as fh:
            st = os.fstat(fh.fileno())
            text = fh.read(512).decode("utf-8", "replace")
    except FileNotFoundError:
        return None
    except OSError as e:
        raise EmgaugError(f"{lock}: unreadable lock file ({e.strerror or e}); if no emgaug run is writing next to it, "
                          "delete it") from e
    return text.split("\n", 1)[0].strip(), st


def _stale_reason(owner: str, st: os.stat_result, lock: Path) -> str | None:
    """Why the lock's owner is certainly gone (so the lock may be taken over), or None when it may be alive."""
    if not owner:
        age = time.time() - st.st_mtime
        return f"empty lock {age:.0f} s old (its writer died before writing its name)" if age > EMPTY_LOCK_GRACE_S else None
    pid_s, _, host = owner.partition("@")
    if host != socket.gethostname() or not pid_s.isdigit():
        return None
    pid = int(pid_s)
    if pid == os.getpid():
        return None if lock in _held else f"process {pid} (this pid now) did not finish a previous run"
    return None if _pid_alive(pid) else f"process {owner} is no longer running"


def _take_over(lock: Path, owner: str, st: os.stat_result) -> bool:
    """Remove the stale lock if it is still the very file judged stale; False when another process got there first.

    The stale file is renamed aside atomically (only one contender can rename it), then checked: if what was renamed
    is not the stale file (a contender already replaced it with its own, live lock), it is put back."""
    aside = lock.with_name(f"{lock.name}.stale-{os.getpid()}-{os.urandom(3).hex()}")
    try:
        os.rename(lock, aside)
    except FileNotFoundError:
        return False
    got = _read(aside)
    if got is not None and got[0] == owner and (got[1].st_ino, got[1].st_dev) == (st.st_ino, st.st_dev):
        aside.unlink(missing_ok=True)
        return True
    try:  # not the stale file: restore the live one (link fails rather than overwrite if the name was retaken)
        os.link(aside, lock)
    except OSError:
        pass
    aside.unlink(missing_ok=True)
    return False


def acquire(final: str | os.PathLike, what: str = "output") -> Path:
    """Create the lock of `final` or raise EmgaugError naming the process that holds it. Returns the lock's path."""
    lock = lock_path(final)
    lock.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(50):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            got = _read(lock)
            if got is None:
                continue  # released meanwhile: try again
            owner, st = got
            reason = _stale_reason(owner, st, lock)
            if reason is None:
                if not owner:
                    time.sleep(0.05)  # its writer is about to write its name
                    continue
                raise EmgaugError(
                    f"{final}: {what} in use by another emgaug run ({owner}, lock file {lock}); wait for it to finish "
                    f"or choose another --out (if that run is gone, delete {lock})") from None
            if _take_over(lock, owner, st):
                logger.warning("note: %s: took over the stale lock %s (%s)", final, lock, reason)
            continue
        except OSError as e:
            raise EmgaugError(f"{final}: cannot create the lock file {lock} ({e.strerror or e}); choose a writable --out") from e
        try:
            os.write(fd, f"{_me()}\n".encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        _held.add(lock)
        return lock
    raise EmgaugError(f"{final}: could not take the lock file {lock} (it keeps changing hands); retry, or choose another --out")


def release(lock: Path) -> None:
    """Remove a lock this process holds (only if it is still ours: a lock another process took over stays)."""
    _held.discard(lock)
    got = _read(lock)
    if got is not None and got[0] == _me():
        with contextlib.suppress(FileNotFoundError):
            lock.unlink()


def check_unlocked(final: str | os.PathLike, what: str = "output") -> None:
    """Raise the same one-line error as `acquire` when another live process holds `final`'s lock (no lock taken):
    lets a command refuse before hours of work instead of at the write."""
    lock = lock_path(final)
    got = _read(lock)
    if got is None or lock in _held:
        return
    owner, st = got
    if owner and _stale_reason(owner, st, lock) is None:
        raise EmgaugError(f"{final}: {what} in use by another emgaug run ({owner}, lock file {lock}); wait for it to "
                          f"finish or choose another --out (if that run is gone, delete {lock})")


@contextlib.contextmanager
def exclusive(final: str | os.PathLike, what: str = "output") -> Iterator[Path]:
    """Hold `final`'s lock for the duration of the block."""
    lock = acquire(final, what)
    try:
        yield lock
    finally:
        release(lock)


__all__ = ["acquire", "check_unlocked", "exclusive", "lock_path", "release"]
