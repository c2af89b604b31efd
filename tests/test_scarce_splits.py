"""Scarce EMG splits (issue 13 item 1, issue 19 item 1): `--emg-fraction` keeps the EMG of a named selection of each
user's training sessions or recordings and moves the rest to the kinematics pool; `--clip-s` cuts a reference clip
from each withheld unit; the leakage check covers both."""

from __future__ import annotations

import json

import numpy as np
import pytest

from emgaug import cli
from emgaug.data.manifest import KINEMATICS_POOL, load_manifest
from emgaug.data.source import open_source
from emgaug.data.splits import (CLIP, PROTOCOLS, carve_clips, kept_count, make_split, select_positions,
                                verify_manifest)
from emgaug.errors import EmgaugError
from tests.conftest import real_data


def _ranges(entries):
    return sorted((e["filename"], e["start"], e["stop"]) for e in entries)


def test_named_selection_rules_pick_the_documented_units():
    assert [kept_count(f, 3) for f in (0.1, 0.25, 1 / 3, 0.5, 2 / 3, 1.0)] == [1, 1, 1, 2, 2, 3]
    assert kept_count(0.25, 10) == 3 and kept_count(0.1, 10) == 1 and kept_count(0.05, 10) == 1
    assert select_positions(3, 1, "early") == [0] and select_positions(6, 2, "early") == [0, 1]
    # interleaved: the centre of each of k equal bins, floor((2i + 1) n / 2k)
    assert select_positions(3, 1, "interleaved") == [1]  # the middle repetition group of three
    assert select_positions(6, 2, "interleaved") == [1, 4]
    assert select_positions(4, 2, "interleaved") == [1, 3]
    assert select_positions(10, 3, "interleaved") == [1, 5, 8]
    assert select_positions(5, 5, "interleaved") == [0, 1, 2, 3, 4]
    a = select_positions(10, 4, "random", np.random.default_rng(3))
    assert a == select_positions(10, 4, "random", np.random.default_rng(3)) and len(set(a)) == 4 and a == sorted(a)
    assert a != select_positions(10, 4, "random", np.random.default_rng(4))
    with pytest.raises(EmgaugError, match="unknown --emg-select"):
        select_positions(3, 1, "latest")


def test_db1_cross_session_one_third_is_one_repetition_group_of_emg(tmp_path):
    src = open_source(real_data("ninapro_db1"), "ninapro_db1")
    plain = make_split(src, "cross-session", seed=0)
    expect = {"early": "reps01-02", "interleaved": "reps03-04"}
    for rule, kept in expect.items():
        m = make_split(src, "cross-session", seed=0, emg_fraction=1 / 3, emg_select=rule)
        assert m.params["emg_fraction"] == pytest.approx(1 / 3) and m.params["emg_select"] == rule
        assert m.params["emg_unit"] == "session"
        assert {e["session"] for e in m.splits["train"]} == {kept}
        assert all(v["kept_sessions"] == [kept] and v["units"] == 3 for v in m.params["emg_selection"]["per_user"].values())
        assert {e["session"] for e in m.splits[KINEMATICS_POOL]} == {"reps01-02", "reps03-04", "reps05-06"} - {kept}
        assert m.splits["val"] == plain.splits["val"] and m.splits["test"] == plain.splits["test"]
        assert _ranges(m.splits["train"] + m.splits[KINEMATICS_POOL]) == _ranges(plain.splits["train"])
        # every user keeps EMG of every gesture (a whole repetition group)
        assert len({(e["user"], e["stage"]) for e in m.splits["train"]}) == 10 * 12
        loaded = load_manifest(m.save(tmp_path / f"{rule}.json"))  # the leakage check runs again on load
        assert loaded.params["emg_selection"]["per_user"]["S1"]["kept_sessions"] == [kept]


@pytest.mark.parametrize("protocol, unit", [(p, "auto") for p in PROTOCOLS if p != "cross-session"]
                         + [("cross-subject", "recording")])
