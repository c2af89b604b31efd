"""Split manifests: JSON files that say which recordings (and which row ranges of them) form the train,
val and test splits of one protocol. Every consumer reads splits through `Manifest`, never by itself."""

from __future__ import annotations

import dataclasses
import json
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

    @cached_property
    def data_source(self) -> DatasetSource:
        root = Path(self.source["root"])
        if not root.is_absolute() and self.path is not None and not root.is_dir():
            cand = (self.path.parent / root)
            root = cand if cand.is_dir() else root
        options = {k: v for k, v in self.source.items() if k not in ("kind", "root")}
        if options.get("sample_rate_source", "argument") != "argument":
            options.pop("sample_rate", None)  # the reader derives it again, as it did when the split was made
        return open_source(root, self.source.get("kind", "auto"), **options)

    def recordings(self, split: str) -> list[Recording]:
        """The split's recordings, each narrowed to the row range the manifest assigns."""
        if split not in self.splits:
            raise EmgaugError(f"{self.path}: manifest has no '{split}' split (has {', '.join(self.splits)})")
        by_key = self.data_source.by_key()
        out = []
        for e in self.splits[split]:
            rec = by_key.get(e["key"])
            if rec is None:
                raise EmgaugError(f"{self.path}: recording {e['key']} is not in {self.data_source.root}; "
                                  "the data changed since the split was made, re-run `emgaug split`")
            out.append(dataclasses.replace(rec, start=int(e["start"]), stop=int(e["stop"])))
        return out

    def label_map(self) -> dict[str, int]:
        """Stage name -> class index over every split (sorted, so it is stable across runs)."""
        stages = sorted({e["stage"] for entries in self.splits.values() for e in entries})
        return {s: i for i, s in enumerate(stages)}

    def user_map(self, split: str = "train") -> dict[str, int]:
        """User name -> index over the users of `split` (sorted): the people a generator learns a style for."""
        return {u: i for i, u in enumerate(sorted({str(e["user"]) for e in self.splits.get(split, [])}))}

    def to_dict(self) -> dict[str, Any]:
        return {"manifest_version": MANIFEST_VERSION, "protocol": self.protocol, "seed": self.seed, "source": self.source,
                "params": self.params, "code_version": self.code_version, "counts": self.counts, "splits": self.splits}

    def save(self, path: str | Path) -> Path:
        self.path = Path(path)
        return write_json_atomic(path, self.to_dict())


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


def load_manifest(path: str | Path, verify: bool = True) -> Manifest:
    """Read a manifest written by `emgaug split` and re-assert its leakage checks (one-line errors)."""
    path = Path(path)
    if not path.is_file():
        raise EmgaugError(f"{path}: manifest not found; create one with `emgaug split`")
    try:
        d = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise EmgaugError(f"{path}: not valid JSON ({e}); re-create it with `emgaug split`") from e
    for k in ("protocol", "seed", "source", "splits"):
        if k not in d:
            raise EmgaugError(f"{path}: manifest lacks '{k}'; re-create it with `emgaug split`")
    m = Manifest(protocol=d["protocol"], seed=int(d["seed"]), source=d["source"], splits=d["splits"],
                 params=d.get("params", {}), counts=d.get("counts", {}), code_version=d.get("code_version", ""), path=path)
    if verify:
        from emgaug.data.splits import verify_manifest  # splits builds on this module

        verify_manifest(m)
    return m
