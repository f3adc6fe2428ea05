"""Every script in bench/ still starts: ``--help`` in its own process, so a moved import fails here, not in a
release week when someone wants a figure (bench/web.py once imported a module that had moved).

The scripts parse their arguments before importing anything heavy, so this stays a few seconds.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit  # no database, no Prefect, no browser: `--help` only (make test-fast)

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = sorted((ROOT / "bench").glob("*.py"))
PEERS = ("dbos", "SpiffWorkflow")
"""bench/decisions.py imports these at the top (through bench/peers); they come with the optional ``bench`` extra."""


def test_the_bench_folder_has_scripts() -> None:
    assert {p.name for p in SCRIPTS} >= {"web.py", "evaluate.py", "decisions.py", "report.py"}


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_script_help_runs(script: Path) -> None:
    if script.name == "decisions.py":
        missing = [name for name in PEERS if importlib.util.find_spec(name) is None]
        if missing:
            pytest.skip(f"bench/decisions.py needs the bench extra ({', '.join(missing)} not installed)")
    done = subprocess.run(
        [sys.executable, str(script), "--help"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "usage:" in done.stdout
