"""Checkpoint + angle sequences -> synthetic EMG set on disk (Parquet, see docs/synthetic_schema.md).

Angle windows come from a split of a manifest (the training split by default; test only with an explicit
leak flag) or from a kinematics-only file. Windows are read from disk in batches, generated, denormalised
and streamed to the writer, so memory does not grow with the size of the set.

Person: a person-conditioned generator renders each window in the style of the window's own user (a training
user's learned style; the null, population style for anyone else), of one training user (`as_user`), or of the
people of a reference split (`reference`, e.g. the calibration split: a style from each person's real clip;
windows of other people are given to the reference people in turn, window k to person k mod R, sorted). The
output's `user` column names the person whose style was used. `oracle_real` writes the REAL EMG of the selected
windows in the same schema: the ceiling of every GR/MR table.

Seeding: each (window, draw) pair gets its own CPU torch.Generator seeded from (seed, sample_index, window key),
the window key being the SHA-256 of its source file name and first row (`RowGenerators`: one generator per row
of the batch), so a window's noise does not depend on the batch it is in, on --batch-size, on the rank or shard
that makes it, or on the other windows selected; draw k of a window does not depend on --samples-per-window.
The noise is drawn on the CPU even for CUDA models, so the random inputs are the same on every device (the
model's arithmetic may still differ slightly between devices, and between batch sizes).

Sharding: the selected windows are cut into batches of --batch-size; shard i of N takes the contiguous batches
[i * nb / N, (i + 1) * nb / N), so every batch holds the same windows whatever N is, and the set is the same rows,
byte for byte, for any number of ranks (torchrun: rank r of W) or shards (`--shard i/N`, composed with the ranks
as shard i * W + r of N * W). `row_id` is the row's position in the whole set. Each shard writes its own parts
into a staging folder beside the output (`SyntheticWriter(shard=...)`); the set becomes readable when rank 0
finalizes after every rank has written (torchrun), or with `emgaug synthesize --finalize OUT` (independent shards).
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import json
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from emgaug.data.manifest import CALIBRATION, KINEMATICS_POOL, SPLITS, load_manifest
from emgaug.data.recording import Recording
from emgaug.data.source import DatasetSource
from emgaug.data.windows import ResolvedWindow, WindowConfig, WindowDataset, default_angle_rate
from emgaug.atomic import json_default
from emgaug.errors import EmgaugError
from emgaug.lockfile import check_unlocked
from emgaug.models.base import RowGenerators
from emgaug.provenance import code_version, command_line, file_sha256
from emgaug.synthesis.clips import calibrate_clips
from emgaug.synthesis.kinematics import open_kinematics
from emgaug.synthesis.parquet_io import (
    SyntheticWriter, finalize_shards, is_synthetic_set, part_path, read_metadata, shard_staging,
)
from emgaug.training import distributed as D
from emgaug.training.checkpoint import kinematics_declaration, load_generator

LEAK_FLAG = "--allow-test-leakage"
ORACLE_NAME = "oracle_real"


@dataclass
class SynthesisSummary:
    """What a run produced, for the summary table."""

    out: Path
    rows_per_stage: dict[str, int]
    source_windows: int
    samples_per_window: int
    seconds: float
    bytes_on_disk: int
    source_split: str
    device: str
    model_name: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return sum(self.rows_per_stage.values())


@dataclass
class AngleSelection:
    """Where the conditioning angles come from, and the provenance to record about it."""

    source: DatasetSource
    recordings: list[Recording]
    manifest_path: Path | None
    source_split: str  # train / val / test / kinematics_file (metadata)
    split_label: str  # per-row `split` column
    provenance: dict[str, Any]


def window_seed(seed: int, sample_index: int, filename: str, start: int) -> int:
    """A 63-bit torch seed for draw `sample_index` of the window starting at row `start` of `filename`, derived from
    (seed, draw, SHA-256 of the window key) through numpy's SeedSequence: the same window gets the same noise in any
    batch, rank or shard, and two windows (of one run or of two runs with the same --seed) get different noise."""
    digest = hashlib.sha256(f"{filename}\0{int(start)}".encode("utf-8", "surrogatepass")).digest()
    words = np.frombuffer(digest[:16], dtype="<u4").tolist()
    state = np.random.SeedSequence([int(seed), int(sample_index), *words]).generate_state(2, np.uint32)
    return (int(state[0]) << 31) ^ int(state[1])


def window_seeds(seed: int, metas: Sequence[dict[str, Any]], samples: int) -> np.ndarray:
    """(B, samples) torch seeds of a batch's windows (`metas`: window_meta dicts with filename and start)."""
    return np.array([[window_seed(seed, k, str(m["filename"]), int(m["start"])) for k in range(samples)]
                     for m in metas], dtype=np.int64).reshape(len(metas), samples)


