"""Training throughput of SeqEMG-GAN against named peers, through the real training step (`train_step`).

Measures windows/s of optimisation on in-memory random tensors shaped like emg2pose (16 channels, 20 joints,
2 kHz, 50 Hz angle frames), so it isolates model compute from disk I/O (see bench_data_loading for that).
Prints a table and the projected wall time of the paper's schedule: 100 epochs x 20,203 windows.

    python perf/bench_training.py --window-s 1 --batches 32 128 --steps 5 --peers transformer_seq2seq dcgan
"""

from __future__ import annotations

import argparse
import time

import torch
from rich.console import Console
from rich.table import Table

from emgaug.data.windows import WindowConfig
from emgaug.models.registry import MODEL_NAMES, build_model
from emgaug.training.profiles import make_optimizers
from emgaug.training.trainer import resolve_amp_dtype, train_step

PAPER_WINDOWS, PAPER_EPOCHS = 20_203, 100


def fake_batch(B: int, C: int, J: int, T: int, Ta: int, device: torch.device) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    b = {"emg": torch.randn(B, C, T, generator=g), "angles": torch.randn(B, J, Ta, generator=g),
         "angle_mask": torch.ones(B, Ta, dtype=torch.bool), "emg_mask": torch.ones(B, T, dtype=torch.bool),
         "label": torch.randint(0, 8, (B,), generator=g), "index": torch.arange(B)}
    return {k: v.to(device) for k, v in b.items()}


def windows_per_second(name: str, batch: int, device: torch.device, window_s: float, steps: int, warmup: int,
                       amp: str) -> float:
    """Mean optimisation throughput (windows/s) over `steps` timed steps after `warmup` steps."""
    win = WindowConfig(window_s=window_s, stride_s=window_s, angle_rate_hz=50.0).resolve(2000.0)
    torch.manual_seed(0)
    model = build_model(name, 16, 20, win, 8).to(device)
    model.mark_seen_labels(torch.arange(8))
    optims = {p: o for p, (o, _) in make_optimizers(model, "paper", PAPER_EPOCHS).items()}
    amp_dtype = resolve_amp_dtype(amp, device)
    scalers = {p: torch.amp.GradScaler(device.type, enabled=amp_dtype == torch.float16) for p in model.parts}
    b = fake_batch(batch, 16, 20, win.window, win.angle_frames, device)
    model.train()

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()
    for _ in range(warmup):
        train_step(model, model.parts, b, optims, scalers, amp_dtype)
    sync()
    t0 = time.perf_counter()
    for _ in range(steps):
        train_step(model, model.parts, b, optims, scalers, amp_dtype)
    sync()
    return steps * batch / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--window-s", type=float, default=1.0)
    ap.add_argument("--batches", type=int, nargs="+", default=[32, 128])
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--models", nargs="+", default=["seqemg_gan"], choices=MODEL_NAMES)
    ap.add_argument("--peers", nargs="+", default=["transformer_seq2seq", "dcgan"], choices=MODEL_NAMES)
    ap.add_argument("--threads", type=int, default=1, help="CPU intra-op threads (1 on shared machines)")
    ap.add_argument("--amp", default="auto", help="CUDA mixed precision: auto, bf16, fp16, off")
    ap.add_argument("--no-cpu", action="store_true", help="only measure CUDA")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    devices = [] if args.no_cpu else [torch.device("cpu")]
    if torch.cuda.is_available():
        torch.backends.cudnn.benchmark = True
        devices.append(torch.device("cuda"))
    console = Console()
    t = Table(title=f"training throughput, {args.window_s:g} s windows at 2 kHz (16 ch, 20 joints), paper profile; "
                    f"projection = {PAPER_EPOCHS} epochs x {PAPER_WINDOWS:,} windows")
    for c in ("device", "model", "batch", "windows/s", "vs seqemg_gan", "projected 100 epochs"):
        t.add_column(c, justify="left" if c in ("device", "model") else "right")
    for dev in devices:
        for batch in args.batches:
            ref = None
            for name in [*args.models, *args.peers]:
                rate = windows_per_second(name, batch, dev, args.window_s, args.steps, args.warmup, args.amp)
                ref = ref if ref is not None else rate
                hours = PAPER_EPOCHS * PAPER_WINDOWS / rate / 3600
                label = f"{dev.type}" + (f" ({args.threads} thr)" if dev.type == "cpu" else f" amp={args.amp}")
                t.add_row(label, name, str(batch), f"{rate:,.1f}", f"{rate / ref:.2f}x", f"{hours:,.1f} h")
    console.print(t)


if __name__ == "__main__":
    main()
