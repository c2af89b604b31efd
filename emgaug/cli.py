"""The `emgaug` command line: simulate, split, train, synthesize, benchmark (Typer + rich)."""

from __future__ import annotations

import sys

import typer

from emgaug.commands.benchmark import benchmark
from emgaug.commands.simulate import simulate
from emgaug.commands.split import split
from emgaug.commands.synthesize import synthesize
from emgaug.commands.train import train
from emgaug.console import console
from emgaug.errors import EmgaugError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Joint-angle-driven EMG synthesis (SeqEMG-GAN and peers) and honest augmentation benchmarks.")
for _name, _fn in (("simulate", simulate), ("split", split), ("train", train), ("synthesize", synthesize),
                   ("benchmark", benchmark)):
    app.command(_name)(_fn)


def main() -> None:
    """Entry point: bad input ends with one red line and exit code 2, never a traceback."""
    try:
        app(standalone_mode=False)
    except EmgaugError as e:
        console.print(f"[red]error:[/red] {e}", highlight=False, soft_wrap=True)  # one line, never re-wrapped
        sys.exit(2)
    except KeyboardInterrupt:
        console.print("[yellow]interrupted: nothing partial was left under a final name[/yellow]")
        sys.exit(130)
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except Exception as e:  # click usage errors carry their own message
        import click

        if isinstance(e, click.ClickException):
            e.show()
            sys.exit(e.exit_code)
        raise
