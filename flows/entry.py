"""The ``phasegate`` executable: a warm host's child runs the call when one is up, else this process does.

Kept apart from ``flows.cli`` because importing that (Typer, Pydantic, SQLAlchemy) is the cost the warm host
exists to avoid: this path imports the standard library only until it knows where the command runs.
"""

from __future__ import annotations

import sys

from flows.warm_start import forward


def main() -> None:
    status = forward(sys.argv)
    if status is not None:
        sys.exit(status)
    from flows.cli import main as run_here

    run_here()
