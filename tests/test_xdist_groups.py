"""``make test`` runs the suite with ``--dist loadgroup``: the tests of a module that share its module-scoped
servers must run on one worker (``tests/conftest.py`` marks them ``xdist_group``), or each worker sets the
servers up again, minutes each. pytest 9.2 with pytest-xdist 3.8 ignored the groups without a word
(pytest-xdist#1386); this runs the installed pair on a throwaway module and fails if they stop grouping."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

MODULE = """
import pytest

@pytest.fixture(scope="module")
def server():
    return object()

@pytest.mark.xdist_group("shared")
@pytest.mark.parametrize("n", range(6))
def test_grouped(server, n):
    pass

@pytest.mark.parametrize("n", range(6))
def test_free(n):
    pass
"""


def test_loadgroup_runs_a_group_on_one_worker(tmp_path: Path) -> None:
    (tmp_path / "test_throwaway.py").write_text(MODULE, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-n", "2", "--dist", "loadgroup", "-v", "-p", "no:cacheprovider",
         "--rootdir", str(tmp_path), str(tmp_path)],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    ran = re.findall(r"^\[(gw\d)\] .*PASSED .*::(test_\w+)\[\d\](@shared)?", done.stdout, re.MULTILINE)
    grouped = [(worker, suffix) for worker, name, suffix in ran if name == "test_grouped"]
    assert len(grouped) == 6 and len(ran) == 12, done.stdout
    assert {suffix for _, suffix in grouped} == {"@shared"}, "xdist no longer tags grouped tests' ids"
    assert len({worker for worker, _ in grouped}) == 1, "the group's tests ran on several workers"
