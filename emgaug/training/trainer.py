"""`train_model`: split manifest + model name -> checkpoints in `out_dir` (last.pt every epoch, best.pt by the
validation criterion, history.json). CUDA with mixed precision and cuDNN autotuning when present, CPU
otherwise; DistributedDataParallel when launched by torchrun. A run killed after epoch k and restarted with
`resume=True` ends with the same weights as an uninterrupted run (same seed, same device; on CUDA also pass
`deterministic=True`, since cuDNN autotuning may pick different kernels)."""

from __future__ import annotations

import dataclasses
import inspect
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler, Subset

from emgaug.atomic import write_json_atomic
from emgaug.console import console as shared_console
from emgaug.data.manifest import load_manifest
from emgaug.data.windows import NormStats, WindowConfig, default_angle_rate
from emgaug.errors import EmgaugError
from emgaug.models.base import EMGGenerator
from emgaug.models.registry import MODEL_NAMES, build_model
from emgaug.provenance import code_version, command_line, file_sha256
from emgaug.training import distributed as D
from emgaug.training.checkpoint import kinematics_declaration, read_checkpoint, save_checkpoint
from emgaug.training.data import train_data, val_set
from emgaug.training.profiles import current_lr, get_profile, make_optimizers
from emgaug.training.seeding import rng_state, seed_everything, set_rng_state, worker_init
from emgaug.training.validation import VAL_METRICS, ValSet, is_better, validate

MUST_MATCH = {"resume": "must match"}  # field metadata: --resume refuses a run whose stored value differs


@dataclass(frozen=True)
class TrainOptions:
    """Every option of a training run, built once where the CLI or a pipeline starts and passed down whole.
    Adding an option means adding a field here (with MUST_MATCH if a resumed run must keep it) and a CLI option of
    the same name. `epochs` / `batch_size` None take the profile's; the paper profile may grow `epochs` on resume.
    The number of processes may change on resume: the global batch is kept and the sampler re-derived."""

    model: str = "seqemg_gan"
    profile: str = field(default="paper", metadata=MUST_MATCH)
    epochs: int | None = None
    batch_size: int | None = field(default=None, metadata=MUST_MATCH)
    seed: int = field(default=0, metadata=MUST_MATCH)
    device: str = "auto"
    workers: int = 0
    window_cfg: WindowConfig | None = None  # None: 1 s windows at the data's default angle frame rate
    max_train_windows: int | None = field(default=None, metadata=MUST_MATCH)
    max_val_windows: int = field(default=64, metadata=MUST_MATCH)
    alpha: float | None = field(default=None, metadata=MUST_MATCH)
    lr: float | None = field(default=None, metadata=MUST_MATCH)
    amp: str = field(default="auto", metadata=MUST_MATCH)
    model_overrides: dict[str, Any] | None = None
    best_metric: str = field(default="env_corr", metadata=MUST_MATCH)
    deterministic: bool = False
    norm_rows_per_recording: int | None = field(default=None, metadata=MUST_MATCH)


# what a checkpoint's `config` holds beyond the options, resolved at the start of a run, and must match on resume
RESOLVED_MUST_MATCH = ("model", "window", "model_overrides", "manifest_sha256")
RESUME_KEYS = tuple(f.name for f in fields(TrainOptions) if f.metadata.get("resume")) + RESOLVED_MUST_MATCH


@dataclass
class TrainConfig:
    """A run's options with everything resolved (profile defaults, window in samples, data fingerprint, number of
    processes); stored in the checkpoint as `config`, and what `--resume` compares."""

    model: str
    profile: str
    epochs: int
    batch_size: int
    seed: int
    lr: float | None
    amp: str
    alpha: float | None
    window: dict[str, Any]
    max_train_windows: int | None
    max_val_windows: int
    best_metric: str
    model_overrides: dict[str, Any] = field(default_factory=dict)
    world_size: int = 1
    manifest_sha256: str = ""
    device: str = "auto"
    workers: int = 0
    deterministic: bool = False
    norm_rows_per_recording: int | None = None


def resolve_amp_dtype(amp: str, device: torch.device) -> torch.dtype | None:
    if amp not in ("auto", "bf16", "fp16", "off"):
        raise EmgaugError(f"unknown --amp '{amp}'; choose auto, bf16, fp16 or off")
    if device.type != "cuda" or amp == "off":
        return None
    if amp == "auto":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16 if amp == "bf16" else torch.float16


