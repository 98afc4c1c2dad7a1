"""The back-office frame: signing in and out, the account switcher, the navigation and
the API keys page, through Django's test client."""

import re

import pytest
from django.http import HttpResponse
from django.test import Client
from django.urls import NoReverseMatch, include, path, reverse
from rest_framework.test import APIClient

from accounts.models import ApiKey, Role
from crm_project import urls as crm_urls
from crm_project.templatetags.nav import SECTIONS
from crm_project.tenancy import account_scope
from tests.conftest import PASSWORD
from tests.factories import MembershipFactory, make_api_key

SECRET = re.compile(r"crm_live_[A-Za-z0-9_-]{20,}")


def signed_in(user):
    client = Client()
    client.force_login(user)
    return client


def member_of(account, role):
    return MembershipFactory(account=account, role=role).user


def bearer(raw_key):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    return client


def form_token(client):
    html = client.get("/settings/api-keys/").content.decode()
    return re.search(r'name="form_token" value="([^"]+)"', html).group(1)


def create_key_on_page(client, name="Shop sync", role=Role.MEMBER):
    data = {"name": name, "role": role, "form_token": form_token(client)}
    response = client.post("/settings/api-keys/", data)
    assert response.status_code == 200
    secrets = SECRET.findall(response.content.decode())
    assert len(secrets) == 1, "the new secret is shown exactly once"
    return response, secrets[0]


# --- Signing in and out -------------------------------------------------------------


@pytest.mark.django_db
def test_login_page_renders_a_form():
    response = Client().get("/login/")
    assert response.status_code == 200
    html = response.content.decode()
    assert '<form method="post" action="/login/"' in html
    assert 'name="username"' in html
    assert 'name="password"' in html
    assert "csrfmiddlewaretoken" in html


def test_login_lands_on_home_showing_the_account(user, account):
    client = Client()
    response = client.post(
        "/login/", {"username": user.username, "password": PASSWORD}, follow=True
    )
    assert response.redirect_chain == [("/", 302)]
    html = response.content.decode()
    assert '<span class="account-name">Acme</span>' in html  # the top bar names it
    assert "<h1>Clients</h1>" in html  # the client table is the home page
    assert "Admin" in html  # the user's role in the account


def test_wrong_password_stays_on_the_login_page(user):
    response = Client().post("/login/", {"username": user.username, "password": "wrong"})
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/", "/settings/api-keys/", "/account/switch/"])
def test_anonymous_is_sent_to_the_login_page(path):
    response = Client().get(path)
    assert response.status_code == 302
    assert response["Location"] == f"/login/?next={path}"


def test_logout_needs_a_post_and_signs_out(user):
    client = signed_in(user)
    assert client.get("/logout/").status_code == 405

    response = client.post("/logout/")
    assert response.status_code == 302
    assert response["Location"] == "/login/"
    assert client.get("/")["Location"] == "/login/?next=/"


def test_logout_button_posts_with_csrf(user):
    html = signed_in(user).get("/").content.decode()
    form = re.search(r'<form method="post" action="/logout/">(.*?)</form>', html, re.S)
    assert form is not None
    assert "csrfmiddlewaretoken" in form.group(1)


# --- The frame --------------------------------------------------------------------------


def test_sections_not_built_yet_are_disabled_not_dead_links(user):
    html = signed_in(user).get("/").content.decode()
    for label, url_name, _path in SECTIONS:
        try:
            url = reverse(url_name)
        except NoReverseMatch:
            item = re.search(rf'<a ([^>]*)>{label} <span class="soon">soon</span></a>', html)
            assert item is not None, label
            assert 'aria-disabled="true"' in item.group(1)
            assert "href" not in item.group(1)
        else:
            assert f'href="{url}"' in html, label
    assert '<a class="nav-link" href="/settings/api-keys/">API keys</a>' in html
    assert '<a class="nav-link" href="/admin/">Admin</a>' in html


def _section_page(request):
    return HttpResponse("a later app's page")


# A urlconf where one more section exists: `tests.accounts.test_pages` as ROOT_URLCONF.
urlpatterns = [
    path("segments/", include(([path("", _section_page, name="builder")], "segments"))),
    *crm_urls.urlpatterns,
]


def test_a_section_lights_up_once_its_url_name_exists(user, settings):
    settings.ROOT_URLCONF = __name__
    html = signed_in(user).get("/").content.decode()
    assert '<a class="nav-link" href="/segments/">Segments</a>' in html


def test_api_keys_link_is_for_admins_only(account):
    html = signed_in(member_of(account, Role.MEMBER)).get("/").content.decode()
    assert "/settings/api-keys/" not in html


def test_messages_are_shown(user, account):
    api_key, _raw = make_api_key(account, name="old")
    response = signed_in(user).post(f"/settings/api-keys/{api_key.pk}/revoke/", follow=True)
    assert f"Key {api_key.prefix}… (old) is revoked" in response.content.decode()


# --- Choosing an account ----------------------------------------------------------------


def test_user_of_several_accounts_chooses_one(account, other_account):
    user = member_of(account, Role.MEMBER)
    MembershipFactory(account=other_account, user=user, role=Role.ADMIN)
    client = signed_in(user)

    assert client.get("/")["Location"] == "/account/switch/"
    page = client.get("/account/switch/").content.decode()
    assert "Acme" in page
    assert "Globex" in page

    response = client.post("/account/switch/", {"account": str(other_account.pk)})
    assert response["Location"] == "/"
    assert client.session["account_id"] == str(other_account.pk)
    home = client.get("/").content.decode()
    assert '<span class="account-name">Globex</span>' in home


