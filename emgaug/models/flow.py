"""`flow`: conditional flow matching (rectified flow, Liu et al. 2022; Lipman et al. 2023) from the kinematics and
the person to EMG.

Training: x1 is a real (normalised) EMG window, x0 ~ N(0, I), t ~ U(0, 1), x_t = (1 - t) x0 + t x1; a 1-D U-Net
predicts the velocity x1 - x0 from (x_t, t, conditions), masked MSE. Sampling integrates dx/dt = v(x, t) from
noise at t = 0 to t = 1 with a few ODE steps (Euler, midpoint or Heun).

Conditions: the angle frames plus the person's style vector per frame (emgaug.models.style), optionally the
gesture label. With probability `cond_drop` the whole condition is dropped in training (angles zeroed, null
style, label dropped, and a "has condition" channel set to 0), which gives the unconditional branch that
classifier-free guidance needs: v = v_uncond + guidance * (v_cond - v_uncond). guidance = 1 is the plain
conditional model (one network call per step); 0 is the unconditional model.

The network: the EMG-rate signal goes down to the angle frame rate through strided convolutions (one stage per
factor of the rate ratio, so raw 2 kHz EMG and 100 Hz envelopes use the same code), meets the conditioning
frames there in a stack of dilated residual blocks, and comes back up with skip connections. Every block is
modulated (FiLM) by the flow time and the style vector. On rectified envelope data (Ninapro DB1) the flow runs
on log(x + floor), which keeps generated envelopes positive and makes amplitude errors relative.

Amplitude prior (`prior="ridge"`, after PriorGrad, Lee et al. 2022): a pooled closed-form ridge from the kinematics
to each channel's log envelope (emgaug.models.ridge, fitted over the training windows before the first step) sets
the scale the flow works in: raw EMG is divided by the predicted envelope (log envelopes have it subtracted), the
flow learns what is left (carrier, spectrum, the person's deviation from the pooled amplitude), and sampling
multiplies it back. An untrained flow then already follows the kinematics' amplitude, and the network spends its
budget on the rest; on raw EMG that is what a small CPU budget cannot learn from white noise alone. With
`prior_noise="coloured"` (raw EMG) the flow also starts from noise with the training carrier's spectrum (the ridge
floor's texture) instead of white noise, so an untrained flow is the ridge floor and training learns the difference.
The prior reads the kinematics in every branch, so classifier-free guidance acts on what the network adds to it.
"""

from __future__ import annotations

import contextlib
import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from emgaug.data.windows import ResolvedWindow
from emgaug.errors import EmgaugError
from emgaug.models.base import Batch, EMGGenerator, check_angles, factorize, masked_mean, randn, sample_mask, scalar
from emgaug.models.ridge import RidgeEnvelope

SAMPLERS = ("euler", "midpoint", "heun")
# training flow times: uniform; logit_normal (Esser et al. 2024: more weight mid-way); late (density 2t: more
# weight near the data, where the fine texture is decided)
TIME_SAMPLING = ("uniform", "logit_normal", "late")
LOG_FLOOR = 0.01  # of a channel's RMS (normalised units): the floor under log-envelopes
PRIORS = ("none", "ridge")
# the flow's source distribution: white N(0, I), or (raw EMG with prior=ridge) noise with the training carrier's
# spectrum per channel, so the flow starts from the ridge floor's texture and learns only what differs from it
PRIOR_NOISE = ("white", "coloured")


