"""`train_model` end to end on the simulated dataset at tiny sizes: exact resume after a kill, checkpoints that
load back and generate what the trained model generates, train-only normalisation, refusals, profiles, the
ridge fit, validation metrics, and (marked) 2-process DDP on CPU and CUDA training."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from emgaug.data.manifest import load_manifest
from emgaug.data.windows import WindowConfig, compute_norm_stats
from emgaug.errors import EmgaugError
from emgaug.models.registry import build_model
from emgaug.provenance import file_sha256
from emgaug.training.checkpoint import load_generator, read_checkpoint
from emgaug.training.profiles import make_optimizers
from emgaug.training.trainer import train_model
from emgaug.training.validation import envelope_correlation, is_better, log_spectrum_l1

WINDOW = WindowConfig(window_s=0.2, stride_s=0.2, angle_rate_hz=50.0)
TINY_GAN = dict(embed_dim=8, noise_dim=4, hidden=16, latent_dim=8, gen_width=16, disc_width=8)
KW = dict(epochs=3, batch_size=4, profile="paper", window_cfg=WINDOW, max_train_windows=12, max_val_windows=6,
          model_overrides=TINY_GAN, quiet=True, device="cpu")



class Killed(Exception):
    pass


def _kill_after(epoch: int):
    def hook(e: int) -> None:
        if e == epoch:
            raise Killed()
    return hook


@pytest.fixture(scope="module")
def full_run(sim_manifest, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "full"
    train_model(sim_manifest, "seqemg_gan", out, **KW)
    return out


def test_killed_and_resumed_run_matches_uninterrupted(sim_manifest, full_run, tmp_path):
    out = tmp_path / "resumed"
    with pytest.raises(Killed):
        train_model(sim_manifest, "seqemg_gan", out, **KW, on_epoch_end=_kill_after(1))
    assert read_checkpoint(out / "last.pt")["epoch"] == 1
    train_model(sim_manifest, "seqemg_gan", out, resume=True, **KW)
    a, b = read_checkpoint(full_run / "last.pt"), read_checkpoint(out / "last.pt")
    assert b["epoch"] == 3
    assert a["model_state"].keys() == b["model_state"].keys()
    for k in a["model_state"]:
        assert torch.equal(a["model_state"][k], b["model_state"][k]), k
    assert [h["train"] for h in a["history"]] == [h["train"] for h in b["history"]]
    for p in a["optim_state"]:
        sa, sb = a["optim_state"][p]["state"], b["optim_state"][p]["state"]
        assert all(torch.equal(sa[i]["momentum_buffer"], sb[i]["momentum_buffer"]) for i in sa)


def test_checkpoint_loads_back_and_generates_like_the_trained_model(sim_manifest, full_run):
    last = full_run / "last.pt"
    g = load_generator(last)
    ck = read_checkpoint(last)
    assert g.model_name == "seqemg_gan" and g.epoch == 3 and g.seed == 0 and not g.model.training
    assert g.sha256 == file_sha256(last) and g.code_version and Path(g.manifest_path) == Path(sim_manifest).resolve()
    assert g.label_map == load_manifest(sim_manifest).label_map()
    assert g.window.window == 400 and g.window.angle_downsample == 40
    assert g.config["profile"] == "paper" and g.config["model_overrides"] == TINY_GAN
    assert g.user_map == load_manifest(sim_manifest).user_map() and g.model.subject is not None
    rebuilt = build_model("seqemg_gan", ck["num_channels"], ck["num_joints"], g.window, ck["num_classes"],
                          num_users=len(ck["user_map"]), **TINY_GAN)
    rebuilt.load_state_dict(ck["model_state"])
    rebuilt.eval()
    a = torch.randn(2, ck["num_joints"], g.window.angle_frames)
    out1 = g.model.generate(a, generator=torch.Generator().manual_seed(1))
    out2 = rebuilt.generate(a, generator=torch.Generator().manual_seed(1))
    assert torch.equal(out1, out2)
    hist = json.loads((full_run / "history.json").read_text())
    assert [e["epoch"] for e in hist["epochs"]] == [1, 2, 3]
    assert {"env_corr", "logspec_l1"} <= set(hist["epochs"][0]["val"]) and "g_adv" in hist["epochs"][0]["train"]
    assert (full_run / "best.pt").exists() and hist["best"]["epoch"] in (1, 2, 3)
    assert read_checkpoint(full_run / "best.pt")["epoch"] == hist["best"]["epoch"]


def test_norm_stats_come_from_the_train_split_only(sim_manifest, full_run):
    m = load_manifest(sim_manifest)
    ref = compute_norm_stats(m.data_source, m.recordings("train"))
    other = compute_norm_stats(m.data_source, m.recordings("val"))
    got = load_generator(full_run / "last.pt").norm
    assert torch.allclose(torch.tensor(got.emg_std), torch.tensor(ref.emg_std), rtol=1e-6)
    assert not torch.allclose(torch.tensor(got.emg_std), torch.tensor(other.emg_std), rtol=1e-3)


def test_bad_checkpoints_are_one_line_errors(tmp_path):
    with pytest.raises(EmgaugError, match="not found"):
        load_generator(tmp_path / "missing.pt")
    bad = tmp_path / "corrupt.pt"
    bad.write_bytes(b"\x00garbage")
    with pytest.raises(EmgaugError, match="corrupt.pt"):
        load_generator(bad)
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(2)}, foreign)
    with pytest.raises(EmgaugError, match="not an emgaug generator checkpoint"):
        load_generator(foreign)


def test_existing_run_needs_resume_and_matching_options(sim_manifest, full_run, tmp_path):
    with pytest.raises(EmgaugError, match="--resume"):
        train_model(sim_manifest, "seqemg_gan", full_run, **KW)
    with pytest.raises(EmgaugError, match="seed"):
        train_model(sim_manifest, "seqemg_gan", full_run, **{**KW, "resume": True}, seed=1)
    # a finished run resumed with the same options does nothing and keeps the file
    before = file_sha256(full_run / "last.pt")
    train_model(sim_manifest, "seqemg_gan", full_run, **{**KW, "resume": True})
    assert file_sha256(full_run / "last.pt") == before


def test_paper_profile_is_sgd_with_step_decays_at_epochs_21_24_27():
    win = WINDOW.resolve(2000.0)
    model = build_model("seqemg_gan", 4, 3, win, 2, **TINY_GAN)
    opts = make_optimizers(model, "paper", 100)
    assert set(opts) == {"g", "d"}
    opt, sched = opts["g"]
    assert isinstance(opt, torch.optim.SGD)
    assert opt.defaults["momentum"] == 0.9 and opt.defaults["weight_decay"] == 5e-4
    lrs = []
    for _ in range(30):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs[19] == pytest.approx(0.002) and lrs[20] == pytest.approx(0.0002)  # 21st epoch
    assert lrs[23] == pytest.approx(2e-5) and lrs[26] == pytest.approx(2e-6)  # 24th and 27th
    g_ids = {id(p) for p in opts["g"][0].param_groups[0]["params"]}
    d_ids = {id(p) for p in opts["d"][0].param_groups[0]["params"]}
    assert not g_ids & d_ids and len(g_ids) + len(d_ids) == len(list(model.parameters()))


def test_ridge_trains_in_closed_form_through_train_model(sim_manifest, tmp_path):
    path = train_model(sim_manifest, "ridge", tmp_path / "ridge", **{**KW, "model_overrides": {}, "max_val_windows": 16,
                                                                     "window_cfg": WindowConfig(1.0, 0.5, 50.0),
                                                                     "max_train_windows": None})
    g = load_generator(path)
    assert g.epoch == 1 and bool(g.model.fitted)
    hist = read_checkpoint(path)["history"]
    assert hist[0]["train"]["r2_log_envelope"] > 0.2  # the simulator's envelopes follow the kinematics
    assert hist[0]["val"]["env_corr"] > 0.35  # generated envelopes follow held-out users' angles


def test_label_conditioned_model_records_the_training_stages(sim_manifest, tmp_path):
    path = train_model(sim_manifest, "dcgan", tmp_path / "dcgan",
                       **{**KW, "epochs": 1, "model_overrides": dict(z_dim=8, label_dim=4, gen_width=16, disc_width=8)})
    g = load_generator(path)
    m = load_manifest(sim_manifest)
    train_stages = {r.stage for r in m.recordings("train")}
    seen = {s for s, i in g.label_map.items() if bool(g.model.seen_labels[i])}
    assert seen and seen <= train_stages


def test_validation_metrics_are_exact_on_identical_signals():
    x = torch.randn(4, 3, 2000) * torch.linspace(0.1, 2, 2000)
    assert envelope_correlation(x, x, 2000.0) == pytest.approx(1.0)
    assert log_spectrum_l1(x, x) == 0.0
    assert envelope_correlation(x, x.flip(-1), 2000.0) < 0
    assert is_better("env_corr", 0.5, 0.4) and is_better("logspec_l1", 0.3, 0.4)
    assert not is_better("env_corr", float("nan"), None) and is_better("env_corr", 0.1, None)


@pytest.mark.slow
def test_two_process_ddp_on_cpu(sim_manifest, tmp_path):
    out = tmp_path / "ddp"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "emgaug",
           "train", "--manifest", str(sim_manifest), "--model", "seqemg_gan", "--out", str(out), "--epochs", "2",
           "--batch-size", "8", "--window-s", "0.2", "--stride-s", "0.2", "--max-train-windows", "16",
           "--max-val-windows", "4", "--device", "cpu"] + sum((["--set", f"{k}={v}"] for k, v in TINY_GAN.items()), [])
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    ck = read_checkpoint(out / "last.pt")
    assert ck["epoch"] == 2 and ck["config"]["world_size"] == 2 and len(ck["rng"]) == 2


@pytest.mark.gpu
def test_cuda_training_with_mixed_precision(sim_manifest, tmp_path):
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    path = train_model(sim_manifest, "seqemg_gan", tmp_path / "cuda", **{**KW, "device": "cuda", "epochs": 2})
    g = load_generator(path, device="cuda")
    a = torch.randn(2, g.model.num_joints, g.window.angle_frames, device="cuda")
    assert torch.isfinite(g.model.generate(a, generator=torch.Generator().manual_seed(0))).all()


@pytest.mark.slow
def test_generator_pathway_learns_the_angle_to_envelope_map(sim_manifest, tmp_path):
    """The SeqEMG-GAN generator (encoder, GRU, Ang2Gist, decoder) fitted with the feature-matching term and no
    discriminator must follow held-out users' kinematics: envelope correlation well above chance."""
    path = train_model(sim_manifest, "seqemg_gan_no_discriminator", tmp_path / "nod", epochs=12, batch_size=16,
                       profile="fast", lr=1e-3, window_cfg=WindowConfig(1.0, 0.1, 50.0), max_val_windows=32,
                       model_overrides={"feature_loss_weight": 1.0}, quiet=True, device="cpu")
    hist = read_checkpoint(path)["history"]
    assert max(h["val"]["env_corr"] for h in hist) > 0.3
    assert min(h["val"]["logspec_l1"] for h in hist) < 1.0


def test_flow_with_the_ridge_prior_fits_it_once_before_training_and_resumes_without_refitting(sim_manifest, tmp_path):
    """prior=ridge: train_model fits the prior in a streamed pass before the first step (the checkpoint carries it),
    and a killed run resumed with --resume continues from the stored prior to the same weights as an uninterrupted
    run."""
    opts = dict(KW, profile="fast", model_overrides=dict(width=8, emb_dim=16, mid_dilations=(1, 2), prior="ridge"))
    full = train_model(sim_manifest, "flow", tmp_path / "full", **opts)
    ck = read_checkpoint(tmp_path / "full" / "last.pt")
    assert bool(ck["model_state"]["amp_prior.fitted"]) and ck["model_state"]["amp_prior.weights"].abs().sum() > 0
    g = load_generator(full)
    assert not g.model.wants_prefit()
    out = tmp_path / "resumed"
    with pytest.raises(Killed):
        train_model(sim_manifest, "flow", out, **opts, on_epoch_end=_kill_after(1))
    train_model(sim_manifest, "flow", out, resume=True, **opts)
    a, b = ck["model_state"], read_checkpoint(out / "last.pt")["model_state"]
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
