"""Split manifests: JSON files that say which recordings (and which row ranges of them) form the train,
val and test splits of one protocol. Every consumer reads splits through `Manifest`, never by itself."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from emgaug.atomic import write_json_atomic
from emgaug.data.recording import Recording
from emgaug.data.source import DatasetSource, open_source
from emgaug.errors import EmgaugError

SPLITS = ("train", "val", "test")
# cross-user-stage only: angles of TRAINING users performing the held-out stages. Their EMG is never used (it is
# neither train nor test); their joint angles are the legitimate kinematics-only pool for synthesizing the unseen
# gestures (the paper's "unknown gesture generation"), since no held-out user's data is in it.
KINEMATICS_POOL = "kinematics_pool"
# cross-subject / cross-user-stage with --calibration-s: the first seconds of each TEST user's recordings (per
# stage), disjoint from test with the gap rule. RR may train on it (the fair comparison for a new person) and
# person-conditioned generators take a new person's style from it (`emgaug synthesize --reference calibration`).
CALIBRATION = "calibration"
MANIFEST_VERSION = 1


@dataclass
class Manifest:
    """A split of one dataset under one protocol; entries are row ranges of the source's recordings."""

    protocol: str
    seed: int
    source: dict[str, Any]
    splits: dict[str, list[dict[str, Any]]]
    params: dict[str, Any] = field(default_factory=dict)
    counts: dict[str, Any] = field(default_factory=dict)
    code_version: str = ""
    path: Path | None = None
    # filename -> {"size", "sha256_sampled"}: what each file was when the split was made (see `file_fingerprint`)
    fingerprints: dict[str, dict[str, Any]] = field(default_factory=dict)

    def dataset_root(self) -> Path:
        """The dataset folder, wherever the command runs: `root_from_manifest` (written by `save`, relative to the
        manifest's folder) first; then the recorded `root` if absolute, else relative to the working directory, the
        manifest's folder or one of its parents (manifests written before roots were stored relative to them)."""
        root = Path(str(self.source["root"]))
        rel = self.source.get("root_from_manifest")
        tried: list[Path] = []
        if isinstance(rel, str) and self.path is not None:
            cand = self.path.parent / rel
            if cand.is_dir():
                return cand
            tried.append(cand)
        if root.is_absolute() or self.path is None:
            return root
        if root.is_dir():
            return root
        tried.append(Path.cwd() / root)
        for folder in self.path.resolve().parents:
            cand = folder / root
            if cand.is_dir():
                return cand
        raise EmgaugError(f"{self.path}: dataset folder {root} not found (looked in {', '.join(map(str, tried))} and "
                          f"above the manifest's folder); restore the data or re-run `emgaug split`")

    @cached_property
    def data_source(self) -> DatasetSource:
        options = {k: v for k, v in self.source.items() if k not in ("kind", "root", "root_from_manifest")}
        if options.get("sample_rate_source", "argument") != "argument":
            options.pop("sample_rate", None)  # the reader derives it again, as it did when the split was made
        return open_source(self.dataset_root(), self.source.get("kind", "auto"), **options)

    @cached_property
    def _checked_against_data(self) -> dict[str, Recording]:
        """Every entry of every split must describe its recording as the data does (file, user, session, stage) and
        stay within its rows: the leakage check ran on the entries' labels, so this makes it hold for the data."""
        by_key = self.data_source.by_key()
        self._check_fingerprints(by_key)
        for split, entries in self.splits.items():
            for e in entries:
                rec = by_key.get(e["key"])
                if rec is None:
                    raise EmgaugError(f"{self.path}: recording {e['key']} ({split}) is not in {self.data_source.root}; "
                                      "the data changed since the split was made, re-run `emgaug split`")
                for f in ("filename", "user", "session", "stage"):
                    if str(e[f]) != str(getattr(rec, f)):
                        raise EmgaugError(f"{self.path}: entry {e['key']} in '{split}' says {f} {e[f]!r} but the data "
                                          f"says {getattr(rec, f)!r}; the manifest was edited, re-run `emgaug split`")
                if not rec.start <= int(e["start"]) < int(e["stop"]) <= rec.stop:
                    raise EmgaugError(f"{self.path}: entry {e['key']} in '{split}' covers rows {e['start']}:{e['stop']} "
                                      f"outside the recording's {rec.start}:{rec.stop}; re-run `emgaug split`")
        return by_key

    def _check_fingerprints(self, by_key: dict[str, Recording]) -> None:
        """Each file must still be the one the split was made from (manifests written before fingerprints: skipped)."""
        if not self.fingerprints:
            return
        paths = {r.filename: physical_path(r) for r in by_key.values()}
        for name, want in self.fingerprints.items():
            path = paths.get(name)
            if path is None:
                continue  # not in the data any more: the entry check names it
            try:
                got = file_fingerprint(path)
            except OSError as e:
                raise EmgaugError(f"{path}: cannot read the file to check it against {self.path} ({e.strerror or e})") from e
            if not isinstance(want, dict) or any(got[k] != want.get(k) for k in got):
                raise EmgaugError(f"{path}: the file changed since the split was made (size or content differs from "
                                  f"the fingerprint in {self.path}); restore it, or re-run `emgaug split`")

    def compute_fingerprints(self) -> dict[str, dict[str, Any]]:
        """Fingerprints of every file the manifest's entries name (read from the data source)."""
        by_key = self.data_source.by_key()
        names = {e["filename"] for entries in self.splits.values() for e in entries}
        paths = {r.filename: physical_path(r) for r in by_key.values() if r.filename in names}
        return {name: file_fingerprint(paths[name]) for name in sorted(paths)}

    def recordings(self, split: str) -> list[Recording]:
        """The split's recordings, each narrowed to the row range the manifest assigns."""
        if split not in self.splits:
            raise EmgaugError(f"{self.path}: manifest has no '{split}' split (has {', '.join(self.splits)})")
        by_key = self._checked_against_data
        return [dataclasses.replace(by_key[e["key"]], start=int(e["start"]), stop=int(e["stop"]))
                for e in self.splits[split]]

    def label_map(self) -> dict[str, int]:
        """Stage name -> class index over every split (sorted, so it is stable across runs)."""
        stages = sorted({e["stage"] for entries in self.splits.values() for e in entries})
        return {s: i for i, s in enumerate(stages)}

    def user_map(self, split: str = "train") -> dict[str, int]:
        """User name -> index over the users of `split` (sorted): the people a generator learns a style for."""
        return {u: i for i, u in enumerate(sorted({str(e["user"]) for e in self.splits.get(split, [])}))}

    def to_dict(self) -> dict[str, Any]:
        d = {"manifest_version": MANIFEST_VERSION, "protocol": self.protocol, "seed": self.seed, "source": self.source,
             "params": self.params, "code_version": self.code_version, "counts": self.counts, "splits": self.splits}
        if self.fingerprints:
            d["fingerprints"] = self.fingerprints
        return d

    def save(self, path: str | Path) -> Path:
        """Write the manifest; the dataset root is also recorded relative to the manifest's folder, so the manifest
        keeps working from any working directory (and when manifest and data move together)."""
        try:
            root = self.dataset_root()  # where the data is now (relative to the old manifest path when re-saved)
        except EmgaugError:
            root = Path(str(self.source["root"]))
        self.path = Path(path)
        try:
            rel = os.path.relpath(root.resolve(), self.path.resolve().parent)
        except (ValueError, OSError):  # another drive (Windows) or an unresolvable path: keep the plain root only
            rel = None
        if rel is not None:
            self.source = {**self.source, "root_from_manifest": Path(rel).as_posix()}
        if not self.fingerprints:
            try:
                self.fingerprints = self.compute_fingerprints()
            except (EmgaugError, OSError):  # data not reachable from here: the manifest is saved without them
                self.fingerprints = {}
        return write_json_atomic(path, self.to_dict())


