"""The operator commands, in the exact forms outside tools depend on."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from tests.conftest import basic_auth

pytestmark = pytest.mark.django_db


def run(*args):
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue().strip().splitlines()


def client_for(key):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


def test_create_account_prints_an_admin_key_on_the_last_line():
    lines = run(
        "create_account",
        "initech",
        "--name",
        "Initech",
        "--timezone",
        "Europe/Berlin",
        "--email",
        "ops@initech.example",
    )
    body = client_for(lines[-1]).get("/api/v1/account/").json()
    assert (body["slug"], body["timezone"], body["email"]) == (
        "initech",
        "Europe/Berlin",
        "ops@initech.example",
    )
    assert client_for(lines[-1]).get("/api/v1/api-keys/").status_code == 200  # admin


def test_create_account_refuses_a_taken_slug_or_bad_timezone(account):
    with pytest.raises(CommandError):
        run("create_account", "acme", "--name", "Again")
    with pytest.raises(CommandError):
        run("create_account", "new", "--name", "New", "--timezone", "Nowhere/Land")


@pytest.mark.parametrize(("role", "can_write"), [("member", True), ("read_only", False)])
def test_create_api_key_prints_the_key_on_the_last_line(account, role, can_write):
    key = run("create_api_key", "--account", "acme", "--role", role, "--name", "ci")[-1]
    client = client_for(key)
    assert client.get("/api/v1/account/").status_code == 200
    listed = client_for(run("create_api_key", "--account", "acme", "--role", "admin")[-1])
    roles = {k["name"]: k["role"] for k in listed.get("/api/v1/api-keys/").json()["results"]}
    assert roles["ci"] == role


def test_create_api_key_for_an_unknown_account_fails(db):
    with pytest.raises(CommandError):
        run("create_api_key", "--account", "nope", "--role", "admin")


def test_create_user_makes_a_user_that_can_sign_in(account):
    run(
        "create_user",
        "ada",
        "--password",
        "s3cret-pass",
        "--account",
        "acme",
        "--role",
        "read_only",
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=basic_auth("ada", "s3cret-pass"))
    assert client.get("/api/v1/account/").json()["slug"] == "acme"
    assert client.post("/api/v1/agents/", {"first_name": "x"}).status_code == 403
    assert APIClient().login(username="ada", password="s3cret-pass")


def test_bootstrap_demo_is_repeatable_and_prints_working_credentials(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    first = run("bootstrap_demo")
    second = run("bootstrap_demo")
    assert first == second
    key = first[-1].split()[-1]
    assert client_for(key).get("/api/v1/account/").json()["slug"] == "demo"