def _resolve(o: TrainOptions, prof, window: dict[str, Any], overrides: dict[str, Any], world_size: int,
             manifest_sha256: str) -> TrainConfig:
    """The stored config of a run: the options with the profile's defaults and the run's facts filled in."""
    values = {f.name: getattr(o, f.name) for f in fields(TrainConfig) if hasattr(o, f.name)}
    values.update(epochs=o.epochs or prof.epochs, batch_size=o.batch_size or prof.batch_size, window=window,
                  model_overrides=overrides, world_size=world_size, manifest_sha256=manifest_sha256)
    return TrainConfig(**values)


def _check_resume(ck: dict[str, Any], cfg: TrainConfig, path: Path) -> None:
    old = ck["config"]
    for k in RESUME_KEYS:
        if old.get(k) != asdict(cfg).get(k):
            raise EmgaugError(f"{path}: cannot resume, '{k}' was {old.get(k)!r} and is now {asdict(cfg).get(k)!r}; "
                              "use the original options or a new --out")
    if old["epochs"] != cfg.epochs and cfg.profile != "paper":
        raise EmgaugError(f"{path}: cannot resume with --epochs {cfg.epochs} (was {old['epochs']}): the '{cfg.profile}' "
                          "profile's learning-rate schedule depends on it; use the original --epochs or a new --out")


def _local_checkpoint(last: Path, cfg: TrainConfig, resume: bool) -> dict[str, Any]:
    """What this rank finds at `last`: {"state": "none" | "ok", ...}; raises the one-line error of a run that exists
    without --resume, or of a checkpoint that is unreadable or does not match the options."""
    if not last.exists():
        return {"state": "none"}
    if not resume:
        raise EmgaugError(f"{last}: a run already exists here; pass --resume to continue it or choose another --out")
    ck = read_checkpoint(last)
    _check_resume(ck, cfg, last)
    return {"state": "ok", "ck": ck, "epoch": int(ck["epoch"]), "sha256": file_sha256(last)}


def _agree_on_checkpoint(ctx: D.DistContext, found: dict[str, Any], last: Path, out: Path) -> dict[str, Any] | None:
    """The checkpoint every rank resumes from, or None (a new run) when no rank has one; one line on every rank when
    the ranks disagree (a node without the checkpoint, or with another one): nobody branches alone."""
    views = D.agree(ctx, {k: v for k, v in found.items() if k != "ck"} | {"host": D.host()})
    states = {v["state"] for v in views}
    if states == {"none"}:
        return None
    if states == {"ok"} and len({v["sha256"] for v in views}) == 1:
        return found["ck"]
    have = [f"{r} ({v['host']}, epoch {v['epoch']})" for r, v in enumerate(views) if v["state"] == "ok"]
    lack = [f"{r} ({v['host']})" for r, v in enumerate(views) if v["state"] == "none"]
    if lack:
        raise EmgaugError(f"{last}: cannot resume: rank(s) {', '.join(have)} have this checkpoint but rank(s) "
                          f"{', '.join(lack)} do not; every node must see the same {out} (a shared folder, or copy "
                          "last.pt, best.pt and history.json to each node), or start a new --out")
    raise EmgaugError(f"{last}: cannot resume: the ranks hold different checkpoints under this name "
                      f"({', '.join(have)}); give every node the same copy, or start a new --out")


