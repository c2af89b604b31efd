"""Person conditioning (issue 11): every conditional generator takes the person as input, the reference
encoder maps clips of one person close together, the two ridge floors behave as documented, calibration splits
never touch test, and synthesis renders windows as a chosen person or writes the real-EMG oracle."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from emgaug.data.manifest import CALIBRATION, load_manifest
from emgaug.data.source import open_source
from emgaug.data.splits import make_split
from emgaug.data.windows import WindowConfig, WindowDataset
from emgaug.errors import EmgaugError
from emgaug.models.registry import MODEL_NAMES, build_model
from emgaug.synthesis import read_synthetic
from emgaug.synthesis.generate import synthesize_set
from emgaug.training.checkpoint import load_generator
from emgaug.training.trainer import train_model

from test_models import J, K, batch_for, make

PERSON_MODELS = [n for n in MODEL_NAMES if n not in ("gan", "seqemg_gan_paper", "ridge", "ridge_user")]


@pytest.mark.parametrize("name", PERSON_MODELS)
def test_another_person_with_the_same_angles_gives_other_emg(name):
    model, win = make(name, num_users=3)
    assert model.subject is not None and model.cond_dim == J + model.style_dim
    model.mark_seen_labels(torch.arange(K))
    model.eval()
    if name == "flow":  # its output layer starts at zero (the identity flow); give it weights as training would
        torch.nn.init.normal_(model.net.head.weight, std=0.1, generator=torch.Generator().manual_seed(0))
    b = batch_for(win)
    a, b_style = model.style_for_users(torch.zeros(4, dtype=torch.long)), model.style_for_users(torch.ones(4, dtype=torch.long))
    gen = lambda st: model.generate(b["angles"], b["label"], generator=torch.Generator().manual_seed(3), style=st)  # noqa: E731
    assert torch.equal(gen(a), gen(a))
    assert not torch.allclose(gen(a), gen(b_style)), f"{name}: the person does not change the output"


def test_paper_model_and_unconditional_gan_ignore_the_person():
    for name in ("seqemg_gan_paper", "gan"):
        model, _ = make(name, num_users=3)
        assert model.subject is None and not model.person_conditioned and model.cond_dim == J


@pytest.mark.parametrize("name", ["seqemg_gan", "wavenet", "dcgan", "transformer_seq2seq"])
def test_training_with_reference_windows_lowers_the_loss_and_trains_the_encoder(name):
    torch.manual_seed(0)
    model, win = make(name, num_users=2)
    b = batch_for(win)
    ref = batch_for(win, seed=7)
    b.update(ref_emg=ref["emg"], ref_angles=ref["angles"], ref_angle_mask=ref["angle_mask"])
    opt = torch.optim.SGD(model.part_parameters("g"), lr=0.02)

    def loss_now():
        torch.manual_seed(123)
        return model(b, "g")

    before, logs = loss_now()
    assert "style_align" in logs
    enc_before = [p.detach().clone() for p in model.subject.reference.parameters()]
    opt.zero_grad()
    before.backward()
    opt.step()
    with torch.no_grad():
        after = loss_now()[0]
    assert after < before
    assert any(not torch.equal(p0, p1) for p0, p1 in zip(enc_before, model.subject.reference.parameters()))


def _user_batches(n: int = 96, seed: int = 0):
    """Two people whose log envelope follows the SAME angle with opposite signs (a mapping, not a gain)."""
    g = torch.Generator().manual_seed(seed)
    window = WindowConfig(window_s=1.0, angle_rate_hz=25).resolve(100.0)
    Ta, T = window.angle_frames, window.window
    t = torch.linspace(0, 1, Ta)
    angles = torch.sin(2 * 6.28 * t + torch.rand(n, 3, 1, generator=g) * 6.28)
    users = torch.arange(n) % 2
    sign = (1 - 2 * users.float())[:, None, None]
    log_amp = sign * angles[:, :1].expand(-1, 2, -1)
    emg = torch.nn.functional.interpolate(log_amp.exp(), size=T, mode="linear")
    batch = {"emg": emg.float(), "angles": angles.float(), "angle_mask": torch.ones(n, Ta, dtype=torch.bool),
             "emg_mask": torch.ones(n, T, dtype=torch.bool), "label": torch.zeros(n, dtype=torch.long), "user": users}
    return window, batch


def _env_corr(out: torch.Tensor, target: torch.Tensor) -> float:
    return float(np.corrcoef(out.flatten().numpy(), target.flatten().numpy())[0, 1])


def test_ridge_user_learns_each_persons_mapping_where_pooled_ridge_cannot():
    window, batch = _user_batches()
    pooled = build_model("ridge", 2, 3, window, 1, num_users=2, rectified=True)
    per_user = build_model("ridge_user", 2, 3, window, 1, num_users=2, rectified=True)
    pooled.fit([batch]), per_user.fit([batch])
    angles, real = batch["angles"], batch["emg"]
    out_pooled = pooled.generate(angles)
    out_user = per_user.generate(angles, style=per_user.style_for_users(batch["user"]))
    assert _env_corr(out_user, real) > 0.95
    assert _env_corr(out_pooled, real) < 0.5
    # a person's weights fitted on a clip of their own windows reproduce their mapping
    clip = batch["user"] == 1
    style = per_user.style_from_reference(real[clip][:8], angles[clip][:8])
    out_ref = per_user.generate(angles[clip], style=style.expand(int(clip.sum()), -1))
    assert _env_corr(out_ref, real[clip]) > 0.95


def test_ridge_is_deterministic_on_envelopes_and_has_no_gain_draw_on_raw_emg():
    window, batch = _user_batches()
    env_model = build_model("ridge", 2, 3, window, 1, rectified=True)
    env_model.fit([batch])
    a = env_model.generate(batch["angles"], generator=torch.Generator().manual_seed(1))
    b = env_model.generate(batch["angles"], generator=torch.Generator().manual_seed(2))
    assert torch.equal(a, b), "on envelope data ridge outputs the predicted envelope itself"
    raw = dict(batch, emg=batch["emg"] * torch.randn(batch["emg"].shape, generator=torch.Generator().manual_seed(0)))
    same = batch["angles"][:1].expand(64, -1, -1)  # one angle window, 64 times

    def window_log_rms(variability: float) -> torch.Tensor:
        m = build_model("ridge", 2, 3, window, 1, variability=variability)
        m.fit([raw])
        out = m.generate(same, generator=torch.Generator().manual_seed(3))
        return 0.5 * out.pow(2).mean(-1).log()

    assert float(window_log_rms(0.0).std(0).max()) < 0.3  # only the carrier's sampling noise
    assert float(window_log_rms(1.0).std(0).max()) > 3 * float(window_log_rms(0.0).std(0).max())


def test_calibration_split_is_the_start_of_each_test_users_recordings_and_never_touches_test(sim_root):
    src = open_source(sim_root)
    m = make_split(src, "cross-subject", seed=0, use_metadata_columns=False, calibration_s=0.5, gap_s=0.25)
    calib, test = m.splits[CALIBRATION], m.splits["test"]
    assert {e["user"] for e in calib} == {e["user"] for e in test}
    for (user, stage) in {(e["user"], e["stage"]) for e in calib}:
        secs = sum(e["stop"] - e["start"] for e in calib if (e["user"], e["stage"]) == (user, stage)) / src.sample_rate
        assert secs == pytest.approx(0.5, abs=1e-3)
    gap = m.params["gap_rows"]
    for c in calib:
        for t in test:
            if c["filename"] == t["filename"]:
                assert c["stop"] + gap <= t["start"] or t["stop"] + gap <= c["start"]
    # the leakage check refuses a calibration range that overlaps test
    from emgaug.data.splits import verify_manifest

    bad = dict(calib[0])
    same_file = [t for t in test if t["filename"] == bad["filename"]][0]
    bad["stop"] = same_file["start"] + 1
    m.splits[CALIBRATION] = [bad, *calib[1:]]
    with pytest.raises(EmgaugError, match="leakage"):
        verify_manifest(m)
    with pytest.raises(EmgaugError, match="calibration"):
        make_split(src, "cross-session", calibration_s=1.0)


@pytest.fixture(scope="module")
def calib_manifest(sim_root, tmp_path_factory):
    m = make_split(open_source(sim_root), "cross-subject", seed=0, use_metadata_columns=False, calibration_s=1.0,
                   gap_s=0.25)
    return m.save(tmp_path_factory.mktemp("calib") / "cross_subject_calib.json")


@pytest.fixture(scope="module")
def wavenet_ckpt(calib_manifest, tmp_path_factory):
    return train_model(calib_manifest, "wavenet", tmp_path_factory.mktemp("wn") / "wavenet", epochs=6, batch_size=16,
                       profile="fast", seed=0, device="cpu", max_val_windows=8, quiet=True,
                       window_cfg=WindowConfig(window_s=0.25, stride_s=0.125, angle_rate_hz=50.0),
                       model_overrides={"residual": 16, "skip": 16, "dilations": [1, 2, 4], "style_dim": 8})


def test_reference_encoder_puts_clips_of_one_person_closer_than_clips_of_two(calib_manifest, wavenet_ckpt):
    g = load_generator(wavenet_ckpt)
    m = load_manifest(calib_manifest)
    ds = WindowDataset(m.data_source, m.recordings("train"), g.window, norm=g.norm, label_map=g.label_map)
    users = np.array([r.user for r in ds.window_recordings()])
    clips = {}
    for u in sorted(set(users)):
        idx = np.flatnonzero(users == u)
        halves = (idx[0::2], idx[1::2])  # two disjoint clips of the same person
        for h, rows in enumerate(halves):
            reads = [ds.read_window(int(i)) for i in rows]
            with torch.no_grad():
                clips[(u, h)] = g.model.style_from_reference(torch.from_numpy(np.stack([r[0] for r in reads])),
                                                             torch.from_numpy(np.stack([r[1] for r in reads])))[0]
    people = sorted(set(users))
    assert len(people) >= 2
    # trained, not just any encoder: a clip lands nearest to its own person's learned embedding
    emb = g.model.style_for_users(torch.tensor([g.user_map[u] for u in people])).detach()
    for k, u in enumerate(people):
        assert int((emb - clips[(u, 0)]).norm(dim=1).argmin()) == k, f"a clip of {u} is nearest another person"
    for u in people:
        same = float((clips[(u, 0)] - clips[(u, 1)]).norm())
        for v in people:
            if v != u:
                other = float((clips[(u, 0)] - clips[(v, 1)]).norm())
                assert same < other, f"clips of {u} are {same:.3f} apart, {u} vs {v} only {other:.3f}"


def test_synthesis_renders_a_chosen_person_and_new_people_from_their_calibration(calib_manifest, wavenet_ckpt,
                                                                                  tmp_path):
    g = load_generator(wavenet_ckpt)
    train_users = sorted(g.user_map)
    own = read_synthetic(synthesize_set(wavenet_ckpt, tmp_path / "own", max_windows=12, seed=1, device="cpu"))
    assert own.metadata["person"]["style_sources"] == {"own": 12}
    other = train_users[1]
    as_other = read_synthetic(synthesize_set(wavenet_ckpt, tmp_path / "as", max_windows=12, seed=1, device="cpu",
                                             as_user=other))
    assert (as_other.labels["user"] == other).all()
    np.testing.assert_array_equal(as_other.angles, own.angles)  # same kinematics, another person
    assert not np.allclose(as_other.emg, own.emg)
    test_users = sorted({e["user"] for e in load_manifest(calib_manifest).splits["test"]})
    ref = read_synthetic(synthesize_set(wavenet_ckpt, tmp_path / "ref", max_windows=12, seed=1, device="cpu",
                                        reference=CALIBRATION))
    assert set(ref.labels["user"]) == set(test_users)  # training kinematics rendered as the new people
    assert ref.metadata["person"] == {"as_user": None, "reference_split": CALIBRATION, "clip_split": None,
                                      "style_sources": {"reference": 12}}
    with pytest.raises(EmgaugError, match="refusing --reference test"):
        synthesize_set(wavenet_ckpt, tmp_path / "leak", max_windows=4, device="cpu", reference="test")
    with pytest.raises(EmgaugError, match="--as-user"):
        synthesize_set(wavenet_ckpt, tmp_path / "nobody", max_windows=4, device="cpu", as_user="nobody")


def test_oracle_writes_the_real_emg_of_the_selected_windows(calib_manifest, tmp_path):
    out = synthesize_set(None, tmp_path / "oracle", manifest=calib_manifest, oracle_real=True, window_s=0.25,
                         max_windows=10, device="cpu")
    s = read_synthetic(out)
    assert s.metadata["model_name"] == "oracle_real" and s.metadata["oracle"] is True
    m = load_manifest(calib_manifest)
    src = m.data_source
    recs = {r.filename: r for r in src.recordings}
    for k in range(len(s)):
        row = s.labels.iloc[k]
        emg, _ = src.reader(recs[row["filename"]]).read(int(row["start"]), int(row["stop"]))
        np.testing.assert_array_equal(s.emg[k], emg.T)
    with pytest.raises(EmgaugError, match="oracle"):
        synthesize_set(None, tmp_path / "o2", manifest=calib_manifest, oracle_real=True, samples_per_window=2)
