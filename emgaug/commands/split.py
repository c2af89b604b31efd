"""`emgaug split`: dataset metadata -> a verified split manifest (JSON) and a summary table."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from emgaug.console import console
from emgaug.data.source import SOURCE_KINDS, open_source
from emgaug.data.splits import PROTOCOLS, make_split, manifest_table_rows
from emgaug.commands.train import parse_model_options


def split(
    data: Path = typer.Option(..., "--data", help="Dataset folder (emg2pose, Ninapro DB1 or 3DC)."),
    protocol: str = typer.Option("cross-subject", help=f"One of: {', '.join(PROTOCOLS)}."),
    out: Optional[Path] = typer.Option(None, help="Manifest path (default data_manifests/<dataset>_<protocol>_s<seed>.json)."),
    kind: str = typer.Option("auto", help=f"Dataset kind: auto, {', '.join(SOURCE_KINDS)}."),
    seed: int = typer.Option(0, help="Seed for every random choice of the protocol."),
    val_frac: float = typer.Option(0.1, help="Fraction of groups (users, blocks or recordings) for validation."),
    test_frac: float = typer.Option(0.2, help="Fraction of groups for test (where metadata does not decide)."),
    stage_frac: float = typer.Option(0.25, help="cross-user-stage: fraction of stages held out (without metadata columns)."),
    block_s: float = typer.Option(10.0, help="sample-wise: block length in seconds."),
    gap_s: float = typer.Option(1.0, help="sample-wise: gap in seconds between blocks of different splits (>= window)."),
    use_metadata_columns: bool = typer.Option(True, help="Use emg2pose held_out_user/held_out_stage columns when present."),
    user: Optional[list[str]] = typer.Option(None, help="Restrict to these users (repeatable)."),
    stage: Optional[list[str]] = typer.Option(None, help="Restrict to these stages (repeatable)."),
    source_option: Optional[list[str]] = typer.Option(None, "--source-option", help="KEY=VALUE passed to the dataset "
                                                      "reader, e.g. reps_per_session=1 for Ninapro (repeatable)."),
    calibration_s: Optional[float] = typer.Option(None, "--calibration-s", help="cross-subject / cross-user-stage: the "
                                                  "first S seconds of each test user's recordings per stage become a "
                                                  "calibration split (a new person's short recording), --gap-s before test."),
) -> None:
    """Split a dataset under one protocol, check it for leakage, and write the manifest."""
    source = open_source(data, kind, **parse_model_options(source_option or [], flag="--source-option"))
    with console.status(f"reading {len(source.recordings)} recording headers"):
        m = make_split(source, protocol, seed=seed, val_frac=val_frac, test_frac=test_frac, stage_frac=stage_frac,
                       block_s=block_s, gap_s=gap_s, use_metadata_columns=use_metadata_columns, users=user, stages=stage,
                       calibration_s=calibration_s)
    out = out or Path("data_manifests") / f"{data.resolve().name}_{protocol}_s{seed}.json"
    m.save(out)
    t = Table(title=f"{protocol} split of {data} (seed {seed}) -> {out}")
    for c in ("split", "ranges", "files", "users", "sessions", "stages", "seconds"):
        t.add_column(c, justify="right" if c != "split" else "left")
    for row in manifest_table_rows(m):
        t.add_row(*row)
    console.print(t)
    console.print(f"rule: {m.params['rule']['rule']}; leakage check passed")
