"""Option checks shared by the commands: a value outside its range is a usage error (exit 2, one line naming
the option and the valid range), never silently replaced by a default and never a traceback later on.

Integers use typer's own `min=`/`max=`; floats use these callbacks, which also refuse NaN and inf."""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from pathlib import Path

import typer

from emgaug.errors import EmgaugError


def _range_text(lo: float | None, hi: float | None, lo_open: bool, hi_open: bool) -> str:
    if lo is not None and hi is not None:
        return f"in {'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"
    if lo is not None:
        return f"{'>' if lo_open else '>='} {lo:g}"
    if hi is not None:
        return f"{'<' if hi_open else '<='} {hi:g}"
    return "finite"


def finite(lo: float | None = None, hi: float | None = None, *, lo_open: bool = False,
           hi_open: bool = False) -> Callable[[float | None], float | None]:
    """A typer callback accepting None or a finite float within [lo, hi] (open ends with lo_open / hi_open)."""
    want = _range_text(lo, hi, lo_open, hi_open)

    def check(value: float | None) -> float | None:
        if value is None:
            return value
        ok = math.isfinite(value)
        if ok and lo is not None:
            ok = value > lo if lo_open else value >= lo
        if ok and hi is not None:
            ok = value < hi if hi_open else value <= hi
        if not ok:
            raise typer.BadParameter(f"must be a finite number {want} (got {value:g})")
        return value

    return check


positive = finite(0.0, lo_open=True)
non_negative = finite(0.0)
fraction = finite(0.0, 1.0, hi_open=True)


def check_output_file(path: Path, flag: str = "--out") -> None:
    """Refuse an output file path that is a folder or whose folder cannot be created or written (before any work)."""
    if path.is_dir():
        raise EmgaugError(f"{flag} {path}: is a folder; pass a file name")
    _check_parent(path, flag)


def check_output_dir(path: Path, flag: str = "--out") -> None:
    """Refuse an output folder path that is an existing file, or that cannot be created or written (before any work)."""
    if path.exists() and not path.is_dir():
        raise EmgaugError(f"{flag} {path}: exists and is not a folder; choose another {flag}")
    if path.is_dir():
        if not os.access(path, os.W_OK | os.X_OK):
            raise EmgaugError(f"{flag} {path}: folder is not writable; choose another {flag} or fix its permissions")
        return
    _check_parent(path, flag)


def _check_parent(path: Path, flag: str) -> None:
    parent = path.parent
    while not parent.exists():  # the nearest existing ancestor decides whether the folders can be created
        if parent.is_symlink() or parent == parent.parent:
            break
        parent = parent.parent
    if parent.exists() and not parent.is_dir():
        raise EmgaugError(f"{flag} {path}: {parent} is a file, not a folder; choose another {flag}")
    if parent.is_dir() and not os.access(parent, os.W_OK | os.X_OK):
        raise EmgaugError(f"{flag} {path}: {parent} is not writable; choose another {flag} or fix its permissions")