def train_model(manifest_path: str | Path, model_name: str | None = None, out_dir: str | Path | None = None, *,
                options: TrainOptions | None = None, resume: bool = False, quiet: bool = False,
                on_epoch_end: Callable[[int], None] | None = None, **option_values: Any) -> Path:
    """Train a generator on the manifest's train split; return out_dir/best.pt (last.pt when no validation).

    Options come as one `TrainOptions`, or as its fields by keyword (`epochs=..., window_cfg=...`); `model_name`
    overrides `options.model`. `batch_size` is the global batch (split over DDP ranks). Normalisation statistics
    use every train row, or the first `norm_rows_per_recording` rows of each train recording (for very large
    datasets). `on_epoch_end(epoch)` is called after each epoch's checkpoint is on disk (tests use it to kill a run).
    """
    try:
        o = options if options is not None else TrainOptions(**option_values)
    except TypeError as e:
        raise EmgaugError(f"train_model: {e}; the options are the fields of TrainOptions") from e
    if option_values and options is not None:
        o = dataclasses.replace(o, **option_values)
    if model_name is not None:
        o = dataclasses.replace(o, model=model_name)
    model_name, profile, seed, device = o.model, o.profile, o.seed, o.device
    if model_name not in MODEL_NAMES:
        raise EmgaugError(f"unknown model '{model_name}'; choose one of {', '.join(MODEL_NAMES)}")
    if o.best_metric not in VAL_METRICS:
        raise EmgaugError(f"unknown best metric '{o.best_metric}'; choose one of {', '.join(VAL_METRICS)}")
    prof = get_profile(profile)
    manifest_path = Path(manifest_path)

    ctx = D.init_distributed(device)
    console = Console(quiet=True) if quiet or not ctx.is_main else shared_console
    try:
        # what each rank finds on its own disk (manifest, data, an earlier run) is agreed on before anyone branches
        err = None
        try:
            manifest = load_manifest(manifest_path)
            out = Path(out_dir) if out_dir is not None else Path("runs") / f"{model_name}-{manifest.protocol}"
            last = out / "last.pt"
            source = manifest.data_source
            window_cfg = o.window_cfg or WindowConfig(angle_rate_hz=default_angle_rate(source.sample_rate))
            window = window_cfg.resolve(source.sample_rate)
            overrides = dict(o.model_overrides or {})
            if o.alpha is not None:
                overrides["alpha"] = o.alpha
            cfg = _resolve(o, prof, window.to_dict(), overrides, ctx.world_size, file_sha256(manifest_path))
            found = _local_checkpoint(last, cfg, resume)
        except Exception as e:  # noqa: BLE001 - every rank reaches the agreement, then all fail alike
            err = e
        D.fail_together(ctx, err)
        ck = _agree_on_checkpoint(ctx, found, last, out)
        if ck is not None:
            console.print(f"resuming {last} after epoch {ck['epoch']}"
                          + (f" (written by {ck['config'].get('world_size')} process(es), now {ctx.world_size}: same "
                             "global batch, sampler re-derived)" if ck["config"].get("world_size") != ctx.world_size
                             else ""))
        elif resume:
            console.print(f"no checkpoint in {out}; starting a new run")

        seed_everything(seed + ctx.rank)
        if ctx.device.type == "cuda":
            torch.backends.cudnn.benchmark = not o.deterministic
            torch.backends.cudnn.deterministic = o.deterministic
        label_map = manifest.label_map()
        if ck is not None:
            norm = NormStats.from_dict(ck["norm"])
        else:  # every rank sums its share of the train recordings; the float64 sums are all-reduced
            with console.status("normalisation statistics over the training split"):
                norm = D.distributed_norm_stats(ctx, source, manifest.recordings("train"),
                                                max_rows_per_recording=o.norm_rows_per_recording)
        user_map = manifest.user_map()
        model = build_model(model_name, source.num_channels, source.num_joints, window, len(label_map),
                            num_users=len(user_map), rectified=norm.rectified, **overrides)
        td = train_data(manifest, window, norm, label_map, seed, o.max_train_windows, user_map=user_map,
                        reference=model.subject is not None)
        val = val_set(manifest, window, norm, label_map, o.max_val_windows, user_map=user_map) if ctx.is_main else None
        model.mark_seen_labels(torch.from_numpy(td.labels))
        model.to(ctx.device)
        common = {
            "model_name": model_name, "model_config": overrides, "num_channels": source.num_channels,
            "num_joints": source.num_joints, "num_classes": len(label_map), "window": window.to_dict(),
            "norm": norm.to_dict(), "label_map": label_map, "user_map": user_map,
            "manifest_path": str(manifest_path.resolve()),
            "manifest_sha256": cfg.manifest_sha256, "protocol": manifest.protocol, "data_source": manifest.source,
            "seed": seed, "code_version": code_version(), "command_line": command_line(), "config": asdict(cfg),
            "train_windows": int(len(td.indices)),
            # the conditioning signal: kind, names, report label, zero-row rule, and the frame rate the model sees
            **kinematics_declaration(source), "kinematics_rate_hz": window.sample_rate / window.angle_downsample,
        }
        console.print(f"[bold]{model_name}[/]: {len(td.indices)} train windows of {window.window} samples "
                      f"({window.angle_frames} angle frames), {0 if val is None else len(val)} val windows, "
                      f"{sum(p.numel() for p in model.parameters()):,} parameters, device {ctx.device}")
        if model.closed_form:
            return _fit_closed_form(model, td, val, cfg, ctx, common, out, ck, console)
        return _train_sgd(model, td, val, cfg, ctx, common, out, ck, console, on_epoch_end)
    finally:
        D.shutdown(ctx)


