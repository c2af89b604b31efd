"""The flow-matching generator (issue 12): seeded sampling, classifier-free guidance, the sampler's cost, a short
training run that lowers the loss, the weight average used for sampling, and log-domain envelopes."""

from __future__ import annotations

import pytest
import torch

from emgaug.data.windows import WindowConfig
from emgaug.errors import EmgaugError
from emgaug.models.registry import build_model

C, J, K = 3, 4, 3
TINY = dict(width=8, emb_dim=16, mid_dilations=(1, 2), steps=3)


def _model(**kw):
    win = WindowConfig(window_s=0.2, stride_s=0.2, angle_rate_hz=50.0).resolve(1000.0)
    model = build_model("flow", C, J, win, K, num_users=2, **{**TINY, **kw})
    torch.nn.init.normal_(model.net.head.weight, std=0.1, generator=torch.Generator().manual_seed(0))
    return model.eval(), win


def _batch(win, B=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    Ta, T = win.angle_frames, win.window
    t = torch.linspace(0, 1, Ta)
    angles = torch.sin(6.28 * t + torch.rand(B, J, 1, generator=g) * 6.28)
    emg = torch.nn.functional.interpolate(angles[:, :C].exp(), size=T, mode="linear") * torch.randn(B, C, T, generator=g)
    return {"emg": emg, "angles": angles, "angle_mask": torch.ones(B, Ta, dtype=torch.bool),
            "emg_mask": torch.ones(B, T, dtype=torch.bool), "label": torch.arange(B) % K, "user": torch.arange(B) % 2}


def test_sampling_is_deterministic_under_a_seed():
    model, win = _model()
    a = _batch(win)["angles"]
    out = lambda s: model.generate(a, generator=torch.Generator().manual_seed(s))  # noqa: E731
    assert torch.equal(out(1), out(1))
    assert not torch.allclose(out(1), out(2))


def test_guidance_zero_is_the_unconditional_branch_and_one_the_conditional():
    model, win = _model()
    b = _batch(win)
    style = model.style_for_users(b["user"])
    ones = torch.ones(len(b["angles"]))
    x = torch.randn(len(b["angles"]), C, win.window, generator=torch.Generator().manual_seed(0))
    t = torch.full((len(x),), 0.3)
    with torch.no_grad():
        v_uncond = model.velocity(x, t, *model._conditions(b["angles"], style, None, 0 * ones))
        v_cond = model.velocity(x, t, *model._conditions(b["angles"], style, None, ones))
        assert not torch.allclose(v_uncond, v_cond)
        # the unconditional branch ignores the angles and the person entirely
        other = model._conditions(torch.randn_like(b["angles"]), model.style_for_users(1 - b["user"]), None, 0 * ones)
        assert torch.equal(model.velocity(x, t, *other), v_uncond)
        assert torch.allclose(model._guided(x, 0.3, model._conditions(b["angles"], style, None, ones),
                                            model._conditions(b["angles"], style, None, 0 * ones), 0.0), v_uncond)
        g2 = model._guided(x, 0.3, model._conditions(b["angles"], style, None, ones),
                           model._conditions(b["angles"], style, None, 0 * ones), 2.0)
        assert torch.allclose(g2, v_uncond + 2.0 * (v_cond - v_uncond), atol=1e-6)


@pytest.mark.parametrize("sampler,steps,guidance,calls", [("euler", 4, 1.0, 4), ("euler", 8, 1.0, 8),
                                                          ("midpoint", 4, 1.0, 8), ("heun", 4, 1.0, 7),
                                                          ("heun", 4, 2.0, 14), ("euler", 5, 0.0, 5)])
def test_sampler_cost_is_steps_times_calls_per_step(sampler, steps, guidance, calls):
    model, win = _model(sampler=sampler, steps=steps, guidance=guidance)
    n = 0
    real = model.velocity

    def counting(*args, **kw):
        nonlocal n
        n += 1
        return real(*args, **kw)

    model.velocity = counting
    model.generate(_batch(win)["angles"], generator=torch.Generator().manual_seed(0))
    assert n == calls == model.function_evaluations()


def test_a_short_training_run_lowers_the_flow_matching_loss():
    torch.manual_seed(0)
    model, win = _model(ema=0.0)
    model.train()
    b = _batch(win, B=16)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)

    def eval_loss():
        torch.manual_seed(99)  # the same t and noise draws every time
        with torch.no_grad():
            return float(model(b, "g")[0])

    before = eval_loss()
    for _ in range(60):
        loss, _ = model(b, "g")
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert eval_loss() < 0.85 * before


def test_sampling_in_eval_mode_uses_the_weight_average():
    model, win = _model(ema=0.9)
    model.train()
    b = _batch(win)
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    for _ in range(3):
        loss, _ = model(b, "g")
        opt.zero_grad()
        loss.backward()
        opt.step()
        model.after_step()
    model.eval()
    a, g = b["angles"], lambda: torch.Generator().manual_seed(4)  # noqa: E731
    averaged = model.generate(a, generator=g())
    before = [p.detach().clone() for p in model.parameters()]
    with torch.no_grad():
        raw = model.sample(a, None, g(), model.style_for_users(torch.full((len(a),), -1)))
    assert not torch.allclose(averaged, raw), "eval-mode generation must use the averaged weights"
    assert all(torch.equal(p0, p1) for p0, p1 in zip(before, model.parameters())), "weights restored afterwards"


