"""Generators on random tensors at tiny sizes: shapes for several rate ratios, seeded reproducibility, one real
optimisation step lowering each loss, ablation flags removing what they name, masking, label refusal, and the
ridge baseline recovering a known angle -> envelope law."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from emgaug.data.windows import WindowConfig
from emgaug.errors import EmgaugError
from emgaug.models.base import factorize
from emgaug.models.losses import kl_standard_normal
from emgaug.models.registry import MODEL_NAMES, build_model
from emgaug.models.seqemg_gan import Ang2Gist

C, J, K = 3, 4, 3
TINY = {
    "seqemg_gan": dict(embed_dim=8, noise_dim=4, hidden=16, latent_dim=8, gen_width=16, disc_width=8),
    "gan": dict(z_dim=8, frame_noise_dim=4, label_dim=4, gen_width=16, disc_width=8),
    "transformer_seq2seq": dict(d_model=16, heads=2, encoder_layers=1, decoder_layers=1, ff_dim=32, dropout=0.0),
    "wavenet": dict(residual=8, skip=16, dilations=(1, 2, 4)),
    "ridge": {},
    "ridge_user": {},
    "flow": dict(width=8, emb_dim=16, mid_dilations=(1, 2), steps=2),
}



def tiny(name: str) -> dict:
    base = "seqemg_gan" if name.startswith("seqemg_gan") else "gan" if name in ("gan", "dcgan", "styletransfer_dcgan") else name
    return TINY[base]


def make(name: str, sr: float = 1000.0, window_s: float = 0.2, rate: float = 50.0, num_users: int = 0):
    win = WindowConfig(window_s=window_s, stride_s=window_s, angle_rate_hz=rate).resolve(sr)
    users = max(num_users, 2) if name == "ridge_user" else num_users  # the per-user floor needs its users
    return build_model(name, C, J, win, K, num_users=users, **tiny(name)), win


def batch_for(win, B: int = 4, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    Ta, T = win.angle_frames, win.window
    return {"emg": torch.randn(B, C, T, generator=g), "angles": torch.randn(B, J, Ta, generator=g),
            "angle_mask": torch.ones(B, Ta, dtype=torch.bool), "emg_mask": torch.ones(B, T, dtype=torch.bool),
            "label": torch.arange(B) % K, "index": torch.arange(B), "user": torch.arange(B) % 2}


def test_factorize_covers_rate_ratios():
    assert factorize(50) == [5, 5, 2]
    assert factorize(40) == [5, 4, 2]
    assert factorize(2) == [2]
    assert factorize(1) == []
    assert factorize(7) == [7]


@pytest.mark.parametrize("name", MODEL_NAMES)
@pytest.mark.parametrize("geometry", [(1000.0, 0.2, 50.0), (100.0, 0.4, 50.0), (200.0, 0.1, 200.0)],
                         ids=["x20", "x2", "x1"])
def test_generate_shape_and_seeded_reproducibility(name, geometry):
    model, win = make(name, *geometry)
    b = batch_for(win)
    if model.closed_form:
        model.fit([b, batch_for(win, seed=1)])
    else:
        model.mark_seen_labels(b["label"])
    model.eval()
    labels = b["label"]
    out1 = model.generate(b["angles"], labels, generator=torch.Generator().manual_seed(5))
    out2 = model.generate(b["angles"], labels, generator=torch.Generator().manual_seed(5))
    out3 = model.generate(b["angles"], labels, generator=torch.Generator().manual_seed(6))
    assert out1.shape == (4, C, win.angle_frames * win.angle_downsample)
    assert torch.isfinite(out1).all()
    assert torch.equal(out1, out2), "same generator seed must give the same synthesis"
    assert not torch.equal(out1, out3), "different seeds must give different draws"


@pytest.mark.parametrize("name", [n for n in MODEL_NAMES if not n.startswith("ridge")])
def test_one_optimisation_step_lowers_each_loss(name):
    torch.manual_seed(0)
    model, win = make(name)
    b = batch_for(win)
    for part in model.parts:
        opt = torch.optim.SGD(model.part_parameters(part), lr=0.02)

        def loss_now(part=part) -> torch.Tensor:
            torch.manual_seed(123)  # identical noise draws before and after the step
            if part == "d":
                model(b, "g")  # the discriminator step scores the generator step's fakes
            return model(b, part)[0]

        before = loss_now()
        opt.zero_grad()
        before.backward()
        opt.step()
        with torch.no_grad():
            after = loss_now()
        assert after < before, f"{name}/{part}: {float(before):.5f} -> {float(after):.5f}"


def _module_types(model: nn.Module) -> set[type]:
    return {type(m) for m in model.modules()}


def test_ablation_flags_remove_what_they_name():
    full, _ = make("seqemg_gan")
    assert full.angle_encoder is not None and isinstance(full.lower, nn.GRU)
    assert Ang2Gist in _module_types(full) and full.parts == ("g", "d")
    assert any(n.startswith("disc_") for n, _ in full.named_parameters())

    no_enc, _ = make("seqemg_gan_no_angle_encoder")
    assert no_enc.angle_encoder is None and not any(n.startswith("angle_encoder") for n, _ in no_enc.named_parameters())
    no_gru, _ = make("seqemg_gan_no_gru")
    assert not isinstance(no_gru.lower, nn.GRU) and Ang2Gist in _module_types(no_gru)
    no_a2g, _ = make("seqemg_gan_no_ang2gist")
    assert Ang2Gist not in _module_types(no_a2g) and isinstance(no_a2g.lower, nn.GRU)
    no_d, _ = make("seqemg_gan_no_discriminator")
    assert no_d.parts == ("g",) and not any(n.startswith("disc_") for n, _ in no_d.named_parameters())
    loss, logs = no_d(batch_for(make("seqemg_gan")[1]), "g")
    assert "recon_l1" in logs and "g_adv" not in logs
    with pytest.raises(KeyError):
        no_d(batch_for(make("seqemg_gan")[1]), "d")
    with pytest.raises(EmgaugError):
        build_model("seqemg_gan_no_gru", C, J, make("seqemg_gan")[1], K, gru=True)


def test_ang2gist_filter_is_depthwise_separable_kernel5_and_gates_the_state():
    a2g = Ang2Gist(6, 5, kernel=5)
    assert a2g.depthwise.kernel_size == (5,) and a2g.depthwise.groups == 6 and a2g.depthwise.padding == (2,)
    assert a2g.pointwise.kernel_size == (1,)
    i, h0 = torch.randn(2, 7, 6), torch.randn(2, 5)
    o = a2g(i, h0)
    assert o.shape == (2, 7, 5)
    assert not torch.allclose(o, a2g(i, h0 + 1.0)), "h0 must initialise the Ang2Gist state"
    with torch.no_grad():
        a2g.pointwise.weight.zero_()
        a2g.pointwise.bias.zero_()
    assert torch.count_nonzero(a2g(i, h0)) == 0, "o_t = Filter(i)_t * h_t"


def test_kl_is_zero_at_the_prior_and_positive_elsewhere():
    z = torch.zeros(3, 4)
    assert float(kl_standard_normal(z, z)) == 0.0
    assert float(kl_standard_normal(z + 1, z)) == pytest.approx(2.0)


def test_seqemg_gan_output_follows_the_angles():
    model, win = make("seqemg_gan")
    model.eval()
    b = batch_for(win)
    g = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    assert not torch.allclose(model.generate(b["angles"], None, g()), model.generate(b["angles"] * 2, None, g()))


def test_unconditional_gan_ignores_angles():
    model, win = make("gan")
    model.eval()
    a = batch_for(win)["angles"]
    g = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    assert model.conditions_on_angles is False
    assert torch.equal(model.generate(a, None, g()), model.generate(torch.randn_like(a), None, g()))


@pytest.mark.parametrize("name", ["dcgan", "styletransfer_dcgan"])
def test_label_conditioned_peers_refuse_missing_or_unseen_labels(name):
    model, win = make(name)
    model.mark_seen_labels(torch.tensor([0, 1]))
    model.eval()
    a = batch_for(win, B=2)["angles"]
    assert model.generate(a, torch.tensor([0, 1])).shape[0] == 2
    with pytest.raises(EmgaugError, match="pass labels"):
        model.generate(a, None)
    with pytest.raises(EmgaugError, match="never saw"):
        model.generate(a, torch.tensor([0, 2]))


def test_style_transfer_adds_four_feature_pipelines():
    model, win = make("styletransfer_dcgan")
    _, logs = model(batch_for(win), "g")
    assert {"style_raw", "style_fft", "style_env_fft", "style_wavelet"} <= set(logs)
    _, logs_plain = make("dcgan")[0](batch_for(win), "g")
    assert not any(k.startswith("style_") for k in logs_plain)


@pytest.mark.parametrize("name", ["wavenet", "transformer_seq2seq", "seqemg_gan_no_discriminator"])
def test_masked_frames_do_not_enter_the_loss(name):
    model, win = make(name)
    model.eval()
    b = batch_for(win)
    b["angle_mask"][:, -2:] = False  # IK failure in the last two frames
    torch.manual_seed(0)
    l1 = model(b, "g")[0]
    b2 = dict(b, emg=b["emg"].clone())
    b2["emg"][:, :, -2 * win.angle_downsample:] = 100.0
    torch.manual_seed(0)
    l2 = model(b2, "g")[0]
    assert torch.allclose(l1, l2), "EMG under masked frames changed the loss"


def test_wavenet_is_causal():
    model, win = make("wavenet")
    model.eval()
    a = batch_for(win)["angles"]
    a2 = a.clone()
    a2[..., -1] += 5.0
    m1, _ = model._distribution(a)
    m2, _ = model._distribution(a2)
    assert torch.equal(m1[:, :-1], m2[:, :-1]) and not torch.equal(m1[:, -1], m2[:, -1])


def test_ridge_recovers_a_linear_log_envelope_law():
    torch.manual_seed(0)
    model, win = make("ridge", sr=1000.0, window_s=1.0, rate=50.0)
    Ta, ds = win.angle_frames, win.angle_downsample
    batches = []
    for s in range(6):
        b = batch_for(win, B=8, seed=s)
        ang = torch.cumsum(torch.randn(8, J, Ta) * 0.3, -1)  # smooth, random-walk angles
        log_env = 0.8 * ang[:, :1] - 0.5 * ang[:, 1:2] + torch.tensor([0.0, 0.3, -0.2])[:, None]  # (B, C, Ta)
        env = log_env.exp().repeat_interleave(ds, -1)
        b["angles"], b["emg"] = ang, env * torch.randn(8, C, Ta * ds)
        batches.append(b)
    stats = model.fit(batches)
    assert stats["r2_log_envelope"] > 0.8
    assert model.weights[0, 0] == pytest.approx(0.8, abs=0.15) and model.weights[1, 0] == pytest.approx(-0.5, abs=0.15)
    test = batches[0]
    fake = model.generate(test["angles"], generator=torch.Generator().manual_seed(0))
    # generated envelopes follow the true law
    fe = model.log_envelope(fake).float()
    te = model.log_envelope(test["emg"]).float()
    corr = torch.corrcoef(torch.stack([fe[:, 0].flatten(), te[:, 0].flatten()]))[0, 1]
    assert corr > 0.8
    with pytest.raises(NotImplementedError):
        model(test, "g")


def test_ridge_noise_matches_a_band_limited_spectrum():
    model, win = make("ridge", sr=1000.0, window_s=0.512, rate=125.0)
    T = win.window
    f = torch.fft.rfftfreq(T, 1 / 1000.0)
    band = ((f > 50) & (f < 150)).float()
    batches = []
    for s in range(4):
        b = batch_for(win, B=8, seed=s)
        w = torch.randn(8, C, T, generator=torch.Generator().manual_seed(s))
        b["emg"] = torch.fft.irfft(torch.fft.rfft(w) * band, n=T)
        batches.append(b)
    model.fit(batches)
    fake = model.generate(batches[0]["angles"], generator=torch.Generator().manual_seed(0))
    p = torch.fft.rfft(fake).abs().pow(2).mean((0, 1))
    assert p[band.bool()].mean() > 100 * p[(f > 250)].mean()


def test_unknown_model_and_bad_option_are_one_line_errors():
    _, win = make("gan")
    with pytest.raises(EmgaugError, match="unknown model"):
        build_model("nope", C, J, win, K)
    with pytest.raises(EmgaugError, match="bad option"):
        build_model("gan", C, J, win, K, hidden_size=3)
    model, _ = make("seqemg_gan")
    with pytest.raises(EmgaugError, match="expects angles"):
        model.generate(torch.randn(2, J + 1, win.angle_frames))


def test_matching_aware_discriminator_learns_to_reject_real_emg_with_wrong_angles():
    """mismatch_weight > 0: real EMG paired with another window's angles is a negative, so the discriminator learns
    the angle -> EMG link (here EMG is a fixed function of the angles) instead of realism alone."""
    torch.manual_seed(0)
    win = WindowConfig(window_s=0.2, stride_s=0.2, angle_rate_hz=50.0).resolve(1000.0)
    model = build_model("seqemg_gan", C, J, win, K, mismatch_weight=1.0, **TINY["seqemg_gan"])
    b = batch_for(win, B=16)
    up = win.window // win.angle_frames
    b["emg"] = b["angles"][:, :C].repeat_interleave(up, dim=-1)  # EMG channel c follows angle c
    assert "d_mismatch" in model(b, "d")[1]
    assert "d_mismatch" not in build_model("seqemg_gan", C, J, win, K, **TINY["seqemg_gan"])(b, "d")[1]
    opt = torch.optim.Adam(model.part_parameters("d"), lr=2e-3)
    for _ in range(150):
        loss, _ = model(b, "d")
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        _, h0, _, _ = model.synthesise(b["angles"])
        matched = torch.sigmoid(model.discriminate(b["emg"], b["angles"], h0)).mean()
        wrong = torch.sigmoid(model.discriminate(b["emg"], b["angles"].roll(1, 0), h0.roll(1, 0))).mean()
    assert matched > wrong + 0.3, (float(matched), float(wrong))


def test_vocoder_recipe_terms_multiscale_critic_stft_and_feature_matching():
    from emgaug.models.losses import multi_resolution_stft_loss, stft_sizes

    assert stft_sizes(2000) == [64, 128, 256] and stft_sizes(100) == [8, 16]  # powers of two <= T/16, T/8, T/4
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 400, generator=g)
    mask = torch.ones(2, 1, 400)
    assert float(multi_resolution_stft_loss(x, x, mask, stft_sizes(400))) < 1e-6
    smooth = torch.nn.functional.avg_pool1d(x, 9, stride=1, padding=4)  # same timing, other spectrum
    assert float(multi_resolution_stft_loss(smooth, x, mask, stft_sizes(400))) > 0.5
    model, win = make("seqemg_gan")
    recipe = build_model("seqemg_gan", C, J, win, K, disc_scales=3, fm_loss_weight=2.0, stft_loss_weight=1.0,
                         **TINY["seqemg_gan"])
    assert recipe.pool_factors == [2, 4]  # 20 samples per frame: 2x and 4x pooled critics
    b = batch_for(win)
    logits = recipe.discriminate(b["emg"], recipe.conditioning(b["angles"], None), torch.zeros(4, 8))
    assert logits.shape == (3, 4, win.angle_frames)
    torch.manual_seed(0)
    for part in ("g", "d"):
        opt = torch.optim.SGD(recipe.part_parameters(part), lr=0.02)

        def loss_now(part=part):
            torch.manual_seed(123)
            if part == "d":
                recipe(b, "g")
            return recipe(b, part)

        before, logs = loss_now()
        if part == "g":
            assert {"stft", "d_feat_match", "g_adv"} <= set(logs)
        opt.zero_grad()
        before.backward()
        opt.step()
        with torch.no_grad():
            assert loss_now()[0] < before
