"""Write and read synthetic EMG sets as hive-partitioned Parquet datasets (one folder per stage).

The writer streams row groups as batches arrive (memory stays flat) inside an atomic temporary folder,
so an interrupted run never leaves a dataset under the final name, and holds a lock beside the output so a
second writer is refused instead of silently replacing the first one's set. The folder holds only Parquet
files, so pyarrow, pandas, polars, DuckDB and Spark read it as one table: the provenance is in every part's
schema metadata (`emgaug`), and each part's footer records the part itself and the whole set's layout
(`emgaug.part`: set id, parts, rows per stage, the SHA-256 of the part's data bytes). The readers give back
the same windowed arrays the real-data `WindowDataset` produces, in raw (denormalised) units; sets of the
older layout (a root `_emgaug_metadata.json`) are still read.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import struct
import urllib.parse
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from emgaug import lockfile
from emgaug.atomic import _owner_tag, _umask, atomic_path, json_default
from emgaug.errors import EmgaugError
from emgaug.provenance import file_sha256
from emgaug.synthesis.schema import (
    ARRAY_COLUMNS, COMPRESSION, LABEL_COLUMNS, METADATA_FILE, METADATA_KEY, PART_KEY, PART_NAME, PARTITION_KEY,
    SCHEMA_VERSION, STATISTICS_COLUMNS, arrow_schema,
)

REQUIRED_LABELS = ("stage", "user", "session", "side", "filename", "split", "start", "stop", "sample_index", "window_index")


def partition_dir(stage: str) -> str:
    """Hive partition folder name of a stage; URL-quoted so any stage name is a safe path segment."""
    return f"{PARTITION_KEY}={urllib.parse.quote(str(stage), safe='')}"


def part_name(shard: int) -> str:
    """File name of shard `shard`'s part in each stage folder (`part-0.parquet` for a set written by one writer)."""
    return f"part-{int(shard)}.parquet"


def part_path(stage: str, shard: int) -> str:
    """Path of a part inside the set folder, as the layout records it: `stage=<quoted>/part-<shard>.parquet`."""
    return f"{partition_dir(stage)}/{part_name(shard)}"


def shard_staging(final_dir: str | Path) -> Path:
    """Hidden sibling folder `.NAME.shards` where the shards of a sharded run land before `finalize_shards` renames
    it onto NAME (beside the set, like its lock, so the set folder itself only ever holds finished Parquet)."""
    final = Path(os.path.abspath(final_dir))
    return final.parent / f".{final.name}.shards"


def shard_lock_target(final_dir: str | Path, shard: int) -> Path:
    """The name whose lock (`.NAME.shard-<i>.lock`, emgaug.lockfile) a shard writer holds while it writes."""
    final = Path(os.path.abspath(final_dir))
    return final.parent / f"{final.name}.shard-{int(shard)}"


def is_synthetic_set(path: str | Path) -> bool:
    """True when `path` is a folder written by `emgaug synthesize` (either layout); cheap (one footer), never raises.

    Says what the folder is, not that it is intact: `read_metadata` / `read_synthetic` verify that."""
    path = Path(path)
    try:
        if not path.is_dir():
            return False
        if (path / METADATA_FILE).is_file():
            return True
        parts = part_files(path)
        return bool(parts) and METADATA_KEY in (pq.read_metadata(parts[0][1]).metadata or {})
    except (OSError, ValueError, pa.ArrowException):
        return False


class _HashingFile:
    """Write-only file that hashes what passes through: the SHA-256 of a part's bytes before its footer (every
    data page and page header) is known when the footer is written, so the part can carry its own checksum."""

    def __init__(self, path: Path):
        self._f = open(path, "wb")
        self._h = hashlib.sha256()
        self.nbytes = 0

    def write(self, data) -> int:
        self._h.update(data)
        self.nbytes += len(data)
        return self._f.write(data)

    def hexdigest(self) -> str:
        return self._h.hexdigest()

    def tell(self) -> int:
        return self._f.tell()

    def flush(self) -> None:
        self._f.flush()

    def close(self) -> None:
        self._f.close()

    @property
    def closed(self) -> bool:
        return self._f.closed

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False


def _data_region(f: Path) -> int:
    """Bytes of a Parquet file before its footer (the footer's length sits in the last 8 bytes, before 'PAR1')."""
    with open(f, "rb") as fh:
        size = fh.seek(0, os.SEEK_END)
        if size < 12:
            raise ValueError(f"{size} bytes is too short for a Parquet file")
        fh.seek(size - 8)
        tail = fh.read(8)
    footer = struct.unpack("<i", tail[:4])[0]
    if tail[4:] != b"PAR1" or not 0 < footer <= size - 12:
        raise ValueError("no Parquet footer at the end of the file")
    return size - 8 - footer


