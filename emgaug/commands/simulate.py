"""`emgaug simulate`: write the built-in emg2pose-format dataset, so the whole tool runs with no download."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from emgaug.console import console, make_progress
from emgaug.data.simulate import DEFAULT_STAGES, MARKER, simulate_dataset


def simulate(
    out: Path = typer.Option(Path("data/simulated"), "--out", help="Folder to write (replaced atomically when complete; "
                             "an existing folder must be empty or a dataset emgaug simulated, see --overwrite)."),
    seed: int = typer.Option(0, min=0, help="Seed: the same seed writes byte-identical data."),
    users: int = typer.Option(4, min=1, help="Number of simulated users (alternating right/left hand)."),
    sessions: int = typer.Option(2, min=1, help="Sessions per user (band re-donned: electrode gains change)."),
    reps: int = typer.Option(3, min=1, help="Repetitions of each gesture per file."),
    stages: str = typer.Option(",".join(DEFAULT_STAGES), help="Comma-separated stages (gestures); 'spread' is also known."),
    held_out_users: int = typer.Option(1, min=0, help="Users flagged held_out_user in metadata.csv."),
    held_out_stages: int = typer.Option(2, min=0, help="Stages flagged held_out_stage in metadata.csv."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace a dataset emgaug simulated earlier at --out with "
                                   "other settings (folders holding anything else are never deleted)."),
) -> None:
    """Write a small, physiologically plausible dataset in exact emg2pose format (HDF5 + metadata.csv).

    Running it again with the same settings keeps the existing (identical) dataset."""
    stage_list = [s.strip() for s in stages.split(",") if s.strip()]
    total = users * sessions * len(stage_list)
    progress = make_progress()
    task = progress.add_task("simulating recordings", total=total)
    fresh = []

    def on_progress(done: int, _total: int) -> None:
        if not progress.live.is_started:  # shown from the first file on, so input errors print cleanly
            progress.start()
            fresh.append(True)
        progress.update(task, completed=done)

    existed = (out / MARKER).is_file()
    try:
        simulate_dataset(out, seed=seed, users=users, sessions=sessions, reps=reps, stages=stage_list,
                         held_out_users=held_out_users, held_out_stages=held_out_stages, progress=on_progress,
                         overwrite=overwrite)
    finally:
        if progress.live.is_started:
            progress.stop()
    if existed and not fresh:
        console.print(f"{out} already holds this dataset (same settings); kept it")
    size = sum(p.stat().st_size for p in out.glob("*")) / 1e6
    t = Table(title=f"Simulated dataset {out}")
    for c in ("users", "sessions/user", "stages", "files", "size (MB)", "sample rate"):
        t.add_column(c, justify="right")
    t.add_row(str(users), str(sessions), str(len(stage_list)), str(total), f"{size:.1f}", "2000 Hz")
    console.print(t)
