"""Single-process or torchrun-launched DistributedDataParallel context: NCCL on CUDA, Gloo on CPU.
Only rank 0 validates and writes files; the others wait at barriers and never read what rank 0 wrote (on
several nodes they may not see its disk). Work that reads the training data (normalisation statistics, closed-form
fits) is split over the ranks and combined with float64 all_reduce."""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

import torch
import torch.distributed as dist

from emgaug.device import resolve_device
from emgaug.errors import EmgaugError

T = TypeVar("T")


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


def all_reduce_arrays(ctx: DistContext, arrays: Mapping[str, Any], ops: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Combine named arrays (numpy or torch, any shape, same keys and shapes on every rank) over the ranks in float64:
    summed, or `ops[name]` = "min" / "max". One all_reduce per kind of reduction; types and dtypes come back as
    given (numpy stays numpy)."""
    if not ctx.distributed:
        return dict(arrays)
    ops = dict(ops or {})
    bad = {k: v for k, v in ops.items() if v not in ("sum", "min", "max")}
    if bad:
        raise ValueError(f"unknown reductions {bad}; use sum, min or max")
    dev = ctx.device if ctx.device.type == "cuda" else torch.device("cpu")
    out: dict[str, Any] = {}
    for op_name, op in (("sum", dist.ReduceOp.SUM), ("min", dist.ReduceOp.MIN), ("max", dist.ReduceOp.MAX)):
        keys = sorted(k for k in arrays if ops.get(k, "sum") == op_name)
        if not keys:
            continue
        flat = [torch.as_tensor(np.asarray(arrays[k]) if not isinstance(arrays[k], torch.Tensor) else arrays[k])
                .detach().to("cpu", torch.float64).reshape(-1) for k in keys]
        buf = torch.cat(flat).to(dev)
        dist.all_reduce(buf, op=op)
        buf = buf.cpu()
        pos = 0
        for k, f in zip(keys, flat):
            v = buf[pos:pos + f.numel()]
            pos += f.numel()
            src = arrays[k]
            if isinstance(src, torch.Tensor):
                out[k] = v.reshape(src.shape).to(src.dtype)
            else:
                a = np.asarray(src)
                out[k] = v.numpy().reshape(a.shape).astype(a.dtype, copy=False)
    return out


def torch_reducer(ctx: DistContext):
    """`reduce(sums, ops)` for closed-form fits (`RidgeEnvelope.fit(..., reduce=...)`): all_reduce over the ranks."""
    return lambda sums, ops: all_reduce_arrays(ctx, sums, ops)


def shard_by_size(sizes: Sequence[int], world_size: int) -> list[list[int]]:
    """Indices of items (e.g. recordings, by rows) for each rank: largest first onto the least-loaded rank (ties:
    lowest rank), deterministic, so every rank computes the same assignment."""
    load = [0] * world_size
    out: list[list[int]] = [[] for _ in range(world_size)]
    for i in sorted(range(len(sizes)), key=lambda i: (-int(sizes[i]), i)):
        r = min(range(world_size), key=lambda r: (load[r], r))
        out[r].append(i)
        load[r] += int(sizes[i])
    return [sorted(x) for x in out]


def distributed_norm_stats(ctx: DistContext, source, recordings: Sequence, max_rows_per_recording: int | None = None):
    """Normalisation statistics of `recordings` with every rank reading its share (by rows) and the float64 sums
    combined by all_reduce: the same statistics as one process reading them all (up to summation order)."""
    from emgaug.data.windows import compute_norm_stats, norm_from_sums, norm_sums

    if not ctx.distributed:
        return compute_norm_stats(source, recordings, max_rows_per_recording=max_rows_per_recording)
    if not recordings:
        raise EmgaugError("cannot compute normalisation statistics: the training split is empty; re-run `emgaug split`")
    sizes = [r.num_rows if max_rows_per_recording is None else min(r.num_rows, max_rows_per_recording) for r in recordings]
    mine = [recordings[i] for i in shard_by_size(sizes, ctx.world_size)[ctx.rank]]
    sums = norm_sums(source, mine, max_rows_per_recording=max_rows_per_recording)
    return norm_from_sums(all_reduce_arrays(ctx, sums, {"emg_min": "min"}))


def agree(ctx: DistContext, local: T) -> list[T]:
    """Every rank's `local` (picklable), in rank order, on every rank: the one collective before any rank branches
    on something only it can see (its disk), so all ranks take the same branch or all fail."""
    return gather_objects(ctx, local)


def host() -> str:
    return socket.gethostname()


def one_line(e: BaseException) -> str:
    text = " ".join(str(e).split()) or type(e).__name__
    return text if isinstance(e, EmgaugError) else f"{type(e).__name__}: {text}"


def fail_together(ctx: DistContext, err: BaseException | None) -> None:
    """Collective: each rank passes its own failure (or None). When any rank failed, every rank raises: the failed
    ones their own error, the others one line naming the first failed rank, its host and its message. So a failure
    seen by one node (a file only it lacks) ends every rank instead of leaving the others in a later collective."""
    if not ctx.distributed:
        if err is not None:
            raise err
        return
    msgs = gather_objects(ctx, None if err is None else (host(), one_line(err)))
    if err is not None:
        raise err
    failed = [(r, m) for r, m in enumerate(msgs) if m is not None]
    if failed:
        r, (h, m) = failed[0]
        raise EmgaugError(f"rank {r} of {ctx.world_size} (host {h}) failed: {m}")


def shutdown(ctx: DistContext) -> None:
    """Leave the process group this context created (a group the caller set up stays theirs)."""
    if ctx.distributed and ctx.owns_group and dist.is_initialized():
        dist.destroy_process_group()
