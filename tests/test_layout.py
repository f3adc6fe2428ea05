"""The installed layout: the mandated top-level folders live under one ``phasegate`` namespace.

Why it matters: an installed ``models`` or ``web`` package would shadow (or be shadowed by) any other project's
in the same environment. And one module imported under two names (``gates.evm`` from the checkout and
``phasegate.gates.evm`` from the install) would be two modules with two sets of globals, so no code here may
use the bare names.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = ("flows", "gates", "models", "notifications", "migrations", "usecases", "web")


def test_every_sub_package_is_installed_under_the_namespace() -> None:
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]["packages"])
    found = {
        "phasegate." + ".".join(init.parent.relative_to(ROOT).parts)
        for folder in FOLDERS
        for init in (ROOT / folder).rglob("__init__.py")
    }
    assert found - listed == set(), "add these to [tool.setuptools] packages in pyproject.toml"
    assert listed - found == set(), "listed but gone"


@pytest.mark.parametrize("folder", [*FOLDERS, "tests", "bench"])
def test_no_code_imports_a_bare_top_level_name(folder: str) -> None:
    bare = []
    for path in (ROOT / folder).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom) and node.level == 0
                else []
            )
            bare += [f"{path.relative_to(ROOT)}:{node.lineno} {n}" for n in names if n.split(".")[0] in FOLDERS]
    assert bare == []


@pytest.mark.parametrize("folder", [*FOLDERS, "tests", "bench"])
def test_no_code_in_a_string_imports_a_bare_top_level_name(folder: str) -> None:
    """Code a test or bench hands to ``python -c`` or writes as a plugin imports the namespace too."""
    statement = re.compile(rf"(?:[\"';]|\\n)\s*(?:from|import) ({'|'.join(FOLDERS)})[\s.]")
    found = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in (ROOT / folder).rglob("*.py")
        if path.name != "test_layout.py"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if statement.search(line)
    ]
    assert found == []


def test_outside_the_checkout_only_the_namespace_is_importable(tmp_path: Path) -> None:
    probe = (
        "import importlib.util as u; "
        f"print([n for n in {FOLDERS!r} if u.find_spec(n) is not None]); "
        "import phasegate.gates.evm, phasegate.web.app; print('ok')"
    )
    out = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["[]", "ok"]
