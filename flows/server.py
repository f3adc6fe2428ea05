"""The local Prefect server the CLI manages, and the policy that picks which Prefect API a CLI flow run uses.

Why this module exists: without ``PREFECT_API_URL`` every CLI call that runs a flow starts Prefect's
temporary server (about 11 s). A long-lived local server started once by ``phasegate server start`` makes
each later flow run cost a fraction of a second. Nothing here imports prefect at module level (it costs
about 1 s and 71 MB): the server is driven as a subprocess and probed with urllib, so ``local_api_url`` stays
cheap enough to call on every CLI invocation.

``start`` also starts the warm host beside the server (``flows.warm_start``), so flow commands skip Prefect's
import too, and ``stop`` stops both.

The local server keeps its own SQLite file at ``<home>/prefect/prefect.db``. That is also where Prefect's
temporary server writes when ``configure_prefect_env`` points ``PREFECT_HOME`` there, so flow runs made
before the server was started show up in its UI afterwards.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from flows import warm_start
from flows.warm_start import server_home
from models.errors import PhasegateError
from models.keys import secret_key
from models.private_files import private_dir
from models.settings import Settings

HOST = "127.0.0.1"
# Not "server.pid": that name in PREFECT_HOME belongs to `prefect server start --background`.
PID_FILE = "phasegate-server.json"
LOG_FILE = "server.log"
# local_api_url runs on every CLI call: a server that takes longer than this to say "healthy" is treated as absent.
FAST_PROBE_SECONDS = 0.3
# The server is on loopback: an HTTP(S)_PROXY in the environment must not route health probes elsewhere.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass(frozen=True)
class ServerStatus:
    """What ``phasegate server status`` shows: whether the local server answers, where, and its log."""

    running: bool
    url: str
    pid: int | None
    log_path: Path
    warm_start: bool = False  # the warm host (flows.warm_start) takes CLI calls


def server_dir(settings: Settings) -> Path:
    """The local server's ``PREFECT_HOME``: its SQLite database, pid file and log live here."""
    return server_home(settings.home)


def api_url(port: int) -> str:
    return f"http://{HOST}:{port}/api"


def start(settings: Settings, *, port: int | None = None, wait_seconds: float = 60) -> ServerStatus:
    """Start the local server detached from this process (it outlives the CLI call) and wait until healthy.

    When phasegate's server is already up, or still starting from another call, this waits for that one
    (whatever its port) instead of starting a second. Raises PhasegateError, with the end of the server log,
    when the port is taken by another program or the server does not become healthy.
    """
    secret_key(settings)  # the served deployments are phasegate's flows, and each one needs the key
    chosen_port = settings.prefect_port if port is None else port
    if not 0 < chosen_port < 65536:
        raise PhasegateError(f"port: {chosen_port} is not a TCP port; use 1 to 65535", code="server.port")
    home = server_dir(settings).resolve()
    private_dir(home)
    log_path = home / LOG_FILE
    with _start_lock(home):
        record = _read_pid_file(settings)
        if record is not None and _is_our_server(record[0]):
            pid, chosen_port = record
        else:
            pid = _spawn(settings, home, chosen_port, log_path)
        host = _ensure_host(settings, home, api_url(chosen_port))
    deadline = time.monotonic() + wait_seconds
    try:
        ready = _wait_until_healthy(settings, pid, chosen_port, log_path, wait_seconds)
    except PhasegateError:
        _stop_host(home)
        raise
    return replace(ready, warm_start=_wait_for_host(home, host, deadline))


def _ensure_host(settings: Settings, home: Path, url: str) -> int:
    """Start the warm host (see flows.warm_start) unless it runs; it imports while the server starts."""
    pid = _read_host_pid(home)
    if pid is not None and _is_our_host(pid):
        return pid
    (home / warm_start.SOCKET_NAME).unlink(missing_ok=True)
    with (home / warm_start.LOG_FILE).open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "flows.warm_start", str(settings.home.resolve()), url],
            cwd=home,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    (home / warm_start.PID_FILE).write_text(json.dumps({"pid": process.pid}), encoding="utf-8")
    return process.pid


def _wait_for_host(home: Path, pid: int, deadline: float) -> bool:
    """Whether the host is taking calls; a host that failed leaves the CLI as it was (slower, same results)."""
    while not _host_ready(home, pid):
        if time.monotonic() >= deadline or not _is_our_host(pid):
            return False
        time.sleep(0.1)
    return True


def _host_ready(home: Path, pid: int | None) -> bool:
    """The host runs and has bound its socket: callers can reach it."""
    return pid is not None and _is_our_host(pid) and (home / warm_start.SOCKET_NAME).exists()


def _stop_host(home: Path) -> None:
    """SIGTERM the host alone: commands it already forked are their own processes and finish their work."""
    pid = _read_host_pid(home)
    if pid is not None and _is_our_host(pid):
        _terminate(pid, grace=5.0, group=False)
    (home / warm_start.SOCKET_NAME).unlink(missing_ok=True)
    (home / warm_start.PID_FILE).unlink(missing_ok=True)


def _read_host_pid(home: Path) -> int | None:
    try:
        return int(json.loads((home / warm_start.PID_FILE).read_text(encoding="utf-8"))["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _is_our_host(pid: int) -> bool:
    return _alive(pid) and _cmdline_has(pid, lambda argv: b"flows.warm_start" in argv)


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
    """Stop the warm host, then the local server (SIGTERM its process group, SIGKILL after 15 s).

    Returns False if no server was running.
    """
    _stop_host(server_dir(settings))
    record = _read_pid_file(settings)
    if record is None:
        return False
    pid, _port = record
    if not _is_our_server(pid):
        _remove_pid_file(settings)
        return False
    _terminate(pid, grace=15.0, group=True)
    _remove_pid_file(settings)
    return True


def status(settings: Settings) -> ServerStatus:
    log_path = server_dir(settings).resolve() / LOG_FILE
    record = _read_pid_file(settings)
    if record is None:
        return ServerStatus(running=False, url=api_url(settings.prefect_port), pid=None, log_path=log_path)
    pid, port = record
    url = api_url(port)
    running = _is_our_server(pid) and _healthy(url, timeout=1.0)
    home = server_dir(settings)
    warm = _host_ready(home, _read_host_pid(home))
    return ServerStatus(running=running, url=url, pid=pid if running else None, log_path=log_path, warm_start=warm)


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
