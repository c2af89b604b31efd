"""`emgaug simulate`: write the built-in emg2pose-format dataset, so the whole tool runs with no download."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from emgaug.console import console, make_progress
from emgaug.data.simulate import DEFAULT_STAGES, simulate_dataset


def simulate(
    out: Path = typer.Option(Path("data/simulated"), "--out", help="Folder to write (replaced atomically when complete)."),
    seed: int = typer.Option(0, help="Seed: the same seed writes byte-identical data."),
    users: int = typer.Option(4, min=1, help="Number of simulated users (alternating right/left hand)."),
    sessions: int = typer.Option(2, min=1, help="Sessions per user (band re-donned: electrode gains change)."),
    reps: int = typer.Option(3, min=1, help="Repetitions of each gesture per file."),
    stages: str = typer.Option(",".join(DEFAULT_STAGES), help="Comma-separated stages (gestures); 'spread' is also known."),
    held_out_users: int = typer.Option(1, min=0, help="Users flagged held_out_user in metadata.csv."),
    held_out_stages: int = typer.Option(2, min=0, help="Stages flagged held_out_stage in metadata.csv."),
) -> None:
    """Write a small, physiologically plausible dataset in exact emg2pose format (HDF5 + metadata.csv)."""
    stage_list = [s.strip() for s in stages.split(",") if s.strip()]
    total = users * sessions * len(stage_list)
    with make_progress() as progress:
        task = progress.add_task("simulating recordings", total=total)
        simulate_dataset(out, seed=seed, users=users, sessions=sessions, reps=reps, stages=stage_list,
                         held_out_users=held_out_users, held_out_stages=held_out_stages,
                         progress=lambda done, _total: progress.update(task, completed=done))
    size = sum(p.stat().st_size for p in out.glob("*")) / 1e6
    t = Table(title=f"Simulated dataset {out}")
    for c in ("users", "sessions/user", "stages", "files", "size (MB)", "sample rate"):
        t.add_column(c, justify="right")
    t.add_row(str(users), str(sessions), str(len(stage_list)), str(total), f"{size:.1f}", "2000 Hz")
    console.print(t)
