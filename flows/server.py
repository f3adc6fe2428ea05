"""The local Prefect server and the process serving phasegate's deployments, and which Prefect API a CLI flow uses.

Why this module exists: a laptop should run phasegate the way a team does, on Prefect's own mechanisms.
``phasegate server start`` starts two detached processes under ``PHASEGATE_HOME/prefect``: ``prefect server
start`` (UI and API) and ``python -m flows.serving``, which serves phasegate's deployments with Prefect's
runner (``serve()``), schedules included, as a team's workers run them from ``prefect.yaml``. Doors then
create flow runs over the server's REST API (``flows.trigger``) and return at once.

Nothing here imports prefect at module level (it costs about 1 s and 71 MB): both processes are driven as
subprocesses and probed with urllib, so ``local_api_url`` and ``serving_ready`` stay cheap enough to call on
every CLI invocation.

The local server keeps its own SQLite file at ``<home>/prefect/prefect.db``. That is also where Prefect's
temporary server writes when ``configure_prefect_env`` points ``PREFECT_HOME`` there, so flow runs made
before the server was started show up in its UI afterwards.
"""

from __future__ import annotations

import contextlib
import fcntl
import gc
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from phasegate.gates.vocabulary.errors import PhasegateError
from phasegate.models.keys import secret_key
from phasegate.models.private_files import private_dir
from phasegate.models.settings import Settings

HOST = "127.0.0.1"
# Not "server.pid": that name in PREFECT_HOME belongs to `prefect server start --background`.
PID_FILE = "phasegate-server.json"
LOG_FILE = "server.log"
SERVING_PID_FILE = "phasegate-serving.json"
SERVING_LOG_FILE = "serving.log"
# How long a running server may take to say "healthy" before a flow command treats it as absent and runs the flow
# itself. A stopped server refuses at once, so this only bounds a busy one: 0.3 s was too short while the server
# was busy with served runs on a loaded machine, and the command then ran a decision in-process needlessly; 2 s
# was still too short with the test suite on four workers over two cores (a review then ran against a temporary
# server of its own, not in the local server's UI). Only a server process that runs and does not answer costs it.
FAST_PROBE_SECONDS = 15.0
# The server is on loopback: an HTTP(S)_PROXY in the environment must not route health probes elsewhere.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))
# What `server start` waits for before it says the deployments are served: the last one serve() registers.
_PROBE_DEPLOYMENT = "weekly-digest/weekly-digest"


@dataclass(frozen=True)
class ServerStatus:
    """What ``phasegate server status`` shows: the server, the serving process, their pids and logs."""

    running: bool
    url: str
    pid: int | None
    log_path: Path
    serving: bool = False  # the deployments are served: flow runs created through the API will run
    serving_pid: int | None = None
    serving_log: Path | None = None
    # The serving process serves another database than the caller's (the demo's, say): `server start` swaps it.
    serving_other_database: bool = False


def server_home(home: Path) -> Path:
    """The local server's ``PREFECT_HOME`` under PHASEGATE_HOME: its database, pid files and logs live here."""
    return home / "prefect"


def server_dir(settings: Settings) -> Path:
    return server_home(settings.home)


def api_url(port: int) -> str:
    return f"http://{HOST}:{port}/api"


def start(settings: Settings, *, port: int | None = None, wait_seconds: float = 90) -> ServerStatus:
    """Start the server and the serving process detached from this process (they outlive the CLI call).

    Waits until the server is healthy and the serving process has registered the deployments. When
    phasegate's server is already up, or still starting from another call, this waits for that one (whatever
    its port) instead of starting a second; a serving process that died is started again. Raises
    PhasegateError, with the end of the server log, when the port is taken by another program or the server
    does not become healthy. A serving process that fails leaves the server up: ``serving`` is then False and
    doors run flows in their own process (see ``flows.trigger``).
    """
    secret_key(settings)  # the served deployments are phasegate's flows, and each one needs the key
    chosen_port = settings.prefect_port if port is None else port
    if not 0 < chosen_port < 65536:
        raise PhasegateError(f"port: {chosen_port} is not a TCP port; use 1 to 65535", code="server.port")
    home = server_dir(settings).resolve()
    private_dir(home)
    log_path = home / LOG_FILE
    deadline = time.monotonic() + wait_seconds
    with _start_lock(home):
        record = _read_pid_file(settings)
        if record is not None and _is_our_server(record[0]):
            pid, chosen_port = record
        else:
            pid = _spawn(settings, home, chosen_port, log_path)
        ready = _wait_until_healthy(settings, pid, chosen_port, log_path, wait_seconds)
        serving_pid = _ensure_serving(settings, home, ready.url)
    serving_pid, serving = _wait_for_serving(home, serving_pid, ready.url, deadline)
    return ServerStatus(
        running=True,
        url=ready.url,
        pid=pid,
        log_path=log_path,
        serving=serving,
        serving_pid=serving_pid,
        serving_log=home / SERVING_LOG_FILE,
    )