def data_sha256(f: str | Path, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a part's bytes before its footer: what its writer recorded as `data_sha256`."""
    f = Path(f)
    left = _data_region(f)
    h = hashlib.sha256()
    with open(f, "rb") as fh:
        while left > 0:
            block = fh.read(min(chunk, left))
            if not block:
                break
            h.update(block)
            left -= len(block)
    return h.hexdigest()


class SyntheticWriter:
    """Context manager that streams synthetic windows into `final_dir` (a Parquet dataset, stage-partitioned).

    Rows are buffered per stage and written as row groups of about `row_group_bytes`; at most
    `max_buffer_bytes` are held at any time (when many stages interleave, the largest buffer is flushed
    early as a smaller row group). The dataset appears under `final_dir` only on a clean exit.
    While the writer is open it holds the output's lock (`emgaug.lockfile`): a second writer of the same
    `final_dir` is refused in one line, and an existing set there is replaced only with `overwrite=True`
    (checked under the lock, so a set another run finished meanwhile is never replaced by surprise).
    Compression and encodings: docs/synthetic_schema.md (measured by perf/bench_parquet_encodings.py).

    Sharded writing (`shard=(i, N)` with the whole set's `layout` and `set_id`, known to every shard in advance):
    the writer writes shard i's parts (`stage=X/part-<i>.parquet`, rows `first_row`, `first_row + 1`, ...) into
    the hidden staging folder `shard_staging(final_dir)`, holding the shard's own lock; each part's footer records
    the whole set's layout, and `finalize_shards` renames the staging folder onto `final_dir` once every part
    of every shard has landed and checks out. A shard's parts appear in the staging folder only when it finishes.
    """

    def __init__(self, final_dir: str | Path, *, emg_shape: tuple[int, int], angle_shape: tuple[int, int],
                 metadata: Mapping[str, Any], row_group_bytes: int = 16 << 20, max_buffer_bytes: int = 64 << 20,
                 compression: str = COMPRESSION, overwrite: bool = False, shard: tuple[int, int] | None = None,
                 layout: Mapping[str, Any] | None = None, first_row: int = 0, set_id: str | None = None):
        self.final_dir = Path(final_dir)
        if shard is not None:
            i, n = int(shard[0]), int(shard[1])
            if not 0 <= i < n:
                raise ValueError(f"shard {i} of {n} is out of range")
            if layout is None or set_id is None:
                raise ValueError("a shard writer needs the whole set's layout and set_id")
            shard = (i, n)
        self.shard = shard
        self.layout = None if layout is None else {**dict(layout), "set_id": set_id}
        self.overwrite = bool(overwrite)
        self.emg_shape = (int(emg_shape[0]), int(emg_shape[1]))
        self.angle_shape = (int(angle_shape[0]), int(angle_shape[1]))
        self.metadata = {**dict(metadata), "schema_version": SCHEMA_VERSION, "emg_shape": list(self.emg_shape),
                         "angle_shape": list(self.angle_shape), "array_layout": "row-major, flattened fixed_size_list"}
        self.schema = arrow_schema(self.emg_shape, self.angle_shape, self.metadata)
        C, T = self.emg_shape
        J, Ta = self.angle_shape
        row_bytes = 4 * (C * T + J * Ta) + Ta + 128
        self.rows_per_group = max(1, row_group_bytes // row_bytes)
        self.max_buffer_rows = max(self.rows_per_group, max_buffer_bytes // row_bytes)
        self.compression = compression
        self._buffers: dict[str, list[pa.Table]] = {}
        self._buffered: dict[str, int] = {}
        self._writers: dict[str, pq.ParquetWriter] = {}
        self._sinks: dict[str, _HashingFile] = {}
        self._rows_per_stage: dict[str, int] = {}
        self._next_row = int(first_row)
        self._written = 0
        self._ctx = None
        self._lock: Path | None = None
        self._landed: list[Path] = []  # shard mode: parts renamed into the staging folder by this writer
        self.tmp_dir: Path | None = None
        self.set_id = set_id or uuid.uuid4().hex

    # context management -------------------------------------------------------------------------
    def __enter__(self) -> SyntheticWriter:
        if self.shard is not None:
            return self._enter_shard()
        self._lock = lockfile.acquire(self.final_dir, "synthetic set")
        try:
            self._check_replaceable()
            self._ctx = atomic_path(self.final_dir, is_dir=True)
            self.tmp_dir = self._ctx.__enter__()
        except BaseException:
            lockfile.release(self._lock)
            raise
        return self

    def _check_replaceable(self) -> None:
        if self.final_dir.exists() or self.final_dir.is_symlink():
            if not self.overwrite:
                raise EmgaugError(f"{self.final_dir}: already exists (another run may have just written it); pass "
                                  "--overwrite to replace it, or choose another --out")
            if not is_synthetic_set(self.final_dir):
                raise EmgaugError(f"{self.final_dir}: exists and is not an emgaug synthetic set; refusing to replace "
                                  "it, choose another --out")

    def _enter_shard(self) -> SyntheticWriter:
        i, n = self.shard
        lockfile.check_unlocked(self.final_dir, "synthetic set")  # a single writer or a finalize is on it
        self._lock = lockfile.acquire(shard_lock_target(self.final_dir, i), f"shard {i} of {n} of the synthetic set")
        try:
            self._check_replaceable()
            staging = shard_staging(self.final_dir)
            staging.mkdir(parents=True, exist_ok=True)
            _prepare_staging(self.final_dir, staging, self.set_id, i)
            self.tmp_dir = staging
        except BaseException:
            lockfile.release(self._lock)
            raise
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if self.shard is not None:
            return self._exit_shard(exc_type)
        assert self._ctx is not None, "SyntheticWriter used outside `with`"
        try:
            if exc_type is None:
                try:
                    self._finish()
                except BaseException as e:
                    self._close_quietly()
                    self._ctx.__exit__(type(e), e, e.__traceback__)  # removes the temporary folder
                    raise
                self._ctx.__exit__(None, None, None)  # renames onto the final name
                return False
            self._close_quietly()
            return bool(self._ctx.__exit__(exc_type, exc, tb))
        finally:
            lockfile.release(self._lock)

    def _exit_shard(self, exc_type) -> bool:
        assert self.tmp_dir is not None, "SyntheticWriter used outside `with`"
        try:
            if exc_type is None:
                try:
                    self._finish()
                    return False
                except BaseException:
                    self._close_quietly()
                    self._remove_shard_files()
                    raise
            self._close_quietly()
            self._remove_shard_files()
            return False
        finally:
            lockfile.release(self._lock)

    def _remove_shard_files(self) -> None:
        """A failed shard leaves nothing of its own in the staging folder (other shards' parts stay)."""
        for f in self._landed:
            f.unlink(missing_ok=True)
        for f in self._sinks_paths():
            f.unlink(missing_ok=True)
        self._landed.clear()

    def _sinks_paths(self) -> list[Path]:
        return [self._temp_part(stage) for stage in self._rows_per_stage]

    def _temp_part(self, stage: str) -> Path:
        """Shard mode: the hidden name a part is written under until the shard finishes."""
        return self.tmp_dir / partition_dir(stage) / f".{part_name(self.shard[0])}.tmp-{_owner_tag()}"

    @property
    def num_rows(self) -> int:
        """Rows written by this writer (in shard mode: this shard's)."""
        return self._written

    @property
    def rows_per_stage(self) -> dict[str, int]:
        return dict(self._rows_per_stage)

    # writing ------------------------------------------------------------------------------------
    def write_batch(self, emg: np.ndarray, angles: np.ndarray, labels: pd.DataFrame | Mapping[str, Any],
                    angle_mask: np.ndarray | None = None) -> None:
        """Append n windows: emg (n, C, T), angles (n, J, Ta), labels with REQUIRED_LABELS (n rows each)."""
        if self.tmp_dir is None:
            raise RuntimeError("SyntheticWriter.write_batch called outside `with SyntheticWriter(...)`")
        emg = np.ascontiguousarray(emg, dtype=np.float32)
        angles = np.ascontiguousarray(angles, dtype=np.float32)
        n = emg.shape[0]
        if emg.shape[1:] != self.emg_shape or angles.shape != (n, *self.angle_shape):
            raise ValueError(f"batch shapes emg {emg.shape} / angles {angles.shape} do not match the set's "
                             f"(n, {self.emg_shape}) / (n, {self.angle_shape})")
        if angle_mask is None:
            angle_mask = np.ones((n, self.angle_shape[1]), dtype=bool)
        angle_mask = np.ascontiguousarray(angle_mask, dtype=bool)
        cols = self._label_columns(labels, n)
        cols["emg"] = pa.FixedSizeListArray.from_arrays(pa.array(emg.reshape(-1)), self.emg_shape[0] * self.emg_shape[1])
        cols["angles"] = pa.FixedSizeListArray.from_arrays(pa.array(angles.reshape(-1)),
                                                           self.angle_shape[0] * self.angle_shape[1])
        cols["angle_mask"] = pa.FixedSizeListArray.from_arrays(pa.array(angle_mask.reshape(-1)), self.angle_shape[1])
        stages = np.asarray(cols.pop("stage"), dtype=object)
        table = pa.Table.from_pydict({k: cols[k] for k in (*LABEL_COLUMNS, *ARRAY_COLUMNS)}, schema=self.schema)
        for stage in dict.fromkeys(stages.tolist()):  # first-seen order
            rows = np.flatnonzero(stages == stage)
            part = table if len(rows) == n else table.take(pa.array(rows))
            self._buffers.setdefault(stage, []).append(part)
            self._buffered[stage] = self._buffered.get(stage, 0) + len(rows)
            self._rows_per_stage[stage] = self._rows_per_stage.get(stage, 0) + len(rows)
            if self._buffered[stage] >= self.rows_per_group:
                self._flush(stage, full_groups_only=True)
        while sum(self._buffered.values()) > self.max_buffer_rows:
            self._flush(max(self._buffered, key=self._buffered.get), full_groups_only=False)

    def _label_columns(self, labels: pd.DataFrame | Mapping[str, Any], n: int) -> dict[str, Any]:
        get = labels.__getitem__
        have = set(labels.columns) if isinstance(labels, pd.DataFrame) else set(labels)
        missing = [c for c in REQUIRED_LABELS if c not in have]
        if missing:
            raise ValueError(f"labels lack column(s) {missing}; need {REQUIRED_LABELS}")
        cols: dict[str, Any] = {}
        for c in ("stage", "user", "session", "side", "filename", "split"):
            cols[c] = [str(v) for v in np.asarray(get(c), dtype=object)]
        for c in ("start", "stop", "window_index"):
            cols[c] = np.asarray(get(c), dtype=np.int64)
        cols["sample_index"] = np.asarray(get("sample_index"), dtype=np.int32)
        sr = float(self.metadata.get("sample_rate", np.nan))
        cols["sample_rate"] = np.asarray(get("sample_rate"), dtype=np.float64) if "sample_rate" in have else np.full(n, sr)
        cols["valid_samples"] = (np.asarray(get("valid_samples"), dtype=np.int32) if "valid_samples" in have
                                 else np.full(n, self.emg_shape[1], dtype=np.int32))
        cols["start_s"] = cols["start"] / cols["sample_rate"]
        cols["stop_s"] = cols["stop"] / cols["sample_rate"]
        for c in ("model_name", "checkpoint_sha256"):
            cols[c] = ([str(v) for v in np.asarray(get(c), dtype=object)] if c in have
                       else [str(self.metadata.get(c, ""))] * n)
        cols["row_id"] = np.arange(self._next_row, self._next_row + n, dtype=np.int64)
        self._next_row += n
        self._written += n
        for c, v in cols.items():
            if len(v) != n:
                raise ValueError(f"labels column {c!r} has {len(v)} rows, batch has {n}")
        return cols

    def _flush(self, stage: str, full_groups_only: bool) -> None:
        pieces = self._buffers.get(stage)
        if not pieces:
            return
        table = pa.concat_tables(pieces)
        keep = table.num_rows % self.rows_per_group if full_groups_only else 0
        out = table.slice(0, table.num_rows - keep)
        if out.num_rows:
            self._writer(stage).write_table(out, row_group_size=self.rows_per_group)
        self._buffers[stage] = [table.slice(table.num_rows - keep)] if keep else []
        self._buffered[stage] = keep

    def _writer(self, stage: str) -> pq.ParquetWriter:
        w = self._writers.get(stage)
        if w is None:
            folder = self.tmp_dir / partition_dir(stage)
            folder.mkdir(parents=True, exist_ok=True)
            sink = self._sinks[stage] = _HashingFile(folder / PART_NAME if self.shard is None else self._temp_part(stage))
            w = self._writers[stage] = pq.ParquetWriter(
                sink, self.schema, compression=self.compression, use_dictionary=list(
                    c for c in LABEL_COLUMNS if self.schema.field(c).type == pa.string()),
                # float arrays PLAIN (no BYTE_STREAM_SPLIT, which Spark 3.x's vectorised reader refuses)
                write_statistics=list(STATISTICS_COLUMNS),  # row-group min/max: filters on user/filename skip groups
                write_page_checksum=True,  # CRC32 per page, verified on read: a flipped byte is an error, not data
            )
        return w

    def _finish(self) -> None:
        if not self._written:
            raise EmgaugError(f"{self.final_dir}: no windows were written; a synthetic set needs at least one (check the "
                              "selected split, stages and users)")
        for stage in list(self._buffers):
            self._flush(stage, full_groups_only=False)
        shard = 0 if self.shard is None else self.shard[0]
        mine = {s: part_path(s, shard) for s in sorted(self._rows_per_stage)}
        if self.shard is None:
            layout = {"set_id": self.set_id, "num_rows": self._written,
                      "rows_per_stage": dict(sorted(self._rows_per_stage.items())),
                      "partitions": {s: [p] for s, p in mine.items()}, "num_shards": 1,
                      "rows_per_part": {mine[s]: n for s, n in sorted(self._rows_per_stage.items())}}
        else:
            layout = self.layout
            want = {p: int(n) for p, n in layout["rows_per_part"].items() if p.endswith(f"/{part_name(shard)}")}
            got = {mine[s]: n for s, n in self._rows_per_stage.items()}
            if got != want:
                raise EmgaugError(f"{self.final_dir}: shard {shard} of {self.shard[1]} wrote rows {got} but the set's "
                                  f"layout expects {want}; the shards do not agree on the selection, re-run them")
        partitions = mine
        provenance = hashlib.sha256(self.schema.metadata[METADATA_KEY]).hexdigest()
        for stage, w in self._writers.items():
            sink = self._sinks[stage]
            # every byte before the footer has passed through the sink: its hash covers all data pages, so a
            # replaced, swapped or edited part no longer matches (refused on read); the footer records the layout
            # of the whole set, so a removed, added or renamed part is refused too
            record = {**layout, "stage": stage, "part": partitions[stage], "part_rows": self._rows_per_stage[stage],
                      "shard": shard, "data_sha256": sink.hexdigest(), "data_bytes": sink.nbytes,
                      "provenance_sha256": provenance}
            w.add_key_value_metadata({PART_KEY: json.dumps(record, sort_keys=True, default=json_default)})
            w.close()
            sink.close()
            written = self.tmp_dir / partitions[stage] if self.shard is None else self._temp_part(stage)
            if _data_region(written) != record["data_bytes"]:  # pyarrow wrote after the hash
                raise RuntimeError(f"{partitions[stage]}: the Parquet writer wrote data after its checksum was taken")
        self._writers.clear()
        self._sinks.clear()
        if self.shard is not None:  # the shard's parts land together, under their final names
            for stage in sorted(self._rows_per_stage):
                dest = self.tmp_dir / partitions[stage]
                os.replace(self._temp_part(stage), dest)
                self._landed.append(dest)

    def _close_quietly(self) -> None:
        for w in self._writers.values():
            try:
                w.close()
            except Exception:  # noqa: BLE001 - the temporary folder is removed next anyway
                pass
        for sink in self._sinks.values():
            try:
                sink.close()
            except Exception:  # noqa: BLE001
                pass
        self._writers.clear()
        self._sinks.clear()
        self._buffers.clear()


def _prepare_staging(final: Path, staging: Path, set_id: str, shard: int) -> None:
    """Before shard `shard` writes: refuse a staging folder holding parts of another run (another selection, seed,
    checkpoint or shard count: its set id differs), then remove this shard's earlier parts and temporaries (a shard
    re-run after a failure rewrites the same rows; its lock says no other writer of this shard is running)."""
    for _, f in part_files(staging):
        rec = _part_record(f, _footer(f)[0])
        if rec is None or rec.get("set_id") != set_id:
            raise EmgaugError(f"{staging}: holds {f.relative_to(staging).as_posix()} of another sharded run (set "
                              f"{None if rec is None else rec.get('set_id')}, this run {set_id}); finalize that run "
                              f"(`emgaug synthesize --finalize {final}`) or delete {staging}, then start the shards again")
    for folder in staging.glob(f"{PARTITION_KEY}=*"):
        for f in folder.iterdir():
            if f.name == part_name(shard) or f.name.startswith(f".{part_name(shard)}.tmp-"):
                f.unlink(missing_ok=True)


def finalize_shards(final_dir: str | Path, overwrite: bool = False) -> dict[str, Any]:
    """Make a sharded set readable: check that every part of every shard has landed in `shard_staging(final_dir)`
    and checks out against the layout its footers record (set id, parts, rows, data SHA-256), then rename the
    staging folder onto `final_dir` (an existing set there only with `overwrite`). Holds the set's lock, and refuses
    while a shard's writer still runs. Returns the set's metadata. One-line EmgaugError otherwise; nothing is lost."""
    final = Path(os.path.abspath(final_dir))
    staging = shard_staging(final)
    with lockfile.exclusive(final, "synthetic set"), contextlib.ExitStack() as shard_locks:
        # a shard writer still running is refused; the locks of killed writers are taken over (and removed at the end)
        for lock in sorted(final.parent.glob(f".{glob_escape(final.name)}.shard-*.lock")):
            shard_locks.enter_context(lockfile.exclusive(lock.parent / lock.name[1:-len(".lock")], "synthetic set shard"))
        if not staging.is_dir():
            raise EmgaugError(f"{final}: no shards to finalize ({staging} not found); run `emgaug synthesize ... "
                              "--shard i/N` for every shard first")
        for folder in staging.glob(f"{PARTITION_KEY}=*"):  # temporaries of shard writers that were killed
            for f in folder.iterdir():
                if f.name.startswith(".") and f.is_file():
                    f.unlink(missing_ok=True)
        parts = part_files(staging)
        if not parts:
            raise EmgaugError(f"{final}: no shard has landed yet ({staging} holds no part files); run `emgaug "
                              "synthesize ... --shard i/N` for every shard first")
        meta = read_metadata(staging)
        on_disk = {f.relative_to(staging).as_posix() for _, f in parts}
        missing = sorted(_listed_parts(meta) - on_disk)
        if missing:
            shards = sorted({int(m.group(1)) for p in missing if (m := _PART_INDEX.match(p.rsplit("/", 1)[-1]))})
            n = meta.get("num_shards")
            raise EmgaugError(f"{final}: shard(s) {', '.join(map(str, shards))} of {n} have not landed (missing "
                              f"{missing[0]}{' and more' if len(missing) > 1 else ''}); run them with --shard "
                              f"{shards[0] if shards else '?'}/{n} (same options), then finalize again")
        _verify_part_records(staging, meta, parts)
        if final.exists() or final.is_symlink():
            if not overwrite:
                raise EmgaugError(f"{final}: already exists; pass --overwrite to replace it with the finalized shards, or "
                                  f"move it (the shards stay in {staging})")
            if not is_synthetic_set(final):
                raise EmgaugError(f"{final}: exists and is not an emgaug synthetic set; refusing to replace it (the "
                                  f"shards stay in {staging})")
        os.chmod(staging, 0o777 & ~_umask())
        if final.exists() or final.is_symlink():
            old = final.with_name(f".{final.name}.old-{_owner_tag()}-{os.urandom(3).hex()}")
            os.replace(final, old)
            os.replace(staging, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(staging, final)
    return read_metadata(final)


def glob_escape(name: str) -> str:
    """`name` with glob metacharacters escaped (a set folder may be called `run[1]`)."""
    return re.sub(r"([*?\[])", r"[\1]", name)


# reading ------------------------------------------------------------------------------------------
@dataclass
class SyntheticSet:
    """A synthetic set in memory: raw-unit arrays in generation order plus one label row per window."""

    emg: np.ndarray  # float32 (N, C, T)
    angles: np.ndarray  # float32 (N, J, Ta)
    angle_mask: np.ndarray  # bool (N, Ta)
    labels: pd.DataFrame
    metadata: dict[str, Any]
    path: Path | None = None  # the dataset folder it was read from

    def __len__(self) -> int:
        return len(self.emg)

    @property
    def emg_mask(self) -> np.ndarray:
        """bool (N, T): false on samples that were padding in the conditioning window."""
        T = self.emg.shape[2]
        return np.arange(T)[None, :] < self.labels["valid_samples"].to_numpy()[:, None]


# the set-level keys a part's footer record contributes to `read_metadata` (sets written before sharding lack the
# last two, and record one part path per stage instead of a list)
LAYOUT_KEYS = ("set_id", "num_rows", "rows_per_stage", "partitions", "num_shards", "rows_per_part")


def _footer(f: Path) -> tuple[dict[bytes, bytes], int]:
    """(key-value metadata, row count) from a part's Parquet footer, as a one-line error when unreadable."""
    try:
        md = pq.read_metadata(f)
        return dict(md.metadata or {}), int(md.num_rows)
    except (OSError, ValueError, pa.ArrowException) as e:
        raise EmgaugError(f"{f}: unreadable part file ({_one_line(e)}); the synthetic set is corrupt or truncated, "
                          "re-run `emgaug synthesize`") from e


def _part_record(f: Path, kv: Mapping[bytes, bytes]) -> dict[str, Any] | None:
    """The writer's record of this part (`emgaug.part` in the footer), None for parts of the older layout."""
    raw = kv.get(PART_KEY)
    if raw is None:
        return None
    try:
        rec = json.loads(raw)
        if not isinstance(rec, dict) or not isinstance(rec.get("partitions"), dict):
            raise ValueError("not a JSON object with partitions")
    except ValueError as e:
        raise EmgaugError(f"{f}: unreadable emgaug part record ({_one_line(e)}); the part was edited, re-run "
                          "`emgaug synthesize`") from e
    return rec


def read_metadata(path: str | Path) -> dict[str, Any]:
    """Provenance, shapes and layout of a synthetic set: from the part files' metadata (the provenance in every
    part's schema metadata, the layout in each part's footer record), or from the root `_emgaug_metadata.json` of
    sets written before the Parquet-only layout."""
    path = Path(path)
    if not path.is_dir():
        raise EmgaugError(f"{path}: synthetic set not found; pass the folder written by `emgaug synthesize`")
    meta_file = path / METADATA_FILE
    source: Path = meta_file
    try:
        if meta_file.is_file():
            meta = json.loads(meta_file.read_bytes())
        else:
            parts = part_files(path)
            if not parts:
                raise EmgaugError(f"{path}: not an emgaug synthetic set (no stage=*/*.parquet part files); re-run "
                                  "`emgaug synthesize`")
            # the first part with a footer record (normally the first part: a part rewritten without one must not
            # turn the whole set into the unchecked older layout)
            source, kv, rec = parts[0][1], _footer(parts[0][1])[0], None
            for _, f in parts:
                f_kv = kv if f == parts[0][1] else _footer(f)[0]
                rec = _part_record(f, f_kv)
                if rec is not None:
                    source, kv = f, f_kv
                    break
            raw = kv.get(METADATA_KEY)
            if raw is None:
                raise EmgaugError(f"{source}: Parquet file carries no emgaug metadata; it was not written by emgaug")
            meta = json.loads(raw)
            if isinstance(meta, dict) and rec is not None:
                meta.update({k: rec.get(k) for k in LAYOUT_KEYS})
    except (OSError, ValueError, pa.ArrowException) as e:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise EmgaugError(f"{source}: unreadable synthetic-set metadata ({_one_line(e)}); re-run `emgaug synthesize`") from e
    try:
        if not isinstance(meta, dict):
            raise TypeError("not a JSON object")
        version = int(meta.get("schema_version", 0))
        if min(d for shape in _shapes(meta) for d in shape) <= 0:
            raise ValueError("array dimensions must be positive")
    except (KeyError, TypeError, ValueError) as e:
        raise EmgaugError(f"{source}: synthetic-set metadata lacks valid emg_shape / angle_shape / schema_version "
                          f"({_one_line(e)}); re-run `emgaug synthesize`") from e
    if version > SCHEMA_VERSION:
        raise EmgaugError(f"{path}: written with schema version {meta['schema_version']} (this emgaug reads "
                          f"<= {SCHEMA_VERSION}); upgrade emgaug")
    return meta


def _one_line(e: BaseException) -> str:
    text = " ".join(str(e).split()) or type(e).__name__
    return text if len(text) <= 200 else text[:197] + "..."


def _check_finite(f: Path, first_row: int, emg: np.ndarray, ang: np.ndarray) -> None:
    """Refuse NaN/inf in a synthetic set, naming the part file, the channel and the rows (windows) of that part."""
    for what, arr in (("EMG", emg), ("angles", ang)):
        bad = ~np.isfinite(arr).reshape(arr.shape[0], arr.shape[1], -1).all(axis=2)  # (windows, channels)
        if bad.any():
            rows, chans = np.nonzero(bad)
            ch = int(chans[0])
            hit = np.flatnonzero(bad[:, ch])
            raise EmgaugError(f"{f}: {what} channel {ch} holds NaN/inf in rows {first_row + int(hit[0])}:"
                              f"{first_row + int(hit[-1]) + 1} of this part; the synthetic set is corrupt, re-run "
                              "`emgaug synthesize`")


def _part_batches(f: Path, batch_windows: int, shapes: tuple[tuple[int, int], tuple[int, int]], with_mask: bool):
    """(first row, emg, angles, labels source batch, angle_mask or None) per batch of one part file, checked:
    page checksums verified, required columns present, shapes consistent, values finite; one-line errors."""
    (C, T), (J, Ta) = shapes
    first = 0
    try:
        pf = pq.ParquetFile(f, page_checksum_verification=True)
        need = ("emg", "angles", "angle_mask", "row_id", "valid_samples", *REQUIRED_LABELS[1:])
        missing = [c for c in need if c not in pf.schema_arrow.names]
        if missing:
            raise EmgaugError(f"{f}: part file lacks column(s) {', '.join(missing)}; it was not written by `emgaug "
                              "synthesize` (or was edited), re-run it")
        for batch in pf.iter_batches(batch_size=batch_windows):
            emg = _fixed_list_to_numpy(batch.column("emg"), (C, T), np.float32)
            ang = _fixed_list_to_numpy(batch.column("angles"), (J, Ta), np.float32)
            mask = _fixed_list_to_numpy(batch.column("angle_mask"), (Ta,), bool) if with_mask else None
            if not (len(emg) == len(ang) == batch.num_rows and (mask is None or len(mask) == batch.num_rows)):
                raise ValueError(f"array columns hold {len(emg)} / {len(ang)} windows for {batch.num_rows} rows")
            _check_finite(f, first, emg, ang)
            yield first, emg, ang, batch, mask
            first += batch.num_rows
    except EmgaugError:
        raise
    except (OSError, ValueError, TypeError, KeyError, IndexError, pa.ArrowException) as e:
        raise EmgaugError(f"{f}: unreadable or inconsistent part file ({_one_line(e)}); the synthetic set is corrupt or "
                          "truncated, re-run `emgaug synthesize`") from e


_PART_INDEX = re.compile(r"^part-(\d+)\.parquet$")


def _part_order(f: Path) -> tuple[str, int, str]:
    m = _PART_INDEX.match(f.name)
    return f.parent.name, int(m.group(1)) if m else -1, f.name


def part_files(path: str | Path) -> list[tuple[str, Path]]:
    """(stage, file) for every part file, in sorted partition order (shards in numeric order within a stage)."""
    out = []
    for f in sorted(Path(path).glob(f"{PARTITION_KEY}=*/*.parquet"), key=_part_order):
        out.append((urllib.parse.unquote(f.parent.name.split("=", 1)[1]), f))
    return out


def _listed_parts(meta: Mapping[str, Any]) -> set[str]:
    """Part paths the layout lists: `partitions` maps a stage to a list of paths (to one path in sets written before
    sharding); anything else lists nothing, so every part on disk is then 'unexpected'."""
    parts = meta.get("partitions")
    out: set[str] = set()
    if isinstance(parts, dict):
        for v in parts.values():
            if isinstance(v, str):
                out.add(v)
            elif isinstance(v, list):
                out.update(str(x) for x in v)
    return out


def _verify_part_records(path: Path, meta: dict[str, Any], parts: list[tuple[str, Path]]) -> None:
    """Parquet-only layout: every part's footer record must belong to this set (same set id and layout), name the
    file it is in (a renamed or swapped part relabels its windows), hold its recorded rows and provenance, and its
    data bytes must hash to the SHA-256 its writer recorded; the parts on disk must be those the layout lists, with
    the rows per stage it records (from the footers: a part emptied and re-recorded is refused even when streamed)."""
    on_disk = {f.relative_to(path).as_posix(): f for _, f in parts}
    listed = _listed_parts(meta)
    missing, extra = sorted(listed - set(on_disk)), sorted(set(on_disk) - listed)
    if missing or extra:
        what = f"missing {', '.join(missing[:3])}" if missing else f"unexpected {', '.join(extra[:3])}"
        raise EmgaugError(f"{path}: part files do not match the set's metadata ({what}); the set was edited or is "
                          "incomplete, re-run `emgaug synthesize`")
    counts: dict[str, int] = {}
    for stage, f in parts:
        rel = f.relative_to(path).as_posix()
        kv, rows = _footer(f)
        counts[stage] = counts.get(stage, 0) + rows
        rec = _part_record(f, kv)
        if rec is None:
            raise EmgaugError(f"{f}: part file carries no emgaug part record; it was rewritten or does not belong to "
                              "this set, re-run `emgaug synthesize`")
        if rec.get("set_id") != meta.get("set_id"):
            raise EmgaugError(f"{f}: part of another synthetic set (set id {rec.get('set_id')}, this set "
                              f"{meta.get('set_id')}); parts of different sets were mixed, re-run `emgaug synthesize`")
        if any(rec.get(k) != meta.get(k) for k in LAYOUT_KEYS):
            raise EmgaugError(f"{f}: its record of the set's parts and rows differs from the other parts'; the set was "
                              "edited, re-run `emgaug synthesize`")
        if rec.get("part") != rel:
            raise EmgaugError(f"{f}: holds the part written as {rec.get('part')}; parts were renamed or swapped (stage "
                              "labels come from the folder names), re-run `emgaug synthesize`")
        prov = kv.get(METADATA_KEY)
        if prov is None or hashlib.sha256(prov).hexdigest() != rec.get("provenance_sha256"):
            raise EmgaugError(f"{f}: emgaug provenance differs from the one recorded when the set was written; the part "
                              "was edited, re-run `emgaug synthesize`")
        if rows != rec.get("part_rows"):
            raise EmgaugError(f"{f}: holds {rows} rows, its writer wrote {rec.get('part_rows')}; the part was edited, "
                              "re-run `emgaug synthesize`")
        per_part = meta.get("rows_per_part")
        if per_part is not None and (not isinstance(per_part, dict) or per_part.get(rel) != rows):
            raise EmgaugError(f"{f}: holds {rows} rows, the set's layout gives this part "
                              f"{per_part.get(rel) if isinstance(per_part, dict) else per_part!r}; the set was edited, "
                              "re-run `emgaug synthesize`")
        try:
            ok = data_sha256(f) == rec.get("data_sha256")
        except (OSError, ValueError) as e:
            raise EmgaugError(f"{f}: unreadable part file ({_one_line(e)}); re-run `emgaug synthesize`") from e
        if not ok:
            raise EmgaugError(f"{f}: SHA-256 differs from the one recorded when the set was written; the part was "
                              "changed or swapped, re-run `emgaug synthesize`")
    _check_counts(path, meta, counts)


def verified_parts(path: str | Path, meta: dict[str, Any]) -> list[tuple[str, Path]]:
    """The set's part files, checked against what its writer recorded: the same files (none missing, none added)
    with the same SHA-256 of their data (older layout: the SHA-256 of each file listed in the root JSON; sets
    written before checksums: the partitions listed, when listed)."""
    path = Path(path)
    parts = part_files(path)
    on_disk = {f.relative_to(path).as_posix(): f for _, f in parts}
    if "set_id" in meta and not (path / METADATA_FILE).is_file():
        _verify_part_records(path, meta, parts)
        return parts
    sums = meta.get("part_sha256")
    listed = sums if isinstance(sums, dict) else meta.get("partitions")
    if isinstance(listed, dict):
        names = set(listed) if listed is sums else {str(v) for v in listed.values()}
        missing, extra = sorted(names - set(on_disk)), sorted(set(on_disk) - names)
        if missing or extra:
            what = f"missing {', '.join(missing[:3])}" if missing else f"unexpected {', '.join(extra[:3])}"
            raise EmgaugError(f"{path}: part files do not match the set's metadata ({what}); the set was edited or is "
                              "incomplete, re-run `emgaug synthesize`")
    if isinstance(sums, dict):
        for rel, f in on_disk.items():
            try:
                ok = file_sha256(f) == str(sums[rel])
            except OSError as e:
                raise EmgaugError(f"{f}: unreadable part file ({_one_line(e)}); re-run `emgaug synthesize`") from e
            if not ok:
                raise EmgaugError(f"{f}: SHA-256 differs from the one recorded when the set was written; the part was "
                                  "changed or swapped, re-run `emgaug synthesize`")
    elif not parts and int(meta.get("num_rows", 0) or 0) > 0:
        raise EmgaugError(f"{path}: metadata says {meta.get('num_rows')} rows but there are no stage=*/ part files; "
                          "re-run `emgaug synthesize`")
    return parts


def _check_counts(path: Path, meta: dict[str, Any], counts: dict[str, int]) -> None:
    """Rows per stage must be what the writer recorded (a part emptied or cut short is refused)."""
    want = meta.get("rows_per_stage")
    if isinstance(want, dict):
        try:
            want = {str(k): int(v) for k, v in want.items()}
        except (TypeError, ValueError):
            want = None
        if want is None or want != {k: v for k, v in counts.items() if v or k in want}:
            raise EmgaugError(f"{path}: rows per stage {dict(sorted(counts.items()))} differ from the set's metadata "
                              f"({meta.get('rows_per_stage')}); the set was edited, re-run `emgaug synthesize`")


def _fixed_list_to_numpy(col: pa.ChunkedArray | pa.Array, shape: tuple[int, ...], dtype) -> np.ndarray:
    if isinstance(col, pa.ChunkedArray):
        chunks = [c.flatten().to_numpy(zero_copy_only=False) for c in col.chunks]
        flat = np.concatenate(chunks) if chunks else np.zeros(0, dtype=dtype)
    else:
        flat = col.flatten().to_numpy(zero_copy_only=False)
    return flat.astype(dtype, copy=False).reshape(-1, *shape)


def _labels_frame(batch: pa.Table | pa.RecordBatch, stage: str) -> pd.DataFrame:
    df = batch.select([c for c in LABEL_COLUMNS if c in batch.schema.names]).to_pandas()
    df.insert(0, "stage", stage)
    return df


def _shapes(meta: dict[str, Any]) -> tuple[tuple[int, int], tuple[int, int]]:
    C, T = meta["emg_shape"]
    J, Ta = meta["angle_shape"]
    return (int(C), int(T)), (int(J), int(Ta))


def iter_synthetic(path: str | Path, batch_windows: int = 256, with_mask: bool = False
                   ) -> Iterator[tuple[np.ndarray, ...]]:
    """Stream (emg, angles, labels_df[, angle_mask]) chunks of at most `batch_windows` windows.

    Order: partition by partition (sorted stage folder names), write order within each; `labels_df.row_id`
    gives the global generation order. Memory holds one chunk (plus one Parquet row group) at a time.
    """
    meta = read_metadata(path)
    for stage, f in verified_parts(path, meta):
        for _, emg, ang, batch, mask in _part_batches(f, batch_windows, _shapes(meta), with_mask):
            labels = _labels_frame(batch, stage)
            if with_mask:
                yield emg, ang, labels, mask
            else:
                yield emg, ang, labels


def read_synthetic(path: str | Path, batch_windows: int = 512) -> SyntheticSet:
    """Load a whole synthetic set in generation order (row_id); arrays are preallocated once, filled by chunks."""
    meta = read_metadata(path)
    (C, T), (J, Ta) = _shapes(meta)
    parts = verified_parts(path, meta)
    row_ids = []
    for _, f in parts:
        try:
            row_ids.append(pq.read_table(f, columns=["row_id"], page_checksum_verification=True)
                           .column("row_id").to_numpy())
        except (OSError, ValueError, KeyError, pa.ArrowException) as e:
            raise EmgaugError(f"{f}: unreadable part file ({_one_line(e)}); the synthetic set is corrupt or truncated, "
                              "re-run `emgaug synthesize`") from e
    counts: dict[str, int] = {}
    for (stage, _), ids in zip(parts, row_ids):
        counts[stage] = counts.get(stage, 0) + len(ids)
    _check_counts(Path(path), meta, counts)
    all_ids = np.concatenate(row_ids) if row_ids else np.zeros(0, dtype=np.int64)
    if len(np.unique(all_ids)) != len(all_ids):
        raise EmgaugError(f"{path}: row_id values repeat across the part files; the set was edited or merged, re-run "
                          "`emgaug synthesize`")
    N = len(all_ids)
    rank = np.empty(N, dtype=np.int64)
    rank[np.argsort(all_ids, kind="stable")] = np.arange(N)
    emg = np.empty((N, C, T), dtype=np.float32)
    ang = np.empty((N, J, Ta), dtype=np.float32)
    mask = np.empty((N, Ta), dtype=bool)
    frames, pos = [], 0
    for stage, f in parts:
        for _, e_b, a_b, batch, m_b in _part_batches(f, batch_windows, ((C, T), (J, Ta)), True):
            if pos + batch.num_rows > N:
                raise EmgaugError(f"{f}: holds more rows than its row_id column said; the set is corrupt, re-run "
                                  "`emgaug synthesize`")
            dest = rank[pos:pos + batch.num_rows]
            emg[dest], ang[dest], mask[dest] = e_b, a_b, m_b
            df = _labels_frame(batch, stage)
            df.index = dest
            frames.append(df)
            pos += batch.num_rows
    if pos != N:
        raise EmgaugError(f"{path}: part files hold {pos} rows but their row_id columns {N}; the set is corrupt, re-run "
                          "`emgaug synthesize`")
    if frames:
        labels = pd.concat(frames).sort_index().reset_index(drop=True)
    else:
        labels = pd.DataFrame({c: [] for c in ("stage", *LABEL_COLUMNS)})
    return SyntheticSet(emg=emg, angles=ang, angle_mask=mask, labels=labels, metadata=meta, path=Path(path))


def set_fingerprint(path: str | Path, meta: dict[str, Any], parts: list[tuple[str, Path]]) -> str:
    """SHA-256 naming a set's content: of every part's path and data SHA-256 as its writer recorded it (checked by
    `verified_parts`), or of the whole file for parts without a record (older layouts). Cheap after verification."""
    h = hashlib.sha256()
    for _, f in parts:
        rec = _part_record(f, _footer(f)[0])
        digest = rec.get("data_sha256") if rec is not None else file_sha256(f)
        h.update(f"{f.relative_to(path).as_posix()}\0{digest}\n".encode())
    return h.hexdigest()


def read_synthetic_labels(path: str | Path) -> tuple[pd.DataFrame, dict[str, Any], list[tuple[str, Path]], str]:
    """(labels in row_id order, metadata, verified parts, content fingerprint) of a set, reading only the label
    columns: what a reader needs to choose rows before streaming their arrays (`stream_synthetic_rows`)."""
    path = Path(path)
    meta = read_metadata(path)
    parts = verified_parts(path, meta)
    frames, counts = [], {}
    for stage, f in parts:
        try:
            pf = pq.ParquetFile(f, page_checksum_verification=True)
            cols = [c for c in LABEL_COLUMNS if c in pf.schema_arrow.names]
            t = pf.read(columns=cols)
        except (OSError, ValueError, KeyError, pa.ArrowException) as e:
            raise EmgaugError(f"{f}: unreadable part file ({_one_line(e)}); the synthetic set is corrupt or truncated, "
                              "re-run `emgaug synthesize`") from e
        frames.append(_labels_frame(t, stage))
        counts[stage] = counts.get(stage, 0) + t.num_rows
    _check_counts(path, meta, counts)
    labels = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame({c: [] for c in ("stage", *LABEL_COLUMNS)})
    labels = labels.sort_values("row_id", kind="stable").reset_index(drop=True)
    if labels["row_id"].duplicated().any():
        raise EmgaugError(f"{path}: row_id values repeat across the part files; the set was edited or merged, re-run "
                          "`emgaug synthesize`")
    return labels, meta, parts, set_fingerprint(path, meta, parts)


def stream_synthetic_rows(meta: dict[str, Any], parts: list[tuple[str, Path]], row_ids: np.ndarray,
                          batch_windows: int = 256) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(positions into `row_ids`, EMG windows) for the wanted rows, one part batch at a time, in file order: one pass
    over the parts (already verified by `read_synthetic_labels`; page CRCs still checked), holding one batch."""
    want = np.asarray(row_ids, dtype=np.int64)
    order = np.argsort(want, kind="stable")
    sorted_ids = want[order]
    for _, f in parts:
        for _, emg, _, batch, _ in _part_batches(f, batch_windows, _shapes(meta), False):
            ids = batch.column("row_id").to_numpy()
            k = np.searchsorted(sorted_ids, ids)
            k_ok = np.minimum(k, max(len(sorted_ids) - 1, 0))
            hit = (k < len(sorted_ids)) & (sorted_ids[k_ok] == ids) if len(sorted_ids) else np.zeros(len(ids), bool)
            if hit.any():
                yield order[k_ok[hit]], emg[hit]
