"""The floors every learned generator must beat: closed-form ridge regression from angle frames and their
velocities (plus a bias) to each channel's log RMS envelope per frame.

- `ridge`: one regression pooled over every training user.
- `ridge_user`: one regression per training user (shrunk towards the pooled fit); a new person's regression is
  fitted on their calibration / reference clip. Its "style" is that person's weight matrix, so synthesis hands
  it a person exactly as it hands the learned generators a style vector.

Generation is deterministic by default: the predicted envelope, upsampled linearly to the EMG rate. On rectified
envelope data (Ninapro DB1) that envelope IS the output (no carrier); on raw EMG it multiplies zero-mean coloured
noise with the training data's envelope-normalised spectrum per channel. `variability` > 0 adds one random
log-gain per window and channel with that many residual SDs (off by default: at 1 SD the draws reach factors of
~20x on DB1 and halve a classifier's accuracy on the synthetic set).
Features are clipped to the range seen in training and predicted log envelopes to the training targets'
range, so unseen users' out-of-range angles (a joint with tiny training variance) cannot explode the output."""

from __future__ import annotations

from collections.abc import Callable, Iterable

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

    def __init__(self, num_channels: int, num_joints: int, window: ResolvedWindow, num_classes: int,
                 num_users: int = 0, rectified: bool = False, *, ridge_lambda: float = 1.0, variability: float = 0.0):
        super().__init__(num_channels, num_joints, window, num_classes, num_users, rectified, subject=False)
        if ridge_lambda < 0 or variability < 0:
            raise ValueError(f"ridge_lambda and variability must be >= 0, got {ridge_lambda} and {variability}")
        self.ridge_lambda = float(ridge_lambda)
        self.variability = float(variability)
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

    def _frame_data(self, batch: Batch) -> tuple[Tensor, Tensor, Tensor]:
        """(features (N, F), log-envelope targets (N, C), valid (N,)) of every frame of a batch."""
        F_, C = self.weights.shape
        fm = frame_mask({k: v.cpu() for k, v in batch.items() if k in ("angle_mask", "emg_mask")}).double()
        X = self.features(batch["angles"].cpu()) * fm[..., None]
        Y = self.log_envelope(batch["emg"].cpu()).transpose(1, 2) * fm[..., None]
        return X.reshape(-1, F_), Y.reshape(-1, C), fm.reshape(-1) > 0

    def _solve(self, xtx: Tensor, xty: Tensor, lam: float, prior: Tensor | None = None) -> Tensor:
        """Ridge solution (X'X + lam I) W = X'Y + lam * prior; the bias is not shrunk (nor pulled to a prior)."""
        F_ = xtx.shape[0]
        reg = lam * torch.eye(F_, dtype=torch.float64)
        reg[-1, -1] = 0.0
        rhs = xty if prior is None else xty + reg @ prior
        return torch.linalg.solve(xtx + reg + 1e-9 * torch.eye(F_, dtype=torch.float64), rhs)

    # how `fit`'s sufficient statistics combine across processes: summed, except these (elementwise min / max)
    fit_reductions = {"f_lo": "min", "t_lo": "min", "f_hi": "max", "t_hi": "max"}

    def fit(self, batches: Iterable[Batch],
            reduce: Callable[[dict[str, Tensor], dict[str, str]], dict[str, Tensor]] | None = None) -> dict[str, float]:
        """Two streamed passes' worth of sums in one: normal equations plus the envelope-normalised spectrum.

        The fit only needs sums, so several processes may each pass a share of the batches and `reduce(sums, ops)`
        combines them before the solve (e.g. an all_reduce over ranks: every float64 tensor summed, the keys of
        `fit_reductions` by min / max); every process then solves the same system."""
        sums = self._accumulate(batches)
        if reduce is not None:
            sums = reduce(sums, dict(self.fit_reductions))
        return self._fit_from_sums(sums)

    def _accumulate(self, batches: Iterable[Batch]) -> dict[str, Tensor]:
        F_, C = self.weights.shape
        f_lo = torch.full((F_,), torch.inf, dtype=torch.float64)
        sums = {"xtx": torch.zeros(F_, F_, dtype=torch.float64), "xty": torch.zeros(F_, C, dtype=torch.float64),
                "yty": torch.zeros(C, dtype=torch.float64), "ysum": torch.zeros(C, dtype=torch.float64),
                "spec": torch.zeros(C, self.window.window // 2 + 1, dtype=torch.float64),
                "c_sum": torch.zeros(C, dtype=torch.float64), "c_sq": torch.zeros(C, dtype=torch.float64),
                "n_frames": torch.zeros(1, dtype=torch.float64), "n_win": torch.zeros(1, dtype=torch.float64),
                "f_lo": f_lo, "f_hi": -f_lo.clone(), "t_lo": torch.full((C,), torch.inf, dtype=torch.float64),
                "t_hi": torch.full((C,), -torch.inf, dtype=torch.float64), **self._user_sums()}
        for batch in batches:
            emg = batch["emg"].cpu()
            Xf, Yf, valid = self._frame_data(batch)
            if valid.any():
                sums["f_lo"], sums["f_hi"] = torch.minimum(sums["f_lo"], Xf[valid].amin(0)), torch.maximum(sums["f_hi"], Xf[valid].amax(0))
                sums["t_lo"], sums["t_hi"] = torch.minimum(sums["t_lo"], Yf[valid].amin(0)), torch.maximum(sums["t_hi"], Yf[valid].amax(0))
            sums["xtx"] += Xf.T @ Xf
            sums["xty"] += Xf.T @ Yf
            sums["yty"] += (Yf * Yf).sum(0)
            sums["ysum"] += Yf.sum(0)
            sums["n_frames"] += int(valid.sum())
            self._accumulate_user(sums, batch, Xf, Yf)
            fm = valid.reshape(emg.shape[0], -1)
            full = fm.all(1)  # spectrum from windows without any masked frame
            if full.any() and emg.shape[-1] == self.window.window:
                env = self._upsample_env(self.log_envelope(emg[full]).exp(), emg.shape[-1])
                # floor the envelope at 1% of the channel's normalised RMS so near-silent samples cannot blow up
                carrier = emg[full].double() / env.clamp_min(0.01)
                c_mean = carrier.mean(-1, keepdim=True)  # ~0 for raw EMG, ~1 for rectified envelopes
                sums["c_sum"] += c_mean[..., 0].sum(0)
                sums["c_sq"] += (carrier - c_mean).pow(2).mean(-1).sum(0)
                sums["spec"] += torch.fft.rfft(carrier - c_mean, dim=-1).abs().pow(2).sum(0)
                sums["n_win"] += int(full.sum())
            if batch.get("label") is not None:
                self.mark_seen_labels(batch["label"])
        return sums

    def _fit_from_sums(self, sums: dict[str, Tensor]) -> dict[str, float]:
        F_, C = self.weights.shape
        xtx, xty, yty, ysum = sums["xtx"], sums["xty"], sums["yty"], sums["ysum"]
        n_frames, n_win = int(sums["n_frames"].item()), int(sums["n_win"].item())
        if n_frames <= F_:
            raise EmgaugError(f"ridge baseline: only {n_frames} valid frames in the training split for {F_} features; "
                              "use more training data or a longer window")
        W = self._solve(xtx, xty, self.ridge_lambda)
        # residual sum of squares from the sums: ||Y - XW||^2 = Y'Y - 2 W'X'Y + W'X'XW (per channel)
        rss = yty - 2 * (W * xty).sum(0) + (W * (xtx @ W)).sum(0)
        resid_std = (rss.clamp_min(0) / max(1, n_frames - F_)).sqrt()
        self.weights.copy_(W)
        self.resid_std.copy_(resid_std.float())
        if n_win:
            mag = (sums["spec"] / n_win).sqrt()
            self.noise_mag.copy_((mag / mag.pow(2).mean(1, keepdim=True).sqrt().clamp_min(1e-12)).float())
            self.carrier_mean.copy_((sums["c_sum"] / n_win).float())
            self.carrier_std.copy_((sums["c_sq"] / n_win).sqrt().float())
        self.feat_lo.copy_(sums["f_lo"]), self.feat_hi.copy_(sums["f_hi"])
        self.target_lo.copy_(sums["t_lo"].float()), self.target_hi.copy_(sums["t_hi"].float())
        self.fitted.fill_(True)
        r2 = 1 - rss / (yty - ysum.pow(2) / n_frames).clamp_min(1e-12)
        stats = {"frames": float(n_frames), "spectrum_windows": float(n_win), "r2_log_envelope": float(r2.mean())}
        stats.update(self._finish_users(sums))
        return stats

    def _user_sums(self) -> dict[str, Tensor]:
        """Per-user sums (ridge_user only), created before the first batch so every process holds the same keys."""
        return {}

    def _accumulate_user(self, sums: dict[str, Tensor], batch: Batch, X: Tensor, Y: Tensor) -> None:
        """Per-user sums (ridge_user only)."""

    def _finish_users(self, sums: dict[str, Tensor]) -> dict[str, float]:
        """Per-user solves after the pooled fit (ridge_user only)."""
        return {}

    @staticmethod
    def _upsample_env(env: Tensor, T: int) -> Tensor:
        return F.interpolate(env, size=T, mode="linear", align_corners=False)

    def coloured_noise(self, B: int, T: int, like: Tensor, generator: torch.Generator | None) -> Tensor:
        """Unit-RMS noise per channel with the training carrier's spectrum (the envelope-normalised EMG)."""
        white = randn((B, self.num_channels, T), like, generator)
        mag = self.noise_mag.to(like.device)
        if mag.shape[-1] != T // 2 + 1:  # another length: resample the filter over normalised frequency
            mag = F.interpolate(mag[None], size=T // 2 + 1, mode="linear", align_corners=True)[0]
            mag = mag / mag.pow(2).mean(1, keepdim=True).sqrt()
        return torch.fft.irfft(torch.fft.rfft(white, dim=-1) * mag, n=T, dim=-1)

    def forward(self, batch: Batch, part: str):
        raise NotImplementedError("the ridge baseline is fitted in closed form by fit(); it has no training loss")

    def predict_log_envelope(self, angles: Tensor, weights: Tensor | None = None) -> Tensor:
        """(B, J, Ta) angles -> (B, C, Ta) log envelope; `weights` (F, C) or per window (B, F, C), default pooled."""
        X = torch.maximum(torch.minimum(self.features(angles), self.feat_hi), self.feat_lo)
        W = self.weights if weights is None else weights.to(X.device, torch.float64)
        log_env = (X @ W).float()
        return torch.maximum(torch.minimum(log_env, self.target_hi), self.target_lo).transpose(1, 2)

    def render(self, log_env: Tensor, generator: torch.Generator | None) -> Tensor:
        """Log envelope frames (B, C, Ta) -> EMG samples: the envelope itself on rectified data, else times noise."""
        B, C, Ta = log_env.shape
        T = Ta * self.upsample
        if self.variability > 0:  # explicit option: one log-gain draw per window and channel
            resid = randn((B, C, 1), log_env, generator)
            log_env = log_env + self.variability * self.resid_std.to(log_env.device)[:, None] * resid
        env = self._upsample_env(log_env.exp(), T)
        if self.rectified:
            return env
        carrier = self.coloured_noise(B, T, log_env, generator) * self.carrier_std[:, None] + self.carrier_mean[:, None]
        return env * carrier

    def _check_ready(self, angles: Tensor) -> None:
        check_angles(self, angles)
        if not bool(self.fitted):
            raise EmgaugError(f"{self.name} baseline used before fitting; train it with `emgaug train --model {self.name}`")

    def generate(self, angles: Tensor, labels: Tensor | None = None, generator: torch.Generator | None = None,
                 style: Tensor | None = None) -> Tensor:
        self._check_ready(angles)
        return self.render(self.predict_log_envelope(angles), generator)


class RidgeUser(RidgeEnvelope):
    """One ridge regression per person (the per-user floor): training users get their own weights, shrunk
    towards the pooled fit with `user_lambda`; anyone else gets weights fitted on a reference clip
    (`style_from_reference`), or the pooled weights when no clip is given."""

    name = "ridge_user"

    def __init__(self, num_channels: int, num_joints: int, window: ResolvedWindow, num_classes: int,
                 num_users: int = 0, rectified: bool = False, *, ridge_lambda: float = 1.0, variability: float = 0.0,
                 user_lambda: float = 10.0):
        super().__init__(num_channels, num_joints, window, num_classes, num_users, rectified,
                         ridge_lambda=ridge_lambda, variability=variability)
        if num_users < 1:
            raise ValueError("ridge_user needs the training users (the manifest's train split names none)")
        if user_lambda < 0:
            raise ValueError(f"user_lambda must be >= 0, got {user_lambda}")
        self.user_lambda = float(user_lambda)
        F_, C = self.weights.shape
        self.register_buffer("user_weights", torch.zeros(num_users, F_, C, dtype=torch.float64))
        self.register_buffer("user_frames", torch.zeros(num_users, dtype=torch.int64))

    @property
    def person_conditioned(self) -> bool:
        return True

    def _user_sums(self) -> dict[str, Tensor]:
        U, (F_, C) = self.num_users, self.weights.shape
        return {"user_xtx": torch.zeros(U, F_, F_, dtype=torch.float64),
                "user_xty": torch.zeros(U, F_, C, dtype=torch.float64),
                "user_frames": torch.zeros(U, dtype=torch.float64)}

    def _accumulate_user(self, sums: dict[str, Tensor], batch: Batch, X: Tensor, Y: Tensor) -> None:
        users = batch.get("user")
        if users is None:
            raise EmgaugError("ridge_user needs each window's user; train it through `emgaug train`")
        U = self.num_users
        xtx, xty, frames = sums["user_xtx"], sums["user_xty"], sums["user_frames"]
        Ta = X.shape[0] // users.shape[0]
        per_frame = users.cpu().repeat_interleave(Ta)
        for u in per_frame.unique().tolist():
            if 0 <= u < U:
                rows = per_frame == u
                xtx[u] += X[rows].T @ X[rows]
                xty[u] += X[rows].T @ Y[rows]
                frames[u] += int((X[rows].abs().sum(1) > 0).sum())

    def _finish_users(self, sums: dict[str, Tensor]) -> dict[str, float]:
        xtx, xty = sums["user_xtx"], sums["user_xty"]
        self.user_frames.copy_(sums["user_frames"].round().to(torch.int64))
        for u in range(self.num_users):
            self.user_weights[u] = self._solve(xtx[u], xty[u], self.user_lambda, prior=self.weights)
        return {"users_fitted": float((self.user_frames > 0).sum())}

    def style_for_users(self, users: Tensor) -> Tensor:
        """Per-window weight matrices (B, F * C): the user's own, the pooled ones for unknown users (-1)."""
        users = users.cpu().long()
        known = (users >= 0) & (users < self.num_users)
        W = self.weights.expand(len(users), -1, -1).clone()
        W[known] = self.user_weights[users[known]]
        return W.flatten(1)

    def style_from_reference(self, emg: Tensor, angles: Tensor, angle_mask: Tensor | None = None) -> Tensor:
        """Weights (1, F * C) fitted on a person's clip (normalised units), shrunk towards the pooled fit."""
        batch = {"emg": emg.cpu(), "angles": angles.cpu(),
                 "angle_mask": (angle_mask if angle_mask is not None else torch.ones(angles.shape[0], angles.shape[-1],
                                                                                    dtype=torch.bool)).cpu(),
                 "emg_mask": torch.ones(emg.shape[0], emg.shape[-1], dtype=torch.bool)}
        X, Y, _ = self._frame_data(batch)
        return self._solve(X.T @ X, X.T @ Y, self.user_lambda, prior=self.weights).flatten()[None]

    def generate(self, angles: Tensor, labels: Tensor | None = None, generator: torch.Generator | None = None,
                 style: Tensor | None = None) -> Tensor:
        self._check_ready(angles)
        weights = None
        if style is not None:
            F_, C = self.weights.shape
            if style.shape != (angles.shape[0], F_ * C):
                raise EmgaugError(f"ridge_user: style must be per-window weights ({angles.shape[0]}, {F_ * C}), "
                                  f"got {tuple(style.shape)}; take it from style_for_users or style_from_reference")
            weights = style.reshape(-1, F_, C)
        return self.render(self.predict_log_envelope(angles, weights), generator)
