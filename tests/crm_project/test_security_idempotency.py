"""Idempotency records: scoped by credential, never holding a secret, fingerprinting
uploads by their content, and deleted by beat after 24 hours."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import Agent, Role
from crm_project import tasks
from crm_project.models import IdempotencyKey
from crm_project.tenancy import account_scope, unscoped
from tests.conftest import PASSWORD, basic_auth
from tests.factories import make_api_key

pytestmark = pytest.mark.django_db


def stored_keys():
    with unscoped():
        return list(IdempotencyKey.objects.order_by("created_at"))


def agents_of(account):
    with account_scope(account):
        return list(Agent.objects.values_list("first_name", flat=True))


def test_a_new_api_keys_secret_is_never_stored_and_its_replay_is_a_409(api_client, account):
    first = api_client.post("/api/v1/api-keys/", {"name": "ci"}, HTTP_IDEMPOTENCY_KEY="k")
    assert first.status_code == 201
    secret = first.json()["key"]

    (record,) = stored_keys()
    assert record.secret_withheld
    assert record.response_body is None
    assert secret not in str(record.__dict__)

    replay = api_client.post("/api/v1/api-keys/", {"name": "ci"}, HTTP_IDEMPOTENCY_KEY="k")
    assert replay.status_code == 409
    assert replay.json()["errors"][0]["code"] == "idempotency_key_secret_response"
    assert secret not in replay.content.decode()
    # Still one new key: the replay created nothing.
    names = [k["name"] for k in api_client.get("/api/v1/api-keys/").json()["results"]]
    assert names.count("ci") == 1


def test_the_same_key_from_two_credentials_of_one_account_is_two_keys(api_client, account, user):
    _other, raw = make_api_key(account, role=Role.ADMIN)
    second_key = APIClient()
    second_key.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    a_user = APIClient()
    a_user.credentials(HTTP_AUTHORIZATION=basic_auth(user.username, PASSWORD))

    answers = [
        client.post("/api/v1/agents/", {"first_name": "Ann"}, HTTP_IDEMPOTENCY_KEY="same")
        for client in (api_client, second_key, a_user)
    ]

    assert [a.status_code for a in answers] == [201, 201, 201]
    assert len({a.json()["id"] for a in answers}) == 3
    assert not any(a.has_header("Idempotent-Replayed") for a in answers)
    assert agents_of(account) == ["Ann", "Ann", "Ann"]
    # Each credential still replays its own answer.
    again = second_key.post("/api/v1/agents/", {"first_name": "Ann"}, HTTP_IDEMPOTENCY_KEY="same")
    assert again.json()["id"] == answers[1].json()["id"]
    assert again["Idempotent-Replayed"] == "true"


def upload(client, content, key):
    return client.post(
        "/api/v1/imports/",
        {"kind": "customers", "file": SimpleUploadedFile("same.csv", content, "text/csv")},
        format="multipart",
        HTTP_IDEMPOTENCY_KEY=key,
    )


def test_uploads_are_fingerprinted_by_their_content(api_client):
    first = upload(api_client, b"email\na@example.com\n", "up")
    assert first.status_code == 202, first.content
    # Same name, same size, other bytes: another request.
    other = upload(api_client, b"email\nb@example.com\n", "up")
    assert other.status_code == 409
    assert other.json()["errors"][0]["code"] == "idempotency_key_reused"
    same = upload(api_client, b"email\na@example.com\n", "up")
    assert same.status_code == 202
    assert same.json()["id"] == first.json()["id"]
    assert len(api_client.get("/api/v1/imports/").json()["results"]) == 1


def test_beat_deletes_records_older_than_24_hours_in_one_statement(api_client, other_api_client):
    for client, key in [(api_client, "old"), (other_api_client, "old"), (api_client, "new")]:
        client.post("/api/v1/agents/", {"first_name": "A"}, HTTP_IDEMPOTENCY_KEY=key)
    with unscoped():
        IdempotencyKey.objects.filter(key="old").update(
            created_at=timezone.now() - timedelta(hours=24, minutes=1)
        )

    with CaptureQueriesContext(connection) as queries:
        deleted = tasks.idempotency_keys_expire.delay().get()

    assert deleted == 2
    assert [record.key for record in stored_keys()] == ["new"]
    deletes = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("DELETE")]
    assert len(deletes) == 1


def test_the_expiry_runs_on_beat():
    entries = settings.CELERY_BEAT_SCHEDULE.values()
    assert any(e["task"] == "crm_project.tasks.idempotency_keys_expire" for e in entries)