def _streamed_fit(fit: Callable[..., dict[str, float]], td, cfg: TrainConfig, ctx: D.DistContext, console: Console,
                  what: str) -> dict[str, float]:
    """One streamed pass over the training windows into a closed-form `fit(batches[, reduce])`. Under torchrun each
    rank passes its contiguous share and the fit's sufficient statistics are all-reduced, so every rank solves the
    same system."""
    data = td.subset
    reduce = None
    if ctx.distributed:
        if "reduce" not in inspect.signature(fit).parameters:
            raise EmgaugError(f"model '{cfg.model}' cannot combine a closed-form fit over ranks; train it without torchrun")
        share = np.array_split(np.arange(len(td.subset)), ctx.world_size)[ctx.rank]
        data, reduce = Subset(td.subset, share.tolist()), D.torch_reducer(ctx)
    loader = DataLoader(data, batch_size=cfg.batch_size, shuffle=False, num_workers=cfg.workers,
                        worker_init_fn=worker_init)
    with _progress(console) as prog:
        task = prog.add_task(what, total=len(loader))

        def batches():
            for b in loader:
                yield b
                prog.advance(task)
        return fit(batches(), reduce=reduce) if reduce is not None else fit(batches())


def _fit_closed_form(model: EMGGenerator, td, val: ValSet | None, cfg: TrainConfig, ctx: D.DistContext,
                     common: dict[str, Any], out: Path, ck: dict[str, Any] | None, console: Console) -> Path:
    """Closed-form models (ridge): one streamed pass over the training windows (`_streamed_fit`), one checkpoint
    (rank 0 validates and writes)."""
    last, best = out / "last.pt", out / "best.pt"
    if ck is not None:
        return best if best.exists() else last
    t0 = time.time()
    stats = _streamed_fit(model.fit, td, cfg, ctx, console, "fit")
    if ctx.is_main:
        metrics = validate(model, val, model.window.sample_rate, cfg.seed, cfg.batch_size, ctx.device) if val else {}
        history = [{"epoch": 1, "train": stats, "val": metrics, "seconds": time.time() - t0}]
        best_info = {"metric": cfg.best_metric, "value": metrics.get(cfg.best_metric), "epoch": 1}
        payload = {**common, "model_state": model.state_dict(), "epoch": 1, "history": history, "best": best_info,
                   "optim_state": {}, "sched_state": {}, "scaler_state": {}, "rng": [rng_state()]}
        save_checkpoint(last, payload)
        save_checkpoint(best, payload)
        write_json_atomic(out / "history.json", {"model": cfg.model, "config": asdict(cfg), "best": best_info,
                                                 "epochs": history})
        _print_epoch(console, history[-1], cfg.best_metric)
    D.barrier(ctx)
    return best


def _progress(console: Console) -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    TimeRemainingColumn(), console=console, transient=True)


def _print_epoch(console: Console, rec: dict[str, Any], best_metric: str) -> None:
    tr = "  ".join(f"{k} {v:.4g}" for k, v in rec["train"].items())
    va = "  ".join(f"{k} {v:.4g}" for k, v in rec["val"].items() if k != "val_windows")
    mark = " [green]*best[/]" if rec.get("is_best") else ""
    console.print(f"epoch {rec['epoch']:>3}  {tr}  |  val {va or '-'}  ({rec['seconds']:.1f}s){mark}")


def train_step(net: torch.nn.Module, parts: tuple[str, ...], batch: dict[str, torch.Tensor],
               optims: dict[str, torch.optim.Optimizer], scalers: dict[str, torch.amp.GradScaler],
               amp_dtype: torch.dtype | None) -> dict[str, torch.Tensor]:
    """One optimisation step of every part in order (generator, then discriminator); returns detached logs."""
    logs: dict[str, torch.Tensor] = {}
    device_type = batch["emg"].device.type
    for part in parts:
        opt = optims[part]
        opt.zero_grad(set_to_none=True)
        with torch.autocast(device_type, dtype=amp_dtype or torch.bfloat16, enabled=amp_dtype is not None):
            loss, part_logs = net(batch, part)
        scalers[part].scale(loss).backward()
        scalers[part].step(opt)
        scalers[part].update()
        logs.update(part_logs)
    return logs


