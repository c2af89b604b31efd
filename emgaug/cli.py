"""The `emgaug` command line: simulate, split, train, synthesize, benchmark (Typer + rich).

`main` is the one error boundary of every command (exit codes are part of the interface):

* 0   success;
* 2   bad input or usage: one red line naming the file or option and the fix (EmgaugError, usage errors such as
      a missing option, `--epochs abc` or an unknown command, and unwritable or misplaced paths);
* 130 interrupted (Ctrl-C; 143 for SIGTERM): one line saying which finished outputs were kept; every file is
      written under a temporary name and renamed when complete, so nothing partial is left under a final name;
* 1   anything else (a bug): one line plus the path of a file holding the full traceback.
"""

from __future__ import annotations

import datetime
import errno
import os
import platform
import signal
import sys
import tempfile
import traceback
from collections.abc import Sequence
from pathlib import Path

import typer

from emgaug.commands.benchmark import benchmark
from emgaug.commands.models import models
from emgaug.commands.simulate import simulate
from emgaug.commands.split import split
from emgaug.commands.synthesize import synthesize
from emgaug.commands.train import train
from emgaug.console import console
from emgaug.errors import EmgaugError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Joint-angle-driven EMG synthesis (SeqEMG-GAN and peers) and honest augmentation benchmarks.")
for _name, _fn in (("simulate", simulate), ("split", split), ("train", train), ("synthesize", synthesize),
                   ("benchmark", benchmark), ("models", models)):
    app.command(_name)(_fn)

EXIT_OK, EXIT_BUG, EXIT_INPUT, EXIT_INTERRUPT, EXIT_TERMINATED = 0, 1, 2, 130, 143
# OS errors that describe the user's paths or machine, not a bug: reported in one line without a traceback file
_INPUT_ERRNOS = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOTDIR, errno.EISDIR, errno.EEXIST, errno.ENOENT,
                 errno.ENAMETOOLONG, errno.ELOOP, errno.ENOTEMPTY}
_MACHINE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EMFILE, errno.ENFILE, errno.EIO}


