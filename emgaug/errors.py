"""One exception type for bad user input, so the CLI can print a single clear line instead of a traceback."""

from __future__ import annotations


class EmgaugError(Exception):
    """A problem with the user's input: the message names the file and the fix, on one line."""