def test_emg_fraction_on_every_protocol_moves_only_training_units(sim_root, protocol, unit):
    src = open_source(sim_root)
    kw = dict(seed=0, block_s=1.0, gap_s=0.25)
    plain = make_split(src, protocol, **kw)
    m = make_split(src, protocol, emg_fraction=0.5, emg_select="interleaved", emg_unit=unit, **kw)
    for s in ("val", "test"):
        assert m.splits[s] == plain.splits[s]
    own_pool = plain.splits.get(KINEMATICS_POOL, [])  # cross-user-stage's held-out stages stay in the pool
    assert _ranges(m.splits["train"] + m.splits[KINEMATICS_POOL]) == _ranges(plain.splits["train"] + own_pool)
    withheld = [e for e in m.splits[KINEMATICS_POOL] if e not in own_pool]
    assert withheld and {e["user"] for e in withheld} <= {e["user"] for e in m.splits["train"]}
    if m.params["emg_unit"] == "recording":  # each user keeps EMG of every gesture they have in train
        assert {(e["user"], e["stage"]) for e in m.splits["train"]} == \
            {(e["user"], e["stage"]) for e in plain.splits["train"]}
    else:
        assert all(v["kept"] == 1 and v["units"] == 2 for v in m.params["emg_selection"]["per_user"].values())
    verify_manifest(m)
    same = make_split(src, protocol, emg_fraction=0.5, emg_select="random", **kw)
    assert same.splits == make_split(src, protocol, emg_fraction=0.5, emg_select="random", **kw).splits


def test_a_fraction_that_withholds_nothing_or_a_unit_that_cannot_be_split_is_refused(sim_root):
    src = open_source(sim_root)
    with pytest.raises(EmgaugError, match="emg-unit recording"):
        make_split(src, "cross-session", seed=0, emg_fraction=0.5, emg_unit="session")
    # cross-session here leaves one training session with one recording per gesture: nothing to withhold
    with pytest.raises(EmgaugError, match="withholds nothing"):
        make_split(src, "cross-session", seed=0, emg_fraction=0.5)
    m = make_split(src, "cross-subject", seed=0, emg_fraction=1.0)  # all EMG kept: a sweep's last point
    assert KINEMATICS_POOL not in m.splits and m.params["emg_fraction"] == 1.0
    with pytest.raises(EmgaugError, match="--emg-fraction"):
        make_split(src, "cross-subject", seed=0, clip_s=1.0)


def test_clip_zero_reproduces_the_plain_pool_and_clips_keep_the_gap(sim_root, tmp_path):
    src = open_source(sim_root)
    kw = dict(seed=0, use_metadata_columns=False, emg_fraction=0.5, gap_s=0.25)
    plain = make_split(src, "cross-subject", **kw)
    assert make_split(src, "cross-subject", clip_s=0.0, **kw).splits == plain.splits
    m = make_split(src, "cross-subject", clip_s=0.5, **kw)
    gap = m.params["clip_gap_rows"]
    fs = src.sample_rate
    assert gap == int(0.25 * fs) and m.params["clip_s"] == 0.5
    # one clip per withheld session: its first 0.5 s in time order, then a gap before that recording's rest
    units = {(e["user"], e["session"]) for e in plain.splits[KINEMATICS_POOL]}
    assert {(c["user"], c["session"]) for c in m.splits[CLIP]} == units
    for u in units:
        clips = [c for c in m.splits[CLIP] if (c["user"], c["session"]) == u]
        assert sum(c["stop"] - c["start"] for c in clips) == int(0.5 * fs)
        first = min((e for e in plain.splits[KINEMATICS_POOL] if (e["user"], e["session"]) == u),
                    key=lambda e: (e["session"], e["filename"], e["start"]))
        assert clips[0]["key"] == first["key"] and clips[0]["start"] == first["start"]
        rest = [e for e in m.splits[KINEMATICS_POOL] if e["key"] == first["key"]]
        assert len(rest) == 1 and rest[0]["start"] == clips[0]["stop"] + gap and rest[0]["stop"] == first["stop"]
    # the clips hold only withheld rows: never test, never train
    assert _ranges(m.splits["train"]) == _ranges(plain.splits["train"])
    for c in m.splits[CLIP]:
        for e in m.splits["test"] + m.splits["val"]:
            assert c["filename"] != e["filename"] or c["stop"] <= e["start"] or e["stop"] <= c["start"]
    path = m.save(tmp_path / "clip.json")
    assert load_manifest(path).splits[CLIP] == m.splits[CLIP]

    def tampered(edit, name):
        d = json.loads(path.read_text())
        edit(d)
        p = tmp_path / name
        p.write_text(json.dumps(d))
        return p

    def inside_gap(d):  # the rest of the clipped recording moved into the gap
        r = next(e for e in d["splits"][KINEMATICS_POOL] if e["key"] == d["splits"][CLIP][0]["key"])
        r["start"] -= gap // 2

    with pytest.raises(EmgaugError, match="gap must be"):
        load_manifest(tampered(inside_gap, "gap.json"))
    test_user = m.splits["test"][0]["user"]

    def clip_of_test_user(d):  # a test user's rows relabelled as a clip
        e = dict(d["splits"]["test"][0])
        d["splits"]["test"] = d["splits"]["test"][1:]
        d["splits"][CLIP].append(e)

    with pytest.raises(EmgaugError, match=f"leakage: user .*{test_user}.* clip"):
        load_manifest(tampered(clip_of_test_user, "clip_test_user.json"))

    def clip_of_val_user(d):  # another person's (validation) rows as a clip: not a training user
        d["splits"][CLIP].append(d["splits"]["val"].pop())

    with pytest.raises(EmgaugError, match="is in 'clip' but not in train"):
        load_manifest(tampered(clip_of_val_user, "clip_val_user.json"))

    def pool_of_test_user(d):
        e = dict(d["splits"]["test"][0])
        d["splits"]["test"] = d["splits"]["test"][1:]
        d["splits"][KINEMATICS_POOL].append(e)

    with pytest.raises(EmgaugError, match="leakage"):
        load_manifest(tampered(pool_of_test_user, "pool_test_user.json"))

    def pool_overlaps_train(d):
        e = dict(d["splits"]["train"][0])
        d["splits"][KINEMATICS_POOL].append(dict(e, stop=e["start"] + 100))

    with pytest.raises(EmgaugError, match="overlap"):
        load_manifest(tampered(pool_overlaps_train, "pool_train.json"))