def test_switching_to_an_account_one_is_not_a_member_of_is_refused(user, other_account):
    client = signed_in(user)
    response = client.post("/account/switch/", {"account": str(other_account.pk)})
    assert response.status_code == 400
    assert "account_id" not in client.session
    assert '<span class="account-name">Acme</span>' in client.get("/").content.decode()


def test_superuser_works_across_accounts_until_choosing_one(superuser, account):
    client = signed_in(superuser)
    assert "All accounts" in client.get("/").content.decode()

    client.post("/account/switch/", {"account": "acme"})
    assert '<span class="account-name">Acme</span>' in client.get("/").content.decode()

    client.post("/account/switch/", {"account": ""})
    assert "All accounts" in client.get("/").content.decode()


# --- API keys -----------------------------------------------------------------------------


def test_created_key_is_shown_once_and_authenticates(user, account):
    client = signed_in(user)
    response, secret = create_key_on_page(client, name="Shop sync", role=Role.MEMBER)
    assert response["Cache-Control"].startswith("max-age=0")
    assert "no-store" in response["Cache-Control"]
    assert "will not be shown again" in response.content.decode()

    answer = bearer(secret).get("/api/v1/account/")
    assert answer.status_code == 200
    assert answer.json()["slug"] == "acme"

    with account_scope(account):
        stored = ApiKey.objects.get(name="Shop sync")
    assert stored.account_id == account.pk
    assert stored.role == Role.MEMBER
    assert stored.created_by_id == user.pk
    assert secret.startswith(stored.prefix)
    assert secret not in stored.secret_hash

    listing = client.get("/settings/api-keys/").content.decode()
    assert stored.prefix in listing
    assert secret not in listing


def test_the_secret_is_never_kept_in_the_session(user):
    client = signed_in(user)
    _response, secret = create_key_on_page(client)
    assert all(secret not in str(value) for value in client.session.values())


def test_the_account_comes_from_the_session_not_the_form(user, account, other_account):
    client = signed_in(user)
    client.post(
        "/settings/api-keys/",
        {
            "name": "sneaky",
            "role": Role.ADMIN,
            "account": str(other_account.pk),
            "form_token": form_token(client),
        },
    )
    with account_scope(other_account):
        assert not ApiKey.objects.filter(name="sneaky").exists()
    with account_scope(account):
        assert ApiKey.objects.get(name="sneaky").account_id == account.pk


def test_invalid_form_creates_nothing(user, account):
    client = signed_in(user)
    response = client.post(
        "/settings/api-keys/", {"name": "", "role": "owner", "form_token": form_token(client)}
    )
    assert response.status_code == 200
    assert SECRET.search(response.content.decode()) is None
    assert "field-error" in response.content.decode()
    with account_scope(account):
        assert not ApiKey.objects.exists()


def test_sending_the_same_form_twice_creates_one_key(user, account):
    client = signed_in(user)
    data = {"name": "once", "role": Role.MEMBER, "form_token": form_token(client)}
    first = client.post("/settings/api-keys/", data)
    again = client.post("/settings/api-keys/", data)  # a reload of the answer
    assert SECRET.search(first.content.decode())
    assert SECRET.search(again.content.decode()) is None
    assert "This form was already sent" in again.content.decode()
    with account_scope(account):
        assert ApiKey.objects.filter(name="once").count() == 1


def test_revoked_key_is_refused_with_401(user, account):
    client = signed_in(user)
    _response, secret = create_key_on_page(client)
    assert bearer(secret).get("/api/v1/account/").status_code == 200
    with account_scope(account):
        api_key = ApiKey.objects.get()

    response = client.post(f"/settings/api-keys/{api_key.pk}/revoke/")
    assert response.status_code == 302
    assert response["Location"] == "/settings/api-keys/"

    answer = bearer(secret).get("/api/v1/account/")
    assert answer.status_code == 401
    with account_scope(account):
        api_key.refresh_from_db()
    assert api_key.revoked_at is not None
    listing = client.get("/settings/api-keys/").content.decode()
    assert f"<code>{api_key.prefix}…</code>" not in listing  # only live keys are listed


def test_revoke_needs_a_post(user, account):
    api_key, _raw = make_api_key(account)
    response = signed_in(user).get(f"/settings/api-keys/{api_key.pk}/revoke/")
    assert response.status_code == 405


@pytest.mark.parametrize("role", [Role.READ_ONLY, Role.MEMBER])
def test_non_admins_get_403_on_the_api_keys_page(account, role):
    api_key, _raw = make_api_key(account)
    client = signed_in(member_of(account, role))
    assert client.get("/settings/api-keys/").status_code == 403
    assert client.post("/settings/api-keys/", {"name": "x", "role": "admin"}).status_code == 403
    assert client.post(f"/settings/api-keys/{api_key.pk}/revoke/").status_code == 403
    with account_scope(account):
        assert list(ApiKey.objects.values_list("revoked_at", flat=True)) == [None]
        assert ApiKey.objects.count() == 1


def test_user_of_another_account_never_sees_or_revokes_this_accounts_keys(account, other_account):
    api_key, raw = make_api_key(account, name="acme-only")
    stranger = signed_in(member_of(other_account, Role.ADMIN))

    html = stranger.get("/settings/api-keys/").content.decode()
    assert "Globex" in html
    assert "acme-only" not in html
    assert api_key.prefix not in html

    response = stranger.post(f"/settings/api-keys/{api_key.pk}/revoke/")
    assert response.status_code == 404
    assert bearer(raw).get("/api/v1/account/").status_code == 200
