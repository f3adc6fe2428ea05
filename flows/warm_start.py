"""Warm start: a resident process that has imported Prefect and phasegate once forks a child per CLI call.

Why: a `gate review` or a deciding `vote` runs a Prefect flow, and a fresh interpreter spends 1.5-2 s just
importing Prefect on these machines (5.3 G instructions), then about 1 s more on phasegate's imports, the
holiday calendars and Prefect's first-run imports: more than the 2 s a person at the terminal should wait.
So ``phasegate server start`` also starts this host next to the local Prefect server. It imports all of
that once, then waits on a Unix socket under PHASEGATE_HOME. The ``phasegate`` executable connects and
hands over its arguments, working directory, environment and its stdin/stdout/stderr; the host forks a
child that runs the command exactly as the command's own process would (same code, same Prefect server,
output straight to the caller's terminal) and reports the exit status back.

It is not a scheduler or a queue: nothing is stored, nothing runs unless its caller is connected, and
Prefect still orchestrates every flow run. When the host is absent, still starting, or was started with
other Prefect settings than the caller has, the command runs in its own process as before: slower, same
result. Only the same user can connect (the socket is 0600 and peer credentials are checked).

The client half runs first on every call, so this module imports the standard library only.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import socket
import struct
import sys
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, NoReturn

SOCKET_NAME = "cli.sock"
PID_FILE = "cli-host.json"
LOG_FILE = "cli-host.log"
# Run in the caller's own process: they start or stop the host, or serve for hours.
LOCAL_COMMANDS = frozenset({"server", "serve", "demo"})
# What Prefect reads once, when it is imported: a caller must agree with the host on all of it.
_IMPORT_TIME_PREFIXES = ("PREFECT_",)
_IMPORT_TIME_NAMES = frozenset({"DO_NOT_TRACK", "PYTHONPATH", "PYTHONHOME", "PYTHONSAFEPATH"})
_HEADER = struct.Struct("!I")
_REQUEST_TIMEOUT_SECONDS = 5.0
# How often an idle host checks that it is still the one `server start` recorded (see Host.serve).
_WATCH_SECONDS = 10.0
_OFF = frozenset({"0", "false", "no", "off"})


def server_home(home: Path) -> Path:
    """The local Prefect server's directory under PHASEGATE_HOME; the host's socket, pid file and log live there too."""
    return home / "prefect"


# --- the caller's half ------------------------------------------------------------------------------------


def forward(argv: list[str]) -> int | None:
    """Run ``argv`` in a child of the warm host and return its exit status; None to run it here instead.

    None means nothing was started: no host, a host that refused (other Prefect settings), or a command
    that must run in its own process. Ctrl-C is passed on to the child, which stops as the command would.
    """
    if os.environ.get("PHASEGATE_WARM_START", "").strip().lower() in _OFF:
        return None
    if next((arg for arg in argv[1:] if not arg.startswith("-")), None) in LOCAL_COMMANDS:
        return None
    try:
        cwd = os.getcwd()
        connection = _connect(server_home(Path(os.environ.get("PHASEGATE_HOME") or ".phasegate")))
    except OSError:
        return None
    with connection:
        try:
            payload = json.dumps({"argv": argv, "cwd": cwd, "env": dict(os.environ), "python": sys.executable})
            data = payload.encode("utf-8", "surrogateescape")
            socket.send_fds(connection, [_HEADER.pack(len(data))], [0, 1, 2])
            connection.sendall(data)
            replies = connection.makefile("rb")
            accepted = json.loads(replies.readline() or b"{}")
        except (OSError, ValueError):
            return None
        except KeyboardInterrupt:  # before the command started, or it stops when it finds its caller gone
            return 130
        if "pid" not in accepted:
            return None
        return _wait_for_status(replies, int(accepted["pid"]))


def _connect(directory: Path) -> socket.socket:
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        path = directory / SOCKET_NAME
        if len(os.fsencode(path)) < 100:
            connection.connect(str(path))
        else:  # past the ~107-byte limit of socket addresses: connect by a name relative to the directory
            here = os.getcwd()
            os.chdir(directory)
            try:
                connection.connect(SOCKET_NAME)
            finally:
                os.chdir(here)
    except OSError:
        connection.close()
        raise
    return connection


def _wait_for_status(replies: io.BufferedReader, pid: int) -> int:
    interrupted = False
    while True:
        try:
            line = replies.readline()
            break
        except KeyboardInterrupt:
            if interrupted:  # a second Ctrl-C: stop waiting
                return 130
            interrupted = True
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGINT)
    try:
        return int(json.loads(line)["status"])
    except (ValueError, KeyError, TypeError):
        sys.stderr.write(f"phasegate: the command's process {pid} ended without an exit status (killed?)\n")
        return 1


# --- the host's half --------------------------------------------------------------------------------------

# Imported before the first fork, so no child pays for them. Prefect's flow and task engines and its
# visualization helper are imported at the first flow run; the rest are phasegate's and what it loads on use.
PRELOAD = (
    "prefect",
    "prefect.flow_engine",
    "prefect.task_engine",
    "prefect.utilities.visualization",
    "anyio._backends._asyncio",
    "sqlalchemy.dialects.sqlite.pysqlite",
    "sqlalchemy.dialects.postgresql.psycopg",
    "apprise",
    "holidays",
    "flows.cli",
    "flows.gate_review",
    "flows.gate_decision",
    "flows.approval_reminders",
    "flows.notify_dispatch",
    "flows.weekly_digest",
    "flows.dossier",
    "notifications.delivery",
    "notifications.links",
)


def import_time_view(env: Mapping[str, str], defaults: Mapping[str, str]) -> dict[str, str]:
    """The environment Prefect and Python read at start-up, after phasegate's defaults for what is unset."""
    merged = dict(defaults) | {key: value for key, value in env.items() if value}
    return {
        key: value
        for key, value in merged.items()
        if key.startswith(_IMPORT_TIME_PREFIXES) or key in _IMPORT_TIME_NAMES
    }