class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised where Python raises KeyboardInterrupt for SIGINT, so the same cleanup runs."""


_terminated = False
_main_pid: int | None = None


def _on_sigterm(signum, frame):  # noqa: ARG001 - signal handler signature
    global _terminated
    if os.getpid() != _main_pid:  # a forked worker inherited the handler: die as SIGTERM intends
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)
        return
    _terminated = True
    raise _Terminated()


def say_error(message: str) -> None:
    """The one red error line (never re-wrapped by rich, so scripts can grep it)."""
    console.print(f"[red]error:[/red] {_one_line(message)}", highlight=False, soft_wrap=True, markup=True)


def _one_line(text: str) -> str:
    return " ".join(str(text).split()) or "(no message)"


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def kept_outputs_line(interrupted_by: str = "interrupted") -> str:
    """What an interrupted command kept: the finished outputs this process wrote (checkpoints stay), and that
    nothing partial is left under a final name."""
    from emgaug.atomic import completed_outputs

    kept = completed_outputs()
    tail = "nothing partial is left under a final name"
    if not kept:
        return f"{interrupted_by} before any output was finished; {tail}"
    latest = kept[-1]
    hint = ""
    if any(p.name == "last.pt" for p in kept):
        last = next(p for p in reversed(kept) if p.name == "last.pt")
        hint = f"; `emgaug train ... --out {last.parent} --resume` continues from {last}"
    return f"{interrupted_by}: kept {len(kept)} finished output(s), the latest {latest}{hint}; {tail}"


def crash_dir() -> Path:
    """Where tracebacks of unexpected errors go: $EMGAUG_CRASH_DIR, else $XDG_CACHE_HOME/emgaug/crashes, else
    ~/.cache/emgaug/crashes (the system temp folder when none of these is writable)."""
    if os.environ.get("EMGAUG_CRASH_DIR"):
        return Path(os.environ["EMGAUG_CRASH_DIR"])
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "emgaug" / "crashes"


def save_traceback(exc: BaseException, argv: Sequence[str]) -> Path | None:
    """Write the full traceback (and the command line and versions) to a new file; return its path."""
    from emgaug import __version__

    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    text = (f"emgaug {__version__} crash report {datetime.datetime.now().isoformat(timespec='seconds')}\n"
            f"command: emgaug {' '.join(argv)}\ncwd: {os.getcwd()}\n"
            f"python {platform.python_version()} on {platform.platform()}\n\n"
            + "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
    for folder in (crash_dir(), Path(tempfile.gettempdir())):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(prefix=f"emgaug-crash-{stamp}-", suffix=".txt", dir=folder)
            with os.fdopen(fd, "w") as f:
                f.write(text)
            return Path(name)
        except OSError:
            continue
    return None


def run(argv: Sequence[str] | None = None) -> int:
    """Run one command and return its exit code (see the module docstring); never raises (SystemExit aside)."""
    from emgaug.atomic import forget_completed

    argv = list(sys.argv[1:] if argv is None else argv)
    forget_completed()
    try:
        rv = app(args=argv, prog_name="emgaug", standalone_mode=False)
    except EmgaugError as e:
        say_error(_escape(str(e)))
        return EXIT_INPUT
    except KeyboardInterrupt:  # raised outside typer's own handler (e.g. while a command was being set up)
        return _interrupted()
    except typer.Exit as e:
        return int(e.exit_code or 0)
    except typer.Abort:
        say_error("aborted (end of input)")
        return EXIT_BUG
    except typer.TyperException as e:  # usage errors: missing option, bad value, unknown command or option
        return _usage_error(e)
    except OSError as e:
        code = _os_error(e)
        if code is not None:
            return code
        return _crash(e, argv)
    except MemoryError:
        say_error("out of memory; pass a smaller batch/window cap (e.g. --max-train-windows, --batch-size) or use a "
                  "machine with more memory")
        return EXIT_BUG
    except Exception as e:  # noqa: BLE001 - the boundary: a bug, reported with a saved traceback
        return _crash(e, argv)
    if isinstance(rv, int) and not isinstance(rv, bool) and rv != 0:
        # typer turns a KeyboardInterrupt inside a command into Exit(130) and, outside standalone mode, returns it
        return _interrupted() if rv == EXIT_INTERRUPT else rv
    return EXIT_OK


def _interrupted() -> int:
    terminated = _terminated
    line = kept_outputs_line("terminated (SIGTERM)" if terminated else "interrupted")
    console.print(f"[yellow]{_escape(line)}[/yellow]", highlight=False, soft_wrap=True)
    return EXIT_TERMINATED if terminated else EXIT_INTERRUPT


def _usage_error(e: typer.TyperException) -> int:
    if type(e).__name__ == "NoArgsIsHelpError":  # bare `emgaug`: the help text is the answer
        e.show()  # type: ignore[attr-defined]
        return int(getattr(e, "exit_code", EXIT_INPUT))
    ctx = getattr(e, "ctx", None)
    where = f"; see `{ctx.command_path} --help`" if ctx is not None and getattr(ctx, "command_path", "") else ""
    say_error(_escape(f"{e.format_message().rstrip('.')}{where}"))
    code = int(getattr(e, "exit_code", EXIT_INPUT))
    return code if code else EXIT_INPUT


def _os_error(e: OSError) -> int | None:
    """One line for OS errors about the user's paths or machine; None for anything else (a bug)."""
    if e.errno in _INPUT_ERRNOS and e.filename is not None:
        what = e.strerror or type(e).__name__
        target = f"{e.filename}" + (f" -> {e.filename2}" if e.filename2 else "")
        say_error(_escape(f"{target}: {what}; check the path and its permissions, or choose another --out"))
        return EXIT_INPUT
    if e.errno in _MACHINE_ERRNOS:
        target = f"{e.filename}: " if e.filename else ""
        say_error(_escape(f"{target}{e.strerror or e}; free disk space or file handles and run the command again "
                          "(finished outputs were kept; nothing partial is left under a final name)"))
        return EXIT_BUG
    return None


def _crash(e: BaseException, argv: Sequence[str]) -> int:
    path = save_traceback(e, argv)
    where = f"the traceback is in {path}" if path else "no traceback file could be written"
    msg = _one_line(f"{type(e).__name__}: {e}")
    if len(msg) > 300:
        msg = msg[:297] + "..."
    say_error(_escape(f"unexpected {msg} (a bug in emgaug, not in your input); {where}; please report it"))
    return EXIT_BUG


def main() -> None:
    """Console-script entry point: run the command, exit with its code (SIGTERM is handled like Ctrl-C)."""
    global _main_pid
    _main_pid = os.getpid()
    try:
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    except (ValueError, OSError):  # not the main thread, or the platform has no SIGTERM handler
        previous = None
    try:
        code = run()
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    sys.exit(code)
