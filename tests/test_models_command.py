"""`emgaug models`: every registered generator is listed, and one model's options are its constructor's."""

from __future__ import annotations

from typer.testing import CliRunner

from emgaug.cli import app
from emgaug.models.registry import MODEL_NAMES, model_info


def test_models_lists_every_generator_and_one_models_options():
    runner = CliRunner()
    res = runner.invoke(app, ["models"], env={"COLUMNS": "200"})
    assert res.exit_code == 0
    for name in MODEL_NAMES:
        assert name in res.output
    res = runner.invoke(app, ["models", "flow"], env={"COLUMNS": "200"})
    assert res.exit_code == 0 and "guidance" in res.output and "sampler" in res.output
    assert runner.invoke(app, ["models", "nope"]).exit_code != 0


def test_model_options_come_from_the_constructor_and_respect_fixed_ones():
    flow = {o.name: o for o in model_info("flow").options}
    assert flow["steps"].default == 4 and "style_dim" in flow  # the base class's person options
    paper = {o.name for o in model_info("seqemg_gan_paper").options}
    assert "subject" not in paper and "style_dim" not in paper  # fixed off: nothing to set
    assert "alpha" in paper
    assert "gru" not in {o.name for o in model_info("seqemg_gan_no_gru").options}