class Host:
    """The resident process: checks each caller against what it imported with, and forks for the ones that match."""

    def __init__(self, home: Path, api_url: str) -> None:
        from flows.server import prefect_defaults

        self.home = home.resolve()
        self.defaults = prefect_defaults(self.home) | {"PREFECT_API_URL": api_url}
        self.view = import_time_view(os.environ, self.defaults)
        self.python = os.path.realpath(sys.executable)
        self.code: dict[str, int] = {}

    def preload(self) -> None:
        import gc
        import importlib
        import threading

        os.environ.update({key: value for key, value in self.defaults.items() if not os.environ.get(key)})
        for name in PRELOAD:
            importlib.import_module(name)
        import holidays

        holidays.list_supported_countries()  # loads every region's module, as the first due date would
        self.code = _own_code()
        if threading.active_count() != 1:
            raise SystemExit("warm start: a preloaded module started a thread, so forking would be unsafe")
        gc.collect()
        gc.freeze()  # children never scan (and so never copy) the preloaded objects

    def refusal(self, request: Mapping[str, Any]) -> str | None:
        """Why this caller must run the command itself, or None when a child of this host is the same thing."""
        env, cwd, argv = request.get("env"), request.get("cwd"), request.get("argv")
        if not (
            isinstance(env, dict)
            and all(isinstance(key, str) and isinstance(value, str) for key, value in env.items())
            and isinstance(cwd, str)
            and isinstance(argv, list)
            and all(isinstance(arg, str) for arg in argv)
        ):
            return "malformed request"
        if os.path.realpath(str(request.get("python"))) != self.python:
            return f"another Python ({request.get('python')})"
        home = Path(cwd, env.get("PHASEGATE_HOME") or ".phasegate").resolve()
        if home != self.home:
            return f"another PHASEGATE_HOME ({home})"
        if _own_code(self.code) != self.code:
            return "phasegate's code changed since the host started; restart it (phasegate server stop, then start)"
        theirs = import_time_view(env, self.defaults)
        if theirs != self.view:
            differing = sorted(key for key in theirs.keys() | self.view.keys() if theirs.get(key) != self.view.get(key))
            return "other start-up settings: " + ", ".join(differing)
        return None

    def serve(self) -> None:
        directory = server_home(self.home)
        os.chdir(directory)  # binding a relative name keeps long homes under the socket address limit
        with contextlib.suppress(FileNotFoundError):
            os.unlink(SOCKET_NAME)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        previous = os.umask(0o177)
        try:
            listener.bind(SOCKET_NAME)
        finally:
            os.umask(previous)
        listener.listen(128)
        listener.settimeout(_WATCH_SECONDS)
        bound = os.stat(SOCKET_NAME).st_ino
        signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel; they report to callers
        signal.signal(signal.SIGTERM, _exit_on_signal)
        _log(f"ready: {directory / SOCKET_NAME}")
        try:
            while True:
                try:
                    connection, _ = listener.accept()
                except TimeoutError:
                    if not _still_recorded(bound):
                        _log("exiting: the socket or pid file is no longer this host's")
                        return
                    continue
                with connection:
                    self._take(listener, connection)
        finally:
            with contextlib.suppress(OSError):
                if os.stat(SOCKET_NAME).st_ino == bound:  # never a newer host's socket
                    os.unlink(SOCKET_NAME)

    def _take(self, listener: socket.socket, connection: socket.socket) -> None:
        fds: list[int] = []
        try:
            if not _same_user(connection):
                _log("refused a connection from another user")
                return
            connection.settimeout(_REQUEST_TIMEOUT_SECONDS)
            header, fds, _flags, _address = socket.recv_fds(connection, _HEADER.size, 3)
            request = json.loads(_receive(connection, _HEADER.unpack(header)[0]).decode("utf-8", "surrogateescape"))
            if len(fds) != 3:
                reason: str | None = "the standard streams were not passed"
            else:
                reason = self.refusal(request) if isinstance(request, dict) else "malformed request"
            if reason is not None:
                _log(f"ran in the caller's process: {reason}")
                connection.sendall(json.dumps({"refused": reason}).encode() + b"\n")
                return
            connection.settimeout(None)
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                _child(listener, connection, request, fds)
            _log(f"forked {pid}: {' '.join(request['argv'][1:3])}")
        except Exception as err:  # a broken caller (hung up, bad JSON) must never stop the host
            _log(f"dropped a request: {err!r}")
        finally:
            for fd in fds:
                with contextlib.suppress(OSError):
                    os.close(fd)


