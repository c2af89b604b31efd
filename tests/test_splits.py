"""Split protocols: each one's disjointness checked from the manifest entries, determinism, refusals."""

from __future__ import annotations

import json
from collections import defaultdict

import pytest

from emgaug.data.manifest import load_manifest
from emgaug.data.source import open_source
from emgaug.data.splits import make_split
from emgaug.errors import EmgaugError


def _groups(m, split, *fields):
    return {tuple(e[f] for f in fields) for e in m.splits[split]}


def test_cross_subject_users_are_disjoint(sim_manifests):
    m = load_manifest(sim_manifests["cross-subject"])
    tr, va, te = (_groups(m, s, "user") for s in ("train", "val", "test"))
    assert tr and va and te
    assert not (tr & te) and not (va & te) and not (tr & va)
    # the simulator flags sim003 as held out: metadata columns decide the test users
    assert te == {("sim003",)}


def test_cross_session_sessions_are_disjoint_within_users(sim_manifests):
    m = load_manifest(sim_manifests["cross-session"])
    assert not (_groups(m, "train", "user", "session") & _groups(m, "test", "user", "session"))
    # every user appears in both train and test: it is sessions, not users, that are held out
    assert {u for u, in _groups(m, "train", "user")} == {u for u, in _groups(m, "test", "user")}


def test_cross_user_stage_holds_out_users_and_stages(sim_manifests, sim_root):
    m = load_manifest(sim_manifests["cross-user-stage"])
    assert not (_groups(m, "train", "user") & _groups(m, "test", "user"))
    assert not (_groups(m, "train", "stage") & _groups(m, "test", "stage"))
    meta = open_source(sim_root).metadata_frame()
    held = meta[(meta.held_out_user.astype(str) == "True") & (meta.held_out_stage.astype(str) == "True")]
    assert {e["filename"] for e in m.splits["test"]} == set(held.filename)


def test_cross_user_stage_without_columns_uses_a_seeded_rule(sim_root):
    a = make_split(open_source(sim_root), "cross-user-stage", seed=3, use_metadata_columns=False)
    b = make_split(open_source(sim_root), "cross-user-stage", seed=3, use_metadata_columns=False)
    assert a.splits == b.splits
    assert not (_groups(a, "train", "stage") & _groups(a, "test", "stage"))


def test_sample_wise_ranges_never_overlap_and_keep_the_gap(sim_manifests, sim_root):
    m = load_manifest(sim_manifests["sample-wise"])
    gap = m.params["gap_rows"]
    assert gap == int(0.25 * open_source(sim_root).sample_rate)
    by_file = defaultdict(list)
    for s in ("train", "val", "test"):
        for e in m.splits[s]:
            by_file[e["filename"]].append((e["start"], e["stop"], s))
    straddles = 0
    for ranges in by_file.values():
        ranges.sort()
        for (_a0, b0, s0), (a1, _b1, s1) in zip(ranges, ranges[1:]):
            assert a1 >= b0
            if s0 != s1:
                assert a1 - b0 >= gap
                straddles += 1
    assert straddles > 0  # files really are shared between splits, in separated blocks


def test_same_seed_same_split_other_seed_other_split(sim_root):
    src = open_source(sim_root)
    a = make_split(src, "sample-wise", seed=1, block_s=1.0, gap_s=0.25)
    b = make_split(src, "sample-wise", seed=1, block_s=1.0, gap_s=0.25)
    c = make_split(src, "sample-wise", seed=2, block_s=1.0, gap_s=0.25)
    assert a.splits == b.splits and a.splits != c.splits


def test_a_tampered_manifest_that_leaks_is_refused_on_load(sim_manifests, tmp_path):
    d = json.loads(sim_manifests["cross-subject"].read_text())
    d["splits"]["train"].append(d["splits"]["test"][0])
    bad = tmp_path / "leaky.json"
    bad.write_text(json.dumps(d))
    with pytest.raises(EmgaugError, match=r"leaky.json: leakage"):
        load_manifest(bad)


def test_overlapping_ranges_are_refused_on_load(sim_manifests, tmp_path):
    d = json.loads(sim_manifests["sample-wise"].read_text())
    e = dict(d["splits"]["test"][0])
    e["start"] = max(0, e["start"] - 10)
    d["splits"]["train"].append(e)
    bad = tmp_path / "overlap.json"
    bad.write_text(json.dumps(d))
    with pytest.raises(EmgaugError, match="leakage"):
        load_manifest(bad)


def test_empty_split_is_refused(sim_root):
    with pytest.raises(EmgaugError, match="cross-subject needs at least 3 users"):
        make_split(open_source(sim_root), "cross-subject", use_metadata_columns=False, users=["sim000", "sim001"])
    # one user, one stage: one training recording, so no val group can be carved out of it
    with pytest.raises(EmgaugError, match="the 'val' split is empty"):
        make_split(open_source(sim_root), "cross-session", users=["sim000"], stages=["click"])


def test_unknown_protocol_and_malformed_manifest(sim_root, tmp_path):
    with pytest.raises(EmgaugError, match="unknown protocol"):
        make_split(open_source(sim_root), "random")
    (tmp_path / "m.json").write_text("{not json")
    with pytest.raises(EmgaugError, match=r"m.json: not valid JSON"):
        load_manifest(tmp_path / "m.json")
    with pytest.raises(EmgaugError, match="manifest not found"):
        load_manifest(tmp_path / "absent.json")


def test_manifest_recordings_are_narrowed_to_their_ranges(sim_manifests):
    m = load_manifest(sim_manifests["sample-wise"])
    recs = m.recordings("test")
    assert [(r.start, r.stop) for r in recs] == [(e["start"], e["stop"]) for e in m.splits["test"]]
    assert m.label_map() == {s: i for i, s in enumerate(sorted({e["stage"] for v in m.splits.values() for e in v}))}


def test_cross_user_stage_offers_a_kinematics_pool_for_unseen_gestures(sim_manifests):
    """Training users' angles on the held-out stages: same stages as test, never a test user."""
    m = load_manifest(sim_manifests["cross-user-stage"])
    pool = m.splits["kinematics_pool"]
    assert pool
    assert {e["stage"] for e in pool} == {e["stage"] for e in m.splits["test"]}
    assert not ({e["user"] for e in pool} & {e["user"] for e in m.splits["test"]})
    assert not ({e["stage"] for e in pool} & {e["stage"] for e in m.splits["train"]})


def test_a_kinematics_pool_holding_a_test_user_is_refused(sim_manifests, tmp_path):
    d = json.loads(sim_manifests["cross-user-stage"].read_text())
    d["splits"]["kinematics_pool"].append(d["splits"]["test"][0])
    bad = tmp_path / "pool_leak.json"
    bad.write_text(json.dumps(d))
    with pytest.raises(EmgaugError, match="leakage"):
        load_manifest(bad)
