"""The accounts ``bench/decisions.py`` prints beside its rates: what the scaling run reads of the PostgreSQL server's
CPU counts every server process and the backends that have ended, so its ceiling line (what the host's cores allow)
can be trusted; the round trips a round waits for are the wire's count."""

from __future__ import annotations

import os
import time
from pathlib import Path

import psycopg
import pytest

from bench.decisions import _libpq, _postgres_cpu_seconds
from bench.peers import phasegate_gate


def _stat(proc: Path, pid: int, name: str, ppid: int, utime: int, stime: int, cutime: int, cstime: int) -> None:
    """A ``/proc/<pid>/stat`` line in the kernel's layout (fields 14 to 17: utime, stime, cutime, cstime)."""
    fields = [str(pid), f"({name})", "S", str(ppid), *["0"] * 9, str(utime), str(stime), str(cutime), str(cstime)]
    (proc / str(pid)).mkdir()
    (proc / str(pid) / "stat").write_text(" ".join([*fields, *["0"] * 35]) + "\n")


@pytest.mark.unit
def test_the_server_cpu_is_its_processes_and_the_postmasters_ended_children(tmp_path: Path) -> None:
    _stat(tmp_path, 1, "init", 0, 900, 900, 900, 900)  # not the server's
    _stat(tmp_path, 100, "postgres", 1, 10, 5, 300, 200)  # the postmaster: 500 ticks of ended backends
    _stat(tmp_path, 101, "postgres", 100, 40, 20, 7, 7)  # a live backend: a child's own children are not counted
    _stat(tmp_path, 102, "python3", 100, 900, 900, 0, 0)
    assert _postgres_cpu_seconds(tmp_path) == (15 + 500 + 60) / os.sysconf("SC_CLK_TCK")
    assert _postgres_cpu_seconds(tmp_path / "101") is None  # no server processes: nothing to say


@pytest.mark.postgres
def test_the_server_cpu_grows_with_the_work_a_backend_did(empty_pg_url: str) -> None:
    before = _postgres_cpu_seconds()
    if before is None:
        pytest.skip("/proc shows no PostgreSQL process here (a server on another host)")
    with psycopg.connect(_libpq(empty_pg_url)) as connection:  # its backend ends when it closes
        connection.execute("SELECT count(*) FROM generate_series(1, 4000000)").fetchone()
    deadline = time.monotonic() + 5  # the postmaster reaps the ended backend a moment after it exits
    while (used := (_postgres_cpu_seconds() or 0.0) - before) < 0.1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert used >= 0.1


@pytest.mark.postgres
def test_the_round_trips_a_round_waits_for_are_the_wires_count(pg_url: str) -> None:
    """On PostgreSQL the bench's floor is round trips times the cheapest statement: a single-approver round waits 9
    times (review 3, vote 3, decision 3: tests/test_approvals.py budgets each step), counted after a warm-up round."""
    phasegate_gate.setup_shared(pg_url)
    keys = phasegate_gate.project_keys(phasegate_gate.SINGLE, 3)
    phasegate_gate.add_projects(pg_url, phasegate_gate.SINGLE, keys)
    assert phasegate_gate.count_round_trips(pg_url, phasegate_gate.SINGLE, keys) == 9
