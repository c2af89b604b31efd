"""Split protocols (sample-wise, cross-subject, cross-session, cross user+stage) and the leakage check.

Each protocol assigns row ranges of the source's recordings to train / val / test and returns a `Manifest`.
`verify_manifest` asserts, from the entries themselves, that the protocol's disjointness holds.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from emgaug.data.manifest import CALIBRATION, KINEMATICS_POOL, SPLITS, Manifest
from emgaug.data.recording import Recording
from emgaug.data.source import DatasetSource
from emgaug.errors import EmgaugError
from emgaug.provenance import code_version

PROTOCOLS = ("sample-wise", "cross-subject", "cross-session", "cross-user-stage")
TRUE_STRINGS = {"true", "1", "yes", "t", "y"}
# --emg-fraction with --clip-s: the first seconds of EMG of each kinematics-pool unit (session or recording), a short
# real reference clip; RR-scarce may train on it, generators may take per-recording style from it
CLIP = "clip"
EMG_SELECT_RULES = ("early", "interleaved", "random")
EMG_UNITS = ("auto", "session", "recording")
_SELECT_STREAM = 0x5CA2CE  # the EMG selection's own random stream: the protocol's split is the same with or without it


def _truthy(v: Any) -> bool:
    return str(v).strip().lower() in TRUE_STRINGS


def _entry(rec: Recording, start: int, stop: int) -> dict[str, Any]:
    return {"key": rec.key, "filename": rec.filename, "user": rec.user, "session": rec.session, "stage": rec.stage,
            "side": rec.side, "start": int(start), "stop": int(stop),
            "start_s": round((start - rec.start) / rec.sample_rate, 6), "stop_s": round((stop - rec.start) / rec.sample_rate, 6)}


def _whole(recs: Iterable[Recording]) -> list[dict[str, Any]]:
    return [_entry(r, r.start, r.stop) for r in recs]


def _pick(items: list, frac: float, rng: np.random.Generator, minimum: int = 1) -> set:
    """A seeded subset of `items`: round(frac * n) of them, at least `minimum`, never all."""
    items = sorted(items)
    k = min(len(items) - 1, max(minimum, int(round(frac * len(items)))))
    return set(rng.permutation(np.array(items, dtype=object))[:k].tolist()) if k > 0 else set()


def _val_from_train(train: list[Recording], frac: float, rng: np.random.Generator) -> tuple[list[Recording], list[Recording]]:
    """Move a seeded `frac` of whole training recordings to val (used where the protocol has no natural val group)."""
    keys = _pick([r.key for r in train], frac, rng)
    return [r for r in train if r.key not in keys], [r for r in train if r.key in keys]


def sample_wise(recs: list[Recording], rng: np.random.Generator, val_frac: float, test_frac: float,
                block_rows: int, gap_rows: int) -> dict[str, list[dict]]:
    """Cut each recording into contiguous blocks, assign blocks to splits at random (seeded), and leave a gap
    of `gap_rows` between neighbouring blocks of different splits so overlapping windows never straddle them."""
    blocks = []  # (rec index, start, stop)
    for i, r in enumerate(recs):
        nb = max(1, r.num_rows // max(1, block_rows))
        edges = np.linspace(r.start, r.stop, nb + 1).astype(np.int64)
        blocks += [(i, int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]
    if len(blocks) < 3:
        raise EmgaugError("sample-wise split needs at least 3 blocks of data; use a smaller --block-s")
    order = rng.permutation(len(blocks))
    n_test = max(1, int(round(test_frac * len(blocks))))
    n_val = max(1, int(round(val_frac * len(blocks))))
    assign = np.empty(len(blocks), dtype=object)
    assign[order[:n_test]] = "test"
    assign[order[n_test:n_test + n_val]] = "val"
    assign[order[n_test + n_val:]] = "train"
    by_rec: dict[int, list[tuple[str, int, int]]] = defaultdict(list)
    for (i, a, b), s in zip(blocks, assign):
        by_rec[i].append((s, a, b))
    out: dict[str, list[dict]] = {s: [] for s in SPLITS}
    half = gap_rows // 2
    for i, parts in by_rec.items():
        runs: list[list] = []  # merge neighbouring blocks of the same split
        for s, a, b in parts:
            if runs and runs[-1][0] == s:
                runs[-1][2] = b
            else:
                runs.append([s, a, b])
        for k, (s, a, b) in enumerate(runs):
            if k > 0:
                a += gap_rows - half
            if k < len(runs) - 1:
                b -= half
            if b > a:
                out[s].append(_entry(recs[i], a, b))
    return out


def cross_subject(recs: list[Recording], rng: np.random.Generator, val_frac: float, test_frac: float,
                  use_columns: bool) -> tuple[dict[str, list[dict]], dict[str, Any]]:
    """Users disjoint across train / val / test. emg2pose's held_out_user column picks test users when present."""
    users = sorted({r.user for r in recs})
    info: dict[str, Any] = {}
    if use_columns and _has_column(recs, "held_out_user"):
        test_users = {r.user for r in recs if _truthy(r.extra["held_out_user"])}
        stage_held = _has_column(recs, "held_out_stage")
        pool = [r for r in recs if not (stage_held and _truthy(r.extra["held_out_stage"]))]
        info["rule"] = "test users from metadata held_out_user; held-out stages excluded"
    else:
        if len(users) < 3:
            raise EmgaugError(f"cross-subject needs at least 3 users for train/val/test, the data has {len(users)}")
        test_users = _pick(users, test_frac, rng)
        pool = recs
        info["rule"] = f"seeded: {len(test_users)} of {len(users)} users held out for test"
    rest = sorted({r.user for r in pool} - test_users)
    if len(rest) >= 2:
        val_users = _pick(rest, val_frac, rng)
        train = [r for r in pool if r.user not in test_users | val_users]
        val = [r for r in pool if r.user in val_users]
    else:
        train, val = _val_from_train([r for r in pool if r.user not in test_users], val_frac, rng)
    test = [r for r in pool if r.user in test_users]
    return {"train": _whole(train), "val": _whole(val), "test": _whole(test)}, info