def parse_shard(text: str | None) -> tuple[int, int] | None:
    """'i/N' -> (i, N) with 0 <= i < N; None for None."""
    if text is None:
        return None
    try:
        i_s, n_s = str(text).split("/")
        i, n = int(i_s), int(n_s)
    except ValueError:
        raise EmgaugError(f"--shard {text!r} is not i/N; write e.g. --shard 0/4 (shards 0 to 3 of 4)") from None
    if n < 1 or not 0 <= i < n:
        raise EmgaugError(f"--shard {text}: need 0 <= i < N, e.g. --shard 0/{max(n, 1)}")
    return i, n


def shard_batches(num_batches: int, shard: int, num_shards: int) -> tuple[int, int]:
    """Contiguous batch range [lo, hi) of shard `shard` of `num_shards` (balanced to within one batch)."""
    return shard * num_batches // num_shards, (shard + 1) * num_batches // num_shards


# provenance that may differ between the shards of one set without changing a row (not part of its set id)
_SHARD_LOCAL_KEYS = ("created_utc", "command_line", "device", "checkpoint_path", "manifest_path", "kinematics_path",
                     "kinematics_files")


def sharded_set_id(meta: dict[str, Any], num_shards: int) -> str:
    """The set id every shard of one sharded run computes alike (no communication): a hash of everything that
    decides the rows (checkpoint and input checksums, selection, window, seed, draws, batch size, code version) and
    of the shard count. Shards of different runs get different ids, so finalize refuses to mix them."""
    stable = {k: v for k, v in meta.items() if k not in _SHARD_LOCAL_KEYS}
    stable["kinematics_sha256"] = sorted((meta.get("kinematics_files") or {}).values())
    stable["num_shards"] = int(num_shards)
    text = json.dumps(stable, sort_keys=True, default=json_default)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _shard_layout(stages_of: Sequence[str], batch_size: int, samples: int, num_shards: int) -> dict[str, Any]:
    """The whole set's layout (rows per stage, part paths and rows per part) as every shard computes it."""
    nb = -(-len(stages_of) // batch_size)
    rows_per_stage: Counter = Counter()
    partitions: dict[str, list[str]] = {}
    rows_per_part: dict[str, int] = {}
    for sh in range(num_shards):
        lo, hi = shard_batches(nb, sh, num_shards)
        counts = Counter(stages_of[lo * batch_size:hi * batch_size])
        for stage in sorted(counts):
            p = part_path(stage, sh)
            partitions.setdefault(stage, []).append(p)
            rows_per_part[p] = counts[stage] * samples
            rows_per_stage[stage] += counts[stage] * samples
    return {"num_rows": len(stages_of) * samples, "rows_per_stage": dict(sorted(rows_per_stage.items())),
            "partitions": dict(sorted(partitions.items())), "num_shards": int(num_shards),
            "rows_per_part": dict(sorted(rows_per_part.items()))}


def evenly_spaced(n: int, k: int | None) -> np.ndarray:
    """Indices of k windows spread evenly over n (all of them when k is None or >= n)."""
    if k is None or k >= n:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, k).round().astype(np.int64))


def _filter(recs: list[Recording], stages: Sequence[str] | None, users: Sequence[str] | None, where: str) -> list[Recording]:
    out = recs
    if stages:
        out = [r for r in out if r.stage in set(stages)]
        if not out:
            have = sorted({r.stage for r in recs})
            raise EmgaugError(f"{where}: no recording has stage {', '.join(stages)}; available: {', '.join(have)}")
    if users:
        kept = [r for r in out if r.user in set(users)]
        if not kept:
            have = sorted({r.user for r in out})
            raise EmgaugError(f"{where}: no recording of user {', '.join(users)} (after stage filters); available: {', '.join(have)}")
        out = kept
    return out


