"""Shared rich console and progress-bar factory, so every command looks and reports the same way."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn

console = Console(stderr=False)


def make_progress(*extra_columns) -> Progress:
    """A progress bar with counts, elapsed and remaining time (plus any extra columns, e.g. rates)."""
    return Progress(SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    *extra_columns, TimeElapsedColumn(), TimeRemainingColumn(), console=console, transient=False)
