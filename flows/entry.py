"""The ``phasegate`` executable (``[project.scripts]``): run the command line in this process."""

from __future__ import annotations

from phasegate.flows.cli import main

__all__ = ["main"]