def _test_ranges(manifest_paths: Sequence[Path | None]) -> dict[str, list[tuple[int, int, str]]]:
    """File stem -> (start, stop, manifest) of every test-split entry of the manifests that exist."""
    out: dict[str, list[tuple[int, int, str]]] = {}
    for mp in dict.fromkeys(p.resolve() for p in manifest_paths if p is not None and Path(p).is_file()):
        for e in load_manifest(mp).splits.get("test", []):
            out.setdefault(Path(e["filename"]).stem, []).append((int(e["start"]), int(e["stop"]), str(mp)))
    return out


def _test_overlap(recs: Sequence[Recording], ranges: dict[str, list[tuple[int, int, str]]]) -> list[tuple[str, str]]:
    """(recording key, manifest) for every recording whose rows overlap a test-split range of the same file."""
    hits = []
    for r in recs:
        for start, stop, mp in ranges.get(Path(r.filename).stem, ()):
            if r.start < stop and start < r.stop:
                hits.append((r.key, mp))
                break
    return hits


def _refuse_leak(where: str, hits: list[tuple[str, str]], allow: bool) -> None:
    if hits and not allow:
        raise EmgaugError(f"{where}: {len(hits)} selected recording(s) overlap the test split of {hits[0][1]} "
                          f"(e.g. {hits[0][0]}); conditioning on test angles leaks the test set into GR/MR benchmarks; "
                          f"use training-split angles, or pass {LEAK_FLAG} to accept the leak")


def _check_out(out: Path, overwrite: bool) -> None:
    check_unlocked(out, "synthetic set")  # another run is writing it: refuse now, not after loading everything
    if not out.exists():
        return
    if not overwrite:
        raise EmgaugError(f"{out}: already exists; pass --overwrite to replace it, or choose another --out")
    if not is_synthetic_set(out):
        raise EmgaugError(f"{out}: exists and is not an emgaug synthetic set; refusing to replace it, choose another --out")
    read_metadata(out)


def _select_windows(loaded, *, manifest, split, stages, users, kinematics, allow_test_conditioning) -> AngleSelection:
    """Pick the angle source (manifest split or kinematics file), refusing test-split angles unless allowed."""
    ckpt_manifest = Path(loaded.manifest_path) if loaded.manifest_path else None
    if kinematics is not None:
        C = int(np.asarray(loaded.norm.emg_mean).shape[0])
        J = int(np.asarray(loaded.norm.angle_mean).shape[0])
        src = open_kinematics(kinematics, num_channels=C, num_joints=J, sample_rate=loaded.window.sample_rate,
                              kinematics_kind=loaded.kinematics_kind, zero_rows_are_failures=loaded.zero_rows_are_failures)
        mpath = Path(manifest) if manifest is not None else ckpt_manifest
        recs = _filter(src.recordings, stages, users, str(kinematics))
        hits = _test_overlap(recs, _test_ranges([ckpt_manifest, mpath]))
        _refuse_leak(str(kinematics), hits, allow_test_conditioning)
        files = sorted({Path(r.path.split("#")[0]) for r in recs})
        inputs = {"kinematics_path": str(kinematics), "kinematics_files": {str(f): file_sha256(f) for f in files}}
        return AngleSelection(src, recs, mpath, "kinematics_file", "kinematics", {**inputs, **_overlap_meta(hits)})
    if split not in (*SPLITS, KINEMATICS_POOL, CALIBRATION):
        raise EmgaugError(f"unknown --split '{split}'; use one of {', '.join((*SPLITS, KINEMATICS_POOL, CALIBRATION))}")
    mpath = Path(manifest) if manifest is not None else ckpt_manifest
    if mpath is None:
        raise EmgaugError("the checkpoint records no manifest; pass --manifest (the split manifest used for training)")
    if split == "test" and not allow_test_conditioning:
        raise EmgaugError(f"{mpath}: refusing to condition on test-split angles (synthetic data built on them leaks the "
                          f"test set into GR/MR benchmarks); use --split train, or pass {LEAK_FLAG} to accept the leak")
    m = load_manifest(mpath)
    recs = _filter(m.recordings(split), stages, users, f"{mpath} ({split} split)")
    # another manifest's train split may hold rows the checkpoint's own manifest keeps for testing
    hits = _test_overlap(recs, _test_ranges([ckpt_manifest, mpath]))
    _refuse_leak(f"{mpath} ({split} split)", hits, allow_test_conditioning)
    return AngleSelection(m.data_source, recs, mpath, split, split,
                          {"manifest_sha256": file_sha256(mpath), **_overlap_meta(hits)})


