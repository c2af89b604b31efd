"""`emgaug split`: dataset metadata -> a verified split manifest (JSON) and a summary table."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from emgaug.console import console
from emgaug.data.source import SOURCE_KINDS, open_source
from emgaug.data.splits import EMG_SELECT_RULES, EMG_UNITS, PROTOCOLS, make_split, manifest_table_rows
from emgaug.commands.options import check_output_file, finite, fraction, non_negative, positive
from emgaug.commands.train import parse_model_options
from emgaug.data.manifest import is_manifest_file
from emgaug.errors import EmgaugError


def split(
    data: Path = typer.Option(..., "--data", help="Dataset folder (emg2pose, Ninapro DB1 or 3DC)."),
    protocol: str = typer.Option("cross-subject", help=f"One of: {', '.join(PROTOCOLS)}."),
    out: Path | None = typer.Option(None, help="Manifest path (default data_manifests/<dataset>_<protocol>_s<seed>.json)."),
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
    user: list[str] | None = typer.Option(None, help="Restrict to these users (repeatable)."),
    stage: list[str] | None = typer.Option(None, help="Restrict to these stages (repeatable)."),
    source_option: list[str] | None = typer.Option(None, "--source-option", help="KEY=VALUE passed to the dataset "
                                                      "reader, e.g. reps_per_session=1 for Ninapro (repeatable)."),
    calibration_s: float | None = typer.Option(None, "--calibration-s", callback=positive, help="cross-subject / cross-user-stage: the "
                                                  "first S seconds of each test user's recordings per stage become a "
                                                  "calibration split (a new person's short recording), --gap-s before test."),
    emg_fraction: float | None = typer.Option(None, "--emg-fraction", callback=finite(0.0, 1.0, lo_open=True),
                                                 help="Scarce EMG (any protocol): keep the EMG of only this fraction "
                                                 "of each user's training sessions or recordings (--emg-unit); the "
                                                 "rest moves to the kinematics_pool split (angles only; its EMG is "
                                                 "never read for training). train/val/test are unchanged."),
    emg_select: str = typer.Option("early", "--emg-select", help=f"Which units keep their EMG: "
                                   f"{', '.join(EMG_SELECT_RULES)} (early: the first in time order; interleaved: the "
                                   "centre of each of k equal bins, e.g. the middle one of 3; random: by --seed)."),
    emg_unit: str = typer.Option("auto", "--emg-unit", help=f"{', '.join(EMG_UNITS)}: session = each user's training "
                                 "sessions (Ninapro repetition groups); recording = each user's recordings of each "
                                 "gesture; auto = session when every training user has 2 or more."),
    clip_s: float | None = typer.Option(None, "--clip-s", callback=non_negative, help="With --emg-fraction: the "
                                           "first C seconds of EMG of each withheld session/recording become a clip "
                                           "split (a reference clip; RR-scarce trains on it), --gap-s before the rest "
                                           "of the recording; 0 = no clips."),
) -> None:
    """Split a dataset under one protocol, check it for leakage, and write the manifest."""
    if emg_select not in EMG_SELECT_RULES:
        raise typer.BadParameter(f"choose one of {', '.join(EMG_SELECT_RULES)} (got {emg_select!r})",
                                 param_hint="'--emg-select'")
    if emg_unit not in EMG_UNITS:
        raise typer.BadParameter(f"choose one of {', '.join(EMG_UNITS)} (got {emg_unit!r})", param_hint="'--emg-unit'")
    if clip_s is not None and emg_fraction is None:
        raise typer.BadParameter("clips are cut from the kinematics pool: pass --emg-fraction too",
                                 param_hint="'--clip-s'")
    if (protocol == "sample-wise" or calibration_s is not None or bool(clip_s)) and gap_s < window_s:
        raise typer.BadParameter(f"{gap_s:g} s is shorter than a window (--window-s {window_s:g}); overlapping windows "
                                 f"could straddle splits: use --gap-s >= {window_s:g}", param_hint="'--gap-s'")
    if out is not None:
        check_manifest_out(out)
    source = open_source(data, kind, strict=True, **parse_model_options(source_option or [], flag="--source-option"))
    with console.status(f"reading {len(source.recordings)} recording headers"):
        m = make_split(source, protocol, seed=seed, val_frac=val_frac, test_frac=test_frac, stage_frac=stage_frac,
                       block_s=block_s, gap_s=gap_s, use_metadata_columns=use_metadata_columns, users=user, stages=stage,
                       calibration_s=calibration_s, emg_fraction=emg_fraction, emg_select=emg_select,
                       emg_unit=emg_unit, clip_s=clip_s)
    if out is None:
        scarce = f"_emg{emg_fraction:.3g}-{emg_select}" + (f"_clip{clip_s:g}s" if clip_s else "") if emg_fraction else ""
        out = Path("data_manifests") / f"{data.resolve().name}_{protocol}_s{seed}{scarce}.json"
        check_manifest_out(out)
    m.save(out)
    t = Table(title=f"{protocol} split of {data} (seed {seed}) -> {out}")
    for c in ("split", "ranges", "files", "users", "sessions", "stages", "seconds"):
        t.add_column(c, justify="right" if c != "split" else "left")
    for row in manifest_table_rows(m):
        t.add_row(*row)
    console.print(t)
    console.print(f"rule: {m.params['rule']['rule']}; leakage check passed")
    if emg_fraction is not None:
        sel = m.params["emg_selection"]
        kept = {u: v.get("kept_sessions", f"{v['kept']} of {v['units']} recordings") for u, v in sel["per_user"].items()}
        first = next(iter(kept.items()))
        console.print(f"EMG kept ({emg_select}, per {sel['unit']}): {sel['kept_row_fraction']:.1%} of the training rows; "
                      f"e.g. {first[0]}: {first[1]}; the rest is kinematics_pool (angles only)"
                      + (f", its first {clip_s:g} s per {sel['unit']} the clip split" if clip_s else ""))


def check_manifest_out(out: Path) -> None:
    """The manifest may replace an earlier manifest, never any other file (e.g. the dataset's own metadata.csv)."""
    check_output_file(out)
    if (out.exists() or out.is_symlink()) and not is_manifest_file(out):
        raise EmgaugError(f"--out {out}: exists and is not a split manifest; emgaug never overwrites a file it did not "
                          "write, choose another --out")
