"""The trivial baseline every learned generator must beat: closed-form ridge regression from angle frames and
their velocities (plus a bias) to each channel's log RMS envelope per frame. Generation draws the envelope
with Gaussian noise of the residual's std (one draw per window), upsamples it linearly to the EMG rate and multiplies it by a carrier
with the training data's envelope-normalised mean, std and average spectrum per channel. For raw EMG the
carrier is zero-mean, unit-variance coloured noise; for already-rectified envelope data (Ninapro DB1) its mean
is ~1 and its fluctuations small, so the output is the predicted envelope itself, as it should be.
Features are clipped to the range seen in training and predicted log envelopes to the training targets'
range, so unseen users' out-of-range angles (a joint with tiny training variance) cannot explode the output."""

from __future__ import annotations

from typing import Iterable

import torch
import torch.nn.functional as F
from torch import Tensor

from emgaug.data.windows import ResolvedWindow
from emgaug.errors import EmgaugError
from emgaug.models.base import Batch, EMGGenerator, check_angles, frame_mask, randn

ENVELOPE_SMOOTH_S = 0.05  # envelope smoothing (50 ms) so slow data rates (few samples per frame) still work


class RidgeEnvelope(EMGGenerator):
    """Ridge regression of log envelopes from angles + velocities; fitted once, no SGD."""

    name = "ridge"
    closed_form = True
    parts = ()

    def __init__(self, num_channels: int, num_joints: int, window: ResolvedWindow, num_classes: int, *,
                 ridge_lambda: float = 1.0):
        super().__init__(num_channels, num_joints, window, num_classes)
        self.ridge_lambda = float(ridge_lambda)
        F_ = 2 * num_joints + 1
        C, T = num_channels, window.window
        self.register_buffer("weights", torch.zeros(F_, C, dtype=torch.float64))
        self.register_buffer("resid_std", torch.zeros(C))
        self.register_buffer("noise_mag", torch.ones(C, T // 2 + 1))
        self.register_buffer("carrier_mean", torch.zeros(C))
        self.register_buffer("carrier_std", torch.ones(C))
        self.register_buffer("feat_lo", torch.full((F_,), -torch.inf, dtype=torch.float64))
        self.register_buffer("feat_hi", torch.full((F_,), torch.inf, dtype=torch.float64))
        self.register_buffer("target_lo", torch.full((C,), -torch.inf))
        self.register_buffer("target_hi", torch.full((C,), torch.inf))
        self.register_buffer("fitted", torch.zeros((), dtype=torch.bool))

    def _smooth_frames(self) -> int:
        m = max(1, int(round(ENVELOPE_SMOOTH_S * self.window.sample_rate / self.upsample)))
        return m if m % 2 == 1 else m + 1

    def log_envelope(self, emg: Tensor) -> Tensor:
        """Smoothed log RMS per channel per angle frame: (B, C, T) -> (B, C, Ta)."""
        B, C, T = emg.shape
        e2 = emg.double().pow(2).reshape(B, C, T // self.upsample, self.upsample).mean(-1)
        m = self._smooth_frames()
        if m > 1:
            e2 = F.avg_pool1d(e2, m, stride=1, padding=m // 2, count_include_pad=False)
        return 0.5 * torch.log(e2 + 1e-8)

    @staticmethod
    def features(angles: Tensor) -> Tensor:
        """(B, J, Ta) -> (B, Ta, 2J + 1): angles, central-difference velocities, bias."""
        a = angles.double()
        vel = torch.gradient(a, dim=-1)[0] if a.shape[-1] > 1 else torch.zeros_like(a)
        ones = torch.ones_like(a[:, :1])
        return torch.cat([a, vel, ones], 1).transpose(1, 2)

    def fit(self, batches: Iterable[Batch]) -> dict[str, float]:
        """Two streamed passes' worth of sums in one: normal equations plus the envelope-normalised spectrum."""
        F_, C = self.weights.shape
        xtx = torch.zeros(F_, F_, dtype=torch.float64)
        xty = torch.zeros(F_, C, dtype=torch.float64)
        yty = torch.zeros(C, dtype=torch.float64)
        ysum = torch.zeros(C, dtype=torch.float64)
        spec = torch.zeros(C, self.window.window // 2 + 1, dtype=torch.float64)
        c_sum, c_sq = torch.zeros(C, dtype=torch.float64), torch.zeros(C, dtype=torch.float64)
        n_frames, n_win = 0, 0
        f_lo = torch.full((F_,), torch.inf, dtype=torch.float64)
        f_hi, t_lo, t_hi = -f_lo.clone(), torch.full((C,), torch.inf, dtype=torch.float64), torch.full((C,), -torch.inf, dtype=torch.float64)
        for batch in batches:
            emg, angles = batch["emg"].cpu(), batch["angles"].cpu()
            fm = frame_mask({k: v.cpu() for k, v in batch.items()}).double()  # (B, Ta)
            X = self.features(angles) * fm[..., None]
            Y = self.log_envelope(emg).transpose(1, 2) * fm[..., None]
            Xf, Yf = X.reshape(-1, F_), Y.reshape(-1, C)
            valid = fm.reshape(-1) > 0
            if valid.any():
                f_lo, f_hi = torch.minimum(f_lo, Xf[valid].amin(0)), torch.maximum(f_hi, Xf[valid].amax(0))
                t_lo, t_hi = torch.minimum(t_lo, Yf[valid].amin(0)), torch.maximum(t_hi, Yf[valid].amax(0))
            xtx += Xf.T @ Xf
            xty += Xf.T @ Yf
            yty += (Yf * Yf).sum(0)
            ysum += Yf.sum(0)
            n_frames += int(fm.sum())
            full = fm.amin(1) > 0  # spectrum from windows without any masked frame
            if full.any() and emg.shape[-1] == self.window.window:
                env = self._upsample_env(self.log_envelope(emg[full]).exp(), emg.shape[-1])
                # floor the envelope at 1% of the channel's normalised RMS so near-silent samples cannot blow up
                carrier = emg[full].double() / env.clamp_min(0.01)
                c_mean = carrier.mean(-1, keepdim=True)  # ~0 for raw EMG, ~1 for rectified envelopes
                c_sum += c_mean[..., 0].sum(0)
                c_sq += (carrier - c_mean).pow(2).mean(-1).sum(0)
                spec += torch.fft.rfft(carrier - c_mean, dim=-1).abs().pow(2).sum(0)
                n_win += int(full.sum())
            if batch.get("label") is not None:
                self.mark_seen_labels(batch["label"])
        if n_frames <= F_:
            raise EmgaugError(f"ridge baseline: only {n_frames} valid frames in the training split for {F_} features; "
                              "use more training data or a longer window")
        reg = self.ridge_lambda * torch.eye(F_, dtype=torch.float64)
        reg[-1, -1] = 0.0  # the bias is not shrunk
        W = torch.linalg.solve(xtx + reg, xty)
        # residual sum of squares from the sums: ||Y - XW||^2 = Y'Y - 2 W'X'Y + W'X'XW (per channel)
        rss = yty - 2 * (W * xty).sum(0) + (W * (xtx @ W)).sum(0)
        resid_std = (rss.clamp_min(0) / max(1, n_frames - F_)).sqrt()
        self.weights.copy_(W)
        self.resid_std.copy_(resid_std.float())
        if n_win:
            mag = (spec / n_win).sqrt()
            self.noise_mag.copy_((mag / mag.pow(2).mean(1, keepdim=True).sqrt().clamp_min(1e-12)).float())
            self.carrier_mean.copy_((c_sum / n_win).float())
            self.carrier_std.copy_((c_sq / n_win).sqrt().float())
        self.feat_lo.copy_(f_lo), self.feat_hi.copy_(f_hi)
        self.target_lo.copy_(t_lo.float()), self.target_hi.copy_(t_hi.float())
        self.fitted.fill_(True)
        r2 = 1 - rss / (yty - ysum.pow(2) / n_frames).clamp_min(1e-12)
        return {"frames": float(n_frames), "spectrum_windows": float(n_win), "r2_log_envelope": float(r2.mean())}

    @staticmethod
    def _upsample_env(env: Tensor, T: int) -> Tensor:
        return F.interpolate(env, size=T, mode="linear", align_corners=False)

    def _coloured_noise(self, B: int, T: int, like: Tensor, generator: torch.Generator | None) -> Tensor:
        white = randn((B, self.num_channels, T), like, generator)
        mag = self.noise_mag.to(like.device)
        if mag.shape[-1] != T // 2 + 1:  # another length: resample the filter over normalised frequency
            mag = F.interpolate(mag[None], size=T // 2 + 1, mode="linear", align_corners=True)[0]
            mag = mag / mag.pow(2).mean(1, keepdim=True).sqrt()
        return torch.fft.irfft(torch.fft.rfft(white, dim=-1) * mag, n=T, dim=-1)

    def forward(self, batch: Batch, part: str):
        raise NotImplementedError("the ridge baseline is fitted in closed form by fit(); it has no training loss")

    def generate(self, angles: Tensor, labels: Tensor | None = None,
                 generator: torch.Generator | None = None) -> Tensor:
        check_angles(self, angles)
        if not bool(self.fitted):
            raise EmgaugError("ridge baseline used before fitting; train it with `emgaug train --model ridge`")
        B, _, Ta = angles.shape
        T = Ta * self.upsample
        X = torch.maximum(torch.minimum(self.features(angles), self.feat_hi), self.feat_lo)
        log_env = (X @ self.weights).float()
        log_env = torch.maximum(torch.minimum(log_env, self.target_hi), self.target_lo).transpose(1, 2)  # (B, C, Ta)
        # one residual draw per window and channel: repetition-to-repetition amplitude variability; a per-frame
        # draw would add a flicker to the envelope that real (smooth) envelopes do not have
        resid = randn((B, self.num_channels, 1), angles, generator)
        log_env = log_env + self.resid_std.to(angles.device)[:, None] * resid
        env = self._upsample_env(log_env.exp(), T)
        carrier = self._coloured_noise(B, T, angles, generator) * self.carrier_std[:, None] + self.carrier_mean[:, None]
        return env * carrier
