"""Sharded synthesis (issue 18 item 1): per-window noise (RowGenerators), `--shard i/N` + finalize, torchrun ranks,
and what finalize refuses. The set must be the same rows, byte for byte, whatever the number of shards or ranks."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from emgaug import lockfile
from emgaug.data.windows import WindowConfig
from emgaug.errors import EmgaugError
from emgaug.models.base import RowGenerators, randn
from emgaug.models.registry import build_model
from emgaug.synthesis import read_metadata, read_synthetic
from emgaug.synthesis.generate import parse_shard, shard_batches, synthesize_set
from emgaug.synthesis.parquet_io import finalize_shards, shard_lock_target, shard_staging
from emgaug.training.trainer import train_model

REPO = Path(__file__).resolve().parents[1]
WINDOW = WindowConfig(window_s=0.25, stride_s=0.25, angle_rate_hz=50.0)
RUN = dict(max_windows=22, samples_per_window=2, seed=3, batch_size=4, device="cpu")  # 6 batches, the last one short


@pytest.fixture(scope="module")
def gan_ckpt(sim_manifest, tmp_path_factory):
    """A small seqemg_gan checkpoint (h0, GRU noise and noise injection all draw through `randn`)."""
    return train_model(sim_manifest, "seqemg_gan", tmp_path_factory.mktemp("ckpt") / "gan", epochs=1, batch_size=16,
                       profile="fast", seed=0, device="cpu", window_cfg=WINDOW, max_train_windows=16, max_val_windows=0,
                       model_overrides=dict(embed_dim=16, hidden=32, latent_dim=16, gen_width=32, disc_width=8),
                       quiet=True)


@pytest.fixture(scope="module")
def one_process_set(gan_ckpt, tmp_path_factory):
    return synthesize_set(gan_ckpt, tmp_path_factory.mktemp("one") / "syn", **RUN)


def _rows(path: Path):
    s = read_synthetic(path)  # generation order = row_id order
    assert s.labels["row_id"].tolist() == list(range(len(s)))
    return s


def _assert_same_rows(a: Path, b: Path) -> None:
    x, y = _rows(a), _rows(b)
    assert x.emg.tobytes() == y.emg.tobytes()  # byte for byte
    assert x.angles.tobytes() == y.angles.tobytes() and (x.angle_mask == y.angle_mask).all()
    pd.testing.assert_frame_equal(x.labels, y.labels)


def _only_parquet(path: Path) -> list[str]:
    return sorted(p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file())


def test_row_generators_give_each_row_its_own_stream_whatever_the_batch():
    seeds = [11, 22, 33]
    x = randn((3, 2, 5), torch.zeros(1), RowGenerators(seeds))
    for i, s in enumerate(seeds):
        torch.testing.assert_close(x[i], torch.randn((2, 5), generator=torch.Generator().manual_seed(s)), rtol=0, atol=0)
    with pytest.raises(ValueError, match="one per row"):
        randn((2, 5), torch.zeros(1), RowGenerators(seeds))
    g = torch.Generator().manual_seed(5)  # the single-generator path is unchanged
    torch.testing.assert_close(randn((2, 3), torch.zeros(1), g), torch.randn((2, 3), generator=torch.Generator().manual_seed(5)))
    # a whole generator: window 1 made alone gets the draws it gets inside a batch of 4 (no batch coupling)
    from emgaug.data.windows import ResolvedWindow

    win = ResolvedWindow(window=200, stride=200, angle_downsample=40, jitter=0, pad=False, sample_rate=2000.0)
    model = build_model("seqemg_gan", 4, 3, win, 2, embed_dim=8, hidden=16, latent_dim=8, gen_width=8, disc_width=4).eval()
    ang = torch.randn(4, 3, 5, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        batch = model.generate(ang, generator=RowGenerators([7, 8, 9, 10]))
        alone = model.generate(ang[1:2], generator=RowGenerators([8]))
        other = model.generate(ang[1:2], generator=RowGenerators([9]))
    torch.testing.assert_close(alone[0], batch[1], rtol=1e-5, atol=1e-6)
    assert not torch.allclose(other[0], batch[1])


def test_shard_arithmetic():
    assert parse_shard("1/4") == (1, 4) and parse_shard(None) is None
    for bad in ("4/4", "-1/2", "1", "a/b", "0/0"):
        with pytest.raises(EmgaugError, match="--shard"):
            parse_shard(bad)
    for nb in (1, 5, 6, 7, 100):
        for n in (1, 2, 3, 8):
            ranges = [shard_batches(nb, i, n) for i in range(n)]
            assert ranges[0][0] == 0 and ranges[-1][1] == nb
            assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:]))  # contiguous, disjoint, complete


def test_shards_plus_finalize_are_the_one_process_set_byte_for_byte(gan_ckpt, one_process_set, tmp_path):
    for n in (2, 3, 8):  # 8 shards of 6 batches: two shards have nothing to write
        out = tmp_path / f"syn{n}"
        for i in range(n):
            synthesize_set(gan_ckpt, out, shard=(i, n), **RUN)
            assert not out.exists()  # not readable before finalize
        meta = finalize_shards(out)
        assert meta["num_shards"] == n and meta["num_rows"] == 44 and not shard_staging(out).exists()
        _assert_same_rows(one_process_set, out)
        files = _only_parquet(out)
        assert all(f.startswith("stage=") and f.endswith(".parquet") for f in files)
        assert len({f.rsplit("/", 1)[1] for f in files}) == min(n, 6)  # one part per shard that had windows
        assert sorted(files) == sorted(p for ps in meta["partitions"].values() for p in ps)
        assert not list(tmp_path.glob(".*.lock"))
    one = read_metadata(one_process_set)
    assert one["num_shards"] == 1 and one["partitions"] == {k: [f"stage={k}/part-0.parquet"] for k in one["rows_per_stage"]}


def test_noise_follows_the_window_not_the_batch_or_the_selection(gan_ckpt, one_process_set, tmp_path):
    a = _rows(one_process_set)
    b = _rows(synthesize_set(gan_ckpt, tmp_path / "b5", **{**RUN, "batch_size": 5}))  # other batch composition
    np.testing.assert_allclose(b.emg, a.emg, rtol=1e-4, atol=1e-4 * float(np.abs(a.emg).max()))
    # one user's windows alone: same rows as in the full selection (the noise is keyed by file and start, so two
    # runs with the same --seed over different users do not get identical noise either)
    user = a.labels["user"].iloc[0]
    c = _rows(synthesize_set(gan_ckpt, tmp_path / "u", users=[user], **{**RUN, "max_windows": None}))
    key = ["filename", "start", "sample_index"]
    both = a.labels.reset_index().merge(c.labels.reset_index(), on=key, suffixes=("_a", "_c"))
    assert len(both) >= 2
    np.testing.assert_allclose(c.emg[both["index_c"]], a.emg[both["index_a"]], rtol=1e-4,
                               atol=1e-4 * float(np.abs(a.emg).max()))
    first, second = a.emg[0::2], a.emg[1::2]
    corr = np.corrcoef(first.reshape(len(first), -1)[:, :50].ravel(), first.reshape(len(first), -1)[::-1, :50].ravel())
    assert abs(corr[0, 1]) < 0.9 and not np.allclose(first, second)


def test_finalize_refuses_missing_shards_foreign_parts_and_existing_sets(gan_ckpt, one_process_set, tmp_path):
    out = tmp_path / "syn"
    with pytest.raises(EmgaugError, match="no shards to finalize"):
        finalize_shards(out)
    synthesize_set(gan_ckpt, out, shard=(0, 2), **RUN)
    with pytest.raises(EmgaugError, match=r"shard\(s\) 1 of 2 have not landed .*--shard 1/2"):
        finalize_shards(out)
    # a shard of another run (another seed) into the same staging folder: refused before it writes anything
    with pytest.raises(EmgaugError, match="of another sharded run"):
        synthesize_set(gan_ckpt, out, shard=(1, 2), **{**RUN, "seed": 4})
    with pytest.raises(EmgaugError, match="of another sharded run"):
        synthesize_set(gan_ckpt, out, shard=(0, 3), **RUN)
    synthesize_set(gan_ckpt, out, shard=(1, 2), **RUN)
    synthesize_set(gan_ckpt, out, shard=(1, 2), **RUN)  # a shard run again replaces its own parts
    # a damaged part is refused at finalize, and the shards stay where they are
    part = next(shard_staging(out).glob("stage=*/part-1.parquet"))
    good = part.read_bytes()
    part.write_bytes(good[:100] + bytes([good[100] ^ 1]) + good[101:])
    with pytest.raises(EmgaugError, match="SHA-256 differs"):
        finalize_shards(out)
    part.write_bytes(good)
    existing = tmp_path / "existing"
    existing.mkdir()
    (existing / "keep.txt").write_text("mine")
    os.replace(shard_staging(out), shard_staging(existing))
    with pytest.raises(EmgaugError, match="already exists"):
        finalize_shards(existing)
    with pytest.raises(EmgaugError, match="not an emgaug synthetic set"):
        finalize_shards(existing, overwrite=True)
    assert (existing / "keep.txt").read_text() == "mine" and shard_staging(existing).is_dir()
    os.replace(shard_staging(existing), shard_staging(out))
    # the CLI's --finalize; an existing set is replaced only with --overwrite
    import typer

    from emgaug.commands.synthesize import synthesize

    app = typer.Typer()
    app.command()(synthesize)
    res = CliRunner().invoke(app, ["--finalize", str(out)])
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert "2 shard(s), 44 windows" in text and "the set is readable" in text
    _assert_same_rows(one_process_set, out)
    synthesize_set(gan_ckpt, out, shard=(0, 2), overwrite=True, **RUN)
    synthesize_set(gan_ckpt, out, shard=(1, 2), overwrite=True, **RUN)
    with pytest.raises(EmgaugError, match="already exists"):
        finalize_shards(out)
    assert finalize_shards(out, overwrite=True)["num_shards"] == 2
    _assert_same_rows(one_process_set, out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["existing", "syn"]  # no locks, staging or temporaries


def test_a_running_shard_blocks_finalize_and_a_second_writer_of_that_shard(gan_ckpt, tmp_path):
    out = tmp_path / "syn"
    synthesize_set(gan_ckpt, out, shard=(0, 2), **RUN)
    synthesize_set(gan_ckpt, out, shard=(1, 2), **RUN)
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        lock = lockfile.lock_path(shard_lock_target(out, 1))
        lock.write_text(f"{alive.pid}@{os.uname().nodename}\n")  # shard 1's writer is (still) running
        with pytest.raises(EmgaugError, match=rf"in use by another emgaug run \({alive.pid}@"):
            finalize_shards(out)
        with pytest.raises(EmgaugError, match=rf"shard 1 of 2 .*in use by another emgaug run \({alive.pid}@"):
            synthesize_set(gan_ckpt, out, shard=(1, 2), **RUN)
        set_lock = lockfile.lock_path(out)  # a finalize or a one-process writer holds the set: shards refuse too
        set_lock.write_text(f"{alive.pid}@{os.uname().nodename}\n")
        with pytest.raises(EmgaugError, match="in use by another emgaug run"):
            synthesize_set(gan_ckpt, out, shard=(0, 2), **RUN)
        set_lock.unlink()
    finally:
        alive.kill()
        alive.wait()
    assert finalize_shards(out)["num_rows"] == 44  # the dead writer's lock is stale now: taken over
    assert not lock.exists()


def _torchrun(*args: str, nproc: int, cwd: Path, timeout: float = 240) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node",
                           str(nproc), "-m", "emgaug", *args], capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=timeout)


def test_two_rank_torchrun_is_the_one_process_set_and_a_failing_rank_fails_every_rank(gan_ckpt, one_process_set,
                                                                                       tmp_path):
    out = tmp_path / "syn2"
    args = ["synthesize", "--checkpoint", str(gan_ckpt), "--out", str(out), "--max-windows", "22",
            "--samples-per-window", "2", "--seed", "3", "--batch-size", "4", "--device", "cpu"]
    t0 = time.time()
    res = _torchrun(*args, nproc=2, cwd=tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    assert time.time() - t0 < 240
    _assert_same_rows(one_process_set, out)
    assert read_metadata(out)["num_shards"] == 2 and not shard_staging(out).exists()
    assert res.stdout.count("Synthetic set") == 1  # rank 0 alone prints the summary
    # the set exists: every rank refuses in one line, exit 2, nothing replaced
    res = _torchrun(*args, nproc=2, cwd=tmp_path)
    assert res.returncode != 0
    lines = [x for x in res.stdout.splitlines() if "already exists" in x]
    assert len(lines) == 2, res.stdout + res.stderr
    _assert_same_rows(one_process_set, out)
    # rank 1 cannot write its shard (another writer holds it): rank 0 finishes its own, then both fail in one line
    # (rank 1 with its reason, rank 0 naming rank 1's), no set appears and rank 0's shard waits in the staging folder
    other = tmp_path / "syn3"
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        lockfile.lock_path(shard_lock_target(other, 1)).write_text(f"{alive.pid}@{os.uname().nodename}\n")
        res = _torchrun(*[str(other) if a == str(out) else a for a in args], nproc=2, cwd=tmp_path)
    finally:
        alive.kill()
        alive.wait()
    assert res.returncode != 0 and not other.exists()
    text = res.stdout.replace("\n", " ")
    assert "shard 1 of 2" in text and "rank 1 of 2 failed" in text, res.stdout + res.stderr
    assert "Traceback" not in res.stdout  # the ranks' lines; stderr holds torchrun's own ChildFailedError report
    assert [p.name for p in shard_staging(other).glob("stage=*/*.parquet")] and not list(
        shard_staging(other).glob("stage=*/part-1.parquet"))