def _overlap_meta(hits: list[tuple[str, str]]) -> dict[str, Any]:
    return {"test_overlap_count": len(hits), "test_overlap": [k for k, _ in hits[:20]]}


@dataclass
class StylePlan:
    """The person each selected window is rendered as: names (the output `user` column), the style tensor the
    model takes (None for models without person conditioning) and where each style came from."""

    users: list[str]
    styles: torch.Tensor | None
    sources: dict[str, int]


REFERENCE_WINDOWS_PER_USER = 512  # a reference clip longer than this is subsampled evenly


def _reference_styles(loaded, manifest_path: Path, split: str, allow_test: bool, dev: str) -> dict[str, torch.Tensor]:
    """One style per person of `split` (a manifest split holding real EMG, e.g. calibration) from their clip."""
    if split == "test" and not allow_test:
        raise EmgaugError(f"{manifest_path}: refusing --reference test (styles from test EMG leak the test set into "
                          f"GR/MR); use a calibration split (`emgaug split --calibration-s`), or pass {LEAK_FLAG}")
    if split == KINEMATICS_POOL:
        raise EmgaugError(f"{manifest_path}: --reference {KINEMATICS_POOL}: that pool's EMG is never read; "
                          "pass a split with real EMG, e.g. calibration")
    m = load_manifest(manifest_path)
    recs = m.recordings(split)
    win = dataclasses.replace(loaded.window, jitter=0)
    ds = WindowDataset(m.data_source, recs, win, norm=loaded.norm, label_map=loaded.label_map)
    users = np.array([r.user for r in ds.window_recordings()])
    out: dict[str, torch.Tensor] = {}
    for u in sorted(set(users.tolist())):
        idx = np.flatnonzero(users == u)
        idx = idx[evenly_spaced(len(idx), REFERENCE_WINDOWS_PER_USER)]
        reads = [ds.read_window(int(i)) for i in idx]
        emg = torch.from_numpy(np.stack([r[0] for r in reads])).to(dev)
        ang = torch.from_numpy(np.stack([r[1] for r in reads])).to(dev)
        amask = torch.from_numpy(np.stack([r[2] for r in reads])).to(dev)
        with torch.inference_mode():
            out[u] = loaded.model.style_from_reference(emg, ang, amask)[0].cpu()
    return out


def _style_plan(loaded, window_users: list[str], *, as_user: str | None, reference: dict[str, torch.Tensor] | None,
                where: str) -> StylePlan:
    """Who each window is rendered as (see the module docstring)."""
    model, user_map = loaded.model, loaded.user_map
    if not model.person_conditioned:
        if as_user is not None or reference:
            raise EmgaugError(f"{where}: model '{loaded.model_name}' is not conditioned on the person; "
                              "--as-user / --reference need a person-conditioned checkpoint")
        return StylePlan(list(window_users), None, {"none": len(window_users)})
    if as_user is not None:
        if reference and as_user in reference:
            style = reference[as_user]
        elif as_user in user_map:
            style = model.style_for_users(torch.tensor([user_map[as_user]]))[0].cpu()
        else:
            have = sorted(user_map) + sorted(reference or {})
            raise EmgaugError(f"{where}: --as-user {as_user} is neither a training user of the checkpoint nor in the "
                              f"reference split; choose one of {', '.join(have[:20])}")
        return StylePlan([as_user] * len(window_users), style[None].expand(len(window_users), -1).clone(),
                         {"as_user": len(window_users)})
    if reference:  # a reference person keeps their own style; anyone else's kinematics go to them in turn
        people = sorted(reference)
        others = iter(range(len(window_users)))
        names = [u if u in reference else people[next(others) % len(people)] for u in window_users]
        return StylePlan(names, torch.stack([reference[v] for v in names]), {"reference": len(names)})
    own = model.style_for_users(torch.tensor([user_map.get(u, -1) for u in window_users], dtype=torch.int64)).cpu()
    known = sum(u in user_map for u in window_users)
    sources = {"own": known, "null": len(window_users) - known}
    return StylePlan(list(window_users), own, {k: v for k, v in sources.items() if v})


