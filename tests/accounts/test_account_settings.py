"""The account's sending and feedback settings, its currency and area code: defaults,
changes read back through `/api/v1/account/`, the platform's `/api/v1/accounts/` and the
Django admin, and the ranges each one keeps."""

import pytest
from django.db import IntegrityError, transaction
from django.test import Client

from accounts.models import Account

pytestmark = pytest.mark.django_db

ACCOUNT = "/api/v1/account/"
SETTINGS = [
    "area_code",
    "currency",
    "send_rate_per_second",
    "feedback_reminder_days",
    "feedback_max_reminders",
]
DEFAULTS = {
    "area_code": None,
    "currency": "EUR",
    "send_rate_per_second": 100,
    "feedback_reminder_days": 3,
    "feedback_max_reminders": 2,
}
CHANGED = {
    "area_code": 434,
    "currency": "USD",
    "send_rate_per_second": 0,
    "feedback_reminder_days": 7,
    "feedback_max_reminders": 0,
}


def settings_of(body):
    return {name: body[name] for name in SETTINGS}


def stored_settings(account):
    account.refresh_from_db()
    return {name: getattr(account, name) for name in SETTINGS}


# --- /api/v1/account/ -----------------------------------------------------------------


def test_a_new_account_has_the_default_settings(api_client):
    assert settings_of(api_client.get(ACCOUNT).json()) == DEFAULTS


def test_admin_changes_the_settings_and_reads_them_back(api_client, account):
    response = api_client.patch(ACCOUNT, CHANGED, format="json")
    assert response.status_code == 200, response.json()
    assert settings_of(response.json()) == CHANGED
    assert settings_of(api_client.get(ACCOUNT).json()) == CHANGED
    assert stored_settings(account) == CHANGED


def test_settings_accept_seed_002_camel_case_and_a_lower_case_currency(api_client, account):
    response = api_client.patch(
        ACCOUNT,
        {"areaCode": 212, "currency": " gbp ", "sendRatePerSecond": 100000},
        format="json",
    )
    assert response.status_code == 200, response.json()
    account.refresh_from_db()
    assert (account.area_code, account.currency, account.send_rate_per_second) == (
        212,
        "GBP",
        100000,
    )


def test_the_area_code_can_be_cleared(api_client, account):
    api_client.patch(ACCOUNT, {"area_code": 434}, format="json")
    response = api_client.patch(ACCOUNT, {"area_code": None}, format="json")
    assert response.status_code == 200, response.json()
    account.refresh_from_db()
    assert account.area_code is None


def test_the_limits_of_each_range_are_accepted(api_client, account):
    limits = {
        "area_code": 99999,
        "send_rate_per_second": 100000,
        "feedback_reminder_days": 365,
        "feedback_max_reminders": 20,
    }
    assert api_client.patch(ACCOUNT, limits, format="json").status_code == 200
    assert {k: v for k, v in stored_settings(account).items() if k in limits} == limits
    lows = {"area_code": 0, "feedback_reminder_days": 1}
    assert api_client.patch(ACCOUNT, lows, format="json").status_code == 200
    assert {k: v for k, v in stored_settings(account).items() if k in lows} == lows


@pytest.mark.parametrize(
    ("payload", "attr"),
    [
        ({"currency": "EURO"}, "currency"),
        ({"currency": "ZZZ"}, "currency"),
        ({"currency": "XXX"}, "currency"),
        ({"currency": ""}, "currency"),
        ({"currency": None}, "currency"),
        ({"send_rate_per_second": -1}, "send_rate_per_second"),
        ({"send_rate_per_second": 100001}, "send_rate_per_second"),
        ({"send_rate_per_second": "fast"}, "send_rate_per_second"),
        ({"send_rate_per_second": None}, "send_rate_per_second"),
        ({"feedback_reminder_days": 0}, "feedback_reminder_days"),
        ({"feedback_reminder_days": 366}, "feedback_reminder_days"),
        ({"feedback_max_reminders": -1}, "feedback_max_reminders"),
        ({"feedback_max_reminders": 21}, "feedback_max_reminders"),
        ({"area_code": -1}, "area_code"),
        ({"area_code": 100000}, "area_code"),
        ({"area_code": "north"}, "area_code"),
    ],
)
def test_a_bad_setting_is_a_400_naming_the_field(api_client, account, payload, attr):
    response = api_client.patch(ACCOUNT, payload, format="json")
    assert response.status_code == 400
    assert {error["attr"] for error in response.json()["errors"]} == {attr}
    assert stored_settings(account) == DEFAULTS


@pytest.mark.parametrize("client_name", ["read_only_client", "member_client"])
def test_only_admins_change_the_settings(request, account, client_name):
    client = request.getfixturevalue(client_name)
    response = client.patch(ACCOUNT, {"send_rate_per_second": 5}, format="json")
    assert response.status_code == 403
    assert stored_settings(account) == DEFAULTS
    # Reading is for every role.
    assert settings_of(client.get(ACCOUNT).json()) == DEFAULTS