def _still_recorded(bound: int) -> bool:
    """Whether the socket is the one this host bound and the pid file names it (the cwd is their directory).

    Why: a host whose files were removed or taken over (its home deleted, a stop that found another pid)
    would otherwise wait forever for callers that can no longer reach it.
    """
    try:
        recorded = json.loads(Path(PID_FILE).read_text(encoding="utf-8")).get("pid")
        return os.stat(SOCKET_NAME).st_ino == bound and recorded == os.getpid()
    except (OSError, ValueError, AttributeError):
        return False


def _own_code(known: Iterable[str] | None = None) -> dict[str, int]:
    """Modification times of phasegate's imported source files (of ``known`` ones, when given): ~0.2 ms.

    Why: children run the code the host imported. After an upgrade or an edit, a fork would run the old
    code, so the host turns callers away until it is restarted.
    """
    if known is None:
        root = Path(__file__).resolve().parent.parent
        packages = tuple(str(root / name) + os.sep for name in ("flows", "gates", "models", "notifications", "web"))
        files = [str(getattr(module, "__file__", None) or "") for module in list(sys.modules.values())]
        known = [path for path in files if path.startswith(packages)]
    stamps = {}
    for path in known:
        try:
            stamps[path] = os.stat(path).st_mtime_ns
        except OSError:
            stamps[path] = -1
    return stamps


def _child(listener: socket.socket, connection: socket.socket, request: Mapping[str, Any], fds: list[int]) -> NoReturn:
    """Become the caller's command: its streams, directory, environment and arguments; never return."""
    try:
        connection.sendall(json.dumps({"pid": os.getpid()}).encode() + b"\n")
    except OSError:  # the caller is gone (Ctrl-C while connecting): run nothing
        os._exit(130)
    status = 1
    try:
        listener.close()
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        time.tzset()
        sys.argv = list(request["argv"])
        if isinstance(sys.stdout, io.TextIOWrapper):
            sys.stdout.reconfigure(line_buffering=sys.stdout.isatty())
        from flows.cli import run_command

        status = run_command()
    except BaseException:  # a bug: shown as the command's own process would show it
        import traceback

        traceback.print_exc()
    finally:
        _finish(connection, status)


def _finish(connection: socket.socket, status: int) -> NoReturn:
    """Exit like the command's own process: exit handlers first (Prefect drains its queues), then the status."""
    import atexit
    import logging

    try:
        atexit._run_exitfuncs()
        logging.shutdown()
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
        connection.sendall(json.dumps({"status": status}).encode() + b"\n")
    finally:
        os._exit(status)


def _receive(connection: socket.socket, size: int) -> bytes:
    chunks, left = [], size
    while left:
        chunk = connection.recv(min(left, 1 << 16))
        if not chunk:
            raise ValueError("the caller hung up mid-request")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _same_user(connection: socket.socket) -> bool:
    if not hasattr(socket, "SO_PEERCRED"):  # elsewhere the socket's 0600 mode is the check
        return True
    credentials = connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", credentials)
    return bool(uid == os.getuid())


def _exit_on_signal(signum: int, _frame: object) -> None:
    raise SystemExit(0)


def _log(message: str) -> None:
    print(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {message}", flush=True)


def main() -> None:
    """``python -m flows.warm_start HOME API_URL``: what ``phasegate server start`` runs, detached."""
    home, api_url = sys.argv[1:3]
    host = Host(Path(home), api_url)
    host.preload()
    host.serve()


if __name__ == "__main__":
    main()
