"""Wall time of the commands a gatekeeper types, against ``phasegate server start`` (local server + served flows).

Prints ``name: value`` lines:
- ``gate_check_seconds_*``: `gate check` (evaluates, writes nothing, runs no flow); target 0.5 s.
- ``deciding_vote_seconds_*``: a deciding `vote`: records it and creates the gate-decision flow run over
  Prefect's REST API, without importing Prefect; target 1 s.
- ``decision_completed_seconds_*``: from the start of that `vote` until the API shows its flow run Completed,
  run by the serving process; target 5 s.
- ``gate_review_seconds_*``: `gate review`, which runs the gate-review flow in its own process (it prints the
  evaluation), so it pays Prefect's import.
Each command is a fresh process, as a user types it. Run: ``.venv/bin/python bench/cli_latency.py [--repeat 5]``.

Wall times on a shared machine move with its load, so the run also times, in the same conditions, a fresh
interpreter that only imports what the commands cannot do without (``*_floor_seconds``).
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
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the checkout: tests.receivers

from phasegate.models.template_yaml import shipped_templates
from tests.actors import bootstrap_admin_args
from tests.receivers import free_port

PHASEGATE = str(Path(sys.executable).with_name("phasegate"))
DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))
TERMINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


def _run(env: dict[str, str], *args: str) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run([PHASEGATE, *args], capture_output=True, text=True, env=env, timeout=300)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed: {done.stderr}")
    return elapsed, done.stdout


def _state(api: str, flow_run_id: str) -> str:
    with DIRECT.open(f"{api}/flow_runs/{flow_run_id}", timeout=10) as response:
        return str(json.loads(response.read())["state"]["type"])


FLOORS = {
    "prefect_import_floor_seconds": "import prefect; from prefect import flow, task",
    "cli_libraries_floor_seconds": "import sqlalchemy, pydantic, pydantic_settings, typer",  # no ORM: see test_cli
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
    api = f"http://127.0.0.1:{port}/api"
    timings: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as home:
        env = os.environ | {"PHASEGATE_HOME": home, "PHASEGATE_PREFECT_PORT": str(port)}
        env.pop("PREFECT_API_URL", None)
        env.pop("PHASEGATE_DATABASE_URL", None)
        env.pop("PHASEGATE_SECRET_KEY", None)
        env.pop("PHASEGATE_SECRET_KEY_FILE", None)
        _run(env, "key", "generate")  # the bench's own key, in its temporary home (there is no default)
        _run(env, "db", "upgrade")
        _run(env, "server", "start")
        try:
            if not json.loads(_run(env, "server", "status", "--json")[1])["serving"]:
                raise SystemExit(f"the deployments are not served; see {home}/prefect/serving.log")
            _run(env, *bootstrap_admin_args())  # the PMO admin, mapped to this OS login, acts --as the others
            for pid in ("alice", "bob", "carol"):
                _run(env, "person", "add", pid, "--name", pid, "--email", f"{pid}@example.com", "--role", "gatekeeper")
            docs = Path(home) / "docs"
            docs.mkdir()
            for n in range(args.repeat):
                key = f"B{n}"
                _run(env, "project", "create", key, "--template", "it-pmo", "--name", key, "--sponsor", "alice",
                     "--manager", "bob", "--budget", "1000")  # fmt: skip
                _run(env, "project", "assign", key, "pmo", "carol")
                for deliverable in gate.deliverables:
                    standard = template.deliverable(deliverable)
                    path = docs / f"{key}-{deliverable}.md"
                    path.write_text("".join(f"## {s}\n\ntext\n\n" for s in standard.required_sections), "utf-8")
                    signer = {"sponsor": "alice", "pmo": "carol"}[standard.approver_role]
                    _run(env, "doc", "add", key, deliverable, str(path), "--approved-by", signer)
                timings.setdefault("gate_check", []).append(_run(env, "gate", "check", key)[0])
                elapsed, out = _run(env, "gate", "review", key, "--json")
                timings.setdefault("gate_review", []).append(elapsed)
                round_id = json.loads(out)["round_id"]
                started = time.perf_counter()
                elapsed, out = _run(env, "vote", round_id, "--as", "alice", "--decision", "go", "--json")
                timings.setdefault("deciding_vote", []).append(elapsed)
                applied = json.loads(out)["applied"]
                if "scheduled_flow_run" not in applied:  # e.g. deferred: the server did not answer in time
                    raise SystemExit(f"the deciding vote created no flow run: {applied}")
                flow_run_id = applied["scheduled_flow_run"]
                while (state := _state(api, flow_run_id)) not in TERMINAL:
                    time.sleep(0.05)
                if state != "COMPLETED":
                    raise SystemExit(f"gate-decision flow run {flow_run_id} ended {state}")
                timings.setdefault("decision_completed", []).append(time.perf_counter() - started)
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
