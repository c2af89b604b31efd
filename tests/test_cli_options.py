"""Option values outside their range are usage errors (exit 2, one line naming the option and the valid range),
never silently replaced by a default and never a traceback (issue 16)."""

from __future__ import annotations

import pytest

from emgaug import cli


def usage_error(capsys, *args) -> str:
    code = cli.run([str(a) for a in args])
    out = capsys.readouterr()
    text = out.out + out.err
    lines = [ln for ln in text.splitlines() if ln.strip()]
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error:") and "Traceback" not in text, text
    return lines[0]


@pytest.mark.parametrize("option, value, needle", [
    ("--epochs", "0", "greater than or equal to 1"),
    ("--batch-size", "0", "greater than or equal to 1"),
    ("--batch-size", "-4", "greater than or equal to 1"),
    ("--stride-s", "0", "> 0"),
    ("--stride-s", "-0.5", "> 0"),
    ("--window-s", "nan", "> 0"),
    ("--lr", "-1", "> 0"),
    ("--lr", "nan", "> 0"),
    ("--lr", "inf", "> 0"),
    ("--workers", "-1", "greater than or equal to 0"),
    ("--angle-rate-hz", "0", "> 0"),
    ("--seed", "-1", "greater than or equal to 0"),
    ("--jitter-s", "-1", ">= 0"),
    ("--max-train-windows", "0", "greater than or equal to 1"),
    ("--alpha", "nan", ">= 0"),
])
def test_train_options_out_of_range(sim_manifest, tmp_path, capsys, option, value, needle):
    line = usage_error(capsys, "train", "--manifest", sim_manifest, "--model", "ridge", "--out", tmp_path / "r",
                       option, value)
    assert f"'{option}'" in line and needle in line
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("option, value, needle", [
    ("--test-frac", "nan", "in [0, 1)"),
    ("--val-frac", "1", "in [0, 1)"),
    ("--stage-frac", "-0.1", "in [0, 1)"),
    ("--block-s", "0", "> 0"),
    ("--seed", "-1", "greater than or equal to 0"),
    ("--calibration-s", "-2", "> 0"),
])
def test_split_options_out_of_range(sim_root, tmp_path, capsys, option, value, needle):
    line = usage_error(capsys, "split", "--data", sim_root, "--out", tmp_path / "m.json", option, value)
    assert f"'{option}'" in line and needle in line


def test_split_gap_must_cover_a_window(sim_root, tmp_path, capsys):
    line = usage_error(capsys, "split", "--data", sim_root, "--protocol", "sample-wise", "--out", tmp_path / "m.json",
                       "--gap-s", "0")
    assert "'--gap-s'" in line and "--gap-s >= 1" in line
    line = usage_error(capsys, "split", "--data", sim_root, "--protocol", "sample-wise", "--out", tmp_path / "m.json",
                       "--gap-s", "0.25", "--window-s", "0.5")
    assert "--gap-s >= 0.5" in line
    assert cli.run(["split", "--data", str(sim_root), "--protocol", "sample-wise", "--block-s", "1", "--gap-s", "0.25",
                    "--window-s", "0.2", "--out", str(tmp_path / "ok.json")]) == 0


@pytest.mark.parametrize("option, value", [("--stride-s", "0"), ("--stride-s", "nan"), ("--seed", "-1"),
                                           ("--batch-size", "0")])
def test_synthesize_options_out_of_range(tmp_path, capsys, option, value):
    line = usage_error(capsys, "synthesize", "--checkpoint", tmp_path / "none.pt", "--out", tmp_path / "s", option, value)
    assert f"'{option}'" in line


@pytest.mark.parametrize("option, value", [("--users", "0"), ("--reps", "0"), ("--seed", "-1")])
def test_simulate_options_out_of_range(tmp_path, capsys, option, value):
    assert f"'{option}'" in usage_error(capsys, "simulate", "--out", tmp_path / "s", option, value)


def test_simulate_stage_names_are_checked(tmp_path, capsys):
    line = usage_error(capsys, "simulate", "--out", tmp_path / "s", "--stages", "click,frobnicate")
    assert "frobnicate" in line and "choose from" in line
    assert "at least one stage" in usage_error(capsys, "simulate", "--out", tmp_path / "s", "--stages", ",")


def test_no_window_fits_names_the_real_fix(sim_manifest, tmp_path, capsys):
    line = usage_error(capsys, "train", "--manifest", sim_manifest, "--model", "ridge", "--out", tmp_path / "r",
                       "--window-s", "60", "--device", "cpu")
    assert "use a shorter --window-s" in line and "--pad" not in line


def test_a_model_option_torch_rejects_is_a_usage_error(sim_manifest, tmp_path, capsys):
    line = usage_error(capsys, "train", "--manifest", sim_manifest, "--model", "wavenet", "--out", tmp_path / "r",
                       "--set", "residual=-5", "--window-s", "0.2", "--device", "cpu")
    assert "model 'wavenet'" in line and "residual" in line