def cross_session(recs: list[Recording], rng: np.random.Generator, val_frac: float) -> tuple[dict[str, list[dict]], dict[str, Any]]:
    """Within each user, sessions disjoint: the last session is test, the one before val (when a user has 3 or
    more), earlier sessions train. Users with a single session cannot be split and are left out (counted)."""
    by_user: dict[str, list[str]] = defaultdict(list)
    for r in recs:
        if r.session not in by_user[r.user]:
            by_user[r.user].append(r.session)
    roles: dict[tuple[str, str], str] = {}
    skipped = []
    for u, sessions in by_user.items():
        sessions = sorted(sessions)
        if len(sessions) < 2:
            skipped.append(u)
            continue
        roles[(u, sessions[-1])] = "test"
        if len(sessions) >= 3:
            roles[(u, sessions[-2])] = "val"
        for s in sessions[:-2 if len(sessions) >= 3 else -1]:
            roles[(u, s)] = "train"
    if not roles:
        raise EmgaugError("cross-session needs users with at least 2 sessions; every user here has one")
    split: dict[str, list[Recording]] = {s: [] for s in SPLITS}
    for r in recs:
        role = roles.get((r.user, r.session))
        if role:
            split[role].append(r)
    if not split["val"]:
        split["train"], split["val"] = _val_from_train(split["train"], val_frac, rng)
    return {k: _whole(v) for k, v in split.items()}, {"rule": "last session per user = test, previous = val",
                                                     "users_without_second_session": skipped}


def cross_user_stage(recs: list[Recording], rng: np.random.Generator, val_frac: float, test_frac: float,
                     stage_frac: float, use_columns: bool) -> tuple[dict[str, list[dict]], dict[str, Any]]:
    """Users AND stages disjoint between train and test (emg2pose's user_stage generalisation). Recordings of a
    held-out user on a seen stage, or a seen user on a held-out stage, belong to neither and are excluded."""
    if use_columns and _has_column(recs, "held_out_user") and _has_column(recs, "held_out_stage"):
        test_users = {r.user for r in recs if _truthy(r.extra["held_out_user"])}
        test_stages = {r.stage for r in recs if _truthy(r.extra["held_out_stage"])}
        rule = "held-out users and stages from metadata columns"
    else:
        users = sorted({r.user for r in recs})
        stages = sorted({r.stage for r in recs})
        if len(users) < 2 or len(stages) < 2:
            raise EmgaugError("cross-user-stage needs at least 2 users and 2 stages")
        test_users = _pick(users, test_frac, rng)
        test_stages = _pick(stages, stage_frac, rng)
        rule = f"seeded: {len(test_users)} users x {len(test_stages)} stages held out"
    train_pool = [r for r in recs if r.user not in test_users and r.stage not in test_stages]
    test = [r for r in recs if r.user in test_users and r.stage in test_stages]
    kin_pool = [r for r in recs if r.user not in test_users and r.stage in test_stages]
    train, val = _val_from_train(train_pool, val_frac, rng)
    excluded = len(recs) - len(train_pool) - len(test) - len(kin_pool)
    splits = {"train": _whole(train), "val": _whole(val), "test": _whole(test)}
    if kin_pool:
        splits[KINEMATICS_POOL] = _whole(kin_pool)
    return (splits, {"rule": rule, "test_users": sorted(test_users), "test_stages": sorted(test_stages),
                     "excluded_recordings": excluded, KINEMATICS_POOL: "angles of training users on held-out stages "
                     "(EMG never used): condition synthesis of unseen gestures on these"})


