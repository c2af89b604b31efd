"""`emgaug models`: every generator with what it is, the paper or peer it follows, and the `--set` options it takes."""

from __future__ import annotations


import typer
from rich.table import Table

from emgaug.console import console
from emgaug.errors import EmgaugError
from emgaug.models.registry import MODEL_NAMES, model_info


def models(name: str | None = typer.Argument(None, help="Show one model's options in full.")) -> None:
    """List the generators (`emgaug train --model NAME`) and their options (`--set KEY=VALUE`)."""
    if name is not None:
        if name not in MODEL_NAMES:
            raise EmgaugError(f"unknown model '{name}'; `emgaug models` lists them")
        info = model_info(name)
        t = Table(title=f"{name}: {info.summary} ({info.follows})")
        for c in ("option", "type", "default"):
            t.add_column(c)
        for o in info.options:
            t.add_row(o.name, o.type, repr(o.default))
        console.print(t)
        return
    t = Table(title="Generators (emgaug train --model NAME; options: emgaug models NAME)")
    for c in ("name", "what", "follows", "options"):
        t.add_column(c, overflow="fold")
    for n in MODEL_NAMES:
        info = model_info(n)
        names = [o.name for o in info.options]
        t.add_row(n, info.summary, info.follows, ", ".join(names[:3]) + (f" (+{len(names) - 3})" if len(names) > 3 else ""))
    console.print(t)
