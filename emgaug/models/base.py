"""The one interface every generator implements, so training, synthesis and benchmarks treat SeqEMG-GAN,
its peers and the ridge baseline alike.

Training contract: a model names its optimised parts (`parts`, e.g. ("d", "g") for a GAN: the discriminator
is updated first, then the generator) and `forward(batch, part)` returns that part's scalar loss plus a dict
of detached scalar tensors to log. Routing the loss through `forward` lets torch DistributedDataParallel wrap the model.
Closed-form models (`closed_form = True`) are fitted once by `fit(batches)` instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import Tensor, nn

from emgaug.data.windows import ResolvedWindow
from emgaug.errors import EmgaugError
from emgaug.models.style import SubjectStyle

Batch = dict[str, Tensor]


class EMGGenerator(nn.Module):
    """Maps a normalised joint-angle sequence (B, J, Ta) to normalised EMG (B, C, Ta * angle_downsample).

    Person conditioning (`subject=True`, needs `num_users` > 0): a style vector per window (see
    emgaug.models.style) is appended to every angle frame, so the model's conditioning input has
    `cond_dim = num_joints + style_dim` channels. `generate(..., style=None)` uses the null (population) style.
    `rectified` says the EMG is non-negative envelopes (e.g. Ninapro DB1), not raw signed EMG.
    """

    name: str = ""
    conditions_on_angles: bool = True
    conditions_on_labels: bool = False
    closed_form: bool = False
    parts: tuple[str, ...] = ("g",)
    fast_lr: dict[str, float] = {"g": 1e-3}  # AdamW learning rates of the "fast" profile, per part

    def __init__(self, num_channels: int, num_joints: int, window: ResolvedWindow, num_classes: int,
                 num_users: int = 0, rectified: bool = False, *, subject: bool = True, style_dim: int = 16,
                 style_ref_prob: float = 0.5, style_drop_prob: float = 0.1, style_align_weight: float = 1.0):
        super().__init__()
        self.num_channels = int(num_channels)
        self.num_joints = int(num_joints)
        self.window = window
        self.num_classes = int(num_classes)
        self.num_users = int(num_users)
        self.rectified = bool(rectified)
        self.config: dict[str, Any] = {}  # constructor overrides, stored in checkpoints to rebuild the model
        # stage labels seen in training: label-conditioned models refuse to invent the others
        self.register_buffer("seen_labels", torch.zeros(max(1, self.num_classes), dtype=torch.bool))
        self.subject: SubjectStyle | None = None
        if subject and self.num_users > 0:
            self.subject = SubjectStyle(self.num_users, self.num_channels, self.num_joints, self.upsample,
                                        dim=style_dim, ref_prob=style_ref_prob, drop_prob=style_drop_prob,
                                        align_weight=style_align_weight)

    @property
    def upsample(self) -> int:
        return self.window.angle_downsample

    @property
    def style_dim(self) -> int:
        return self.subject.dim if self.subject is not None else 0

    @property
    def person_conditioned(self) -> bool:
        """Whether `generate` takes a person style (from `style_for_users` / `style_from_reference`)."""
        return self.subject is not None

    @property
    def cond_dim(self) -> int:
        """Channels of the per-frame conditioning: joint angles plus the style vector."""
        return self.num_joints + self.style_dim

    def conditioning(self, angles: Tensor, style: Tensor | None) -> Tensor:
        """(B, J, Ta) angles -> (B, cond_dim, Ta): the style vector appended to every frame (null style if None)."""
        if self.subject is None:
            return angles
        if style is None:
            style = self.subject.null(angles.shape[0], angles)
        if style.shape != (angles.shape[0], self.style_dim):
            raise EmgaugError(f"model '{self.name}': style must have shape ({angles.shape[0]}, {self.style_dim}), "
                              f"got {tuple(style.shape)}")
        return torch.cat([angles, style.to(angles.dtype)[..., None].expand(-1, -1, angles.shape[-1])], 1)

    def training_style(self, batch: Batch) -> tuple[Tensor | None, Tensor | None]:
        """Style of each training window and the reference-alignment loss (both None without conditioning)."""
        if self.subject is None:
            return None, None
        return self.subject.training_style(batch)

    def with_alignment(self, loss: Tensor, align: Tensor | None, logs: dict[str, Tensor]) -> Tensor:
        """Add the reference encoder's alignment term to a generator loss (and log it)."""
        if align is None or self.subject is None or self.subject.align_weight <= 0:
            return loss
        logs["style_align"] = scalar(align)
        return loss + self.subject.align_weight * align

    def style_for_users(self, users: Tensor) -> Tensor | None:
        """Style of training users by index (-1 = unknown person: the null style); None without conditioning."""
        return None if self.subject is None else self.subject.from_users(users.to(self.subject.embedding.weight.device))

    def style_from_reference(self, emg: Tensor, angles: Tensor, angle_mask: Tensor | None = None) -> Tensor | None:
        """One style (1, style_dim) from a clip of a person's real windows (normalised units)."""
        if self.subject is None:
            return None
        return self.subject.reference(emg, angles, angle_mask)

    def generate(self, angles: Tensor, labels: Tensor | None = None, generator: torch.Generator | None = None,
                 style: Tensor | None = None) -> Tensor:
        """Synthesise EMG for `angles` in the person `style` (B, style_dim); random draws come from `generator`."""
        raise NotImplementedError

    def after_step(self) -> None:
        """Called by the trainer after every optimisation step (e.g. to update an average of the weights)."""

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

    def wants_prefit(self) -> bool:
        """True for SGD models with a closed-form part to fit over the training windows before the first step."""
        return False

    def prefit(self, batches: Iterable[Batch], reduce: Callable | None = None) -> dict[str, float]:
        """Fit the closed-form part of an SGD model (only where `wants_prefit()`); `reduce` as in `RidgeEnvelope.fit`."""
        raise NotImplementedError(f"{self.name} has nothing to fit before training")

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


class RowGenerators:
    """One CPU `torch.Generator` per row of a batch, for `randn`: row i's draws come from generator i alone, in the
    order the model asks for them, so a row gets the same noise whatever batch it is in (synthesis seeds each row
    from its window, so the set does not depend on batch composition, ranks or shards)."""

    device = torch.device("cpu")

    def __init__(self, seeds: Iterable[int]):
        self.generators = [torch.Generator().manual_seed(int(s)) for s in seeds]

    def __len__(self) -> int:
        return len(self.generators)


def randn(shape: tuple[int, ...], like: Tensor, generator: torch.Generator | RowGenerators | None) -> Tensor:
    """Standard normal draws on `like`'s device, from `generator` when given (else the global RNG).

    `generator` may be a `RowGenerators` with one generator per row of `shape[0]` (the batch dimension)."""
    if isinstance(generator, RowGenerators):
        if not shape or shape[0] != len(generator):
            raise ValueError(f"RowGenerators holds {len(generator)} generators for a draw of shape {tuple(shape)} "
                             "(one per row of the first dimension)")
        rows = [torch.randn(tuple(shape[1:]), generator=g, dtype=torch.float32) for g in generator.generators]
        out = torch.stack(rows) if rows else torch.empty(tuple(shape), dtype=torch.float32)
        return out.to(like.device)
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