def _train_sgd(model: EMGGenerator, td, val: ValSet | None, cfg: TrainConfig, ctx: D.DistContext,
               common: dict[str, Any], out: Path, ck: dict[str, Any] | None, console: Console,
               on_epoch_end: Callable[[int], None] | None) -> Path:
    last, best = out / "last.pt", out / "best.pt"
    device = ctx.device
    amp_dtype = resolve_amp_dtype(cfg.amp, device)
    optims = make_optimizers(model, cfg.profile, cfg.epochs, cfg.lr)
    scalers = {p: torch.amp.GradScaler(device.type, enabled=amp_dtype == torch.float16) for p in model.parts}
    start_epoch, history, best_info = 0, [], {"metric": cfg.best_metric, "value": None, "epoch": None}
    if ck is None and model.wants_prefit():  # a closed-form part (the flow's amplitude prior) before the first step
        stats = _streamed_fit(model.prefit, td, cfg, ctx, console, "prefit")
        console.print("prefit: " + "  ".join(f"{k} {v:.4g}" for k, v in stats.items()))
    if ck is not None:
        model.load_state_dict(ck["model_state"])
        for p, (opt, sched) in optims.items():
            opt.load_state_dict(ck["optim_state"][p])
            sched.load_state_dict(ck["sched_state"][p])
            scalers[p].load_state_dict(ck["scaler_state"][p])
        start_epoch, history, best_info = int(ck["epoch"]), list(ck["history"]), dict(ck["best"])
        if len(ck["rng"]) == ctx.world_size:
            set_rng_state(ck["rng"][ctx.rank])  # the same processes: exactly the uninterrupted run
        else:  # another number of processes: per-rank streams cannot carry over; fresh ones from (seed, rank, epoch)
            seed_everything(int(np.random.SeedSequence([cfg.seed, ctx.rank, start_epoch]).generate_state(1)[0]))
    net: torch.nn.Module = model
    if ctx.distributed:
        net = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None,
                                      find_unused_parameters=True)
    per_rank = max(1, cfg.batch_size // ctx.world_size)
    sampler = DistributedSampler(td.subset, num_replicas=ctx.world_size, rank=ctx.rank, shuffle=True, seed=cfg.seed)
    drop_last = len(sampler) >= per_rank  # GAN batch statistics need full batches when there are enough windows

    for epoch in range(start_epoch, cfg.epochs):
        t0 = time.time()
        td.dataset.set_epoch(epoch)
        sampler.set_epoch(epoch)
        loader = DataLoader(td.subset, batch_size=per_rank, sampler=sampler, num_workers=cfg.workers,
                            drop_last=drop_last, pin_memory=device.type == "cuda", worker_init_fn=worker_init,
                            generator=torch.Generator().manual_seed(cfg.seed * 100_003 + epoch))
        sums: dict[str, torch.Tensor] = {}
        steps = 0
        model.train()
        with _progress(console) as prog:
            task = prog.add_task(f"epoch {epoch + 1}/{cfg.epochs}", total=len(loader))
            for batch in loader:
                batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
                logs = train_step(net, model.parts, batch, {p: o for p, (o, _) in optims.items()}, scalers, amp_dtype)
                model.after_step()
                for k, v in logs.items():
                    sums[k] = sums[k] + v if k in sums else v.clone()
                steps += 1
                prog.advance(task)
        for _, sched in optims.values():
            sched.step()
        train_logs = D.mean_across(ctx, {k: float(v) / max(1, steps) for k, v in sums.items()})
        if any(not math.isfinite(v) for v in train_logs.values()):
            kept = (f"the last good checkpoint is {last} (epoch {epoch})" if last.is_file()
                    else "no checkpoint was written")
            raise EmgaugError(f"training diverged in epoch {epoch + 1} (non-finite loss {train_logs}); "
                              f"lower --lr or try --profile fast; {kept}")
        rngs = D.gather_objects(ctx, rng_state())
        if ctx.is_main:
            metrics = validate(model, val, model.window.sample_rate, cfg.seed, per_rank, device, amp_dtype) if val else {}
            rec = {"epoch": epoch + 1, "train": train_logs, "val": metrics,
                   "lr": {p: current_lr(o) for p, (o, _) in optims.items()}, "steps": steps,
                   "seconds": time.time() - t0}
            improved = is_better(cfg.best_metric, metrics.get(cfg.best_metric, float("nan")), best_info["value"])
            rec["is_best"] = bool(improved)
            if improved:
                best_info = {"metric": cfg.best_metric, "value": metrics[cfg.best_metric], "epoch": epoch + 1}
            history.append(rec)
            payload = {**common, "model_state": model.state_dict(), "epoch": epoch + 1, "history": history,
                       "best": best_info,
                       "optim_state": {p: o.state_dict() for p, (o, _) in optims.items()},
                       "sched_state": {p: s.state_dict() for p, (_, s) in optims.items()},
                       "scaler_state": {p: s.state_dict() for p, s in scalers.items()}, "rng": rngs}
            save_checkpoint(last, payload)
            if improved:
                save_checkpoint(best, payload)
            write_json_atomic(out / "history.json", {"model": cfg.model, "config": asdict(cfg), "best": best_info,
                                                     "epochs": history})
            _print_epoch(console, rec, cfg.best_metric)
        D.barrier(ctx)
        if on_epoch_end is not None:
            on_epoch_end(epoch + 1)
    return best if best.exists() else last
