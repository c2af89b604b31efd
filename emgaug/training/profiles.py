"""Optimiser profiles. `paper`: the SeqEMG-GAN paper's settings (SGD, momentum 0.9, weight decay 5e-4,
lr 0.002 divided by 10 at the 21st, 24th and 27th epochs, batch 32, 100 epochs). The paper also mentions an
unspecified "annealing strategy during pre-training"; it is not reproduced. `fast`: AdamW at each model's
own learning rates (beta1 0.5 for adversarial models) with cosine decay to 10 %, batch 64, 30 epochs."""

from __future__ import annotations

import math
from dataclasses import dataclass

from torch.optim import SGD, AdamW, Optimizer
from torch.optim.lr_scheduler import LambdaLR, LRScheduler, MultiStepLR

from emgaug.errors import EmgaugError
from emgaug.models.base import EMGGenerator


@dataclass(frozen=True)
class Profile:
    name: str
    epochs: int
    batch_size: int


PROFILES = {"paper": Profile("paper", epochs=100, batch_size=32), "fast": Profile("fast", epochs=30, batch_size=64)}
PAPER_LR = 0.002
PAPER_MILESTONES = (20, 23, 26)  # 0-based epoch indices: the 21st, 24th and 27th epochs


def get_profile(name: str) -> Profile:
    if name not in PROFILES:
        raise EmgaugError(f"unknown --profile '{name}'; choose one of {', '.join(PROFILES)}")
    return PROFILES[name]


def make_optimizers(model: EMGGenerator, profile: str, epochs: int,
                    lr: float | None = None) -> dict[str, tuple[Optimizer, LRScheduler]]:
    """One (optimiser, per-epoch scheduler) per trained part of `model`."""
    out: dict[str, tuple[Optimizer, LRScheduler]] = {}
    adversarial = "d" in model.parts
    for part in model.parts:
        params = model.part_parameters(part)
        if profile == "paper":
            opt: Optimizer = SGD(params, lr=lr or PAPER_LR, momentum=0.9, weight_decay=5e-4)
            sched: LRScheduler = MultiStepLR(opt, milestones=list(PAPER_MILESTONES), gamma=0.1)
        elif profile == "fast":
            betas = (0.5, 0.999) if adversarial else (0.9, 0.999)
            opt = AdamW(params, lr=lr or model.fast_lr.get(part, 1e-3), betas=betas, weight_decay=1e-4)
            total = max(1, epochs)
            sched = LambdaLR(opt, lambda e, n=total: 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(e, n) / n)))
        else:
            raise EmgaugError(f"unknown --profile '{profile}'; choose one of {', '.join(PROFILES)}")
        out[part] = (opt, sched)
    return out


def current_lr(opt: Optimizer) -> float:
    return float(opt.param_groups[0]["lr"])
