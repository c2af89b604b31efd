"""Cheap per-epoch validation on a fixed subset of validation windows, generated with a fixed noise seed:

- `env_corr` (higher is better; the default 'best' criterion, because it is the one that rewards following
  the conditioning angles): Pearson correlation over time between the moving-average rectified envelopes
  (50 ms boxcar, hop 25 ms) of generated and real windows, per channel, averaged over channels and windows.
- `logspec_l1` (lower is better; realism of texture): mean absolute difference between the log10 mean power
  spectra (per channel, averaged over windows) of generated and real windows.
Both are computed in normalised EMG units and only over windows without masked (IK-failure/padding) frames.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from emgaug.models.base import EMGGenerator

VAL_METRICS = {"env_corr": "max", "logspec_l1": "min"}
ENVELOPE_S = 0.05


@dataclass
class ValSet:
    """Validation windows held in memory (a few hundred at most)."""

    emg: Tensor  # (N, C, T)
    angles: Tensor  # (N, J, Ta)
    labels: Tensor  # (N,)
    users: Tensor | None = None  # (N,) user_map index; negative ids = people not seen in training

    def __len__(self) -> int:
        return int(self.emg.shape[0])


def envelope(x: Tensor, sample_rate: float) -> Tensor:
    """Moving-average rectified envelope (B, C, n) with a 50 ms boxcar and 25 ms hop."""
    k = max(1, int(round(ENVELOPE_S * sample_rate)))
    k = min(k, x.shape[-1])
    return F.avg_pool1d(x.abs().float(), kernel_size=k, stride=max(1, k // 2))


def envelope_correlation(fake: Tensor, real: Tensor, sample_rate: float) -> float:
    """Mean Pearson correlation of envelopes over (window, channel) pairs with non-constant envelopes."""
    ef, er = envelope(fake, sample_rate), envelope(real, sample_rate)
    if ef.shape[-1] < 2:
        return float("nan")
    ef = ef - ef.mean(-1, keepdim=True)
    er = er - er.mean(-1, keepdim=True)
    den = (ef.pow(2).sum(-1) * er.pow(2).sum(-1)).sqrt()
    ok = den > 1e-12
    if not ok.any():
        return float("nan")
    return float(((ef * er).sum(-1)[ok] / den[ok]).mean())


def log_spectrum_l1(fake: Tensor, real: Tensor) -> float:
    """Mean |log10 P_fake - log10 P_real| over channels and frequencies, P = mean power spectrum over windows."""
    def mean_power(x: Tensor) -> Tensor:
        return torch.fft.rfft(x.float(), dim=-1).abs().pow(2).mean(0) / x.shape[-1]
    return float((torch.log10(mean_power(fake) + 1e-10) - torch.log10(mean_power(real) + 1e-10)).abs().mean())


@torch.no_grad()
def val_styles(model: EMGGenerator, val: ValSet, device: torch.device) -> Tensor | None:
    """Person style of each validation window: a training user's own; a new person's (negative id) from the
    reference encoder (or, for ridge_user, a fit) over that person's validation windows."""
    if not model.person_conditioned or val.users is None:
        return None
    users = val.users
    styles = model.style_for_users(users.clamp_min(-1).to(device))
    for u in users[users < 0].unique().tolist():
        rows = users == u
        ref = model.style_from_reference(val.emg[rows].to(device), val.angles[rows].to(device))
        styles[rows.to(styles.device)] = ref.to(styles.dtype).to(styles.device)
    return styles


@torch.no_grad()
def generate_for(model: EMGGenerator, angles: Tensor, labels: Tensor, seed: int, batch_size: int,
                 device: torch.device, autocast_dtype: torch.dtype | None = None,
                 styles: Tensor | None = None) -> Tensor:
    """Generate EMG for `angles` (in the person `styles`, one per window) in batches with a CPU generator seeded
    by `seed` (reproducible on any device)."""
    gen = torch.Generator().manual_seed(seed)
    out = []
    for s in range(0, len(angles), batch_size):
        a = angles[s:s + batch_size].to(device)
        lab = labels[s:s + batch_size].to(device)
        st = None if styles is None else styles[s:s + batch_size].to(device)
        with torch.autocast(device.type, dtype=autocast_dtype or torch.bfloat16, enabled=autocast_dtype is not None):
            y = model.generate(a, lab if model.conditions_on_labels else None, generator=gen, style=st)
        out.append(y.float().cpu())
    return torch.cat(out) if out else torch.zeros(0)


def validate(model: EMGGenerator, val: ValSet, sample_rate: float, seed: int, batch_size: int,
             device: torch.device, autocast_dtype: torch.dtype | None = None) -> dict[str, float]:
    """Both validation metrics for `model` on `val` (NaN when no usable window)."""
    was_training = model.training
    model.eval()
    try:
        keep = torch.ones(len(val), dtype=torch.bool)
        if model.conditions_on_labels:  # label-conditioned peers cannot generate stages they never saw
            lab = val.labels
            keep = (lab >= 0) & (lab < model.seen_labels.numel())
            keep[keep.clone()] = model.seen_labels.cpu()[lab[keep]]
        if not keep.any():
            return {k: float("nan") for k in VAL_METRICS} | {"val_windows": 0.0}
        styles = val_styles(model, val, device)
        fake = generate_for(model, val.angles[keep], val.labels[keep], seed, batch_size, device, autocast_dtype,
                            None if styles is None else styles[keep.to(styles.device)])
        real = val.emg[keep]
        return {"env_corr": envelope_correlation(fake, real, sample_rate),
                "logspec_l1": log_spectrum_l1(fake, real), "val_windows": float(keep.sum())}
    finally:
        model.train(was_training)


def is_better(metric: str, value: float, best: float | None) -> bool:
    """Whether `value` improves on `best` for `metric` (NaN never improves)."""
    if value is None or np.isnan(value):
        return False
    if best is None or np.isnan(best):
        return True
    return value > best if VAL_METRICS[metric] == "max" else value < best