def _ensure_serving(settings: Settings, home: Path, url: str) -> int:
    """Start ``python -m flows.serving`` unless it runs for the caller's database; it serves that database.

    One serving process per PHASEGATE_HOME: one serving another database (say the demo's, left running by
    ``phasegate demo``) is replaced, since ``server start`` says "run my database's schedules".
    """
    database = served_database(settings)
    record = _read_serving(home)
    if record is not None and _is_our_serving(record[0]):
        if record[1] == database_fingerprint(database):
            return record[0]
        _stop_serving(home)
    with (home / SERVING_LOG_FILE).open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "phasegate.flows.serving"],
            cwd=home,
            env=_serving_environment(settings, home, url),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stop() ends it with the flow runs it started
        )
    record_text = json.dumps({"pid": process.pid, "database": database_fingerprint(database)})
    (home / SERVING_PID_FILE).write_text(record_text, encoding="utf-8")
    return process.pid


def _wait_for_serving(home: Path, pid: int, url: str, deadline: float) -> tuple[int, bool]:
    """The serving process, and whether its deployments are registered and it lives; the log says why when not.

    A process that dies while this call waits may have been replaced by a concurrent ``start`` (it sees the dead
    one and starts another): this call then waits for that one, so both calls return the process that serves.
    Liveness by signal 0 alone: just after ``Popen`` the child's /proc cmdline is still this process's.
    """
    while True:
        if not _alive(pid):
            record = _read_serving(home)
            if record is None or record[0] == pid or not _alive(record[0]):
                return pid, False
            pid = record[0]
            continue
        if _deployment_exists(url, _PROBE_DEPLOYMENT):
            return pid, True
        if time.monotonic() >= deadline:
            return pid, False
        time.sleep(0.2)


def _deployment_exists(url: str, name: str) -> bool:
    try:
        with _DIRECT.open(f"{url}/deployments/name/{name}", timeout=2.0) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


