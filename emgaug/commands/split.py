"""`emgaug split`: dataset metadata -> a verified split manifest (JSON) and a summary table."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from emgaug.console import console
from emgaug.data.source import SOURCE_KINDS, open_source
from emgaug.data.splits import PROTOCOLS, make_split, manifest_table_rows
from emgaug.commands.options import check_output_file, fraction, non_negative, positive
from emgaug.commands.train import parse_model_options
from emgaug.data.manifest import is_manifest_file
from emgaug.errors import EmgaugError


def split(
    data: Path = typer.Option(..., "--data", help="Dataset folder (emg2pose, Ninapro DB1 or 3DC)."),
    protocol: str = typer.Option("cross-subject", help=f"One of: {', '.join(PROTOCOLS)}."),
    out: Optional[Path] = typer.Option(None, help="Manifest path (default data_manifests/<dataset>_<protocol>_s<seed>.json)."),
    kind: str = typer.Option("auto", help=f"Dataset kind: auto, {', '.join(SOURCE_KINDS)}."),
    seed: int = typer.Option(0, min=0, help="Seed for every random choice of the protocol."),
    val_frac: float = typer.Option(0.1, callback=fraction, help="Fraction of groups (users, blocks or recordings) for "
                                   "validation, in [0, 1)."),
    test_frac: float = typer.Option(0.2, callback=fraction, help="Fraction of groups for test (where metadata does not "
                                    "decide), in [0, 1)."),
    stage_frac: float = typer.Option(0.25, callback=fraction, help="cross-user-stage: fraction of stages held out "
                                     "(without metadata columns), in [0, 1)."),
    block_s: float = typer.Option(10.0, callback=positive, help="sample-wise: block length in seconds."),
    gap_s: float = typer.Option(1.0, callback=non_negative, help="sample-wise (and before calibration): gap in seconds "
                                "between blocks of different splits, at least --window-s."),
    window_s: float = typer.Option(1.0, "--window-s", callback=positive, help="The longest window (seconds) you will "
                                   "train or benchmark with: --gap-s must cover it."),
    use_metadata_columns: bool = typer.Option(True, help="Use emg2pose held_out_user/held_out_stage columns when present."),
    user: Optional[list[str]] = typer.Option(None, help="Restrict to these users (repeatable)."),
    stage: Optional[list[str]] = typer.Option(None, help="Restrict to these stages (repeatable)."),
    source_option: Optional[list[str]] = typer.Option(None, "--source-option", help="KEY=VALUE passed to the dataset "
                                                      "reader, e.g. reps_per_session=1 for Ninapro (repeatable)."),
    calibration_s: Optional[float] = typer.Option(None, "--calibration-s", callback=positive, help="cross-subject / cross-user-stage: the "
                                                  "first S seconds of each test user's recordings per stage become a "
                                                  "calibration split (a new person's short recording), --gap-s before test."),
) -> None:
    """Split a dataset under one protocol, check it for leakage, and write the manifest."""
    if (protocol == "sample-wise" or calibration_s is not None) and gap_s < window_s:
        raise typer.BadParameter(f"{gap_s:g} s is shorter than a window (--window-s {window_s:g}); overlapping windows "
                                 f"could straddle splits: use --gap-s >= {window_s:g}", param_hint="'--gap-s'")
    if out is not None:
        check_manifest_out(out)
    source = open_source(data, kind, **parse_model_options(source_option or [], flag="--source-option"))
    with console.status(f"reading {len(source.recordings)} recording headers"):
        m = make_split(source, protocol, seed=seed, val_frac=val_frac, test_frac=test_frac, stage_frac=stage_frac,
                       block_s=block_s, gap_s=gap_s, use_metadata_columns=use_metadata_columns, users=user, stages=stage,
                       calibration_s=calibration_s)
    if out is None:
        out = Path("data_manifests") / f"{data.resolve().name}_{protocol}_s{seed}.json"
        check_manifest_out(out)
    m.save(out)
    t = Table(title=f"{protocol} split of {data} (seed {seed}) -> {out}")
    for c in ("split", "ranges", "files", "users", "sessions", "stages", "seconds"):
        t.add_column(c, justify="right" if c != "split" else "left")
    for row in manifest_table_rows(m):
        t.add_row(*row)
    console.print(t)
    console.print(f"rule: {m.params['rule']['rule']}; leakage check passed")


def check_manifest_out(out: Path) -> None:
    """The manifest may replace an earlier manifest, never any other file (e.g. the dataset's own metadata.csv)."""
    check_output_file(out)
    if (out.exists() or out.is_symlink()) and not is_manifest_file(out):
        raise EmgaugError(f"--out {out}: exists and is not a split manifest; emgaug never overwrites a file it did not "
                          "write, choose another --out")