FINGERPRINT_BLOCK = 1 << 16


def physical_path(rec: Recording) -> Path:
    """The file a recording lives in (some readers add '#segment' to the path)."""
    return Path(str(rec.path).split("#")[0])


def file_fingerprint(path: Path) -> dict[str, Any]:
    """Size plus SHA-256 of the first, middle and last 64 KiB: cheap on a 431 GiB dataset, and it tells a swapped,
    replaced, truncated or extended file (a change inside unsampled bytes needs the format's own checksums)."""
    size = path.stat().st_size
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for offset in sorted({0, max(0, size // 2 - FINGERPRINT_BLOCK // 2), max(0, size - FINGERPRINT_BLOCK)}):
            f.seek(offset)
            h.update(f.read(FINGERPRINT_BLOCK))
    return {"size": int(size), "sha256_sampled": h.hexdigest()}


def is_manifest_file(path: str | Path) -> bool:
    """True when `path` is a regular file holding a manifest `emgaug split` wrote (what `split --out` may replace)."""
    path = Path(path)
    if not path.is_file() or path.is_symlink() or path.stat().st_size > 1 << 30:
        return False
    try:
        d = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return False
    return isinstance(d, dict) and "manifest_version" in d and all(k in d for k in ("protocol", "seed", "source", "splits"))


ENTRY_FIELDS = ("key", "filename", "user", "session", "stage", "start", "stop")


def _check_structure(d: Any, path: Path) -> None:
    """The JSON must have the shape `emgaug split` writes (one-line errors, so nothing downstream trips on it)."""
    def bad(what: str) -> EmgaugError:
        return EmgaugError(f"{path}: {what}; the manifest is damaged or hand-edited, re-create it with `emgaug split`")

    if not isinstance(d, dict):
        raise bad("not a JSON object")
    for k in ("protocol", "seed", "source", "splits"):
        if k not in d:
            raise EmgaugError(f"{path}: manifest lacks '{k}'; re-create it with `emgaug split`")
    if not isinstance(d["protocol"], str):
        raise bad("'protocol' is not a string")
    if isinstance(d["seed"], bool) or not isinstance(d["seed"], int):
        raise bad("'seed' is not an integer")
    if not isinstance(d["source"], dict) or not isinstance(d["source"].get("root"), str) or not d["source"]["root"]:
        raise bad("'source' lacks a dataset 'root' path")
    if not isinstance(d.get("params", {}), dict) or not isinstance(d.get("counts", {}), dict):
        raise bad("'params' or 'counts' is not an object")
    if not isinstance(d["splits"], dict) or not d["splits"]:
        raise bad("'splits' is not an object of splits")
    for split, entries in d["splits"].items():
        if not isinstance(entries, list):
            raise bad(f"split '{split}' is not a list of entries")
        for i, e in enumerate(entries):
            if not isinstance(e, dict):
                raise bad(f"entry {i} of '{split}' is not an object")
            missing = [f for f in ENTRY_FIELDS if f not in e]
            if missing:
                raise bad(f"entry {i} of '{split}' lacks {', '.join(missing)}")
            for f in ("start", "stop"):
                if isinstance(e[f], bool) or not isinstance(e[f], int) or e[f] < 0:
                    raise bad(f"entry {i} of '{split}' has {f} {e[f]!r}, not a row number")
            for f in ("key", "filename", "user", "session", "stage"):
                if not isinstance(e[f], (str, int)) or isinstance(e[f], bool):
                    raise bad(f"entry {i} of '{split}' has {f} {e[f]!r}, not a name")
    fps = d.get("fingerprints", {})
    if not isinstance(fps, dict) or not all(isinstance(v, dict) for v in fps.values()):
        raise bad("'fingerprints' is not an object of file fingerprints")
    gap = d.get("params", {}).get("gap_rows", 0)
    if isinstance(gap, bool) or not isinstance(gap, int) or gap < 0:
        raise bad(f"params.gap_rows {gap!r} is not a row count")


def load_manifest(path: str | Path, verify: bool = True) -> Manifest:
    """Read a manifest written by `emgaug split` and re-assert its leakage checks (one-line errors)."""
    path = Path(path)
    if not path.is_file():
        raise EmgaugError(f"{path}: manifest not found; create one with `emgaug split`")
    try:
        d = json.loads(path.read_bytes())
    except (ValueError, RecursionError) as e:  # JSONDecodeError, UnicodeDecodeError, absurd nesting
        raise EmgaugError(f"{path}: not valid JSON ({e}); re-create it with `emgaug split`") from e
    _check_structure(d, path)
    m = Manifest(protocol=d["protocol"], seed=int(d["seed"]), source=d["source"], splits=d["splits"],
                 params=d.get("params", {}), counts=d.get("counts", {}), code_version=d.get("code_version", ""), path=path,
                 fingerprints=d.get("fingerprints") or {})
    if verify:
        from emgaug.data.splits import PROTOCOLS, verify_manifest  # splits builds on this module

        if m.protocol not in PROTOCOLS:
            raise EmgaugError(f"{path}: unknown protocol {m.protocol!r} (known: {', '.join(PROTOCOLS)}); re-create the "
                              "manifest with `emgaug split`")
        verify_manifest(m)
    return m