def _generate_draws(model, angles: torch.Tensor, labels: torch.Tensor | None, seeds: np.ndarray,
                    style: torch.Tensor | None = None) -> np.ndarray:
    """Normalised EMG (B, samples, C, T): draw k of window i uses the generator seeded by seeds[i, k]."""
    draws = []
    with torch.inference_mode():
        for k in range(seeds.shape[1]):
            g = RowGenerators(seeds[:, k].tolist())
            draws.append(model.generate(angles, labels=labels, generator=g, style=style).float().cpu().numpy())
    return np.stack(draws, 1)


def _batch_rows(metas: list[dict[str, Any]], idx: np.ndarray, valid: np.ndarray, samples: int, split_label: str) -> pd.DataFrame:
    """Label rows of a batch, window-major (window 0 draw 0, window 0 draw 1, ...)."""
    rows = pd.DataFrame([m for m in metas for _ in range(samples)])
    rows["sample_index"] = np.tile(np.arange(samples), len(idx))
    rows["window_index"] = np.repeat(idx, samples)
    rows["split"] = split_label
    rows["valid_samples"] = np.repeat(valid, samples)
    return rows


@dataclass
class OracleSpec:
    """What synthesis needs to know when it writes real EMG instead of a generator's (`oracle_real`)."""

    window: ResolvedWindow
    label_map: dict[str, int]
    manifest_path: str
    model_name: str = ORACLE_NAME


def _kinematics_meta(loaded, source: DatasetSource, window: ResolvedWindow) -> dict[str, Any]:
    """What the set's conditioning signal is (kind, names, report label, zero-row rule) and its frame rate: the
    checkpoint's declaration for a generator, the data source's for the oracle."""
    decl = dict(getattr(loaded, "kinematics", None) or kinematics_declaration(source))
    decl["kinematics_rate_hz"] = float(window.sample_rate / window.angle_downsample)
    return decl


def _oracle_spec(manifest: str | Path | None, checkpoint: Path | None, window_s: float | None) -> OracleSpec:
    """Window geometry from the checkpoint when one is given (so the oracle matches its generator's sets),
    else `window_s` (default 1 s) at the data's rate with the default angle frame rate."""
    if checkpoint is not None:
        loaded = load_generator(checkpoint, "cpu")
        mpath = Path(manifest) if manifest is not None else Path(loaded.manifest_path)
        return OracleSpec(loaded.window, dict(loaded.label_map), str(mpath))
    if manifest is None:
        raise EmgaugError("--oracle-real needs --manifest (whose split's real EMG is written) or a --checkpoint")
    m = load_manifest(manifest)
    fs = m.data_source.sample_rate
    w = 1.0 if window_s is None else window_s
    win = WindowConfig(window_s=w, stride_s=w, angle_rate_hz=default_angle_rate(fs)).resolve(fs)
    return OracleSpec(win, m.label_map(), str(manifest))


