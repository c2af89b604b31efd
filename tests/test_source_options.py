"""A dataset option a user typed that the dataset kind does not take is an error naming the valid ones (a typo
used to be dropped silently); a manifest's provenance keys are still accepted when it is loaded back."""

from __future__ import annotations

import pytest

from emgaug.data.source import open_source
from emgaug.errors import EmgaugError

from conftest import real_data


def test_a_typo_in_a_source_option_is_an_error_naming_the_valid_ones():
    db1 = real_data("ninapro_db1")
    with pytest.raises(EmgaugError, match="reps_per_sesion.*valid options:.*reps_per_session"):
        open_source(db1, "ninapro_db1", strict=True, reps_per_sesion=1)
    assert open_source(db1, "ninapro_db1", strict=True, reps_per_session=1).kind == "ninapro_db1"
    # a manifest's source dict carries provenance keys (kind, root, ...): loading it back ignores them
    assert open_source(db1, "ninapro_db1", sample_rate_source="x", kinematics_kind="joint_angles").kind == "ninapro_db1"


def test_the_split_command_refuses_an_unknown_source_option(sim_root, tmp_path):
    from typer.testing import CliRunner

    from emgaug.cli import app

    res = CliRunner().invoke(app, ["split", "--data", str(sim_root), "--out", str(tmp_path / "m.json"),
                                   "--source-option", "bogus=1"])
    assert res.exit_code != 0 and "bogus" in str(res.exception or res.output)
    assert not (tmp_path / "m.json").exists()