def test_another_account_changes_only_its_own_settings(
    api_client, other_api_client, account, other_account
):
    response = other_api_client.patch(ACCOUNT, {"currency": "JPY"}, format="json")
    assert response.status_code == 200
    assert stored_settings(other_account)["currency"] == "JPY"
    assert stored_settings(account) == DEFAULTS
    assert api_client.get(ACCOUNT).json()["currency"] == "EUR"


def test_the_database_refuses_settings_out_of_range(account):
    for values in [
        {"send_rate_per_second": 100001},
        {"feedback_reminder_days": 0},
        {"feedback_max_reminders": 21},
        {"currency": "eur"},
    ]:
        with pytest.raises(IntegrityError), transaction.atomic():
            Account.objects.filter(pk=account.pk).update(**values)
    assert stored_settings(account) == DEFAULTS


# --- Platform /api/v1/accounts/ -------------------------------------------------------


def test_platform_creates_an_account_with_default_settings(platform_client):
    response = platform_client.post("/api/v1/accounts/", {"name": "Initech"}, format="json")
    assert response.status_code == 201, response.json()
    assert settings_of(response.json()) == DEFAULTS
    assert stored_settings(Account.objects.get(slug="initech")) == DEFAULTS


def test_platform_creates_an_account_with_chosen_settings(platform_client):
    response = platform_client.post(
        "/api/v1/accounts/", {"name": "Initech", "areaCode": 434, **CHANGED}, format="json"
    )
    assert response.status_code == 201, response.json()
    assert stored_settings(Account.objects.get(slug="initech")) == CHANGED


def test_platform_changes_an_accounts_settings(platform_client, account, other_account):
    url = f"/api/v1/accounts/{account.pk}/"
    response = platform_client.patch(url, CHANGED, format="json")
    assert response.status_code == 200, response.json()
    assert settings_of(platform_client.get(url).json()) == CHANGED
    assert stored_settings(account) == CHANGED
    assert stored_settings(other_account) == DEFAULTS


@pytest.mark.parametrize(
    ("payload", "attr"),
    [
        ({"currency": "ABC"}, "currency"),
        ({"send_rate_per_second": 100001}, "send_rate_per_second"),
        ({"feedback_reminder_days": 366}, "feedback_reminder_days"),
        ({"feedback_max_reminders": 21}, "feedback_max_reminders"),
    ],
)
def test_platform_refuses_a_bad_setting_naming_the_field(platform_client, payload, attr):
    response = platform_client.post(
        "/api/v1/accounts/", {"name": "Initech", **payload}, format="json"
    )
    assert response.status_code == 400
    assert {error["attr"] for error in response.json()["errors"]} == {attr}
    assert not Account.objects.filter(slug="initech").exists()


def test_account_credentials_cannot_use_the_platform_endpoint(api_client, account):
    response = api_client.patch(
        f"/api/v1/accounts/{account.pk}/", {"send_rate_per_second": 5}, format="json"
    )
    assert response.status_code in {401, 403, 404}
    assert stored_settings(account) == DEFAULTS


# --- Django admin ---------------------------------------------------------------------


def admin_form(account, **changes):
    """The account's change form as the admin posts it, with `changes`."""
    data = {
        "name": account.name,
        "slug": account.slug,
        "type": account.type,
        "timezone": account.timezone,
        "email": account.email,
        "phone_number": account.phone_number,
        "website": account.website,
        "description": account.description,
        "country_iso3": account.country_iso3,
        "state": account.state,
        "default_phone_region": account.default_phone_region,
        "area_code": "",
        "currency": account.currency,
        "send_rate_per_second": account.send_rate_per_second,
        "feedback_reminder_days": account.feedback_reminder_days,
        "feedback_max_reminders": account.feedback_max_reminders,
        "loyalty_earn_rate": account.loyalty_earn_rate,
        "max_credit_refusals": account.max_credit_refusals,
        "ai_assistant_name": account.ai_assistant_name,
        "attributes": "{}",
        "_save": "Save",
    }
    data.update(changes)
    return data


def test_superuser_changes_the_settings_in_the_admin(superuser, account):
    client = Client()
    client.force_login(superuser)
    url = f"/admin/accounts/account/{account.pk}/change/"
    page = client.get(url).content.decode()
    for name in SETTINGS:
        assert f'name="{name}"' in page

    response = client.post(url, admin_form(account, **{**CHANGED, "area_code": "434"}))
    assert response.status_code == 302, response.content.decode()[:2000]
    assert stored_settings(account) == CHANGED


def test_the_admin_refuses_a_bad_currency(superuser, account):
    client = Client()
    client.force_login(superuser)
    url = f"/admin/accounts/account/{account.pk}/change/"
    response = client.post(url, admin_form(account, currency="ZZZ"))
    assert response.status_code == 200  # the form again, with the error
    assert "is not an ISO 4217 currency code" in response.content.decode()
    assert stored_settings(account) == DEFAULTS
