"""Fixtures shared by every test: two accounts and authenticated API clients for each,
against the real PostgreSQL (as the application's non-superuser role, under RLS) and
the real Redis."""

import contextlib
import fcntl
import os
import subprocess
import sys
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.test.utils import override_settings
from hypothesis import settings as hypothesis_settings
from rest_framework.test import APIClient

from accounts import services as account_services
from accounts.models import Role
from crm_project import embedded
from crm_project.celery import app as celery_app
from tests.factories import AccountFactory, MembershipFactory, UserFactory, make_api_key

PASSWORD = "correct horse battery"

# CI replays the same examples every run (a red build is then reproducible); developers
# explore new ones.
hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
hypothesis_settings.load_profile("ci" if os.environ.get("CI") else "default")


def pytest_sessionfinish(session):
    """Stop the embedded PostgreSQL and Redis if this session started them (no
    DATABASE_URL / REDIS_URL): under pytest-xdist, the controller did, before the
    workers."""
    if _xdist_worker(session.config) is None:
        embedded.stop_started()


def _xdist_worker(config):
    """This xdist worker's id (gw0, gw1, ...), or None outside pytest-xdist."""
    return getattr(config, "workerinput", {}).get("workerid")


@contextlib.contextmanager
def _one_xdist_worker_at_a_time(request, name):
    """An exclusive lock shared by this session's xdist workers (a no-op outside xdist)."""
    if _xdist_worker(request.config) is None:
        yield
        return
    # The workers' temporary directories share this session's parent directory.
    tmp_root = request.getfixturevalue("tmp_path_factory").getbasetemp().parent
    with open(tmp_root / f"{name}.lock", "a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        yield  # closing the file releases the lock


@pytest.fixture(scope="session")
def _test_database_setup_lock(request):
    with contextlib.ExitStack() as stack:
        stack.enter_context(_one_xdist_worker_at_a_time(request, "django_db_setup"))
        yield stack


@pytest.fixture(scope="session")
def django_db_setup(_test_database_setup_lock, django_db_setup):
    """pytest-django's (each xdist worker gets its own `test_<name>_gw<n>`), one worker
    at a time: the first migration creates cluster-wide roles, and concurrent migrations
    would race on them."""
    _test_database_setup_lock.close()


@pytest.fixture(scope="session", autouse=True)
def _cache_keys_per_xdist_worker(request):
    """Each xdist worker keeps its cache keys apart, so another worker's `_clean_cache`
    never drops them."""
    worker = _xdist_worker(request.config)
    if worker is None:
        yield
        return
    caches = {**settings.CACHES}
    caches["default"] = {
        **caches["default"],
        "KEY_PREFIX": f"{caches['default'].get('KEY_PREFIX', '')}-{worker}",
    }
    with override_settings(CACHES=caches):
        yield


@pytest.fixture
def start_celery_worker(request):
    """`start_celery_worker(**env)` starts a real Celery worker process on this test
    run's database and broker (the default queue emptied first), with `env` added to its
    environment; it is stopped after the test. Such workers share the broker's default
    queue, so under pytest-xdist one test at a time uses them."""
    # The run's own URL (a TCP address, or the embedded server's socket directory,
    # spelled as it was given), naming the test database instead.
    database_url = urlsplit(settings.DATABASE_URL)._replace(
        path=f"/{connection.settings_dict['NAME']}"
    )
    processes = []

    def start(**env):
        celery_app.control.purge()
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "crm_project", "worker", "--pool", "solo",
             "--concurrency", "1", "--without-gossip", "--without-mingle",
             "--loglevel", "warning"],
            env={
                **os.environ,
                "DATABASE_URL": database_url.geturl(),
                "REDIS_URL": settings.REDIS_URL,
                "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
                **env,
            },
            stdin=subprocess.DEVNULL,
        )  # fmt: skip
        processes.append(process)
        celery_app.conf.task_always_eager = False
        return process

    with _one_xdist_worker_at_a_time(request, "celery_worker"):
        yield start
        for process in processes:
            process.terminate()
            process.wait(timeout=20)


@pytest.fixture(autouse=True)
def _celery_eager():
    """Tasks run in-process unless a test starts a real worker (start_celery_worker)."""
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


@pytest.fixture(autouse=True)
def _plain_static_storage(settings):
    """Tests serve static files from the finders; no collectstatic manifest."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def _clean_cache():
    """Forget cached state (throttle budgets) between tests. Only the cache's own keys:
    a flush would also empty the Celery queues that share the Redis database."""
    client = cache._cache.get_client(write=True)
    keys = list(client.scan_iter(match=f"{settings.CACHES['default'].get('KEY_PREFIX', '')}:*"))
    if keys:
        client.delete(*keys)


@pytest.fixture
def account(db):
    return AccountFactory(slug="acme", name="Acme")


@pytest.fixture
def other_account(db):
    return AccountFactory(slug="globex", name="Globex")


def _client_with_key(account, role):
    _key, raw = make_api_key(account, role=role)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    client.raw_key = raw
    return client


@pytest.fixture
def api_client(account):
    """An admin API key of `account`."""
    return _client_with_key(account, Role.ADMIN)


@pytest.fixture
def member_client(account):
    return _client_with_key(account, Role.MEMBER)


@pytest.fixture
def read_only_client(account):
    return _client_with_key(account, Role.READ_ONLY)


@pytest.fixture
def other_api_client(other_account):
    """An admin API key of another account: it must never see `account`'s data."""
    return _client_with_key(other_account, Role.ADMIN)


@pytest.fixture
def anonymous_client():
    return APIClient()


@pytest.fixture
def user(account):
    """A back-office admin user of `account` (password: PASSWORD)."""
    membership = MembershipFactory(account=account, role=Role.ADMIN)
    return membership.user


@pytest.fixture
def superuser(db):
    return UserFactory(username="root", is_superuser=True)


@pytest.fixture
def platform_client(superuser):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=basic_auth("root", PASSWORD))
    return client


def basic_auth(username, password):
    import base64

    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return f"Basic {token}"


@pytest.fixture
def key_lookups(monkeypatch):
    """The key prefixes looked up in PostgreSQL during the test (the key cache's misses)."""
    calls = []
    original = account_services.api_key_by_prefix

    def counted(prefix):
        calls.append(prefix)
        return original(prefix)

    monkeypatch.setattr(account_services, "api_key_by_prefix", counted)
    return calls
