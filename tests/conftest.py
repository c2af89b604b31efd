"""Shared fixtures: a tiny simulated emg2pose dataset and split manifests over it, plus the real-data path."""

from __future__ import annotations

from pathlib import Path

import pytest

from emgaug.data.simulate import simulate_dataset
from emgaug.data.source import open_source
from emgaug.data.splits import make_split

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
TINY_STAGES = ("slide_left", "slide_right", "click", "fist")


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    """Tiny tensors on 2 shared cores: one intra-op thread avoids oversubscription (seen 77 s -> 2.4 s)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def real_data(name: str) -> Path:
    """Path of a real dataset under ../shared/data, or skip the test when it is absent."""
    p = SHARED_DATA / name
    if not p.is_dir():
        pytest.skip(f"real data {p} is not present")
    return p


@pytest.fixture(scope="session")
def sim_root(tmp_path_factory) -> Path:
    """4 users x 2 sessions x 4 stages x 2 repetitions, emg2pose format (~2 s per file)."""
    return simulate_dataset(tmp_path_factory.mktemp("sim") / "data", seed=0, users=4, sessions=2, reps=2,
                            stages=TINY_STAGES, held_out_users=1, held_out_stages=1)


@pytest.fixture(scope="session")
def sim_manifest(sim_root, tmp_path_factory) -> Path:
    """A cross-subject manifest (seeded users, all stages) over `sim_root`."""
    m = make_split(open_source(sim_root), "cross-subject", seed=0, use_metadata_columns=False)
    return m.save(tmp_path_factory.mktemp("manifests") / "cross_subject.json")


@pytest.fixture(scope="session")
def sim_manifests(sim_root, tmp_path_factory) -> dict[str, Path]:
    """One manifest per protocol over `sim_root`."""
    from emgaug.data.splits import PROTOCOLS

    out = tmp_path_factory.mktemp("manifests_all")
    return {p: make_split(open_source(sim_root), p, seed=0, block_s=1.0, gap_s=0.25).save(out / f"{p}.json")
            for p in PROTOCOLS}
