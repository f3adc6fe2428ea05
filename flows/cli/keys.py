"""CLI: The secret key that signs approval links and keys the audit chain (see models.keys, docs/security.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from phasegate.flows.cli.common import sub_app

app = sub_app("The secret key that signs approval links and keys the audit chain.")


@app.command("generate")
def key_generate(
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Key file to create (default: PHASEGATE_SECRET_KEY_FILE, else secret.key under PHASEGATE_HOME).",
            show_default=False,
        ),
    ] = None,
    stdout: Annotated[
        bool, typer.Option("--stdout", help="Print a new key instead of writing a file (for a secret store).")
    ] = False,
) -> None:
    """Make a new random key (32 bytes) in a file only you can read (mode 0600); never replaces an existing one."""
    from phasegate.models.keys import generate_key, write_key_file
    from phasegate.models.settings import Settings

    if stdout:
        if out is not None:
            from phasegate.gates.vocabulary.errors import InputError

            raise InputError("--stdout and --out: give one of them, not both")
        typer.echo(generate_key())
        return
    path = write_key_file(out if out is not None else Settings().resolved_secret_key_file)
    typer.echo(f"secret key written to {path} (mode 0600); keep a copy where your backups of the database are")