def time_embedding(t: Tensor, dim: int) -> Tensor:
    """Sinusoidal code (B, dim) of flow times t in [0, 1]."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    arg = 1000.0 * t.float()[:, None] * freqs[None]
    return torch.cat([arg.sin(), arg.cos()], 1)


class ResBlock(nn.Module):
    """GroupNorm -> SiLU -> dilated conv -> FiLM(emb) -> SiLU -> conv, plus a residual path."""

    def __init__(self, cin: int, cout: int, emb_dim: int, dilation: int = 1):
        super().__init__()
        self.n1 = nn.GroupNorm(min(8, cin), cin)
        self.c1 = nn.Conv1d(cin, cout, 3, padding=dilation, dilation=dilation)
        self.film = nn.Linear(emb_dim, 2 * cout)
        self.n2 = nn.GroupNorm(min(8, cout), cout)
        self.c2 = nn.Conv1d(cout, cout, 3, padding=1)
        self.skip = nn.Conv1d(cin, cout, 1) if cin != cout else nn.Identity()
        nn.init.zeros_(self.c2.weight)
        nn.init.zeros_(self.c2.bias)

    def forward(self, x: Tensor, emb: Tensor) -> Tensor:
        h = self.c1(F.silu(self.n1(x)))
        scale, shift = self.film(emb)[..., None].chunk(2, dim=1)
        h = F.silu(self.n2(h) * (1 + scale) + shift)
        return self.skip(x) + self.c2(h)


class VelocityUNet(nn.Module):
    """v(x_t, t | conditioning frames, global embedding): down to the frame rate, context there, back up."""

    def __init__(self, channels: int, cond_dim: int, upsample: int, width: int, emb_dim: int,
                 mid_dilations: tuple[int, ...], max_width: int = 256):
        super().__init__()
        self.factors = sorted(factorize(upsample))  # small factors first, at the highest rate
        self.stem = nn.Conv1d(channels, width, 3, padding=1)
        self.down_blocks, self.downs, widths = nn.ModuleList(), nn.ModuleList(), []
        w = width
        for f in self.factors:
            self.down_blocks.append(ResBlock(w, w, emb_dim))
            widths.append(w)
            w_next = min(max_width, 2 * w)
            self.downs.append(nn.Conv1d(w, w_next, 2 * f, stride=f, padding=(f + 1) // 2))
            w = w_next
        self.cond_in = nn.Sequential(nn.Conv1d(cond_dim, w, 3, padding=1), nn.SiLU(), nn.Conv1d(w, w, 3, padding=1))
        self.mid = nn.ModuleList(ResBlock(2 * w if i == 0 else w, w, emb_dim, d) for i, d in enumerate(mid_dilations))
        self.ups, self.up_blocks = nn.ModuleList(), nn.ModuleList()
        for f, w_skip in zip(reversed(self.factors), reversed(widths)):
            self.ups.append(nn.ConvTranspose1d(w, w_skip, 2 * f, stride=f, padding=f // 2))
            self.up_blocks.append(ResBlock(2 * w_skip, w_skip, emb_dim))
            w = w_skip
        self.out_norm = nn.GroupNorm(min(8, w), w)
        self.head = nn.Conv1d(w, channels, 3, padding=1)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def forward(self, x: Tensor, cond: Tensor, emb: Tensor) -> Tensor:
        h = self.stem(x)
        skips = []
        for block, down in zip(self.down_blocks, self.downs):
            h = block(h, emb)
            skips.append(h)
            h = down(h)[..., : math.ceil(skips[-1].shape[-1] / (down.stride[0]))]
        Ta = cond.shape[-1]
        h = torch.cat([h[..., :Ta], self.cond_in(cond)], 1)
        for block in self.mid:
            h = block(h, emb)
        for up, block, skip in zip(self.ups, self.up_blocks, reversed(skips)):
            h = up(h)[..., : skip.shape[-1]]
            h = block(torch.cat([h, skip], 1), emb)
        return self.head(F.silu(self.out_norm(h)))


class FlowMatchingGenerator(EMGGenerator):
    """Conditional flow matching on EMG windows given kinematics, the person and optionally the gesture."""

    name = "flow"
    fast_lr = {"g": 5e-4}

    def __init__(self, num_channels: int, num_joints: int, window: ResolvedWindow, num_classes: int,
                 num_users: int = 0, rectified: bool = False, *, width: int = 64, emb_dim: int = 128,
                 mid_dilations: tuple[int, ...] = (1, 2, 4, 8, 1, 2, 4, 8), cond_drop: float = 0.1,
                 guidance: float = 1.0, steps: int = 4, sampler: str = "euler", label_cond: bool = False,
                 log_domain: bool | None = None, ema: float = 0.999, time_sampling: str = "uniform",
                 prior: str = "none", prior_noise: str = "white", **style):
        super().__init__(num_channels, num_joints, window, num_classes, num_users, rectified, **style)
        if sampler not in SAMPLERS:
            raise ValueError(f"sampler must be one of {', '.join(SAMPLERS)}, got {sampler!r}")
        if steps < 1 or not 0.0 <= cond_drop < 1.0 or not math.isfinite(guidance):
            raise ValueError(f"need steps >= 1, 0 <= cond_drop < 1 and a finite guidance; got {steps}, {cond_drop}, {guidance}")
        if time_sampling not in TIME_SAMPLING:
            raise ValueError(f"time_sampling must be one of {', '.join(TIME_SAMPLING)}, got {time_sampling!r}")
        self.time_sampling = time_sampling
        if prior not in PRIORS:
            raise ValueError(f"prior must be one of {', '.join(PRIORS)}, got {prior!r}")
        if prior_noise not in PRIOR_NOISE:
            raise ValueError(f"prior_noise must be one of {', '.join(PRIOR_NOISE)}, got {prior_noise!r}")
        self.prior_noise = prior_noise
        # buffers only (no parameters), so the optimiser and the weight average never touch it
        self.amp_prior = RidgeEnvelope(num_channels, num_joints, window, num_classes, 0, rectified) if prior == "ridge" else None
        self.cond_drop, self.guidance, self.steps, self.sampler = float(cond_drop), float(guidance), int(steps), sampler
        self.label_cond = bool(label_cond)
        self.conditions_on_labels = self.label_cond
        self.log_domain = self.rectified if log_domain is None else bool(log_domain)
        if prior_noise == "coloured" and (prior != "ridge" or self.log_domain):
            raise ValueError("prior_noise=coloured needs prior=ridge and raw EMG (envelope data runs in the log domain, "
                             "where a coloured source has no meaning)")
        self.emb_dim = emb_dim
        self.time_mlp = nn.Sequential(nn.Linear(emb_dim, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim))
        self.style_mlp = nn.Linear(self.style_dim, emb_dim) if self.style_dim else None
        self.label_emb = nn.Embedding(max(1, num_classes) + 1, emb_dim) if self.label_cond else None  # last: null
        self.net = VelocityUNet(num_channels, self.cond_dim + 1, self.upsample, width, emb_dim, tuple(mid_dilations))
        # exponential moving average of every weight (buffers, so checkpoints and resume carry it); sampling in
        # eval mode uses it, as diffusion and flow models usually do
        if not 0.0 <= ema < 1.0:
            raise ValueError(f"ema must be in [0, 1), got {ema}")
        self.ema_decay = float(ema)
        for k, (_, prm) in enumerate(self.named_parameters()):
            if self.ema_decay > 0:
                self.register_buffer(f"ema_{k}", prm.detach().clone())
        self.register_buffer("ema_steps", torch.zeros((), dtype=torch.int64))

    def after_step(self) -> None:
        """Update the weight average; the decay warms up as (1 + n) / (10 + n) so early averages are not stale."""
        if self.ema_decay <= 0:
            return
        self.ema_steps += 1
        n = float(self.ema_steps)
        decay = min(self.ema_decay, (1 + n) / (10 + n))
        with torch.no_grad():
            for k, prm in enumerate(self.parameters()):
                getattr(self, f"ema_{k}").lerp_(prm.detach(), 1 - decay)

    @contextlib.contextmanager
    def averaged_weights(self):
        """Swap the averaged weights in (eval-mode sampling), and back out afterwards."""
        if self.ema_decay <= 0 or self.training or int(self.ema_steps) == 0:
            yield
            return
        params = list(self.parameters())
        saved = [prm.detach().clone() for prm in params]
        with torch.no_grad():
            for k, prm in enumerate(params):
                prm.copy_(getattr(self, f"ema_{k}"))
        try:
            yield
        finally:
            with torch.no_grad():
                for prm, old in zip(params, saved):
                    prm.copy_(old)

    # -- the amplitude prior --------------------------------------------------------------------------
    def wants_prefit(self) -> bool:
        return self.amp_prior is not None and not bool(self.amp_prior.fitted)

    def prefit(self, batches, reduce=None) -> dict[str, float]:
        """Fit the amplitude prior (a pooled ridge) over the training windows; `reduce` combines ranks' sums."""
        stats = self.amp_prior.fit(batches, reduce=reduce)
        return {f"prior_{k}": v for k, v in stats.items()}

    def _prior_log_envelope(self, angles: Tensor, T: int) -> Tensor | None:
        """The prior's log envelope (B, C, T) at the EMG rate, or None without a prior."""
        if self.amp_prior is None:
            return None
        if not bool(self.amp_prior.fitted):
            raise EmgaugError("flow with prior=ridge used before its prior was fitted; train it with `emgaug train`")
        log_env = self.amp_prior.predict_log_envelope(angles.to(self.amp_prior.weights.device))
        return F.interpolate(log_env, size=T, mode="linear", align_corners=False)

    def _source_noise(self, shape: tuple[int, int, int], like: Tensor, generator: torch.Generator | None) -> Tensor:
        """x0: white noise, or the prior's coloured noise (raw EMG only: on log envelopes it has no meaning)."""
        if self.prior_noise == "coloured":  # only with prior=ridge on raw EMG (checked in __init__)
            return self.amp_prior.coloured_noise(shape[0], shape[2], like, generator).to(like.dtype)
        return randn(shape, like, generator)

    # -- signal space ---------------------------------------------------------------------------------
    def to_flow_space(self, emg: Tensor, angles: Tensor) -> Tensor:
        """EMG -> the space the flow runs in: log on envelope data, and relative to the prior's envelope if any."""
        y = torch.log(emg.float().clamp_min(0) + LOG_FLOOR) if self.log_domain else emg.float()
        log_env = self._prior_log_envelope(angles, emg.shape[-1])
        if log_env is None:
            return y
        return y - log_env if self.log_domain else y / log_env.exp().clamp_min(LOG_FLOOR)

    def from_flow_space(self, y: Tensor, angles: Tensor) -> Tensor:
        """The inverse of `to_flow_space`."""
        log_env = self._prior_log_envelope(angles, y.shape[-1])
        if log_env is not None:
            y = y + log_env if self.log_domain else y * log_env.exp().clamp_min(LOG_FLOOR)
        return (torch.exp(y) - LOG_FLOOR).clamp_min(0) if self.log_domain else y

    # -- the velocity field ---------------------------------------------------------------------------
    def _conditions(self, angles: Tensor, style: Tensor | None, labels: Tensor | None, keep: Tensor):
        """Conditioning frames (B, cond_dim + 1, Ta) and the global embedding part (B, emb_dim) that does not
        depend on t; `keep` (B,) is 0 where the condition is dropped (the unconditional branch)."""
        B = angles.shape[0]
        if self.subject is not None:
            null = self.subject.null(B, angles)
            style = null if style is None else torch.where(keep[:, None] > 0, style.to(null.dtype), null)
        frames = self.conditioning(angles.float() * keep[:, None, None], style)
        frames = torch.cat([frames, keep[:, None, None].expand(-1, 1, frames.shape[-1])], 1)
        g = torch.zeros(B, self.emb_dim, device=angles.device)
        if self.style_mlp is not None:
            g = g + self.style_mlp(style.float())
        if self.label_emb is not None:
            null_label = torch.full((B,), self.label_emb.num_embeddings - 1, device=angles.device, dtype=torch.long)
            lab = null_label if labels is None else torch.where(keep > 0, labels.long().clamp_min(0), null_label)
            g = g + self.label_emb(lab)
        return frames, g

    def velocity(self, x: Tensor, t: Tensor, frames: Tensor, g: Tensor) -> Tensor:
        emb = self.time_mlp(time_embedding(t, self.emb_dim)) + g
        return self.net(x, frames, emb)

    # -- training -------------------------------------------------------------------------------------
    def forward(self, batch: Batch, part: str) -> tuple[Tensor, dict[str, Tensor]]:
        if part != "g":
            raise KeyError(f"{self.name} has no part '{part}'")
        x1 = self.to_flow_space(batch["emg"], batch["angles"])
        B = x1.shape[0]
        style, align = self.training_style(batch)
        keep = (torch.rand(B, device=x1.device) >= self.cond_drop).float()
        labels = batch.get("label") if self.label_cond else None
        frames, g = self._conditions(batch["angles"], style, labels, keep)
        x0 = torch.randn_like(x1) if self.prior_noise == "white" else self._source_noise(tuple(x1.shape), x1, None)
        t = self._train_times(B, x1.device)
        xt = (1 - t[:, None, None]) * x0 + t[:, None, None] * x1
        v = self.velocity(xt, t, frames, g)
        loss = masked_mean((v.float() - (x1 - x0)).pow(2), sample_mask(batch))
        logs = {"fm_loss": scalar(loss)}
        return self.with_alignment(loss, align, logs), logs

    def _train_times(self, n: int, device: torch.device) -> Tensor:
        u = torch.rand(n, device=device)
        if self.time_sampling == "logit_normal":
            return torch.sigmoid(torch.randn(n, device=device))
        if self.time_sampling == "late":
            return u.sqrt()
        return u

    # -- sampling -------------------------------------------------------------------------------------
    def _guided(self, x: Tensor, t: float, cond: tuple[Tensor, Tensor], uncond: tuple[Tensor, Tensor] | None,
                guidance: float) -> Tensor:
        tt = torch.full((x.shape[0],), t, device=x.device)
        if uncond is None:
            return self.velocity(x, tt, *cond)
        if guidance == 0.0:
            return self.velocity(x, tt, *uncond)
        v_c, v_u = self.velocity(x, tt, *cond), self.velocity(x, tt, *uncond)
        return v_u + guidance * (v_c - v_u)

    @torch.no_grad()
    def sample(self, angles: Tensor, labels: Tensor | None = None, generator: torch.Generator | None = None,
               style: Tensor | None = None, *, steps: int | None = None, sampler: str | None = None,
               guidance: float | None = None) -> Tensor:
        """Integrate the flow from noise (drawn from `generator`) to EMG; options override the model's defaults."""
        steps = self.steps if steps is None else int(steps)
        sampler = self.sampler if sampler is None else sampler
        guidance = self.guidance if guidance is None else float(guidance)
        if sampler not in SAMPLERS or steps < 1:
            raise ValueError(f"sampler must be one of {', '.join(SAMPLERS)} and steps >= 1")
        B, _, Ta = angles.shape
        ones = torch.ones(B, device=angles.device)
        cond = self._conditions(angles, style, labels, ones)
        uncond = None if guidance == 1.0 else self._conditions(angles, style, labels, 0 * ones)
        x = self._source_noise((B, self.num_channels, Ta * self.upsample), angles, generator)
        h = 1.0 / steps
        for k in range(steps):
            t = k * h
            v = self._guided(x, t, cond, uncond, guidance)
            if sampler == "euler":
                x = x + h * v
            elif sampler == "midpoint":
                x = x + h * self._guided(x + 0.5 * h * v, t + 0.5 * h, cond, uncond, guidance)
            elif k == steps - 1:  # Heun's last step is Euler (as in Karras et al. 2022): at t = 1 the velocity
                x = x + h * v        # field has no training signal left (x_t is the data), its estimate is noise
            else:  # Heun: Euler predictor, trapezoidal corrector
                x_e = x + h * v
                x = x + 0.5 * h * (v + self._guided(x_e, t + h, cond, uncond, guidance))
        return self.from_flow_space(x, angles)

    def style_for_users(self, users: Tensor) -> Tensor | None:
        with self.averaged_weights():
            return super().style_for_users(users)

    def style_from_reference(self, emg: Tensor, angles: Tensor, angle_mask: Tensor | None = None) -> Tensor | None:
        with self.averaged_weights():
            return super().style_from_reference(emg, angles, angle_mask)

    def generate(self, angles: Tensor, labels: Tensor | None = None, generator: torch.Generator | None = None,
                 style: Tensor | None = None) -> Tensor:
        check_angles(self, angles)
        if self.label_cond:
            labels = self.check_labels(labels, angles.shape[0]).to(angles.device)
        with self.averaged_weights():
            return self.sample(angles, labels, generator, style)

    def function_evaluations(self, steps: int | None = None, sampler: str | None = None,
                             guidance: float | None = None) -> int:
        """Network calls per `generate` (the cost of sampling): 1 per Euler step, 2 per midpoint step, 2 per Heun
        step but 1 on its last, times 2 when guided (0 < guidance != 1)."""
        steps = self.steps if steps is None else steps
        sampler = sampler or self.sampler
        calls = {"euler": steps, "midpoint": 2 * steps, "heun": 2 * steps - 1}[sampler]
        g = self.guidance if guidance is None else guidance
        return calls * (1 if g in (0.0, 1.0) else 2)
