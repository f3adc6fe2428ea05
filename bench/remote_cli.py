"""Wall time of CLI commands working through a server (``phasegate login``) against the same commands on the
database, as a user types them.

Starts ``phasegate serve`` on a free port over a fresh SQLite database, logs a "laptop" (temporary HOME) in
with tokens, and prints ``name: value`` lines: the median of ``--repeat`` runs of ``project list``, ``gate
check`` and ``rounds list`` remote and local (each in a fresh process), a remote ``gate review`` and a remote
deciding ``vote`` (one per project). No Prefect server runs here, so the server runs each decision's
``gate-decision`` flow in its own process before it answers, and the first one starts Prefect (its import and
temporary server): ``vote_deciding_remote_first_seconds`` is that vote, the median is of all of them. With
``phasegate server start`` the server only asks Prefect for the flow run (``bench/cli_latency.py``). Run:
``.venv/bin/python bench/remote_cli.py [--repeat 5]``.
"""

from __future__ import annotations

import argparse
import getpass
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
from tests.receivers import free_port

PHASEGATE = str(Path(sys.executable).with_name("phasegate"))
SIGNERS = {"sponsor": "alice", "pmo": "carol"}


def _run(env: dict[str, str], *args: str, stdin: str | None = None) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run([PHASEGATE, *args], capture_output=True, text=True, env=env, timeout=300, input=stdin)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed: {done.stderr}")
    return elapsed, done.stdout


def _project(env: dict[str, str], db: list[str], key: str, folder: Path) -> None:
    template = next(t for _, t in shipped_templates() if t.id == "it-pmo")
    _run(env, "project", "create", key, "--template", "it-pmo@1", "--name", key, "--sponsor", "alice",
         "--manager", "bob", "--budget", "1000", *db)  # fmt: skip
    _run(env, "project", "assign", key, "pmo", "carol", *db)
    for deliverable in template.gates[0].deliverables:
        standard = template.deliverable(deliverable)
        path = folder / f"{key}-{deliverable}.md"
        path.write_text(f"# {standard.name}\n\n" + "".join(f"## {s}\n\ntext\n\n" for s in standard.required_sections))
        _run(env, "doc", "add", key, deliverable, str(path), "--approved-by", SIGNERS[standard.approver_role], *db)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    repeat = parser.parse_args().repeat
    with tempfile.TemporaryDirectory(prefix="phasegate-bench-remote-") as folder:
        measure(Path(folder), repeat)


def measure(root: Path, repeat: int) -> None:
    """Sets up the server's database under ``root``, serves it, and prints the figures (module docstring)."""
    server_env = os.environ | {
        "PHASEGATE_HOME": str(root / "server"),
        "PHASEGATE_SECRET_KEY": "bench-remote-cli-secret-key-0123456789abcdef",
        "XDG_CONFIG_HOME": str(root / "server-config"),
    }
    db = ["--db", f"sqlite:///{root}/phasegate.db"]
    _run(server_env, "db", "upgrade", *db)
    # Carol, the PMO admin, is the OS login running the bench (the first person added must be); she acts for
    # the others on the server's database, as the CLI's --as does.
    people = (("carol", "Carol", "pmo_admin"), ("alice", "Alice", "gatekeeper"), ("bob", "Bob", "manager"))
    for pid, name, role in people:
        login = ["--login", getpass.getuser()] if role == "pmo_admin" else []
        _run(server_env, "person", "add", pid, "--name", name, "--email", f"{pid}@example.com", "--role", role,
             *login, *db)  # fmt: skip
    keys = [f"P{i}" for i in range(1, repeat + 1)]
    for key in keys:
        _project(server_env, db, key, root)
    tokens = {
        who: json.loads(_run(server_env, "token", "create", who, "--role", role, "--json", *db)[1])["token"]
        for who, role in (("alice", "approver"), ("carol", "pmo"))
    }
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    serve_env = server_env | {"PHASEGATE_DATABASE_URL": db[1]}
    server = subprocess.Popen(
        [PHASEGATE, "serve", "--port", str(port)], env=serve_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/healthz", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit("phasegate serve did not start") from None
                time.sleep(0.2)
        laptops = {}
        for who in tokens:
            home = root / f"laptop-{who}"
            env = {k: v for k, v in os.environ.items() if not k.startswith("PHASEGATE_")}
            laptops[who] = env | {"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")}
            _run(laptops[who], "login", url, "--token-stdin", stdin=tokens[who] + "\n")
        pmo = laptops["carol"]
        for label, args in (
            ("project_list", ("project", "list")),
            ("gate_check", ("gate", "check", keys[0])),
            ("rounds_list", ("rounds", "list")),
        ):
            remote = [_run(pmo, *args)[0] for _ in range(repeat)]
            local = [_run(server_env, *args, *db)[0] for _ in range(repeat)]
            print(f"{label}_remote_seconds: {statistics.median(remote):.3f}")
            print(f"{label}_local_seconds: {statistics.median(local):.3f}")
        reviews, votes = [], []
        for key in keys:
            elapsed, out = _run(pmo, "gate", "review", key, "--json")
            reviews.append(elapsed)
            round_id = json.loads(out)["round_id"]
            votes.append(_run(laptops["alice"], "vote", round_id, "--decision", "go")[0])
        print(f"gate_review_remote_seconds: {statistics.median(reviews):.3f}")
        print(f"vote_deciding_remote_first_seconds: {votes[0]:.3f}")
        print(f"vote_deciding_remote_seconds: {statistics.median(votes):.3f}")
        print(f"vote_deciding_remote_max_seconds: {max(votes):.3f}")
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
