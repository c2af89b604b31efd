"""`emgaug train`: split manifest + model name -> generator checkpoints (last.pt, best.pt, history.json)."""

from __future__ import annotations

import json
import os
from dataclasses import fields
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from emgaug.commands.options import check_output_dir, non_negative, positive
from emgaug.console import console
from emgaug.data.windows import WindowConfig
from emgaug.errors import EmgaugError
from emgaug.training.checkpoint import read_checkpoint
from emgaug.training.trainer import TrainOptions, train_model
from emgaug.training.validation import VAL_METRICS

__all__ = ["train", "train_model", "parse_model_options"]


def parse_model_options(pairs: list[str], flag: str = "--set") -> dict[str, Any]:
    """'key=value' options (model options, dataset-reader options) -> dict; values are read as JSON when they
    parse (numbers, true/false, lists), otherwise kept as strings."""
    out: dict[str, Any] = {}
    for pair in pairs:
        if "=" not in pair:
            raise EmgaugError(f"{flag} {pair!r} is not KEY=VALUE; write e.g. {flag} hidden=64")
        k, v = pair.split("=", 1)
        try:
            out[k.strip()] = json.loads(v)
        except json.JSONDecodeError:
            out[k.strip()] = v
    return out


def train(
    manifest: Path = typer.Option(..., "--manifest", help="Split manifest written by `emgaug split`."),
    model: str = typer.Option("seqemg_gan", "--model", help="Generator name; `emgaug models` lists them with their "
                              "--set options."),
    out: Path | None = typer.Option(None, "--out", help="Checkpoint folder (default runs/<model>-<protocol>)."),
    epochs: int | None = typer.Option(None, min=1, help="Epochs (default: 100 for --profile paper, 30 for fast)."),
    batch_size: int | None = typer.Option(None, min=1, help="Global batch size (default: 32 paper, 64 fast)."),
    profile: str = typer.Option("paper", help="Optimiser profile: paper (SGD as in the paper) or fast (AdamW, cosine)."),
    seed: int = typer.Option(0, min=0, help="Seed of every random draw (init, shuffling, noise, subsampling)."),
    device: str = typer.Option("auto", help="auto (CUDA when present), cpu or cuda."),
    resume: bool = typer.Option(False, "--resume", help="Continue from <out>/last.pt (same result as an uninterrupted run)."),
    workers: int = typer.Option(0, min=0, help="DataLoader worker processes."),
    window_s: float = typer.Option(1.0, callback=positive, help="Window length in seconds."),
    stride_s: float = typer.Option(0.5, callback=positive, help="Stride between training windows in seconds."),
    angle_rate_hz: float = typer.Option(50.0, callback=positive, help="Frame rate of the angle sequence (recurrent parts run at this rate)."),
    jitter_s: float = typer.Option(0.0, callback=non_negative, help="Random shift of each training window per epoch, in seconds."),
    max_train_windows: int | None = typer.Option(None, min=1, help="Train on a seeded random subset of this many windows."),
    max_val_windows: int = typer.Option(64, min=0, help="Validation windows scored after every epoch."),
    alpha: float | None = typer.Option(None, callback=non_negative, help="SeqEMG-GAN weight of L_GAN in alpha*L_GAN + L_KL (default 2)."),
    lr: float | None = typer.Option(None, callback=positive, help="Learning rate override for every optimised part."),
    amp: str = typer.Option("auto", help="Mixed precision on CUDA: auto (bf16 if supported, else fp16), bf16, fp16, off."),
    best_metric: str = typer.Option("env_corr", help=f"Validation metric that picks best.pt: {', '.join(VAL_METRICS)}."),
    set_option: list[str] | None = typer.Option(None, "--set", help="Model option KEY=VALUE, e.g. hidden=64 (repeatable)."),
    deterministic: bool = typer.Option(False, help="Deterministic cuDNN kernels (exact resume on CUDA; slower)."),
    norm_rows_per_recording: int | None = typer.Option(None, "--norm-rows", min=1, help="Normalisation statistics "
                                                          "from the first N rows of each train recording (default: "
                                                          "every row)."),
) -> None:
    """Train a kinematics -> EMG generator (joint angles, a knee angle or IMU, as the data declares) on the manifest's
    train split; multi-GPU with `torchrun ... emgaug train`.

    Several nodes: `torchrun --nnodes N --rdzv-backend c10d --rdzv-endpoint HOST:PORT ...` on each; only rank 0
    writes. `--resume` needs the same checkpoint on every node (checked on every rank before anyone resumes; one
    line on every rank otherwise) and may run on another number of processes (same global batch)."""
    if out is not None:
        check_output_dir(out)
    given = dict(locals())  # the CLI options named like TrainOptions fields go straight into it
    options = TrainOptions(**{f.name: given[f.name] for f in fields(TrainOptions) if f.name in given},
                           window_cfg=WindowConfig(window_s=window_s, stride_s=stride_s, angle_rate_hz=angle_rate_hz,
                                                   jitter_s=jitter_s),
                           model_overrides=parse_model_options(set_option or []))
    path = train_model(manifest, out_dir=out, options=options, resume=resume)
    if os.environ.get("RANK", "0") != "0":
        return  # rank 0 wrote the checkpoint, on its node's disk: the other ranks have nothing to read or print
    ck = read_checkpoint(path)
    t = Table(title=f"{model}: {path}")
    for c in ("epoch", "train", "val"):
        t.add_column(c)
    for rec in ck["history"][-5:]:
        t.add_row(str(rec["epoch"]), "  ".join(f"{k} {v:.4g}" for k, v in rec["train"].items()),
                  "  ".join(f"{k} {v:.4g}" for k, v in rec["val"].items()))
    console.print(t)
    best = ck["best"]
    if best.get("value") is not None:
        console.print(f"best {best['metric']} {best['value']:.4f} at epoch {best['epoch']}; checkpoint {path}")
    else:
        console.print(f"no validation windows: best.pt is the last epoch; checkpoint {path}")