def carve_calibration(test: list[dict[str, Any]], by_key: dict[str, Recording], seconds: float,
                      gap_rows: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Split test entries into (calibration, test): per (user, stage), the first `seconds` of that person's
    recordings in time order (session, then row) become calibration. A recording that crosses the boundary is
    cut there, and `gap_rows` rows after the cut belong to neither split, so no window straddles the two."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for e in test:
        groups[(e["user"], e["stage"])].append(e)
    calib, rest = [], []
    for key in sorted(groups):
        left = seconds
        for e in sorted(groups[key], key=lambda e: (str(e["session"]), str(e["filename"]), int(e["start"]))):
            rec = by_key[e["key"]]
            a, b = int(e["start"]), int(e["stop"])
            take = int(round(left * rec.sample_rate)) if left > 0 else 0
            if take >= b - a:
                calib.append(e)
                left -= (b - a) / rec.sample_rate
                continue
            if take > 0:
                calib.append(_entry(rec, a, a + take))
                left = 0.0
                a = a + take + gap_rows
            if b > a:
                rest.append(_entry(rec, a, b) if (a, b) != (int(e["start"]), int(e["stop"])) else e)
    return calib, rest


def kept_count(fraction: float, n: int) -> int:
    """How many of n units keep their EMG: fraction * n rounded half up, at least 1, at most n."""
    return min(n, max(1, int(math.floor(fraction * n + 0.5))))


def select_positions(n: int, k: int, rule: str, rng: np.random.Generator | None = None) -> list[int]:
    """Which k of n units (indexed in time order) keep their EMG, by a named rule.

    early: the first k (0 .. k-1). interleaved: the unit at the centre of each of k equal bins over the n units,
    floor((2i + 1) n / 2k) for i = 0 .. k-1 (3 units, k = 1: the middle one; 6 units, k = 2: the 2nd and 5th;
    k = n: all). random: k of them drawn without replacement from `rng`."""
    if not 1 <= k <= n:
        raise ValueError(f"cannot keep {k} of {n} units")
    if rule == "early":
        return list(range(k))
    if rule == "interleaved":
        return [((2 * i + 1) * n) // (2 * k) for i in range(k)]
    if rule == "random":
        if rng is None:
            raise ValueError("the random rule needs a generator")
        return sorted(int(i) for i in rng.choice(n, k, replace=False))
    raise EmgaugError(f"unknown --emg-select {rule!r}; choose one of {', '.join(EMG_SELECT_RULES)}")


def _time_order(e: dict[str, Any]) -> tuple[str, str, int]:
    return str(e["session"]), str(e["filename"]), int(e["start"])


def withhold_emg(train: list[dict[str, Any]], fraction: float, rule: str, unit: str,
                 rng: np.random.Generator) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]]:
    """Split training entries into (kept, withheld): the EMG of `fraction` of each user's training units stays,
    the rest goes to the kinematics pool (angles only).

    unit "session": a user's training sessions (repetition groups for Ninapro) in name order, kept_count of them
    chosen by `rule` (`select_positions`); every user needs at least 2. unit "recording": per (user, stage), that
    person's recordings (row ranges) of the gesture in time order (session, file, row), so every gesture keeps some
    EMG. "auto": session when every training user has 2 or more training sessions, else recording."""
    if not 0 < fraction <= 1 or fraction != fraction:
        raise EmgaugError(f"--emg-fraction must be in (0, 1], got {fraction}")
    if rule not in EMG_SELECT_RULES:
        raise EmgaugError(f"unknown --emg-select {rule!r}; choose one of {', '.join(EMG_SELECT_RULES)}")
    if unit not in EMG_UNITS:
        raise EmgaugError(f"unknown --emg-unit {unit!r}; choose one of {', '.join(EMG_UNITS)}")
    by_user: dict[str, list[int]] = defaultdict(list)
    for i, e in enumerate(train):
        by_user[str(e["user"])].append(i)
    sessions_of = {u: sorted({str(train[i]["session"]) for i in idx}) for u, idx in by_user.items()}
    if unit == "auto":
        unit = "session" if all(len(s) >= 2 for s in sessions_of.values()) else "recording"
    keep: set[int] = set()
    per_user: dict[str, dict[str, Any]] = {}
    for u in sorted(by_user):
        idx = by_user[u]
        if unit == "session":
            sessions = sessions_of[u]
            if len(sessions) < 2:
                raise EmgaugError(f"user {u} has {len(sessions)} training session(s); --emg-unit session needs 2 or "
                                  "more per user, use --emg-unit recording")
            chosen = {sessions[j] for j in select_positions(len(sessions), kept_count(fraction, len(sessions)), rule, rng)}
            keep.update(i for i in idx if str(train[i]["session"]) in chosen)
            per_user[u] = {"units": len(sessions), "kept": len(chosen), "kept_sessions": sorted(chosen)}
        else:
            by_stage: dict[str, list[int]] = defaultdict(list)
            for i in idx:
                by_stage[str(train[i]["stage"])].append(i)
            n_units = n_kept = 0
            for st in sorted(by_stage):
                items = sorted(by_stage[st], key=lambda i: _time_order(train[i]))
                pos = select_positions(len(items), kept_count(fraction, len(items)), rule, rng)
                keep.update(items[j] for j in pos)
                n_units += len(items)
                n_kept += len(pos)
            per_user[u] = {"units": n_units, "kept": n_kept}
    kept = [e for i, e in enumerate(train) if i in keep]
    pool = [e for i, e in enumerate(train) if i not in keep]
    rows = lambda es: sum(int(e["stop"]) - int(e["start"]) for e in es)  # noqa: E731
    info = {"unit": unit, "per_user": per_user,
            "kept_row_fraction": round(rows(kept) / max(1, rows(train)), 6)}
    return kept, pool, info


