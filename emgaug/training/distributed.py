"""Single-process or torchrun-launched DistributedDataParallel context: NCCL on CUDA, Gloo on CPU.
Only rank 0 validates and writes files; the others wait at barriers."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

from emgaug.errors import EmgaugError


@dataclass
class DistContext:
    world_size: int
    rank: int
    local_rank: int
    device: torch.device
    owns_group: bool = False  # this context created the process group (and `shutdown` destroys it)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def resolve_device(pref: str, local_rank: int = 0) -> torch.device:
    """'auto' -> CUDA when present, else CPU; 'cuda' without a GPU is a clear error."""
    if pref not in ("auto", "cpu", "cuda"):
        raise EmgaugError(f"unknown --device '{pref}'; choose auto, cpu or cuda")
    if pref == "cuda" and not torch.cuda.is_available():
        raise EmgaugError("--device cuda was requested but no CUDA device is visible; use --device cpu or auto")
    if pref == "cpu" or (pref == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    return torch.device("cuda", local_rank)


def init_distributed(device_pref: str) -> DistContext:
    """Join the process group when torchrun set WORLD_SIZE > 1; otherwise a single-process context."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    device = resolve_device(device_pref, local)
    owns = False
    if world > 1 and not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        owns = True
    return DistContext(world_size=world, rank=rank, local_rank=local, device=device, owns_group=owns)


def barrier(ctx: DistContext) -> None:
    if ctx.distributed:
        dist.barrier()


def broadcast_object(ctx: DistContext, obj: Any) -> Any:
    """Rank 0's `obj` on every rank."""
    if not ctx.distributed:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def gather_objects(ctx: DistContext, obj: Any) -> list[Any]:
    """Every rank's `obj`, in rank order, on every rank."""
    if not ctx.distributed:
        return [obj]
    out: list[Any] = [None] * ctx.world_size
    dist.all_gather_object(out, obj)
    return out


def mean_across(ctx: DistContext, values: dict[str, float]) -> dict[str, float]:
    """Average per-rank scalar logs (same keys on every rank)."""
    if not ctx.distributed or not values:
        return values
    keys = sorted(values)
    t = torch.tensor([values[k] for k in keys], dtype=torch.float64,
                     device=ctx.device if ctx.device.type == "cuda" else "cpu")
    dist.all_reduce(t)
    return {k: float(v) / ctx.world_size for k, v in zip(keys, t.tolist())}


def shutdown(ctx: DistContext) -> None:
    """Leave the process group this context created (a group the caller set up stays theirs)."""
    if ctx.distributed and ctx.owns_group and dist.is_initialized():
        dist.destroy_process_group()