def test_envelope_data_is_generated_positive_in_the_log_domain():
    win = WindowConfig(window_s=1.0, stride_s=1.0, angle_rate_hz=50.0).resolve(100.0)
    model = build_model("flow", C, J, win, K, rectified=True, **TINY).eval()
    assert model.log_domain
    out = model.generate(torch.randn(4, J, win.angle_frames), generator=torch.Generator().manual_seed(0))
    assert (out >= 0).all()
    x = torch.rand(2, C, win.window) * 3
    a = torch.randn(2, J, win.angle_frames)
    assert torch.allclose(model.from_flow_space(model.to_flow_space(x, a), a), x, atol=1e-5)


def _frame_log_rms(x, win):
    B, C_, T = x.shape
    return 0.5 * torch.log(x.pow(2).reshape(B, C_, win.angle_frames, -1).mean(-1) + 1e-8)


def _corr(a, b):
    a, b = a.flatten() - a.mean(), b.flatten() - b.mean()
    return float((a * b).sum() / (a.norm() * b.norm()))


def test_the_ridge_amplitude_prior_makes_an_untrained_flow_follow_the_kinematics():
    """prior=ridge: fitted before training, it sets the scale the flow works in, so even untrained weights give EMG
    whose envelope follows the angles (without it: no relation); it round-trips, and travels in the state dict."""
    win = WindowConfig(window_s=0.2, stride_s=0.2, angle_rate_hz=50.0).resolve(1000.0)
    opts = dict(TINY, ema=0.0)
    model = build_model("flow", C, J, win, K, num_users=2, prior="ridge", **opts).eval()
    plain = build_model("flow", C, J, win, K, num_users=2, **opts).eval()
    b = _batch(win, B=64, seed=1)
    assert model.wants_prefit() and not plain.wants_prefit()
    with pytest.raises(EmgaugError, match="prior was fitted"):
        model.generate(b["angles"], generator=torch.Generator().manual_seed(0))
    stats = model.prefit([_batch(win, B=64, seed=s) for s in range(2, 6)])
    assert stats["prior_r2_log_envelope"] > 0.5 and not model.wants_prefit()
    x = _batch(win, B=4, seed=7)
    assert torch.allclose(model.from_flow_space(model.to_flow_space(x["emg"], x["angles"]), x["angles"]), x["emg"],
                          atol=1e-4)
    truth = b["angles"][:, :C]  # the log envelope _batch modulates its noise with
    g = lambda: torch.Generator().manual_seed(3)  # noqa: E731
    with_prior = _frame_log_rms(model.generate(b["angles"], generator=g()), win)
    without = _frame_log_rms(plain.generate(b["angles"], generator=g()), win)
    assert _corr(with_prior, truth) > 0.5
    assert abs(_corr(without, truth)) < 0.2
    clone = build_model("flow", C, J, win, K, num_users=2, prior="ridge", **opts).eval()
    clone.load_state_dict(model.state_dict())
    assert not clone.wants_prefit()
    assert torch.equal(clone.generate(b["angles"], generator=g()), model.generate(b["angles"], generator=g()))


def test_an_unknown_prior_is_refused():
    with pytest.raises(EmgaugError, match="prior must be one of none, ridge"):
        _model(prior="gaussian")


def test_coloured_prior_noise_starts_the_flow_from_the_training_carriers_spectrum():
    """prior_noise=coloured: an untrained flow's output has the low-pass spectrum of the training carrier (the white
    source keeps a flat one), and the same seed gives the same draw."""
    win = WindowConfig(window_s=0.2, stride_s=0.2, angle_rate_hz=50.0).resolve(1000.0)
    T = win.window

    def lowpass_batch(seed):
        b = _batch(win, B=64, seed=seed)
        carrier = torch.nn.functional.avg_pool1d(torch.randn(64, C, T + 8, generator=torch.Generator().manual_seed(seed)),
                                                 9, stride=1)
        env = torch.nn.functional.interpolate(b["angles"][:, :C].exp(), size=T, mode="linear")
        return {**b, "emg": env * carrier / carrier.std()}

    def mean_freq(x):
        p = torch.fft.rfft(x, dim=-1).abs().pow(2).mean((0, 1))
        f = torch.fft.rfftfreq(T, 1 / 1000.0)
        return float((p * f).sum() / p.sum())

    out = {}
    for noise in ("white", "coloured"):
        m = build_model("flow", C, J, win, K, num_users=2, prior="ridge", prior_noise=noise, **TINY, ema=0.0).eval()
        m.prefit([lowpass_batch(s) for s in range(4)])
        a = lowpass_batch(9)["angles"]
        out[noise] = m.generate(a, generator=torch.Generator().manual_seed(1))
        assert torch.equal(out[noise], m.generate(a, generator=torch.Generator().manual_seed(1)))
    real = mean_freq(lowpass_batch(9)["emg"])
    assert abs(mean_freq(out["coloured"]) - real) < 0.3 * abs(mean_freq(out["white"]) - real)
    with pytest.raises(EmgaugError, match="prior_noise"):
        _model(prior_noise="pink")
    with pytest.raises(EmgaugError, match="needs prior=ridge"):
        _model(prior_noise="coloured")
    env_win = WindowConfig(window_s=1.0, stride_s=1.0, angle_rate_hz=50.0).resolve(100.0)
    with pytest.raises(EmgaugError, match="needs prior=ridge and raw EMG"):
        build_model("flow", C, J, env_win, K, rectified=True, prior="ridge", prior_noise="coloured", **TINY)
