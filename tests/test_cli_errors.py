"""The CLI error boundary (emgaug.cli.main): exit codes 0 / 1 / 2 / 130 and one line each, never a traceback.

Real subprocesses (`python -m emgaug ...`) where the process boundary matters: usage errors, a crash, and a
SIGINT sent to a real `emgaug train` run, which must exit 130 and leave a usable last.pt."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import REPO
from emgaug import cli

ENV = dict(os.environ, OMP_NUM_THREADS="1", COLUMNS="80")


def emgaug(*args: str, cwd: Path = REPO, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "emgaug", *args], capture_output=True, text=True, cwd=cwd,
                          env=env or ENV, timeout=timeout)


def one_error_line(p: subprocess.CompletedProcess) -> str:
    """The output ends with exactly one 'error:' line (a progress bar may precede it) and holds no traceback."""
    text = p.stdout + p.stderr
    assert "Traceback" not in text, text
    lines = [ln for ln in text.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("error:")]
    assert len(errors) == 1 and lines[-1] == errors[0], text
    return errors[0]


@pytest.mark.parametrize("args, needle", [
    (["split"], "Missing option '--data'"),
    (["frobnicate"], "No such command 'frobnicate'"),
    (["train", "--manifest", "m.json", "--epochs", "abc"], "'--epochs'"),
    (["simulate", "--bogus"], "No such option: --bogus"),
])
def test_usage_errors_exit_2_with_one_line(args, needle):
    p = emgaug(*args)
    assert p.returncode == 2, p.stdout + p.stderr
    assert needle in one_error_line(p)


def test_an_unexpected_exception_is_one_line_plus_a_saved_traceback(tmp_path):
    code = ("import sys, emgaug.commands.simulate as s\n"
            "def boom(*a, **k): raise RuntimeError('simulated bug')\n"
            "s.simulate_dataset = boom\n"
            "from emgaug.cli import main\nsys.argv = ['emgaug', 'simulate', '--out', sys.argv[1]]\nmain()\n")
    env = dict(ENV, EMGAUG_CRASH_DIR=str(tmp_path / "crashes"))
    p = subprocess.run([sys.executable, "-c", code, str(tmp_path / "sim")], capture_output=True, text=True, cwd=REPO,
                       env=env, timeout=120)
    assert p.returncode == 1, p.stdout + p.stderr
    line = one_error_line(p)
    assert "RuntimeError: simulated bug" in line
    saved = list((tmp_path / "crashes").glob("emgaug-crash-*.txt"))
    assert len(saved) == 1 and str(saved[0]) in line
    report = saved[0].read_text()
    assert "Traceback" in report and "simulated bug" in report and "command: emgaug simulate" in report


def test_a_keyboard_interrupt_in_process_exits_130_and_says_what_was_kept(monkeypatch, capsys, tmp_path):
    import emgaug.commands.simulate as s
    from emgaug.atomic import write_json_atomic

    def interrupted(out, **kw):
        write_json_atomic(tmp_path / "done.json", {"a": 1})  # one finished output before the interrupt
        raise KeyboardInterrupt

    monkeypatch.setattr(s, "simulate_dataset", interrupted)
    assert cli.run(["simulate", "--out", str(tmp_path / "sim")]) == 130
    out = " ".join(capsys.readouterr().out.split())
    assert "interrupted: kept 1 finished output(s)" in out and "done.json" in out and "nothing partial" in out
    assert not (tmp_path / "sim").exists()


def test_an_os_error_on_a_user_path_is_one_line_exit_2(monkeypatch, capsys, tmp_path):
    import emgaug.commands.simulate as s

    def denied(out, **kw):
        raise PermissionError(13, "Permission denied", str(out))

    monkeypatch.setattr(s, "simulate_dataset", denied)
    assert cli.run(["simulate", "--out", str(tmp_path / "sim")]) == 2
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith("error:") and "Permission denied" in last


def test_help_and_success_exit_0(capsys):
    assert cli.run(["--help"]) == 0
    assert "simulate" in capsys.readouterr().out


def test_sigint_to_a_real_training_run_exits_130_and_keeps_a_usable_last_pt(sim_manifest, tmp_path):
    from emgaug.training.checkpoint import load_generator, read_checkpoint

    out = tmp_path / "run"
    log = (tmp_path / "log.txt").open("w")
    cmd = [sys.executable, "-m", "emgaug", "train", "--manifest", str(sim_manifest), "--model", "wavenet",
           "--out", str(out), "--epochs", "10000", "--batch-size", "4", "--window-s", "0.2", "--stride-s", "0.2",
           "--max-train-windows", "8", "--max-val-windows", "4", "--device", "cpu",
           "--set", "residual=8", "--set", "skip=16", "--set", "dilations=[1, 2]"]
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=REPO, env=ENV)
    try:
        deadline = time.time() + 240
        while not (out / "last.pt").exists():
            assert proc.poll() is None, (tmp_path / "log.txt").read_text()
            assert time.time() < deadline, "no checkpoint within 240 s"
            time.sleep(0.2)
        time.sleep(1.0)  # let it be somewhere inside a later epoch (or mid-save)
        proc.send_signal(signal.SIGINT)
        rc = proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
        log.close()
    text = (tmp_path / "log.txt").read_text()
    assert rc == 130, text
    assert "Traceback" not in text
    flat = " ".join(text.split())
    assert "interrupted: kept" in flat and "last.pt" in flat and "--resume" in flat
    assert {p.name for p in out.iterdir()} <= {"best.pt", "history.json", "last.pt"}  # no hidden temporaries
    ck = read_checkpoint(out / "last.pt")
    assert ck["epoch"] >= 1
    g = load_generator(out / "last.pt")
    assert g.epoch == ck["epoch"]