def test_carve_clips_per_recording_and_whole_short_recordings(sim_root):
    src = open_source(sim_root)
    by_key = src.by_key()
    m = make_split(src, "cross-subject", seed=0, emg_fraction=0.5, emg_unit="recording")
    pool = m.splits[KINEMATICS_POOL]
    fs = src.sample_rate
    clips, rest = carve_clips(pool, by_key, "recording", 0.25, 100)
    assert len(clips) == len(pool) and all(c["stop"] - c["start"] == int(0.25 * fs) for c in clips)
    assert all(r["start"] == c["stop"] + 100 for c, r in zip(clips, rest))
    huge, none_left = carve_clips(pool, by_key, "recording", 1e6, 100)  # a clip longer than the recording: all of it
    assert none_left == [] and _ranges(huge) == _ranges(pool)


def test_split_cli_records_the_choice_and_refuses_bad_values(sim_root, tmp_path, capsys):
    out = tmp_path / "m.json"
    assert cli.run(["split", "--data", str(sim_root), "--protocol", "cross-subject", "--no-use-metadata-columns",
                    "--emg-fraction", "0.5", "--emg-select", "interleaved", "--clip-s", "0.5", "--gap-s", "0.25",
                    "--window-s", "0.25", "--out", str(out)]) == 0
    d = json.loads(out.read_text())
    assert d["params"]["emg_select"] == "interleaved" and d["params"]["clip_s"] == 0.5 and d["splits"][CLIP]
    assert "kinematics_pool" in capsys.readouterr().out
    for args, needle in ((["--emg-fraction", "0"], "'--emg-fraction'"), (["--emg-fraction", "1.5"], "'--emg-fraction'"),
                         (["--emg-fraction", "0.5", "--emg-select", "late"], "'--emg-select'"),
                         (["--emg-fraction", "0.5", "--emg-unit", "block"], "'--emg-unit'"),
                         (["--clip-s", "1"], "'--clip-s'"), (["--emg-fraction", "0.5", "--clip-s", "-1"], "'--clip-s'"),
                         (["--emg-fraction", "0.5", "--clip-s", "1", "--gap-s", "0.1"], "'--gap-s'")):
        code = cli.run(["split", "--data", str(sim_root), "--out", str(tmp_path / "bad.json"), *args])
        text = capsys.readouterr()
        lines = [ln for ln in (text.out + text.err).splitlines() if ln.strip()]
        assert code == 2 and len(lines) == 1 and needle in lines[0], (args, lines)
