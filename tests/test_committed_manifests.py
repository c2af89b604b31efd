"""The manifests committed under data_manifests/ are what `emgaug simulate` + `emgaug split` produce today."""

from __future__ import annotations

import json

import pytest

from conftest import REPO, SHARED_DATA
from emgaug.data.manifest import load_manifest
from emgaug.data.simulate import simulate_dataset
from emgaug.data.source import open_source
from emgaug.data.splits import PROTOCOLS, make_split

MANIFESTS = REPO / "data_manifests"


@pytest.fixture(scope="module")
def default_sim(tmp_path_factory):
    return simulate_dataset(tmp_path_factory.mktemp("default") / "simulated", seed=0)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_simulated_manifests_are_reproducible(default_sim, protocol):
    committed = json.loads((MANIFESTS / f"simulated_{protocol}.json").read_text())
    fresh = make_split(open_source(default_sim), protocol, seed=committed["seed"])
    assert fresh.splits == committed["splits"]


@pytest.mark.parametrize("protocol", ["cross-subject", "cross-session"])
def test_ninapro_manifests_load_verify_and_match_the_data(protocol, monkeypatch):
    if not (SHARED_DATA / "ninapro_db1").is_dir():
        pytest.skip("real data ../shared/data/ninapro_db1 is not present")
    monkeypatch.chdir(REPO)  # the manifest names the data relative to the repository root
    m = load_manifest(MANIFESTS / f"ninapro_db1_{protocol}.json")  # re-runs the leakage check
    assert {r.user for r in m.recordings("train")}
    fresh = make_split(open_source(SHARED_DATA / "ninapro_db1"), protocol, seed=m.seed)
    assert fresh.splits == m.splits
