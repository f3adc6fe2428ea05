"""The ``phasegate`` executable (``[project.scripts]``): run the command line in this process.

Why the cyclic garbage collector is off: a command spends most of its life importing (typer, SQLAlchemy,
Pydantic, the vocabulary), which allocates objects that live as long as the process and are never garbage;
CPython's collector still examines each of them, once per generation it ages through (a young collection every
700 allocations): about a tenth of a `gate check` (``bench/cli_latency.py``). Reference counting frees everything
else as usual; a 2,000-project PDF report peaked 4% higher and ran 14% faster. What goes on running for long
turns it back on: the web server (``web.app.run_server``) and flows run in this process
(``flows.server.prefect_run_context``).
"""

from __future__ import annotations

import gc

gc.disable()

from phasegate.flows.cli import main  # noqa: E402  (imported with the collector off, which is the point)

__all__ = ["main"]
