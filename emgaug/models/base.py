"""The one interface every generator implements, so training, synthesis and benchmarks treat SeqEMG-GAN,
its peers and the ridge baseline alike.

Training contract: a model names its optimised parts (`parts`, e.g. ("d", "g") for a GAN: the discriminator
is updated first, then the generator) and `forward(batch, part)` returns that part's scalar loss plus a dict
of detached scalar tensors to log. Routing the loss through `forward` lets torch DistributedDataParallel wrap the model.
Closed-form models (`closed_form = True`) are fitted once by `fit(batches)` instead.
"""

from __future__ import annotations

from typing import Any, Iterable

import torch
from torch import Tensor, nn

from emgaug.data.windows import ResolvedWindow
from emgaug.errors import EmgaugError

Batch = dict[str, Tensor]


class EMGGenerator(nn.Module):
    """Maps a normalised joint-angle sequence (B, J, Ta) to normalised EMG (B, C, Ta * angle_downsample)."""

    name: str = ""
    conditions_on_angles: bool = True
    conditions_on_labels: bool = False
    closed_form: bool = False
    parts: tuple[str, ...] = ("g",)
    fast_lr: dict[str, float] = {"g": 1e-3}  # AdamW learning rates of the "fast" profile, per part

    def __init__(self, num_channels: int, num_joints: int, window: ResolvedWindow, num_classes: int):
        super().__init__()
        self.num_channels = int(num_channels)
        self.num_joints = int(num_joints)
        self.window = window
        self.num_classes = int(num_classes)
        self.config: dict[str, Any] = {}  # constructor overrides, stored in checkpoints to rebuild the model
        # stage labels seen in training: label-conditioned models refuse to invent the others
        self.register_buffer("seen_labels", torch.zeros(max(1, self.num_classes), dtype=torch.bool))

    @property
    def upsample(self) -> int:
        return self.window.angle_downsample

    def generate(self, angles: Tensor, labels: Tensor | None = None,
                 generator: torch.Generator | None = None) -> Tensor:
        """Synthesise EMG for `angles`; every random draw comes from `generator` when one is given."""
        raise NotImplementedError

    def forward(self, batch: Batch, part: str) -> tuple[Tensor, dict[str, Tensor]]:  # noqa: D401
        """Training loss of one part for one batch (keys: emg, angles, angle_mask, emg_mask, label)."""
        raise NotImplementedError

    # parameter-name prefixes of the discriminator (adversarial models); everything else belongs to "g"
    discriminator_prefixes: tuple[str, ...] = ("disc_",)

    def part_parameters(self, part: str) -> list[nn.Parameter]:
        """Parameters the optimiser of `part` updates: "d" the discriminator's (by name prefix), "g" the rest."""
        if part not in self.parts:
            raise KeyError(part)
        disc = [p for n, p in self.named_parameters() if n.startswith(self.discriminator_prefixes)]
        if part == "d":
            return disc
        ids = {id(p) for p in disc}
        return [p for p in self.parameters() if p.requires_grad and id(p) not in ids]

    def fit(self, batches: Iterable[Batch]) -> dict[str, float]:
        """Closed-form fit over every training batch (only for `closed_form` models)."""
        raise NotImplementedError(f"{self.name} is trained by gradient descent, not fitted in closed form")

    def mark_seen_labels(self, labels: Tensor) -> None:
        """Record which stage labels occur in the training data."""
        lab = labels[(labels >= 0) & (labels < self.seen_labels.numel())]
        self.seen_labels[lab.to(self.seen_labels.device)] = True

    def check_labels(self, labels: Tensor | None, batch: int) -> Tensor:
        """Validate labels for a label-conditioned model: present, in range, and seen in training."""
        if labels is None:
            raise EmgaugError(f"model '{self.name}' is conditioned on the stage label; pass labels to generate()")
        if labels.shape != (batch,):
            raise EmgaugError(f"model '{self.name}': labels must have shape ({batch},), got {tuple(labels.shape)}")
        bad = (labels < 0) | (labels >= self.num_classes)
        if not bad.any() and self.seen_labels.any():
            bad = ~self.seen_labels[labels.to(self.seen_labels.device)]
        if bad.any():
            raise EmgaugError(f"model '{self.name}' cannot generate stage label(s) {sorted(set(labels[bad].tolist()))}: "
                              "it never saw them in training (label-conditioned models cannot create unseen gestures); "
                              "use an angle-conditioned model such as seqemg_gan")
        return labels


def scalar(x: Tensor) -> Tensor:
    """A loss value for logging: detached, still on its device (the trainer syncs once per logging step)."""
    return x.detach().float()


def check_angles(model: EMGGenerator, angles: Tensor) -> None:
    """One clear error for angle tensors of the wrong shape."""
    if angles.dim() != 3 or angles.shape[1] != model.num_joints:
        raise EmgaugError(f"model '{model.name}' expects angles of shape (batch, {model.num_joints}, frames), "
                          f"got {tuple(angles.shape)}")


def randn(shape: tuple[int, ...], like: Tensor, generator: torch.Generator | None) -> Tensor:
    """Standard normal draws on `like`'s device, from `generator` when given (else the global RNG)."""
    if generator is not None and generator.device != like.device:
        # a CPU generator driving CUDA synthesis: draw on CPU, then move (reproducible across devices)
        return torch.randn(shape, generator=generator, dtype=torch.float32).to(like.device)
    return torch.randn(shape, generator=generator, device=like.device, dtype=torch.float32)


def factorize(n: int, max_factor: int = 5) -> list[int]:
    """Split an upsampling factor into small stages, largest first (50 -> [5, 5, 2]); [] for 1."""
    if n < 1:
        raise ValueError(f"upsampling factor must be >= 1, got {n}")
    out: list[int] = []
    for f in range(max_factor, 1, -1):
        while n % f == 0:
            out.append(f)
            n //= f
    if n > 1:  # a prime above max_factor: one stage of that size
        out.append(n)
    return sorted(out, reverse=True)


def frame_mask(batch: Batch) -> Tensor:
    """(B, Ta) float mask of frames with valid angles and no padding (IK failures excluded from losses)."""
    amask = batch["angle_mask"].float()
    emask = batch["emg_mask"].float()
    B, Ta = amask.shape
    ds = emask.shape[1] // Ta
    emask_frames = emask[:, : Ta * ds].reshape(B, Ta, ds).amin(2)
    return amask * emask_frames


def sample_mask(batch: Batch) -> Tensor:
    """(B, 1, T) float mask of EMG samples that belong to valid frames."""
    fm = frame_mask(batch)
    T = batch["emg_mask"].shape[1]
    ds = T // fm.shape[1]
    return fm.repeat_interleave(ds, dim=1)[:, None, :]


def masked_mean(x: Tensor, mask: Tensor) -> Tensor:
    """Mean of `x` over entries where `mask` (broadcastable) is 1; 0 when nothing is valid."""
    mask = mask.expand_as(x).to(x.dtype)
    return (x * mask).sum() / mask.sum().clamp_min(1.0)
