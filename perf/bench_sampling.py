"""Sampling throughput of the flow-matching generator against SeqEMG-GAN (the named peer) and the ridge floor,
in the same run, at two data shapes: Ninapro DB1 (10 envelope channels x 100 samples at 100 Hz, 22 glove
angles) and emg2pose (16 channels x 2,000 samples at 2 kHz, 20 joints). Untrained weights: throughput depends on
the architecture and the number of network calls, not on the values. Flow is timed for each sampler and step
count given, so the cost side of the steps-vs-quality table comes from here.

    python perf/bench_sampling.py --batch 256 --flow-steps euler:4 euler:8 heun:4 heun:8
"""

from __future__ import annotations

import argparse
import time

import torch
from rich.console import Console
from rich.table import Table

from emgaug.data.windows import WindowConfig
from emgaug.models.registry import build_model

SHAPES = {"db1": dict(C=10, J=22, rate=100.0, users=10), "emg2pose": dict(C=16, J=20, rate=2000.0, users=16)}


def windows_per_second(name: str, shape: str, batch: int, device: torch.device, reps: int,
                       **sample_kw) -> float:
    """Generated windows per second over `reps` timed batches after one warm-up batch (inference mode)."""
    sh = SHAPES[shape]
    win = WindowConfig(window_s=1.0, stride_s=1.0, angle_rate_hz=50.0).resolve(sh["rate"])
    torch.manual_seed(0)
    model = build_model(name, sh["C"], sh["J"], win, 12, num_users=sh["users"], rectified=shape == "db1").to(device)
    if model.closed_form:  # ridge: fit on one random batch so generate() runs its real code path
        g = torch.Generator().manual_seed(0)
        b = {"emg": torch.rand(64, sh["C"], win.window, generator=g), "angles": torch.randn(64, sh["J"], win.angle_frames, generator=g),
             "angle_mask": torch.ones(64, win.angle_frames, dtype=torch.bool),
             "emg_mask": torch.ones(64, win.window, dtype=torch.bool), "label": torch.zeros(64, dtype=torch.long),
             "user": torch.arange(64) % sh["users"]}
        model.fit([b])
    model.eval()
    angles = torch.randn(batch, sh["J"], win.angle_frames, device=device)
    style = model.style_for_users(torch.arange(batch) % sh["users"]) if model.person_conditioned else None
    style = None if style is None else style.to(device)

    def run(seed: int) -> None:
        gen = torch.Generator().manual_seed(seed)
        with torch.inference_mode():
            if sample_kw:
                model.sample(angles, None, gen, style, **sample_kw)
            else:
                model.generate(angles, generator=gen, style=style)
        if device.type == "cuda":
            torch.cuda.synchronize()

    run(0)
    t0 = time.perf_counter()
    for r in range(reps):
        run(r + 1)
    return reps * batch / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--shapes", nargs="+", default=list(SHAPES), choices=list(SHAPES))
    ap.add_argument("--flow-steps", nargs="+", default=["euler:4", "euler:8", "heun:4", "heun:8"],
                    help="sampler:steps pairs timed for flow")
    ap.add_argument("--threads", type=int, default=1, help="CPU intra-op threads (1 on shared machines)")
    ap.add_argument("--no-cpu", action="store_true", help="only measure CUDA")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    devices = [] if args.no_cpu else [torch.device("cpu")]
    if torch.cuda.is_available():
        devices.append(torch.device("cuda"))
    t = Table(title=f"sampling throughput, batch {args.batch}, untrained weights")
    for c in ("device", "shape", "model", "sampler", "network calls", "windows/s", "vs seqemg_gan"):
        t.add_column(c, justify="left" if c in ("device", "shape", "model", "sampler") else "right")
    for dev in devices:
        label = f"cpu ({args.threads} thr)" if dev.type == "cpu" else torch.cuda.get_device_name(0)
        for shape in args.shapes:
            ref = windows_per_second("seqemg_gan", shape, args.batch, dev, args.reps)
            t.add_row(label, shape, "seqemg_gan", "-", "1", f"{ref:,.0f}", "1.00x")
            rate = windows_per_second("ridge", shape, args.batch, dev, args.reps)
            t.add_row(label, shape, "ridge", "-", "-", f"{rate:,.0f}", f"{rate / ref:.2f}x")
            for spec in args.flow_steps:
                sampler, steps = spec.split(":")
                rate = windows_per_second("flow", shape, args.batch, dev, args.reps, sampler=sampler, steps=int(steps))
                calls = {"euler": 1, "midpoint": 2, "heun": 2}[sampler] * int(steps) - (sampler == "heun")
                t.add_row(label, shape, "flow", f"{sampler} {steps}", str(calls), f"{rate:,.0f}", f"{rate / ref:.2f}x")
    Console().print(t)


if __name__ == "__main__":
    main()
