"""Fixtures shared by every test: two accounts and authenticated API clients for each,
against the real PostgreSQL (as the application's non-superuser role, under RLS) and
the real Redis."""

import os

import pytest
from django.conf import settings
from django.core.cache import cache
from hypothesis import settings as hypothesis_settings
from rest_framework.test import APIClient

from accounts.models import Role
from crm_project.celery import app as celery_app
from tests.factories import AccountFactory, MembershipFactory, UserFactory, make_api_key

PASSWORD = "correct horse battery"

# CI replays the same examples every run (a red build is then reproducible); developers
# explore new ones.
hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
hypothesis_settings.load_profile("ci" if os.environ.get("CI") else "default")


@pytest.fixture(autouse=True)
def _celery_eager():
    """Tasks run in-process unless a test starts a real worker (tests/crm_project/
    test_celery_worker.py)."""
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
