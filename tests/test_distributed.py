"""Training past one process (issue 18 item 2): statistics and closed-form fits combined over ranks with all_reduce,
and (slow) two torchrun agents on one host with separate working directories standing in for two nodes: train,
resume (also on one process), and fail in one line on every rank, never hang, when one node lacks the checkpoint."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from emgaug.data.manifest import load_manifest
from emgaug.data.windows import WindowConfig, compute_norm_stats, norm_from_sums, norm_sums
from emgaug.errors import EmgaugError
from emgaug.training import distributed as D
from emgaug.training.checkpoint import read_checkpoint
from emgaug.training.trainer import train_model

REPO = Path(__file__).resolve().parents[1]
TINY_GAN = {"embed_dim": 16, "hidden": 32, "latent_dim": 16, "gen_width": 32, "disc_width": 8}
WINDOW = ["--window-s", "0.2", "--stride-s", "0.2"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}


def test_shares_by_size_cover_every_item_once_and_balance():
    sizes = [50, 10, 40, 10, 30, 20, 0]
    shares = D.shard_by_size(sizes, 3)
    assert sorted(i for s in shares for i in s) == list(range(len(sizes)))
    loads = [sum(sizes[i] for i in s) for s in shares]
    assert max(loads) - min(loads) <= max(sizes) and shares == D.shard_by_size(sizes, 3)  # deterministic
    assert D.shard_by_size([5], 4) == [[0], [], [], []]


def test_norm_sums_of_shares_combine_to_the_single_pass_statistics(sim_manifest):
    m = load_manifest(sim_manifest)
    recs = m.recordings("train")
    one = compute_norm_stats(m.data_source, recs)
    for world in (2, 3):
        parts = [norm_sums(m.data_source, [recs[i] for i in share]) for share in
                 D.shard_by_size([r.num_rows for r in recs], world)]
        combined = {k: (np.minimum.reduce if k == "emg_min" else np.add.reduce)([p[k] for p in parts]) for k in parts[0]}
        got = norm_from_sums(combined)
        for k in ("emg_mean", "emg_std", "angle_mean", "angle_std"):
            np.testing.assert_allclose(getattr(got, k), getattr(one, k), rtol=1e-6, atol=1e-7)
        assert got.rectified == one.rectified


CHILD = textwrap.dedent('''
    """Run by torchrun: rank r combines its share with all_reduce; rank 0 writes what every rank got."""
    import json, sys
    import numpy as np, torch
    from emgaug.data.manifest import load_manifest
    from emgaug.data.windows import WindowConfig
    from emgaug.models.registry import build_model
    from emgaug.training import distributed as D
    from emgaug.training.data import train_data
    from torch.utils.data import DataLoader, Subset

    manifest, out = sys.argv[1], sys.argv[2]
    ctx = D.init_distributed("cpu")
    m = load_manifest(manifest)
    norm = D.distributed_norm_stats(ctx, m.data_source, m.recordings("train"))
    win = WindowConfig(window_s=0.2, stride_s=0.2, angle_rate_hz=50.0).resolve(m.data_source.sample_rate)
    td = train_data(m, win, norm, m.label_map(), 0, 48, user_map=m.user_map())
    share = np.array_split(np.arange(len(td.subset)), ctx.world_size)[ctx.rank]
    model = build_model("ridge_user", m.data_source.num_channels, m.data_source.num_joints, win, len(m.label_map()),
                        num_users=len(m.user_map()))
    stats = model.fit(iter(DataLoader(Subset(td.subset, share.tolist()), batch_size=8)), reduce=D.torch_reducer(ctx))
    mins = D.all_reduce_arrays(ctx, {"a": np.array([ctx.rank + 1.0, -ctx.rank]), "b": torch.tensor([ctx.rank])},
                               {"a": "min", "b": "max"})
    got = D.gather_objects(ctx, {"norm": norm.to_dict(), "weights": model.weights.tolist(),
                                 "user_weights": model.user_weights.tolist(), "frames": stats["frames"],
                                 "user_frames": model.user_frames.tolist(), "a": mins["a"].tolist(),
                                 "b": mins["b"].tolist(), "b_dtype": str(mins["b"].dtype)})
    if ctx.is_main:
        open(out, "w").write(json.dumps(got))
    D.shutdown(ctx)
''')


def test_two_ranks_all_reduce_norm_statistics_and_the_ridge_fit_to_the_single_process_ones(sim_manifest, tmp_path):
    from torch.utils.data import DataLoader

    from emgaug.models.registry import build_model
    from emgaug.training.data import train_data

    child, out = tmp_path / "child.py", tmp_path / "got.json"
    child.write_text(CHILD)
    res = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                          str(child), str(sim_manifest), str(out)], capture_output=True, text=True, env=_env(),
                         timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr[-3000:]
    ranks = json.loads(out.read_text())
    assert len(ranks) == 2 and ranks[0] == ranks[1]  # every rank holds the same statistics and weights
    got = ranks[0]
    assert got["a"] == [1.0, -1.0] and got["b"] == [1] and got["b_dtype"] == "torch.int64"
    m = load_manifest(sim_manifest)
    one = compute_norm_stats(m.data_source, m.recordings("train"))
    for k in ("emg_mean", "emg_std", "angle_mean", "angle_std"):
        np.testing.assert_allclose(got["norm"][k], getattr(one, k), rtol=1e-6, atol=1e-7)
    win = WindowConfig(window_s=0.2, stride_s=0.2, angle_rate_hz=50.0).resolve(m.data_source.sample_rate)
    td = train_data(m, win, one, m.label_map(), 0, 48, user_map=m.user_map())
    model = build_model("ridge_user", m.data_source.num_channels, m.data_source.num_joints, win, len(m.label_map()),
                        num_users=len(m.user_map()))
    stats = model.fit(iter(DataLoader(td.subset, batch_size=8)))
    assert got["frames"] == stats["frames"] and got["user_frames"] == model.user_frames.tolist()
    np.testing.assert_allclose(got["weights"], model.weights.numpy(), rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(got["user_weights"], model.user_weights.numpy(), rtol=1e-5, atol=1e-8)


def test_one_rank_failure_before_the_agreement_fails_every_rank():
    ctx = D.DistContext(world_size=1, rank=0, local_rank=0, device=torch.device("cpu"))
    D.fail_together(ctx, None)
    with pytest.raises(EmgaugError, match="boom"):
        D.fail_together(ctx, EmgaugError("boom"))


def test_resume_keeps_going_on_another_number_of_processes(sim_manifest, tmp_path):
    """world_size is recorded but no longer has to match: a checkpoint written by 2 ranks resumes on 1 process."""
    out = tmp_path / "run"
    args = dict(profile="paper", batch_size=8, seed=0, device="cpu", max_train_windows=16, max_val_windows=4,
                window_cfg=WindowConfig(window_s=0.2, stride_s=0.2, angle_rate_hz=50.0), model_overrides=TINY_GAN,
                quiet=True)
    train_model(sim_manifest, "seqemg_gan", out, epochs=1, **args)
    ck = torch.load(out / "last.pt", weights_only=True)
    ck["config"]["world_size"] = 2
    ck["rng"] = ck["rng"] * 2  # as two ranks would have written it
    torch.save(ck, out / "last.pt")
    train_model(sim_manifest, "seqemg_gan", out, epochs=2, resume=True, **args)
    again = read_checkpoint(out / "last.pt")
    assert again["epoch"] == 2 and again["config"]["world_size"] == 1 and len(again["rng"]) == 1


def _node(cwd: Path, port: int, args: list[str]) -> subprocess.Popen:
    """One torchrun agent of a 2-node job (c10d rendezvous on localhost), in its own working directory."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "2", "--nproc_per_node", "1", "--rdzv-backend",
           "c10d", "--rdzv-endpoint", f"127.0.0.1:{port}", "--rdzv-id", f"job{port}", "-m", "emgaug", *args]
    return subprocess.Popen(cmd, cwd=cwd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _two_nodes(a: Path, b: Path, args: list[str], timeout: float = 300) -> list[tuple[int, str, str]]:
    port = _free_port()
    procs = [_node(a, port, args), _node(b, port, args)]
    t0, out = time.time(), []
    try:
        for p in procs:
            so, se = p.communicate(timeout=max(1.0, timeout - (time.time() - t0)))
            out.append((p.returncode, so, se))
    except subprocess.TimeoutExpired:
        for p in procs:
            p.kill()
        pytest.fail(f"two-node run hung for more than {timeout:.0f} s: {args}")
    return out


@pytest.mark.slow
def test_two_nodes_with_their_own_disks_train_resume_and_fail_in_one_line(sim_manifest, tmp_path):
    a, b = tmp_path / "nodeA", tmp_path / "nodeB"
    a.mkdir(), b.mkdir()
    train = ["train", "--manifest", str(sim_manifest), "--model", "seqemg_gan", "--out", "models/mn", "--profile",
             "paper", "--batch-size", "8", *WINDOW, "--max-train-windows", "16", "--max-val-windows", "4", "--device",
             "cpu"] + sum((["--set", f"{k}={v}"] for k, v in TINY_GAN.items()), [])
    # 1. train on two nodes: rank 0 alone writes (on its node's disk; c10d places rank 0 on either node), the other
    # rank reads nothing back, both exit 0
    res = _two_nodes(a, b, train + ["--epochs", "1"])
    assert [r[0] for r in res] == [0, 0], res
    written = [n for n in (a, b) if (n / "models/mn/last.pt").is_file()]
    assert len(written) == 1, "exactly one node holds the checkpoint"
    home, other = written[0], (b if written[0] == a else a)
    assert not (other / "models").exists()
    assert sum("checkpoint models/mn/best.pt" in " ".join(r[1].split()) for r in res) == 1  # rank 0's table only
    # 2. resume where one node lacks the checkpoint: every rank fails with one line, fast, nothing trained
    t0 = time.time()
    res = _two_nodes(a, b, train + ["--epochs", "2", "--resume"], timeout=180)
    assert all(r[0] != 0 for r in res) and time.time() - t0 < 180
    for _, so, se in res:
        lines = [x for x in so.splitlines() if x.strip()]
        assert len(lines) == 1 and lines[0].startswith("error:") and "cannot resume" in lines[0], (so, se[-2000:])
        text = " ".join(so.split())
        assert ("rank(s) 0" in text or "rank(s) 1" in text) and "do not" in text
        assert "Traceback" not in so
    assert read_checkpoint(home / "models/mn/last.pt")["epoch"] == 1 and not (other / "models").exists()
    # 3. the same checkpoint on both nodes: the two-node resume continues (rank 0 may now be on the other node)
    shutil.copytree(home / "models", other / "models")
    res = _two_nodes(a, b, train + ["--epochs", "2", "--resume"])
    assert [r[0] for r in res] == [0, 0], res
    epochs = {n: read_checkpoint(n / "models/mn/last.pt")["epoch"] for n in (a, b)}
    assert sorted(epochs.values()) == [1, 2]
    newest = max(epochs, key=epochs.get)
    ck = read_checkpoint(newest / "models/mn/last.pt")
    assert ck["config"]["world_size"] == 2 and len(ck["rng"]) == 2
    # 4. another checkpoint on one node (the stale copy): refused on every rank, one line
    res = _two_nodes(a, b, train + ["--epochs", "3", "--resume"], timeout=180)
    assert all(r[0] != 0 for r in res)
    assert all("different checkpoints" in " ".join(r[1].split()) for r in res), res
    # 5. resume on one process (another world size): same global batch, sampler re-derived
    one = subprocess.run([sys.executable, "-m", "emgaug", *train, "--epochs", "3", "--resume"], cwd=newest, env=_env(),
                         capture_output=True, text=True, timeout=300)
    assert one.returncode == 0, one.stdout + one.stderr[-2000:]
    assert "written by 2 process(es), now 1" in " ".join(one.stdout.split())
    ck = read_checkpoint(newest / "models/mn/last.pt")
    assert ck["epoch"] == 3 and ck["config"]["world_size"] == 1 and ck["config"]["batch_size"] == 8