def carve_clips(pool: list[dict[str, Any]], by_key: dict[str, Recording], unit: str, seconds: float,
                gap_rows: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Split withheld entries into (clips, rest): for each pool unit (a user's session, or one recording), its first
    `seconds` of EMG in time order (session, file, row) become a reference clip. A recording crossing the clip's end
    is cut there and `gap_rows` rows after the cut belong to no split, so the rest of that recording starts a gap
    after its clip (in that file, no later pool range of the unit starts within the gap either)."""
    groups: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for e in pool:
        groups[(str(e["user"]), str(e["session"])) if unit == "session" else (str(e["key"]), int(e["start"]))].append(e)
    clips, rest = [], []
    for g in sorted(groups):
        left = seconds
        floor: dict[str, int] = {}  # filename -> first row the unit's remaining pool may use (clip end + gap)
        for e in sorted(groups[g], key=_time_order):
            rec = by_key[e["key"]]
            a, b = int(e["start"]), int(e["stop"])
            take = min(b - a, int(round(left * rec.sample_rate))) if left > 0 else 0
            if take > 0:
                clips.append(_entry(rec, a, a + take))
                left -= take / rec.sample_rate
                if left * rec.sample_rate < 0.5:
                    left = 0.0
                a += take
                floor[str(e["filename"])] = a + gap_rows
            a = max(a, floor.get(str(e["filename"]), a))
            if b > a:
                rest.append(e if (a, b) == (int(e["start"]), int(e["stop"])) else _entry(rec, a, b))
    return clips, rest


def _has_column(recs: list[Recording], col: str) -> bool:
    return all(col in r.extra and str(r.extra[col]).strip() != "" for r in recs)


def make_split(source: DatasetSource, protocol: str, seed: int = 0, val_frac: float = 0.1, test_frac: float = 0.2,
               stage_frac: float = 0.25, block_s: float = 10.0, gap_s: float = 1.0, use_metadata_columns: bool = True,
               users: Iterable[str] | None = None, stages: Iterable[str] | None = None,
               calibration_s: float | None = None, emg_fraction: float | None = None, emg_select: str = "early",
               emg_unit: str = "auto", clip_s: float | None = None) -> Manifest:
    """Build and verify a split manifest for `protocol` over `source` (optionally restricted to users/stages).

    `calibration_s` (cross-subject, cross-user-stage): the first that many seconds of each test user's recordings
    per stage become the `calibration` split (see `carve_calibration`; `gap_s` separates it from test).
    `emg_fraction` (any protocol): only that fraction of each user's training units (sessions or recordings,
    `emg_unit`) keeps its EMG, chosen by the named rule `emg_select` (early, interleaved, random; see
    `withhold_emg`); the rest moves to the `kinematics_pool` split (angles only). train / val / test are exactly
    those of the same split without it. `clip_s` (with `emg_fraction`): the first that many seconds of each
    withheld unit become the `clip` split (`carve_clips`; `gap_s` before the rest of the recording); 0 = no clips."""
    if protocol not in PROTOCOLS:
        raise EmgaugError(f"unknown protocol '{protocol}'; choose one of {', '.join(PROTOCOLS)}")
    recs = source.recordings
    if users:
        users = set(users)
        recs = [r for r in recs if r.user in users]
    if stages:
        stages = set(stages)
        recs = [r for r in recs if r.stage in stages]
    if not recs:
        raise EmgaugError(f"{source.root}: no recordings left after the user/stage filters; check the names")
    rng = np.random.default_rng(seed)
    sr = source.sample_rate
    params: dict[str, Any] = {"val_frac": val_frac, "test_frac": test_frac, "use_metadata_columns": use_metadata_columns,
                              "users": sorted(users) if users else None, "stages": sorted(stages) if stages else None}
    if protocol == "sample-wise":
        splits = sample_wise(recs, rng, val_frac, test_frac, int(block_s * sr), int(gap_s * sr))
        params.update(block_s=block_s, gap_s=gap_s, gap_rows=int(gap_s * sr))
        info = {"rule": "random contiguous blocks per recording with gaps between splits"}
    elif protocol == "cross-subject":
        splits, info = cross_subject(recs, rng, val_frac, test_frac, use_metadata_columns)
    elif protocol == "cross-session":
        splits, info = cross_session(recs, rng, val_frac)
    else:
        params["stage_frac"] = stage_frac
        splits, info = cross_user_stage(recs, rng, val_frac, test_frac, stage_frac, use_metadata_columns)
    if calibration_s:
        if protocol not in ("cross-subject", "cross-user-stage"):
            raise EmgaugError(f"--calibration-s applies to cross-subject and cross-user-stage (new people), not {protocol}")
        if not calibration_s > 0 or calibration_s != calibration_s:
            raise EmgaugError(f"--calibration-s must be a positive number of seconds, got {calibration_s}")
        gap_rows = int(round(gap_s * sr))
        splits[CALIBRATION], splits["test"] = carve_calibration(splits["test"], source.by_key(), calibration_s, gap_rows)
        if not splits[CALIBRATION]:
            raise EmgaugError("the calibration split is empty: the test users have no recordings; check the split")
        params.update(calibration_s=calibration_s, gap_s=gap_s, gap_rows=gap_rows)
        info[CALIBRATION] = (f"first {calibration_s:g} s of each test user's recordings per stage, "
                             f"{gap_s:g} s gap before test")
    if emg_fraction is not None:
        _withhold(splits, params, info, source, seed, gap_s, emg_fraction, emg_select, emg_unit, clip_s)
    elif clip_s is not None:
        raise EmgaugError("--clip-s cuts clips out of the kinematics pool that --emg-fraction makes; pass --emg-fraction")
    params["rule"] = info
    m = Manifest(protocol=protocol, seed=seed, source=source.describe(), splits=splits, params=params,
                 counts=split_counts(splits, sr), code_version=code_version())
    verify_manifest(m)
    return m


def _withhold(splits: dict[str, list[dict]], params: dict[str, Any], info: dict[str, Any], source: DatasetSource,
              seed: int, gap_s: float, fraction: float, rule: str, unit: str, clip_s: float | None) -> None:
    """make_split's --emg-fraction / --clip-s step: move withheld training units to the kinematics pool (after any
    pool the protocol has, e.g. cross-user-stage's held-out stages) and cut their clips; record every choice."""
    rng = np.random.default_rng([int(seed), _SELECT_STREAM])
    splits["train"], withheld, sel = withhold_emg(splits["train"], fraction, rule, unit, rng)
    if fraction < 1 and not withheld:
        raise EmgaugError(f"--emg-fraction {fraction:g} withholds nothing: every user has a single training "
                          f"{sel['unit']}{' per gesture' if sel['unit'] == 'recording' else ''}, and each keeps at least "
                          "one; use a protocol or dataset with more training recordings per person")
    params.update(emg_fraction=float(fraction), emg_select=rule, emg_unit=sel["unit"])
    params["emg_selection"] = sel
    what = {"session": "training sessions", "recording": "training recordings of each gesture"}[sel["unit"]]
    info["emg_fraction"] = (f"EMG of {fraction:g} of each user's {what} kept (rule {rule!r}); the rest's angles are in "
                            f"{KINEMATICS_POOL} (their EMG is never read for training)")
    if clip_s is not None:
        if not clip_s >= 0 or math.isinf(clip_s):
            raise EmgaugError(f"--clip-s must be a number of seconds >= 0, got {clip_s}")
        params["clip_s"] = float(clip_s)
        if clip_s > 0 and withheld:
            gap_rows = int(round(gap_s * source.sample_rate))
            clips, withheld = carve_clips(withheld, source.by_key(), sel["unit"], clip_s, gap_rows)
            splits[CLIP] = clips
            params["clip_gap_rows"] = gap_rows
            info[CLIP] = (f"first {clip_s:g} s of EMG of each withheld {sel['unit']} (a reference clip), "
                          f"{gap_s:g} s gap before the rest of its recording")
    if withheld:
        splits[KINEMATICS_POOL] = splits.get(KINEMATICS_POOL, []) + withheld


def split_counts(splits: dict[str, list[dict]], sample_rate: float) -> dict[str, dict[str, Any]]:
    out = {}
    for s, entries in splits.items():
        rows = sum(e["stop"] - e["start"] for e in entries)
        out[s] = {"ranges": len(entries), "files": len({e["filename"] for e in entries}),
                  "users": len({e["user"] for e in entries}), "sessions": len({(e["user"], e["session"]) for e in entries}),
                  "stages": len({e["stage"] for e in entries}), "rows": rows, "seconds": round(rows / sample_rate, 3)}
    return out


def verify_manifest(m: Manifest) -> None:
    """Assert the manifest's splits are non-empty and do not leak under its protocol; raise EmgaugError if they do."""
    where = str(m.path) if m.path else f"{m.protocol} split"
    for s in SPLITS:
        if not m.splits.get(s):
            raise EmgaugError(f"{where}: the '{s}' split is empty; change the fractions/seed or use a dataset with more "
                              "users, sessions or stages")
    ranges: dict[str, list[tuple[int, int, str]]] = defaultdict(list)
    for s, entries in m.splits.items():
        for e in entries:
            if e["stop"] <= e["start"]:
                raise EmgaugError(f"{where}: empty row range {e['key']} {e['start']}:{e['stop']} in '{s}'; re-run `emgaug split`")
            ranges[e["filename"]].append((e["start"], e["stop"], s))
    gap = int(m.params.get("gap_rows", 0))
    for fname, rs in ranges.items():
        rs.sort()
        for (a0, b0, s0), (a1, b1, s1) in zip(rs, rs[1:]):
            if a1 < b0:
                raise EmgaugError(f"{where}: leakage: rows {a0}:{b0} ({s0}) and {a1}:{b1} ({s1}) of {fname} overlap")
            if s0 != s1 and a1 - b0 < gap:
                raise EmgaugError(f"{where}: leakage: only {a1 - b0} rows between {s0} and {s1} in {fname}, gap must be {gap}")
    def groups(split: str, fields: tuple[str, ...]) -> set:
        return {tuple(e[f] for f in fields) for e in m.splits[split]}

    # which group fields must be disjoint between which splits (val may share users with train only where the
    # data had too few users for a user-disjoint val group; it never shares them with test)
    checks = {"cross-subject": [(("user",), ("train", "test")), (("user",), ("val", "test")),
                                (("user",), ("train", CALIBRATION)), (("user",), ("val", CALIBRATION)),
                                (("user",), (KINEMATICS_POOL, "test")), (("user",), (KINEMATICS_POOL, CALIBRATION)),
                                (("user",), (CLIP, "test")), (("user",), (CLIP, CALIBRATION))],
              "cross-session": [(("user", "session"), ("train", "test")), (("user", "session"), ("val", "test")),
                                (("user", "session"), (KINEMATICS_POOL, "test")),
                                (("user", "session"), (KINEMATICS_POOL, "val")),
                                (("user", "session"), (CLIP, "test")), (("user", "session"), (CLIP, "val"))],
              "cross-user-stage": [(("user",), ("train", "test")), (("stage",), ("train", "test")),
                                   (("user",), (KINEMATICS_POOL, "test")), (("stage",), ("train", KINEMATICS_POOL)),
                                   (("user",), ("train", CALIBRATION)), (("user",), (KINEMATICS_POOL, CALIBRATION)),
                                   (("user",), (CLIP, "test")), (("user",), (CLIP, CALIBRATION))]
              }.get(m.protocol, [])
    if m.protocol == "cross-user-stage" and "emg_fraction" in m.params:
        # the pool also holds seen stages (withheld training EMG): only the protocol's own pool must avoid them
        checks = [c for c in checks if c != (("stage",), ("train", KINEMATICS_POOL))]
    for fields, (a, b) in checks:
        if a not in m.splits or b not in m.splits:
            continue
        both = groups(a, fields) & groups(b, fields)
        if both:
            raise EmgaugError(f"{where}: leakage: {'/'.join(fields)} {sorted(both)[0]} is in both {a} and {b} "
                              f"under {m.protocol}; re-run `emgaug split`")
    _verify_withheld(m, where)


def _verify_withheld(m: Manifest, where: str) -> None:
    """The kinematics pool and its clips (--emg-fraction / --clip-s) hold training users' data only, and the rest of a
    clipped recording starts at least `clip_gap_rows` after its clip. (No overlap with any other split, and the
    protocol's disjoint groups, are checked above.)"""
    clips, pool = m.splits.get(CLIP, []), m.splits.get(KINEMATICS_POOL, [])
    if clips and "emg_fraction" not in m.params:
        raise EmgaugError(f"{where}: a '{CLIP}' split without params.emg_fraction; clips are cut from the pool that "
                          "`emgaug split --emg-fraction` makes, re-run it")
    if "emg_fraction" not in m.params:
        return
    train_users = {str(e["user"]) for e in m.splits.get("train", [])}
    # cross-user-stage's own pool (held-out stages of training users) may name users whose seen stages all went to val
    for split, entries in ((CLIP, clips), (KINEMATICS_POOL, pool if m.protocol != "cross-user-stage" else [])):
        strangers = sorted({str(e["user"]) for e in entries} - train_users)
        if strangers:
            raise EmgaugError(f"{where}: leakage: user {strangers[0]} is in '{split}' but not in train; the kinematics "
                              "pool and its clips hold withheld EMG of training users only, re-run `emgaug split`")
    gap = m.params.get("clip_gap_rows", 0)
    if isinstance(gap, bool) or not isinstance(gap, int) or gap < 0:
        raise EmgaugError(f"{where}: params.clip_gap_rows {gap!r} is not a row count; re-run `emgaug split`")
    rest: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for e in pool:
        rest[str(e["key"])].append((int(e["start"]), int(e["stop"])))
    for c in clips:
        a, b = int(c["start"]), int(c["stop"])
        for a1, b1 in rest.get(str(c["key"]), ()):
            dist = a1 - b if a1 >= b else a - b1
            if dist < gap:
                raise EmgaugError(f"{where}: leakage: only {dist} rows between the clip {a}:{b} and the withheld rows "
                                  f"{a1}:{b1} of {c['key']}, the gap must be {gap}; re-run `emgaug split`")


def manifest_table_rows(m: Manifest) -> list[list[str]]:
    """Rows for the summary table: split, ranges, files, users, sessions, stages, seconds."""
    rows = []
    for s in [*SPLITS, *(k for k in m.splits if k not in SPLITS)]:
        c = m.counts.get(s, {})
        rows.append([s, str(c.get("ranges", 0)), str(c.get("files", 0)), str(c.get("users", 0)), str(c.get("sessions", 0)),
                     str(c.get("stages", 0)), f"{c.get('seconds', 0):.1f}"])
    return rows


def frame_of_entries(m: Manifest) -> pd.DataFrame:
    """All manifest entries as one DataFrame with a 'split' column."""
    return pd.DataFrame([dict(e, split=s) for s, entries in m.splits.items() for e in entries])