def synthesize_set(checkpoint: str | Path | None, out: str | Path, *, manifest: str | Path | None = None,
                   split: str = "train", stages: Sequence[str] | None = None, users: Sequence[str] | None = None,
                   kinematics: str | Path | None = None, samples_per_window: int = 1, seed: int = 0,
                   device: str = "auto", batch_size: int = 64, max_windows: int | None = None,
                   allow_test_conditioning: bool = False, stride_s: float | None = None, overwrite: bool = False,
                   as_user: str | None = None, reference: str | None = None, clip: str | None = None,
                   oracle_real: bool = False, shard: tuple[int, int] | str | None = None,
                   window_s: float | None = None, on_progress: Callable[[int, int], None] | None = None,
                   summary: list[SynthesisSummary] | None = None) -> Path:
    """Generate a synthetic set from `checkpoint` into the Parquet dataset folder `out`; returns `out`.

    `as_user` / `reference` choose the person (module docstring); `oracle_real` writes the real EMG of the
    selected windows instead (no checkpoint needed; `window_s` then sets the window, default 1 s).
    `on_progress(done_rows, total_rows)` is called after each batch (this rank's or shard's rows); a `summary` list
    receives the run summary (rows of the whole set).

    Under torchrun (WORLD_SIZE > 1) every rank makes its shard of the windows, and rank 0 finalizes the set once all
    have written (every rank raises the same one-line error when any rank failed). `shard=(i, N)` (or "i/N") makes
    only shard i of N and leaves the set to `finalize_shards(out)` (`emgaug synthesize --finalize OUT`).
    """
    t0 = time.perf_counter()
    checkpoint = Path(checkpoint) if checkpoint is not None else None
    out = Path(out)
    if samples_per_window < 1:
        raise EmgaugError(f"--samples-per-window must be >= 1, got {samples_per_window}")
    if batch_size < 1:
        raise EmgaugError(f"--batch-size must be >= 1, got {batch_size}")
    if max_windows is not None and max_windows < 1:
        raise EmgaugError(f"--max-windows must be >= 1, got {max_windows}")
    if stride_s is not None and stride_s <= 0:
        raise EmgaugError(f"--stride-s must be > 0 seconds, got {stride_s}")
    if oracle_real and (kinematics is not None or samples_per_window != 1 or as_user or reference or clip):
        raise EmgaugError("--oracle-real writes the real EMG of manifest windows: it takes no --kinematics, "
                          "--as-user, --reference or --clip, and one draw per window")
    if clip and (as_user or reference or kinematics is not None):
        raise EmgaugError("--clip styles each window on its own recording's clip; it does not combine with "
                          "--as-user, --reference or --kinematics")
    if not oracle_real and checkpoint is None:
        raise EmgaugError("pass --checkpoint (a generator written by `emgaug train`), or --oracle-real")
    shard = parse_shard(shard) if isinstance(shard, str) else shard
    outer_i, outer_n = (0, 1) if shard is None else (int(shard[0]), int(shard[1]))
    _check_out(out, overwrite)
    ctx = D.init_distributed(device)
    try:
        # shard i of N under torchrun's W ranks: shard i * W + r of N * W (one order for any split of the work)
        sh, nsh = outer_i * ctx.world_size + ctx.rank, outer_n * ctx.world_size
        args = dict(manifest=manifest, split=split, stages=stages, users=users, kinematics=kinematics,
                    samples_per_window=samples_per_window, seed=seed, batch_size=batch_size, max_windows=max_windows,
                    allow_test_conditioning=allow_test_conditioning, stride_s=stride_s, overwrite=overwrite,
                    as_user=as_user, reference=reference, clip=clip, oracle_real=oracle_real, window_s=window_s,
                    on_progress=on_progress)
        if not ctx.distributed:
            result = _synthesize_shard(checkpoint, out, str(ctx.device), (sh, nsh), **args)
        else:
            result, err = None, None
            try:
                result = _synthesize_shard(checkpoint, out, str(ctx.device), (sh, nsh), **args)
            except Exception as e:  # noqa: BLE001 - every rank must reach the agreement below, then fail alike
                err = e
            errors = D.gather_objects(ctx, None if err is None else _one_line(err))
            if err is not None:
                raise err
            failed = [(r, m) for r, m in enumerate(errors) if m is not None]
            if failed:
                raise EmgaugError(f"rank {failed[0][0]} of {ctx.world_size} failed, so this rank's shard was not "
                                  f"finalized: {failed[0][1]}")
            if outer_n == 1:  # the ranks make the whole set: rank 0 finalizes it once all have written
                msg = None
                if ctx.is_main:
                    try:
                        finalize_shards(out, overwrite=overwrite)
                    except EmgaugError as e:
                        msg = _one_line(e)
                msg = D.broadcast_object(ctx, msg)
                if msg is not None:
                    raise EmgaugError(msg if ctx.is_main else f"rank 0 could not finalize the set: {msg}")
    finally:
        D.shutdown(ctx)
    if summary is not None:
        folder = out if out.is_dir() else shard_staging(out)
        size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else 0
        s = dataclasses.replace(result, seconds=time.perf_counter() - t0, bytes_on_disk=size)
        summary.append(s)
    return out


def _one_line(e: BaseException) -> str:
    text = " ".join(str(e).split()) or type(e).__name__
    return text if isinstance(e, EmgaugError) else f"{type(e).__name__}: {text}"


