"""`emgaug synthesize`: a trained checkpoint + angle sequences -> a labelled synthetic EMG set in Parquet."""

from __future__ import annotations

import os
from pathlib import Path

import typer
from rich.progress import ProgressColumn, Task
from rich.table import Table
from rich.text import Text

from emgaug.commands.options import check_output_dir, positive
from emgaug.console import console, make_progress
from emgaug.errors import EmgaugError
from emgaug.synthesis.generate import SynthesisSummary, parse_shard, synthesize_set
from emgaug.synthesis.parquet_io import finalize_shards, shard_staging


class WindowsPerSecond(ProgressColumn):
    """Throughput of the synthesis in windows per second."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.1f} win/s" if speed else "- win/s", style="cyan")


def synthesize(
    checkpoint: Path | None = typer.Option(None, "--checkpoint", help="Generator checkpoint written by `emgaug "
                                              "train` (optional with --oracle-real)."),
    out: Path | None = typer.Option(None, "--out", help="Output folder (a stage-partitioned Parquet dataset, written "
                                       "atomically; required unless --finalize)."),
    manifest: Path | None = typer.Option(None, "--manifest", help="Split manifest (default: the one recorded in the checkpoint)."),
    split: str = typer.Option("train", "--split", help="Split whose angle sequences condition the generator: train, "
                              "val, calibration, kinematics_pool (test only with --allow-test-leakage)."),
    stage: list[str] | None = typer.Option(None, "--stage", help="Only these stages/gestures (repeatable)."),
    user: list[str] | None = typer.Option(None, "--user", help="Only these users (repeatable)."),
    kinematics: Path | None = typer.Option(
        None, "--kinematics", help="Angles-only input instead of the manifest: an emg2pose HDF5 file, a folder of them, "
        "or a Parquet table (columns in docs/synthetic_schema.md); --split is then ignored."),
    samples_per_window: int = typer.Option(1, "--samples-per-window", min=1, help="Independent noise/h0 draws per angle window."),
    seed: int = typer.Option(0, "--seed", min=0, help="Seed: same seed, batch size, inputs and device give identical EMG."),
    device: str = typer.Option("auto", "--device", help="auto, cpu or cuda."),
    batch_size: int = typer.Option(64, "--batch-size", min=1, help="Angle windows per generator call (and the unit "
                                   "of work of shards and ranks); noise is seeded per window, not per batch."),
    max_windows: int | None = typer.Option(None, "--max-windows", min=1, help="At most this many angle windows, spread evenly over the selection."),
    stride_s: float | None = typer.Option(None, "--stride-s", callback=positive, help="Window stride in seconds (default: one window, no overlap)."),
    allow_test_leakage: bool = typer.Option(
        False, "--allow-test-leakage", help="Allow conditioning on test-split angles. This leaks the test set into any "
        "benchmark that uses the synthetic set; the choice is recorded in the metadata."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing synthetic set at --out (only once the new one is complete)."),
    as_user: str | None = typer.Option(None, "--as-user", help="Render every window in this person's style (a "
                                          "training user, or a person of --reference)."),
    reference: str | None = typer.Option(None, "--reference", help="Manifest split whose real EMG gives each "
                                            "person's style (e.g. calibration); other people's windows are rendered "
                                            "as the reference people in turn."),
    clip: str | None = typer.Option(None, "--clip", help="Manifest split of per-recording reference clips (e.g. "
                                       "clip, from `emgaug split --clip-s`): each window gets its recording's "
                                       "amplitude level (and, for a new person, style) from its clip."),
    oracle_real: bool = typer.Option(False, "--oracle-real", help="Write the REAL EMG of the selected windows in the "
                                     "synthetic schema (the ceiling of GR/MR; provenance says oracle)."),
    window_s: float | None = typer.Option(None, "--window-s", help="--oracle-real without --checkpoint: window "
                                             "length in seconds (default 1)."),
    shard: str | None = typer.Option(None, "--shard", help="i/N: make only shard i of N of the set (Slurm arrays, "
                                        "separate machines; same options for every shard); then --finalize OUT. Under "
                                        "torchrun the ranks split the work by themselves."),
    finalize: Path | None = typer.Option(None, "--finalize", help="Check that every shard of the set OUT has "
                                            "landed and make the set readable (with --overwrite: replace a set there)."),
) -> None:
    """Generate synthetic EMG for chosen angle sequences and write it as a Parquet dataset with full provenance.

    Sharded: `torchrun --nproc_per_node N -m emgaug synthesize ...` splits the windows over the ranks (rank 0 makes
    the set readable when all are done); `--shard i/N` on N machines, then `emgaug synthesize --finalize OUT`."""
    rank0 = os.environ.get("RANK", "0") == "0"
    if finalize is not None:
        if out is not None and Path(out) != Path(finalize):
            raise EmgaugError("--finalize OUT takes no other --out; pass the set folder once")
        check_output_dir(finalize, "--finalize")
        meta = finalize_shards(finalize, overwrite=overwrite)
        console.print(f"{finalize}: {meta.get('num_shards')} shard(s), {meta.get('num_rows'):,} windows "
                      f"({', '.join(f'{k} {v:,}' for k, v in meta.get('rows_per_stage', {}).items())}); the set is readable")
        return
    if out is None:
        raise EmgaugError("pass --out (the set folder to write), or --finalize OUT (make a sharded set readable)")
    check_output_dir(out)
    shard_spec = parse_shard(shard)
    summary: list[SynthesisSummary] = []
    progress = make_progress(WindowsPerSecond())
    task = progress.add_task("synthesizing windows", total=None)

    def on_progress(done: int, total: int) -> None:
        if not progress.live.is_started:  # shown from the first batch on, so input errors print cleanly
            progress.start()
        progress.update(task, completed=done, total=total)

    try:
        synthesize_set(checkpoint, out, manifest=manifest, split=split, stages=stage, users=user, kinematics=kinematics,
                       samples_per_window=samples_per_window, seed=seed, device=device, batch_size=batch_size,
                       max_windows=max_windows, allow_test_conditioning=allow_test_leakage, stride_s=stride_s,
                       overwrite=overwrite, as_user=as_user, reference=reference, clip=clip, oracle_real=oracle_real,
                       window_s=window_s, shard=shard_spec, summary=summary,
                       on_progress=on_progress if rank0 else None)  # one progress bar: rank 0's
    finally:
        progress.stop()
    s = summary[0]
    if not rank0:
        return
    if shard_spec is not None:
        rows = s.extra["shard_rows"]
        console.print(f"shard {shard_spec[0]}/{shard_spec[1]}: {rows:,} of the set's {s.rows:,} windows in {s.seconds:.1f} s "
                      f"({rows / max(s.seconds, 1e-9):,.1f} windows/s) are in {shard_staging(out)}; when every shard "
                      f"has landed: emgaug synthesize --finalize {out}")
        return
    console.print(summary_table(s))
    console.print(f"{s.source_windows:,} angle windows x {s.samples_per_window} draw(s) = {s.rows:,} windows in "
                  f"{s.seconds:.1f} s total ({s.rows / max(s.seconds, 1e-9):,.1f} windows/s including start-up); "
                  f"{s.bytes_on_disk / 1e6:,.1f} MB on disk")
    sources = s.extra.get("style_sources") or {}
    if "null" in sources:
        console.print(f"[yellow]{sources['null']:,} window(s) belong to people the generator never saw: rendered in "
                      "the population (null) style; pass --reference SPLIT to style them on a real clip[/yellow]")


def summary_table(s: SynthesisSummary) -> Table:
    """Windows per stage and the total."""
    t = Table(title=f"Synthetic set {s.out} ({s.model_name}, {s.source_split} kinematics, {s.device})")
    t.add_column("stage")
    t.add_column("windows", justify="right")
    for stage, n in s.rows_per_stage.items():
        t.add_row(stage, f"{n:,}")
    t.add_section()
    t.add_row("[bold]total[/bold]", f"[bold]{s.rows:,}[/bold]")
    return t
