"""`emgaug train` through the Typer app: a run writes checkpoints and a summary; bad input is one red line
with exit code 2; --set passes model options through."""

from __future__ import annotations

import sys

import pytest
from typer.testing import CliRunner

from emgaug import cli
from emgaug.commands.train import parse_model_options
from emgaug.errors import EmgaugError
from emgaug.training.checkpoint import read_checkpoint



def test_train_command_writes_checkpoints_and_history(sim_manifest, tmp_path):
    out = tmp_path / "run"
    args = ["train", "--manifest", str(sim_manifest), "--model", "wavenet", "--out", str(out), "--epochs", "2",
            "--batch-size", "4", "--profile", "fast", "--window-s", "0.2", "--stride-s", "0.2",
            "--max-train-windows", "8", "--max-val-windows", "4", "--device", "cpu",
            "--set", "residual=8", "--set", "skip=16", "--set", "dilations=[1, 2]"]
    r = CliRunner().invoke(cli.app, args)
    assert r.exit_code == 0, r.output
    assert (out / "last.pt").exists() and (out / "history.json").exists()
    ck = read_checkpoint(out / "last.pt")
    assert ck["epoch"] == 2 and ck["config"]["profile"] == "fast"
    assert ck["model_config"] == {"residual": 8, "skip": 16, "dilations": [1, 2]}
    assert "wavenet" in r.output and "nll" in r.output
    r2 = CliRunner().invoke(cli.app, args + ["--resume"])  # finished run: nothing to do, same checkpoint
    assert r2.exit_code == 0, r2.output
    assert read_checkpoint(out / "last.pt")["epoch"] == 2


@pytest.mark.parametrize("extra, message", [
    (["--model", "nope"], "unknown model"),
    (["--model", "gan", "--profile", "slow"], "unknown --profile"),
    (["--model", "gan", "--device", "tpu"], "unknown --device"),
])
def test_bad_input_is_one_line_and_exit_code_2(sim_manifest, tmp_path, monkeypatch, capsys, extra, message):
    monkeypatch.setattr(sys, "argv", ["emgaug", "train", "--manifest", str(sim_manifest), "--out",
                                      str(tmp_path / "x"), *extra])
    with pytest.raises(SystemExit) as e:
        cli.main()
    assert e.value.code == 2
    out = " ".join(capsys.readouterr().out.split())  # rich wraps long lines at the terminal width
    assert out.startswith("error:") and message in out and "Traceback" not in out


def test_missing_manifest_names_the_file(tmp_path):
    r = CliRunner().invoke(cli.app, ["train", "--manifest", str(tmp_path / "none.json"), "--model", "ridge"])
    assert isinstance(r.exception, EmgaugError) and "none.json" in str(r.exception)
    assert "\n" not in str(r.exception)


def test_model_options_parse_json_values():
    assert parse_model_options(["hidden=64", "alpha=0.5", "gru=false", "name=abc", "d=[1,2]"]) == \
        {"hidden": 64, "alpha": 0.5, "gru": False, "name": "abc", "d": [1, 2]}
    with pytest.raises(EmgaugError, match="KEY=VALUE"):
        parse_model_options(["hidden"])


def test_every_training_option_is_a_cli_option_of_the_same_name_and_resume_keys_come_from_field_metadata():
    """Adding a training option touches TrainOptions and the CLI option only (issue 14): the CLI passes every
    parameter named like a field straight into TrainOptions, and --resume compares the fields marked MUST_MATCH."""
    import inspect
    from dataclasses import fields

    from emgaug.commands.train import train
    from emgaug.training.trainer import RESUME_KEYS, TrainOptions

    composed = {"window_cfg", "model_overrides"}  # built from --window-s/--stride-s/... and --set
    cli = set(inspect.signature(train).parameters)
    assert {f.name for f in fields(TrainOptions)} - composed <= cli
    marked = {f.name for f in fields(TrainOptions) if f.metadata.get("resume")}
    assert {"seed", "profile", "batch_size", "lr"} <= marked <= set(RESUME_KEYS)
    assert "epochs" not in RESUME_KEYS and "device" not in RESUME_KEYS
