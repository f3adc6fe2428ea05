"""One ``phasegate`` interpreter that runs many commands in turn: the local side of the remote-CLI comparisons.

Why: those tests compare each command run through a server with the same command run on the server's database
directly, dozens of times per test, and each ``phasegate`` process spends most of its second importing. Here
each command is the real command line (``run_command`` with ``sys.argv``, as the ``phasegate`` executable runs
it) on the real database, in one long-lived process, as the server itself runs its requests; only the import is
paid once. The remote side of a comparison is never run here: it stays a ``phasegate`` process of its own.

Run as ``python -P tests/cli_session.py PROG``: reads one JSON list of arguments per line on stdin, answers one JSON
object (``status``, ``stdout``, ``stderr``) per line on stdout. A bug (an exception ``run_command`` does not turn
into an exit status) is answered as Python would end the process: status 1 and the traceback on stderr.
"""

from __future__ import annotations

import io
import json
import os
import sys
import traceback
from contextlib import redirect_stderr, redirect_stdout


def serve(prog: str) -> None:
    from phasegate.flows.cli import run_command

    # Answers go to a copy of stdout; what a command might write to file descriptor 1 itself goes to stderr.
    answers = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    requests = sys.stdin
    for line in requests:
        args = json.loads(line)
        out, err = io.StringIO(), io.StringIO()
        sys.argv = [prog, *args]
        sys.stdin = io.StringIO()  # a command that reads stdin finds it empty, never the requests
        with redirect_stdout(out), redirect_stderr(err):
            try:
                status = run_command()
            except Exception:
                traceback.print_exc()
                status = 1
        answers.write(json.dumps({"status": status, "stdout": out.getvalue(), "stderr": err.getvalue()}) + "\n")
        answers.flush()


if __name__ == "__main__":
    serve(sys.argv[1])
