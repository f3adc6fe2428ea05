"""Wall time of the flow-running commands against a running local Prefect server, as a user types them.

Prints ``name: value`` lines for `gate review` and a deciding `vote` (each runs a Prefect flow against the
local server) and for `gate check` (no flow). ``phasegate server start`` also starts the warm host
(flows/warm_start.py), so by default each command runs in a child forked from a process that has already
imported Prefect; the ``*_cold_*`` lines time the same commands with ``PHASEGATE_WARM_START=0``, each in a
fresh interpreter. Run: ``.venv/bin/python bench/cli_latency.py [--repeat 5]``.

Cold wall times on a shared machine move with its load, so the run also times, in the same conditions, a
fresh interpreter that only imports the libraries each command cannot do without (``*_floor_seconds``):
Prefect for the flow commands, SQLAlchemy's ORM, Pydantic and Typer for all of them.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the checkout: tests.receivers

from models.template_yaml import shipped_templates
from tests.actors import bootstrap_admin_args
from tests.receivers import free_port

PHASEGATE = str(Path(sys.executable).with_name("phasegate"))


def _run(env: dict[str, str], *args: str) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run([PHASEGATE, *args], capture_output=True, text=True, env=env, timeout=300)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed: {done.stderr}")
    return elapsed, done.stdout


FLOORS = {
    "prefect_import_floor_seconds": "import prefect; from prefect import flow, task",
    "cli_libraries_floor_seconds": "import sqlalchemy.orm, pydantic, pydantic_settings, typer",
}


def _floor(code: str, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--port", type=int, default=0, help="Default: a free port")
    args = parser.parse_args()
    template = next(t for _, t in shipped_templates() if t.id == "it-pmo")
    gate = template.gates[0]
    port = args.port or free_port()
    with tempfile.TemporaryDirectory() as home:
        env = os.environ | {"PHASEGATE_HOME": home, "PHASEGATE_PREFECT_PORT": str(port)}
        env.pop("PREFECT_API_URL", None)
        _run(env, "db", "upgrade")
        _run(env, "server", "start")
        if not json.loads(_run(env, "server", "status", "--json")[1])["warm_start"]:
            raise SystemExit(f"the warm host did not start; see {home}/prefect/cli-host.log")
        try:
            _run(env, *bootstrap_admin_args())  # the PMO admin, mapped to this OS login, acts --as the others
            for pid in ("alice", "bob", "carol"):
                _run(env, "person", "add", pid, "--name", pid, "--email", f"{pid}@example.com", "--role", "gatekeeper")
            docs = Path(home) / "docs"
            docs.mkdir()
            timings: dict[str, list[float]] = {}
            for n in range(2 * args.repeat):
                mode = "" if n < args.repeat else "_cold"
                run_env = env if not mode else env | {"PHASEGATE_WARM_START": "0"}
                key = f"B{n}"
                _run(
                    env,
                    "project",
                    "create",
                    key,
                    "--template",
                    "it-pmo",
                    "--name",
                    key,
                    "--sponsor",
                    "alice",
                    "--manager",
                    "bob",
                    "--budget",
                    "1000",
                )
                _run(env, "project", "assign", key, "pmo", "carol")
                for deliverable in gate.deliverables:
                    standard = template.deliverable(deliverable)
                    path = docs / f"{key}-{deliverable}.md"
                    path.write_text("".join(f"## {s}\n\ntext\n\n" for s in standard.required_sections), "utf-8")
                    signer = {"sponsor": "alice", "pmo": "carol"}[standard.approver_role]
                    _run(env, "doc", "add", key, deliverable, str(path), "--approved-by", signer)
                timings.setdefault(f"gate_check{mode}", []).append(_run(run_env, "gate", "check", key)[0])
                elapsed, out = _run(run_env, "gate", "review", key, "--json")
                timings.setdefault(f"gate_review{mode}", []).append(elapsed)
                round_id = json.loads(out)["round_id"]
                vote = _run(run_env, "vote", round_id, "--as", "alice", "--decision", "go")[0]
                timings.setdefault(f"deciding_vote{mode}", []).append(vote)
        finally:
            _run(env, "server", "stop")
    for name, values in timings.items():
        print(f"{name}_seconds_median: {statistics.median(values):.2f}")
        print(f"{name}_seconds_max: {max(values):.2f}")
    for name, code in FLOORS.items():
        print(f"{name}: {_floor(code, args.repeat):.2f}")
    print(f"runs: {args.repeat}")


if __name__ == "__main__":
    main()
