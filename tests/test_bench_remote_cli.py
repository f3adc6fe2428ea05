"""bench/remote_cli.py end to end, once: its setup goes through the CLI as a user types it, so a change to who may
do what (the first person must be the PMO admin mapped to the OS login) broke it while its ``--help`` still ran.

One repeat: the server, two logins, each remote and local command once, a review and a deciding vote. The figures
themselves are bench/'s; this only proves every one of them is still printed, from a run that exits 0.
"""

from __future__ import annotations

from tests.test_bench_scripts import run_bench

FIGURES = (
    "project_list_remote_seconds",
    "project_list_local_seconds",
    "gate_check_remote_seconds",
    "gate_check_local_seconds",
    "rounds_list_remote_seconds",
    "rounds_list_local_seconds",
    "gate_review_remote_seconds",
    "vote_deciding_remote_first_seconds",
    "vote_deciding_remote_seconds",
    "vote_deciding_remote_max_seconds",
)


def test_remote_cli_bench_runs_and_prints_every_figure() -> None:
    done = run_bench("remote_cli.py", "--repeat", "1", timeout=280)
    assert done.returncode == 0, done.stderr[-3000:]
    printed = dict(line.split(": ", 1) for line in done.stdout.splitlines() if ": " in line)
    for name in FIGURES:
        assert float(printed[name]) > 0, name
