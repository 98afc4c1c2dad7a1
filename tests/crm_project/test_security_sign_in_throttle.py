"""Failed sign-ins (Bearer, Basic, `/login/`, the admin's) are counted by client
address and by username in the shared cache; over the budget the next attempt answers
429 with `Retry-After` before any key lookup or password hash."""

from types import SimpleNamespace

import pytest
from django.contrib.auth.backends import ModelBackend
from django.test import Client
from rest_framework.test import APIClient

from crm_project.api import signins
from tests.conftest import PASSWORD, basic_auth

pytestmark = pytest.mark.django_db

BUDGET = 3


@pytest.fixture(autouse=True)
def _small_budget(settings):
    settings.AUTH_FAILURE_THROTTLE_RATE = f"{BUDGET}/min"


@pytest.fixture(autouse=True)
def _one_window(monkeypatch):
    """Failures are counted in fixed windows of the rate's period: a test's attempts all
    fall in one window, whatever minute of the clock the test starts in."""
    monkeypatch.setattr(signins, "time", SimpleNamespace(time=lambda: 1_800_000_030.0))


@pytest.fixture
def password_checks(monkeypatch):
    """Every password check Django makes (each costs a hash)."""
    calls = []
    original = ModelBackend.authenticate

    def counted(self, request, username=None, password=None, **kwargs):
        calls.append(username)
        return original(self, request, username=username, password=password, **kwargs)

    monkeypatch.setattr(ModelBackend, "authenticate", counted)
    return calls


def api(authorization, address="10.0.0.1", **headers):
    client = APIClient(REMOTE_ADDR=address, **headers)
    client.credentials(HTTP_AUTHORIZATION=authorization)
    return client.get("/api/v1/account/")


def assert_throttled(response):
    assert response.status_code == 429, response.content
    assert int(response["Retry-After"]) > 0
    body = response.json()
    assert body["type"] == "client_error"
    assert body["errors"][0]["code"] == "throttled"


def test_failed_basic_sign_ins_are_throttled_by_username_before_any_password_hash(
    user, password_checks
):
    for n in range(BUDGET):
        # From several addresses: the username's own budget runs out.
        assert api(basic_auth(user.username, "wrong"), address=f"10.0.0.{n}").status_code == 401
    checks_so_far = len(password_checks)

    # Even the right password now waits: the attempt is refused before its hash.
    assert_throttled(api(basic_auth(user.username, PASSWORD), address="10.0.9.9"))
    assert len(password_checks) == checks_so_far


def test_failed_basic_sign_ins_are_throttled_by_address(user, password_checks):
    for n in range(BUDGET):
        assert api(basic_auth(f"guess{n}", "wrong")).status_code == 401
    assert_throttled(api(basic_auth(user.username, PASSWORD)))
    assert len(password_checks) == BUDGET
    # Another address with another username is not concerned.
    assert api(basic_auth(user.username, PASSWORD), address="10.0.0.2").status_code == 200


def test_a_forged_x_forwarded_for_does_not_reset_the_address_budget(db):
    for n in range(BUDGET):
        assert (
            api(basic_auth(f"guess{n}", "x"), HTTP_X_FORWARDED_FOR=f"1.2.3.{n}").status_code == 401
        )
    assert_throttled(api(basic_auth("guess9", "x"), HTTP_X_FORWARDED_FOR="1.2.3.99"))


def test_successful_sign_ins_do_not_spend_the_budget(user):
    for _ in range(BUDGET + 2):
        assert api(basic_auth(user.username, PASSWORD)).status_code == 200


def test_failed_bearer_keys_are_throttled_before_any_key_lookup(api_client, key_lookups):
    for n in range(BUDGET):
        assert api(f"Bearer crm_live_guess{n}aaaaaaaaaaaaaaaaaaaaaaa").status_code == 401
    lookups = len(key_lookups)
    assert_throttled(api(f"Bearer {api_client.raw_key}"))
    assert len(key_lookups) == lookups
    # The key itself works from elsewhere.
    assert api(f"Bearer {api_client.raw_key}", address="10.0.0.2").status_code == 200


def test_malformed_authorization_headers_count_as_failures(db):
    for header in ["Bearer", "Bearer a b", "Bearer not-a-key"][:BUDGET]:
        assert api(header).status_code == 401
    assert_throttled(api("Bearer crm_live_whatever"))


def test_the_budget_is_kept_in_the_shared_cache(user):
    from django.core.cache import cache

    for _ in range(BUDGET):
        api(basic_auth(user.username, "wrong"))
    prefix = cache.make_key("auth-failures:")
    client = cache._cache.get_client()
    counters = [client.get(key) for key in client.scan_iter(match=f"{prefix}*")]
    # One counter for the address, one for the username, each at the budget.
    assert sorted(int(value) for value in counters) == [BUDGET, BUDGET]


@pytest.mark.parametrize(
    "authorization",
    [basic_auth("a\x00b", "x"), basic_auth("root", "pass\x00word"), "Bearer crm_live_\x00abcdefgh"],
)
def test_a_nul_in_credentials_is_a_401_not_a_500(db, authorization):
    assert api(authorization).status_code == 401


def test_a_nul_in_x_account_is_a_403_not_a_500(platform_client):
    response = platform_client.get("/api/v1/agents/", HTTP_X_ACCOUNT="acme\x00")
    assert response.status_code == 403
    assert response.json()["errors"][0]["code"] == "account_not_found"


# --- The sign-in pages ----------------------------------------------------------------


def sign_in(path, username, password, address="10.0.0.1"):
    return Client(REMOTE_ADDR=address).post(path, {"username": username, "password": password})


def test_failed_sign_ins_on_the_login_page_answer_a_friendly_429(user, password_checks):
    for _ in range(BUDGET):
        assert sign_in("/login/", user.username, "wrong").status_code == 200
    checks_so_far = len(password_checks)

    response = sign_in("/login/", user.username, PASSWORD)
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    html = response.content.decode()
    assert "Too many failed sign-ins" in html
    assert 'name="username"' in html  # the page, with its form, not an error page
    assert len(password_checks) == checks_so_far
    assert "_auth_user_id" not in Client().session


def test_the_admin_sign_in_shares_the_budget(user, password_checks):
    for _ in range(BUDGET):
        sign_in("/login/", user.username, "wrong")
    checks_so_far = len(password_checks)
    response = sign_in("/admin/login/", user.username, PASSWORD)
    assert "Too many failed sign-ins" in response.content.decode()
    assert len(password_checks) == checks_so_far


def test_the_login_page_still_signs_in_under_the_budget(user):
    sign_in("/login/", user.username, "wrong")
    response = sign_in("/login/", user.username, PASSWORD)
    assert response.status_code == 302