def _synthesize_shard(checkpoint: Path | None, out: Path, dev: str, shard: tuple[int, int], *, manifest, split,
                      stages, users, kinematics, samples_per_window, seed, batch_size, max_windows,
                      allow_test_conditioning, stride_s, overwrite, as_user, reference, clip, oracle_real, window_s,
                      on_progress) -> SynthesisSummary:
    """Select, plan and write shard `shard` = (i, N) of the set (the whole set when N == 1); its summary."""
    loaded = _oracle_spec(manifest, checkpoint, window_s) if oracle_real else load_generator(checkpoint, dev)
    sel = _select_windows(loaded, manifest=manifest, split=split, stages=stages, users=users, kinematics=kinematics,
                          allow_test_conditioning=allow_test_conditioning)
    ckpt_win: ResolvedWindow = loaded.window
    stride = ckpt_win.window if stride_s is None else max(1, int(round(stride_s * ckpt_win.sample_rate)))
    window = dataclasses.replace(ckpt_win, stride=stride, jitter=0)
    label_map = dict(loaded.label_map or {})
    ds = WindowDataset(sel.source, sel.recordings, window, norm=None, label_map=label_map)
    picked = evenly_spaced(len(ds), max_windows)
    S = samples_per_window
    meta = {
        "model_name": loaded.model_name, "manifest_path": str(sel.manifest_path) if sel.manifest_path is not None else None,
        "source_split": sel.source_split, "allow_test_conditioning": bool(allow_test_conditioning), **sel.provenance,
        "stage_filter": list(stages or []), "user_filter": list(users or []),
        "window": window.to_dict(), "checkpoint_window": ckpt_win.to_dict(), "sample_rate": float(window.sample_rate),
        "seed": int(seed), "samples_per_window": int(S), "batch_size": int(batch_size),
        "max_windows": max_windows, "num_source_windows": int(len(picked)), "device": dev,
        "label_map": label_map, "code_version": code_version(), "command_line": command_line(),
        "created_utc": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        **_kinematics_meta(loaded, sel.source, window),
    }
    if oracle_real:
        C = ds.num_channels
        meta.update(oracle=True, checkpoint_path=str(checkpoint) if checkpoint else None, checkpoint_sha256=None,
                    units="raw EMG and joint-angle units of the data: the REAL EMG of each selected window (oracle)")
        plan = StylePlan([str(m["user"]) for m in map(ds.window_meta, picked)], None, {"real": len(picked)})
    else:
        model = loaded.model.eval()
        C = int(np.asarray(loaded.norm.emg_mean).shape[0])
        if ds.num_joints != model.num_joints:
            raise EmgaugError(f"{sel.source.root}: {ds.num_joints} joint angles but checkpoint {checkpoint} expects "
                              f"{model.num_joints}; use data with the training joint layout")
        refs = None
        if reference is not None:
            if sel.manifest_path is None:
                raise EmgaugError("--reference names a split of a manifest; pass --manifest")
            refs = _reference_styles(loaded, sel.manifest_path, reference, allow_test_conditioning, dev)
        recs = ds.window_recordings()
        plan = _style_plan(loaded, [recs[int(i)].user for i in picked], as_user=as_user, reference=refs,
                           where=str(checkpoint))
        meta.update(checkpoint_path=str(checkpoint), checkpoint_sha256=loaded.sha256, checkpoint_epoch=loaded.epoch,
                    checkpoint_seed=loaded.seed, generator_code_version=loaded.code_version,
                    seeding="torch.Generator (CPU) per window and draw, seeded from (seed, sample_index, SHA-256 of "
                            "the window's filename and start row) via numpy SeedSequence",
                    units="raw (denormalised) EMG and joint-angle units of the training data",
                    norm=loaded.norm.to_dict(), config=loaded.config)
    gains = None
    if clip and not oracle_real:
        if sel.manifest_path is None:
            raise EmgaugError("--clip names a split of a manifest; pass --manifest")
        calib = calibrate_clips(loaded, load_manifest(sel.manifest_path), clip, seed, dev)
        gains, plan = _apply_clips(calib, ds.window_recordings(), picked, plan, C)
    meta.update(person={"as_user": as_user, "reference_split": reference, "clip_split": clip,
                        "style_sources": plan.sources})
    T = window.window
    sh, nsh = shard
    nb = -(-len(picked) // batch_size)
    b_lo, b_hi = shard_batches(nb, sh, nsh)
    recs_all = ds.window_recordings()
    layout = _shard_layout([recs_all[int(i)].stage for i in picked], batch_size, S, nsh)
    writer_args: dict[str, Any] = {}
    if nsh > 1:
        writer_args = dict(shard=(sh, nsh), layout=layout, set_id=sharded_set_id(meta, nsh),
                           first_row=b_lo * batch_size * S)
    lo_w, hi_w = min(b_lo * batch_size, len(picked)), min(b_hi * batch_size, len(picked))
    if nsh > 1 and lo_w >= hi_w:
        return _summary(out, layout, picked, S, sel, dev, loaded, plan, shard, 0)  # more shards than batches
    with SyntheticWriter(out, emg_shape=(C, T), angle_shape=(ds.num_joints, window.angle_frames), metadata=meta,
                         overwrite=overwrite, **writer_args) as writer:
        for lo in range(lo_w, hi_w, batch_size):
            idx = picked[lo:lo + batch_size]
            reads = [ds.read_window(int(i)) for i in idx]
            raw_ang = np.stack([r[1] for r in reads])
            amask = np.stack([r[2] for r in reads])
            valid = np.stack([r[3] for r in reads]).sum(1).astype(np.int32)
            metas = [dict(ds.window_meta(int(i)), user=plan.users[lo + k]) for k, i in enumerate(idx)]
            if oracle_real:
                emg = np.stack([r[0] for r in reads])[:, None]  # (B, 1, C, T), the real windows
            else:
                emg = _generate_batch(loaded, raw_ang, amask, metas, label_map, window_seeds(seed, metas, S), dev,
                                      None if plan.styles is None else plan.styles[lo:lo + len(idx)])
                if gains is not None:  # the amplitude level of each window's recording, from its clip
                    emg *= gains[lo:lo + len(idx), None, :, None]
            emg[np.broadcast_to(np.arange(T) >= valid[:, None, None, None], emg.shape)] = 0.0  # padding stays 0, as in real windows
            writer.write_batch(emg.reshape(-1, C, T), np.repeat(raw_ang, S, axis=0),
                               _batch_rows(metas, idx, valid, S, sel.split_label), angle_mask=np.repeat(amask, S, axis=0))
            if on_progress is not None:
                on_progress(writer.num_rows, (hi_w - lo_w) * S)
    return _summary(out, layout, picked, S, sel, dev, loaded, plan, shard, (hi_w - lo_w) * S)


def _summary(out, layout, picked, S, sel, dev, loaded, plan, shard, shard_rows) -> SynthesisSummary:
    return SynthesisSummary(out=out, rows_per_stage=dict(layout["rows_per_stage"]), source_windows=len(picked),
                            samples_per_window=S, seconds=0.0, bytes_on_disk=0, source_split=sel.source_split,
                            device=dev, model_name=loaded.model_name,
                            extra={"style_sources": plan.sources, "shard": list(shard), "shard_rows": shard_rows})


def _apply_clips(calib, recs: list[Recording], picked: np.ndarray, plan: StylePlan,
                 C: int) -> tuple[np.ndarray, StylePlan]:
    """Per selected window: its clip group's gain (C,) and style (windows without a clip keep gain 1 and their
    planned style)."""
    gains = np.ones((len(picked), C), dtype=np.float32)
    styles = None if plan.styles is None else plan.styles.clone()
    hit = 0
    for k, i in enumerate(picked):
        found = calib.lookup(recs[int(i)])
        if found is None:
            continue
        style, gains[k] = found
        hit += 1
        if styles is not None and style is not None:
            styles[k] = style.to(styles.dtype)
    sources = {"clip": hit, **({"no_clip": len(picked) - hit} if hit < len(picked) else {})}
    return gains, StylePlan(plan.users, styles, sources)


def _generate_batch(loaded, raw_ang: np.ndarray, amask: np.ndarray, metas: list[dict[str, Any]],
                    label_map: dict[str, int], seeds: np.ndarray, dev: str, style: torch.Tensor | None) -> np.ndarray:
    """Raw-unit EMG (B, samples, C, T) of one batch: normalise the angles, generate, denormalise."""
    norm, model = loaded.norm, loaded.model
    a_mean = np.asarray(norm.angle_mean, dtype=np.float32)[:, None]
    a_std = np.asarray(norm.angle_std, dtype=np.float32)[:, None]
    norm_ang = np.where(amask[:, None, :], (raw_ang - a_mean) / a_std, 0.0).astype(np.float32)
    labels = None
    if getattr(model, "conditions_on_labels", False):  # the model refuses stages it never saw (-1)
        labels = torch.tensor([label_map.get(m["stage"], -1) for m in metas], dtype=torch.int64, device=dev)
    draws = _generate_draws(model, torch.from_numpy(norm_ang).to(dev), labels, seeds,
                            None if style is None else style.to(dev))
    return norm.denormalize_emg_ct(draws).astype(np.float32)