def served_database(settings: Settings) -> str:
    """The caller's database URL as a process in another directory must spell it: a relative SQLite path resolved."""
    from sqlalchemy.engine import make_url

    url = make_url(settings.resolved_database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        url = url.set(database=str(Path(url.database).resolve()))
    return url.render_as_string(hide_password=False)


def database_fingerprint(url: str) -> str:
    """What the serving process's pid file records of its database: a hash, so no password lands on disk."""
    return hashlib.sha256(url.encode("utf-8")).hexdigest()


def serving_ready(settings: Settings) -> bool:
    """The serving process runs and serves this caller's database: a flow run created now will run there.

    Cheap (a file read, a signal 0, a /proc read): every deciding vote asks it before creating a flow run.
    A caller on another database (``--db``) gets False and runs its flow itself.
    """
    record = _read_serving(server_dir(settings))
    if record is None:
        return False
    pid, fingerprint = record
    return fingerprint == database_fingerprint(served_database(settings)) and _is_our_serving(pid)


def _stop_serving(home: Path) -> bool:
    """SIGTERM the serving process's group (it and the flow runs it started), SIGKILL after a grace period."""
    record = _read_serving(home)
    stopped = False
    if record is not None and _is_our_serving(record[0]):
        _terminate(record[0], grace=15.0, group=True)
        stopped = True
    (home / SERVING_PID_FILE).unlink(missing_ok=True)
    return stopped


def _read_serving(home: Path) -> tuple[int, str] | None:
    try:
        record = json.loads((home / SERVING_PID_FILE).read_text(encoding="utf-8"))
        return int(record["pid"]), str(record["database"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _is_our_serving(pid: int) -> bool:
    return _alive(pid) and _cmdline_has(pid, lambda argv: b"phasegate.flows.serving" in argv)


def _serving_environment(settings: Settings, home: Path, url: str) -> dict[str, str]:
    """The serving process's environment: the local server, and this caller's phasegate database, resolved.

    A team's PREFECT_* settings in the caller's environment must not reach it (it serves the local server
    only), and its flow runs, started in its working directory, must read the database the caller meant.
    """
    from phasegate.flows.serving import POLL_SECONDS

    env = {key: value for key, value in os.environ.items() if not key.startswith("PREFECT_")}
    env.update(prefect_defaults(settings.home) | {"PREFECT_HOME": str(home)})
    env.update(
        {
            "PREFECT_API_URL": url,
            "PREFECT_RUNNER_POLL_FREQUENCY": str(POLL_SECONDS),
            "PHASEGATE_HOME": str(settings.home.resolve()),
            "PHASEGATE_DATABASE_URL": served_database(settings),
        }
    )
    if settings.notify_config is not None:  # a relative path meant the caller's directory, not the server's
        env["PHASEGATE_NOTIFY_CONFIG"] = str(settings.notify_config.resolve())
    return env


def _spawn(settings: Settings, home: Path, port: int, log_path: Path) -> int:
    _remove_pid_file(settings)
    url = api_url(port)
    if _healthy(url, timeout=1.0):
        raise PhasegateError(
            f"port {port} already serves a Prefect API that phasegate did not start; stop it, choose another "
            f"port (PHASEGATE_PREFECT_PORT or --port), or use it directly with PREFECT_API_URL={url}",
            code="server.port_in_use",
        )
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [*_prefect_command(), "server", "start", "--host", HOST, "--port", str(port)],
            cwd=home,
            env=_server_environment(home, url),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stop() signals the group, Ctrl-C on the CLI does not
        )
    (home / PID_FILE).write_text(json.dumps({"pid": process.pid, "port": port}), encoding="utf-8")
    return process.pid


@contextlib.contextmanager
def _start_lock(home: Path) -> Iterator[None]:
    """Serializes concurrent ``start`` calls: the second sees the first's pid file and waits for its server."""
    with (home / "start.lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _wait_until_healthy(settings: Settings, pid: int, port: int, log_path: Path, wait_seconds: float) -> ServerStatus:
    url = api_url(port)
    deadline = time.monotonic() + wait_seconds
    while True:
        if _healthy(url, timeout=1.0):
            _warm_up(url)
            return ServerStatus(running=True, url=url, pid=pid, log_path=log_path)
        if not _alive(pid):
            _remove_pid_file(settings)
            raise PhasegateError(
                f"the Prefect server exited while starting; {_log_tail(log_path)}", code="server.start_failed"
            )
        if time.monotonic() >= deadline:
            break
        time.sleep(0.2)
    stop(settings)
    raise PhasegateError(
        f"the Prefect server did not answer {url}/health within {wait_seconds:g} s; {_log_tail(log_path)}",
        code="server.start_timeout",
    )


def stop(settings: Settings) -> bool:
    """Stop the serving process, then the local server (SIGTERM each process group, SIGKILL after 15 s).

    Returns False if neither was running.
    """
    served = _stop_serving(server_dir(settings))
    _stop_retired_warm_host(server_dir(settings))
    record = _read_pid_file(settings)
    if record is None:
        return served
    pid, _port = record
    if not _is_our_server(pid):
        _remove_pid_file(settings)
        return served
    _terminate(pid, grace=15.0, group=True)
    _remove_pid_file(settings)
    return True


def _stop_retired_warm_host(home: Path) -> None:
    """Versions before the serving process ran a "warm host" beside the server; stop one left from an upgrade."""
    record = home / "cli-host.json"
    try:
        pid = int(json.loads(record.read_text(encoding="utf-8"))["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return
    if _alive(pid) and _cmdline_has(pid, lambda argv: b"flows.warm_start" in argv):
        _terminate(pid, grace=5.0, group=False)
    for name in ("cli-host.json", "cli.sock"):
        (home / name).unlink(missing_ok=True)


def status(settings: Settings) -> ServerStatus:
    log_path = server_dir(settings).resolve() / LOG_FILE
    record = _read_pid_file(settings)
    if record is None:
        return ServerStatus(running=False, url=api_url(settings.prefect_port), pid=None, log_path=log_path)
    pid, port = record
    url = api_url(port)
    running = _is_our_server(pid) and _healthy(url, timeout=1.0)
    home = server_dir(settings).resolve()
    serving = _read_serving(home)
    serving_pid = serving[0] if serving is not None and _is_our_serving(serving[0]) else None
    other = serving is not None and serving[1] != database_fingerprint(served_database(settings))
    return ServerStatus(
        running=running,
        url=url,
        pid=pid if running else None,
        log_path=log_path,
        serving=running and serving_pid is not None and _deployment_exists(url, _PROBE_DEPLOYMENT),
        serving_pid=serving_pid,
        serving_log=home / SERVING_LOG_FILE,
        serving_other_database=serving_pid is not None and other,
    )


def local_server_url(settings: Settings) -> str | None:
    """The local server's API URL while its process runs, without asking it anything (no HTTP, never slow).

    A busy machine can keep a running server from answering a probe in ``FAST_PROBE_SECONDS``; a vote that asks
    this instead still knows the server is there, and waits for its answer to the request it actually makes.
    """
    record = _read_pid_file(settings)
    if record is None:
        return None
    pid, port = record
    return api_url(port) if _is_our_server(pid) else None


def local_api_url(settings: Settings) -> str | None:
    """The local server's API URL if it is up, else None. Cheap (a file read, a signal 0, one local GET)."""
    record = _read_pid_file(settings)
    if record is None:
        return None
    pid, port = record
    url = api_url(port)
    if _is_our_server(pid) and _healthy(url, timeout=FAST_PROBE_SECONDS):
        return url
    return None


def configure_prefect_env(settings: Settings) -> str:
    """Choose the Prefect API for flows this process is about to run; call it before ``import prefect``.

    Prefect reads its settings from the environment when it is imported, so this edits ``os.environ``.
    Returns the mode: "external" (``PREFECT_API_URL`` was already set: a team server, kept as is),
    "local-server" (``phasegate server start`` is up) or "ephemeral" (Prefect starts a temporary server for
    this process). ``PREFECT_HOME`` defaults to the local server's directory so the temporary server writes
    into phasegate's home instead of ``~/.prefect``.
    """
    defaults = prefect_defaults(settings.home)
    if not os.environ.get("PREFECT_HOME"):
        private_dir(Path(defaults["PREFECT_HOME"]))
    os.environ.update({key: value for key, value in defaults.items() if not os.environ.get(key)})
    if os.environ.get("PREFECT_API_URL"):
        return "external"
    url = local_api_url(settings)
    if url is not None:
        os.environ["PREFECT_API_URL"] = url
        return "local-server"
    return "ephemeral"


def prefect_defaults(home: Path) -> dict[str, str]:
    """What phasegate sets for Prefect when the environment leaves it unset (see ``configure_prefect_env``)."""
    return {
        "PREFECT_HOME": str(server_home(home).resolve()),
        # The temporary server otherwise logs a telemetry error on machines without internet access.
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        # Prefect's SDK telemetry: at import it may send a usage event from an interactive terminal. A PMO's
        # gate decisions do not phone home; an operator who wants it sets DO_NOT_TRACK=0.
        "DO_NOT_TRACK": "1",
    }


def prefect_run_context() -> contextlib.AbstractContextManager[object]:
    """Settings for flows the CLI runs in-process: no run heartbeat, and the API ``configure_prefect_env`` chose.

    A sync flow run joins its heartbeat thread at the end (up to 1 s per run); a CLI run is watched by the
    person who started it, so the heartbeat buys nothing. The environment variable cannot say "none" (it
    fails to parse), so the setting is changed in a settings context. Prefect reads the environment once,
    when it is imported: if a flow module (and so prefect) was imported before ``configure_prefect_env`` ran,
    the API URL or home it chose is applied here too.
    """
    from prefect.context import SettingsContext, get_settings_context
    from prefect.settings import PREFECT_API_URL, PREFECT_FLOWS_HEARTBEAT_FREQUENCY, PREFECT_HOME, temporary_settings
    from prefect.settings.legacy import Setting

    gc.enable()  # off while the command started (flows/entry.py); Prefect's loop and threads run the flows now

    context = get_settings_context()
    current = context.settings
    updates: dict[Setting, object] = {}
    chosen_api = os.environ.get("PREFECT_API_URL")
    chosen_home = os.environ.get("PREFECT_HOME")
    if chosen_api and current.api.url != chosen_api:
        updates[PREFECT_API_URL] = chosen_api
    elif not chosen_api and current.api.url is None and chosen_home and Path(chosen_home) != current.home:
        updates[PREFECT_HOME] = chosen_home  # where the temporary server keeps its database
    if updates:  # settings other values derive from: validate them all again
        return temporary_settings(updates=updates | {PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None})
    # The usual case, the heartbeat alone: a copy, ~30 ms cheaper than re-validating every setting.
    quiet = current.model_copy(update={"flows": current.flows.model_copy(update={"heartbeat_frequency": None})})
    return SettingsContext(profile=context.profile, settings=quiet)


def _prefect_command() -> list[str]:
    """The ``prefect`` executable of the running interpreter's environment, so server and CLI versions match."""
    script = Path(sys.executable).parent / "prefect"
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-m", "prefect"]


def _server_environment(home: Path, url: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("PREFECT_")}
    env.update(
        {
            "PREFECT_HOME": str(home),
            # Explicit, so a team database URL in the caller's environment never receives the local server's tables.
            "PREFECT_SERVER_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{home / 'prefect.db'}",
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "DO_NOT_TRACK": os.environ.get("DO_NOT_TRACK", "1"),
            "PREFECT_SERVER_UI_API_URL": url,
            "PREFECT_API_URL": url,
        }
    )
    return env


def _read_pid_file(settings: Settings) -> tuple[int, int] | None:
    path = server_dir(settings) / PID_FILE
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        return int(record["pid"]), int(record["port"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _remove_pid_file(settings: Settings) -> None:
    (server_dir(settings) / PID_FILE).unlink(missing_ok=True)


def _is_our_server(pid: int) -> bool:
    """Alive and, where /proc tells, a ``prefect server`` process: a recycled pid must never be signalled."""
    return _alive(pid) and _cmdline_has(pid, _is_prefect_server_command)


def _is_prefect_server_command(argv: list[bytes]) -> bool:
    return b"server" in argv and any(word.endswith(b"prefect") for word in argv)


def _cmdline_has(pid: int, test: Callable[[list[bytes]], bool]) -> bool:
    cmdline = Path(f"/proc/{pid}/cmdline")
    if not cmdline.parent.exists():
        return True
    try:
        return test(cmdline.read_bytes().split(b"\0"))
    except OSError:
        return False


def _alive(pid: int) -> bool:
    try:
        # Reap it if it is our own exited child (a zombie still answers signal 0).
        reaped, _status = os.waitpid(pid, os.WNOHANG)
        if reaped == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _terminate(pid: int, *, grace: float, group: bool) -> None:
    """SIGTERM (the process group with ``group``), then SIGKILL if it is still there after ``grace`` seconds."""
    send = os.killpg if group else os.kill
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            send(pid, sig)
        if _wait_for_exit(pid, wait):
            return


def _wait_for_exit(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.1)
    return not _alive(pid)


def _healthy(url: str, *, timeout: float) -> bool:
    try:
        with _DIRECT.open(f"{url}/health", timeout=timeout) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _warm_up(url: str) -> None:
    """Ask what every flow run's client asks first: a fresh server takes ~0.6 s over its first answer."""
    with contextlib.suppress(urllib.error.URLError, OSError, ValueError):
        _DIRECT.open(f"{url}/admin/version", timeout=5).close()


def _log_tail(log_path: Path, lines: int = 20) -> str:
    try:
        tail = log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
    except OSError:
        return f"no log at {log_path}"
    if not tail:
        return f"the log {log_path} is empty"
    return f"last lines of {log_path}: " + " | ".join(line.strip() for line in tail if line.strip())
