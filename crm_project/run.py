"""`make run`: the whole product on this machine, in the foreground.

    python -m crm_project.run          # HOST and PORT from the environment, 127.0.0.1:8000

1. Without DATABASE_URL / REDIS_URL, start (or reuse) the private PostgreSQL and Redis
   under var/ (crm_project/embedded.py) and export their URLs, so that every child
   process uses them without starting anything itself.
2. migrate, collectstatic, bootstrap_demo (prints the demo login and API key).
3. gunicorn, a Celery worker and Celery beat as child processes, until Ctrl-C/SIGTERM or
   until one of them dies; then stop the others, and the private servers this run
   started (their data stays in var/).
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from crm_project import embedded

BASE_DIR = Path(__file__).resolve().parent.parent
STOP_TIMEOUT = 10.0  # seconds a child gets to exit after SIGTERM before SIGKILL

logger = logging.getLogger("crm_project.run")


class _Stop(Exception):
    """Raised inside the set-up steps when a stop signal arrives."""


# The signal that asked us to stop, if any. Handlers only record it: the main loop acts.
_stop_signal: int | None = None


def _on_signal(signum: int, _frame: FrameType | None) -> None:
    global _stop_signal
    if _stop_signal is None:
        logger.info("Received %s: stopping.", signal.Signals(signum).name)
    _stop_signal = signum


def _var_dir() -> Path:
    # The same rule as settings.py, so that both find the same servers.
    return Path(os.environ.get("CRM_VAR_DIR") or BASE_DIR / "var").resolve()


def _set_parent_death_signal() -> None:
    """Runs in each child between fork and exec: on Linux, ask the kernel to SIGTERM the
    child if this supervisor dies without stopping it (kill -9, OOM killer). The children
    live in their own sessions, so nothing else would stop them."""
    with contextlib.suppress(Exception):
        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM, 0, 0, 0)


@dataclass
class _Child:
    name: str
    process: subprocess.Popen[bytes]


def _spawn(name: str, argv: list[str]) -> _Child:
    process = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
        argv,
        cwd=BASE_DIR,
        stdin=subprocess.DEVNULL,
        # Own session (and process group): a Ctrl-C in the terminal reaches only us, and
        # we stop the children in order, once, with SIGTERM; and killpg() can reach the
        # processes each child forks (gunicorn workers, the Celery pool).
        start_new_session=True,
        preexec_fn=_set_parent_death_signal if sys.platform == "linux" else None,
    )
    return _Child(name, process)


def _stop_children(children: list[_Child]) -> None:
    """SIGTERM every child (a graceful shutdown for gunicorn and Celery), wait up to
    STOP_TIMEOUT, then SIGKILL whatever is left, including the processes they forked."""
    for child in children:
        if child.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                child.process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    for child in children:
        try:
            child.process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            logger.warning("%s did not stop within %.0fs: killing it.", child.name, STOP_TIMEOUT)
        # The whole process group: a killed leader leaves its workers behind, and a
        # leader that exited may still have stragglers.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.process.wait(timeout=5)


def _run_step(title: str, argv: list[str]) -> None:
    """Run a set-up command to completion; SystemExit if it fails, _Stop on a signal."""
    logger.info("%s ...", title)
    child = _spawn(title, argv)
    while child.process.poll() is None:
        if _stop_signal is not None:
            _stop_children([child])
            raise _Stop
        time.sleep(0.1)
    if child.process.returncode != 0:
        logger.error("%s failed (exit code %s).", title, child.process.returncode)
        raise SystemExit(1)


def _ensure_secret_key(var_dir: Path) -> None:
    """DEBUG is off by default and then settings.py requires SECRET_KEY: keep one per
    checkout in var/secret_key (mode 0600), so sessions survive restarts."""
    if os.environ.get("SECRET_KEY"):
        return
    key_file = var_dir / "secret_key"
    if not key_file.exists():
        var_dir.mkdir(parents=True, exist_ok=True)
        # O_EXCL: if two runs race, one writes and the other reads its key.
        with contextlib.suppress(FileExistsError):
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(50))
    os.environ["SECRET_KEY"] = key_file.read_text().strip()


def _bind_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host and not host.startswith("[") else f"{host}:{port}"


def _banner(host: str, port: int, eager: bool) -> None:
    shown = {"0.0.0.0": "127.0.0.1", "::": "[::1]", "": "127.0.0.1"}.get(host, host)  # noqa: S104
    url = f"http://{_bind_address(shown, port)}/"
    lines = [
        f"CRM is running at {url}",
        f"  admin:    {url}admin/",
        f"  API docs: {url}api/docs/",
        "  Celery:   eager mode (no Redis), no worker or beat"
        if eager
        else "  Celery:   worker (2 processes) and beat",
        "Ctrl-C stops everything; data stays in var/.",
    ]
    width = max(len(line) for line in lines)
    print("\n".join(["", "=" * width, *lines, "=" * width, ""]), flush=True)


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s run: %(message)s")
    host = os.environ.get("HOST", "").strip() or "127.0.0.1"
    try:
        port = int(os.environ.get("PORT", "").strip() or 8000)
        if not 0 < port < 65536:
            raise ValueError
    except ValueError:
        logger.error("PORT=%r is not a TCP port number.", os.environ.get("PORT"))
        return 2

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _on_signal)

    var_dir = _var_dir()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm_project.settings")
    os.environ.setdefault("PYTHONUNBUFFERED", "1")  # children's logs appear as they happen
    os.environ["CRM_VAR_DIR"] = str(var_dir)
    _ensure_secret_key(var_dir)

    children: list[_Child] = []
    eager = False
    try:
        if not os.environ.get("DATABASE_URL"):
            os.environ["DATABASE_URL"] = embedded.ensure_database_url(var_dir)
            logger.info("PostgreSQL: embedded, data in %s", var_dir / "postgres")

        if not os.environ.get("REDIS_URL"):
            redis = embedded.ensure_redis(var_dir)
            if redis is None:
                eager = True
                logger.warning(
                    "No Redis: Celery runs tasks eagerly inside the web processes; "
                    "no worker and no beat are started, so scheduled work does not run."
                )
            else:
                os.environ["REDIS_URL"] = redis.redis_url  # redis-py, Django's cache
                os.environ["CELERY_BROKER_URL"] = redis.broker_url  # kombu spells it so
                logger.info("Redis: embedded, data in %s", var_dir / "redis")
        elif not os.environ.get("CELERY_BROKER_URL"):
            # Celery reads CELERY_BROKER_URL from the environment before its settings;
            # only a unix:// REDIS_URL needs translating for kombu.
            os.environ["CELERY_BROKER_URL"] = embedded.celery_broker_url(os.environ["REDIS_URL"])

        manage = [sys.executable, str(BASE_DIR / "manage.py")]
        _run_step("migrate", [*manage, "migrate", "--noinput"])
        _run_step("collectstatic", [*manage, "collectstatic", "--noinput", "--verbosity", "0"])
        _run_step("bootstrap_demo", [*manage, "bootstrap_demo"])

        programs = {
            "gunicorn": [
                sys.executable, "-m", "gunicorn", "crm_project.wsgi:application",
                "--bind", _bind_address(host, port),
                "--workers", "2",
                "--access-logfile", "-",
                "--error-logfile", "-",
                # finish in-flight requests, within our own STOP_TIMEOUT
                "--graceful-timeout", str(int(STOP_TIMEOUT) - 2),
                # unused, and its default path (~/.gunicorn) is shared by every checkout
                "--no-control-socket",
            ],
        }  # fmt: skip
        if not eager:
            celery = [sys.executable, "-m", "celery", "-A", "crm_project"]
            programs["celery worker"] = [*celery, "worker", "--loglevel=info", "--concurrency=2"]
            programs["celery beat"] = [
                *celery, "beat", "--loglevel=info",
                "--schedule", str(var_dir / "celerybeat-schedule"),
            ]  # fmt: skip
        for name, argv in programs.items():
            if _stop_signal is not None:
                raise _Stop
            children.append(_spawn(name, argv))
        _banner(host, port, eager)

        # Supervise: a stop signal ends the run normally; a child that exits on its own
        # leaves the product half-running, so everything stops and we exit non-zero.
        while _stop_signal is None:
            for child in children:
                code = child.process.poll()
                if code is not None:
                    logger.error("%s exited unexpectedly (code %s): stopping.", child.name, code)
                    return 1
            time.sleep(0.25)
        return 0
    except _Stop:
        return 0
    finally:
        # A second Ctrl-C must not cut the clean-up short.
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.SIG_IGN)
        if children:
            logger.info("Stopping %s ...", ", ".join(child.name for child in children))
            _stop_children(children)
        # Only the servers this run started: one that was already running (an earlier
        # `manage.py shell`, a test session) may be in use by someone else.
        embedded.stop_started()
        logger.info("Stopped.")


if __name__ == "__main__":
    sys.exit(main())
