"""`Idempotency-Key` for every POST that creates.

A key belongs to one credential (an API key, or a user) of one account: the same key
from another credential is another key. It is claimed with `INSERT ... ON CONFLICT`
inside the request's own transaction: a concurrent request with the same key waits on
the unique index until the first one commits, then replays its answer. A failed
request rolls back its claim, so a retry runs again. An answer that carries a secret
(`SecretResponse`: a new API key) is never stored; a replay of its key answers 409.
Records live 24 hours: an expired row is re-claimed in place, and beat deletes old
rows (`idempotency_keys_expire`)."""

import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.core.files.uploadedfile import UploadedFile
from django.db import connection, transaction
from django.utils import timezone
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.encoders import JSONEncoder

from crm_project.api.exceptions import Conflict
from crm_project.ids import uuid7
from crm_project.models import IdempotencyKey
from crm_project.tenancy import unscoped

HEADER = "HTTP_IDEMPOTENCY_KEY"
TTL = timedelta(hours=24)
MAX_KEY_LENGTH = 255
UPLOAD_CHUNK_SIZE = 1024 * 1024


@dataclass
class Claim:
    row_id: Any


class Replay(Exception):
    def __init__(self, response: Response) -> None:
        self.response = response


class SecretResponse(Response):
    """An answer that carries a secret (shown once): never stored for a replay."""


def upload_sha256(upload: UploadedFile) -> str:
    """The SHA-256 of an uploaded file's bytes, read in chunks; the file is left at its
    start for the view."""
    digest = hashlib.sha256()
    for chunk in upload.chunks(UPLOAD_CHUNK_SIZE):
        digest.update(chunk)
    upload.seek(0)
    return digest.hexdigest()


def fingerprint(request: Request) -> str:
    """The request's method, path and body; an uploaded file by its content's hash."""

    def default(value: Any) -> Any:
        if isinstance(value, UploadedFile):
            return {"file_sha256": upload_sha256(value)}
        return str(value)

    data = request.data
    if hasattr(data, "lists"):
        data = {k: v if len(v) > 1 else v[0] for k, v in data.lists()}
    payload = json.dumps(
        [request.method, request.path, data], sort_keys=True, default=default, ensure_ascii=True
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def claim(request: Request, account_id: Any, credential: str) -> Claim | None:
    """Claim the request's key for its credential, or raise Replay / Conflict. None
    without a key."""
    key = request.META.get(HEADER, "").strip()
    if not key or request.method != "POST":
        return None
    if len(key) > MAX_KEY_LENGTH or "\x00" in key:
        raise ValidationError(
            {"idempotency_key": [f"At most {MAX_KEY_LENGTH} characters, no NUL."]},
            code="invalid",
        )
    digest = fingerprint(request)
    table = IdempotencyKey._meta.db_table
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {table}
                   (id, account_id, credential, key, fingerprint, created_at, secret_withheld)
            VALUES (%s, %s, %s, %s, %s, %s, false)
            ON CONFLICT (account_id, credential, key) DO UPDATE
               SET fingerprint = EXCLUDED.fingerprint, created_at = EXCLUDED.created_at,
                   status_code = NULL, response_body = NULL, secret_withheld = false
             WHERE {table}.created_at < %s
            RETURNING id
            """,  # noqa: S608  (table name from the model, values are parameters)
            [uuid7(), account_id, credential, key, digest, now, now - TTL],
        )
        row = cursor.fetchone()
    if row is not None:
        return Claim(row_id=row[0])
    stored = IdempotencyKey.objects.get(credential=credential, key=key)
    if stored.fingerprint != digest:
        raise Conflict(
            "This Idempotency-Key was used with another request.", code="idempotency_key_reused"
        )
    if stored.secret_withheld:
        raise Conflict(
            "The first answer to this Idempotency-Key carried a secret, which is never "
            "stored: it cannot be replayed. Look the created object up instead.",
            code="idempotency_key_secret_response",
        )
    response = Response(stored.response_body, status=stored.status_code)
    response["Idempotent-Replayed"] = "true"
    raise Replay(response)


def store(claim_: Claim, response: Response) -> None:
    """Keep a successful answer for replays; of an answer with a secret, only that it
    was one."""
    if isinstance(response, SecretResponse):
        IdempotencyKey.objects.filter(pk=claim_.row_id).update(
            status_code=response.status_code, secret_withheld=True
        )
        return
    body = json.loads(json.dumps(response.data, cls=JSONEncoder))
    IdempotencyKey.objects.filter(pk=claim_.row_id).update(
        status_code=response.status_code, response_body=body
    )


def release(claim_: Claim) -> None:
    """Forget a claim whose request did not succeed, so that a retry runs again. A
    transaction already marked for rollback drops the claim by itself."""
    if not connection.needs_rollback:
        IdempotencyKey.objects.filter(pk=claim_.row_id).delete()


@transaction.atomic
def idempotency_keys_expire() -> int:
    """Delete every account's records older than the TTL, in one statement; the
    number deleted."""
    with unscoped():
        deleted, _ = IdempotencyKey.objects.filter(created_at__lt=timezone.now() - TTL).delete()
    return deleted
