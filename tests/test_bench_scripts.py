"""Every script in bench/ still starts: ``--help`` in its own process, so a moved import fails here, not in a
release week when someone wants a figure (bench/web.py once imported a module that had moved).

The scripts parse their arguments before importing anything heavy, so this stays a few seconds.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit  # no database, no Prefect, no browser: `--help` only (make test-fast)

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = sorted((ROOT / "bench").glob("*.py"))
PEERS = ("dbos", "SpiffWorkflow")
"""bench/decisions.py imports these at the top (through bench/peers); they come with the optional ``bench`` extra."""


def run_bench(
    script: str, *args: str, timeout: float, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``bench/<script>`` with ``args`` in its own process from the checkout, its output captured as text."""
    return subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def test_the_bench_folder_has_scripts() -> None:
    assert {p.name for p in SCRIPTS} >= {"web.py", "evaluate.py", "decisions.py", "report.py"}


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_script_help_runs(script: Path) -> None:
    if script.name == "decisions.py":
        missing = [name for name in PEERS if importlib.util.find_spec(name) is None]
        if missing:
            pytest.skip(f"bench/decisions.py needs the bench extra ({', '.join(missing)} not installed)")
    done = run_bench(script.name, "--help", timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "usage:" in done.stdout


def test_report_bench_without_a_chinese_font_says_so_before_loading(tmp_path: Path) -> None:
    """The report bench times the Chinese report, whose charts need a CJK font: a machine without one gets the
    app's own message and exit 2 before any portfolio is built, not a traceback from a child process minutes in."""
    missing = tmp_path / "no-such-font.ttf"
    done = run_bench(
        "report.py", "--projects", "1000", timeout=120, env={**os.environ, "PHASEGATE_REPORT_FONT": str(missing)}
    )
    assert done.returncode == 2, done.stderr[-2000:]
    assert f"PHASEGATE_REPORT_FONT: {missing} is not a file" in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""
