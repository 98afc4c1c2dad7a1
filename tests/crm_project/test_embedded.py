"""The private PostgreSQL and Redis (crm_project/embedded.py) are stopped by whoever
started them, also when their var directory was removed meanwhile: `make run` on Ctrl-C
(crm_project/run.py; `.ci/run` checks it end to end) and `make test` at the end of its
session (tests/conftest.py)."""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def var_dir():
    """A var directory of its own, short enough for the servers' unix sockets."""
    directory = Path(tempfile.mkdtemp(prefix="crm-var-"))
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


def private_servers(var_dir):
    """The live servers of var_dir, by their command lines: `postgres -D <var>/postgres`,
    `redis-server unixsocket:<var>/redis/redis.sock`."""
    signatures = (f"-D {var_dir}/postgres", f"unixsocket:{var_dir}/")
    found = []
    for process in psutil.process_iter(["cmdline", "status"]):
        cmdline = " ".join(process.info["cmdline"] or ())
        if process.info["status"] != psutil.STATUS_ZOMBIE and any(
            signature in cmdline for signature in signatures
        ):
            found.append(cmdline)
    return found


def without_services(var_dir):
    """This environment, less DATABASE_URL / REDIS_URL (and this pytest run's own
    variables), with the private servers under var_dir."""
    hidden = {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"}
    env = {k: v for k, v in os.environ.items() if k not in hidden and not k.startswith("PYTEST_")}
    return {**env, "CRM_VAR_DIR": str(var_dir)}


STARTS_REMOVES_AND_STOPS = """
import shutil, sys
from pathlib import Path
from crm_project import embedded

var_dir = Path(sys.argv[1])
embedded.ensure_database_url(var_dir)
embedded.ensure_redis(var_dir)
print("started", flush=True)
sys.stdin.readline()
shutil.rmtree(var_dir)
embedded.stop_started()
"""


def test_a_process_stops_the_servers_it_started_even_once_their_directory_is_gone(var_dir):
    process = subprocess.Popen(
        [sys.executable, "-c", STARTS_REMOVES_AND_STOPS, str(var_dir)],
        cwd=ROOT,
        env=without_services(var_dir),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout.readline() == "started\n"
        running = private_servers(var_dir)
        assert any("postgres" in cmdline for cmdline in running), running
        assert any("redis-server" in cmdline for cmdline in running), running

        process.communicate("go on\n", timeout=90)
    finally:
        process.kill()
    assert process.returncode == 0
    assert private_servers(var_dir) == []
    assert not var_dir.exists()


def test_a_test_session_stops_the_servers_it_started(var_dir):
    """As `make test` runs it (pytest-xdist): the controller starts the servers, its
    workers use them, the controller stops them at the end."""
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-n", "1",
         "tests/crm_project/test_settings.py::test_the_test_environment_starts"],
        cwd=ROOT,
        env=without_services(var_dir),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert (var_dir / "postgres").is_dir()  # the session did use them
    assert (var_dir / "redis").is_dir()
    assert private_servers(var_dir) == []
