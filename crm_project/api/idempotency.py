"""`Idempotency-Key` for every POST that creates.

The key is claimed with `INSERT ... ON CONFLICT` inside the request's own transaction:
a concurrent request with the same key waits on the unique index until the first one
commits, then replays its answer. A failed request rolls back its claim, so a retry
runs again. Keys expire after 24 hours (an expired row is re-claimed in place)."""

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.utils import timezone
from rest_framework.request import Request
from rest_framework.response import Response

from crm_project.api.exceptions import Conflict
from crm_project.models import IdempotencyKey

HEADER = "HTTP_IDEMPOTENCY_KEY"
TTL_HOURS = 24
MAX_KEY_LENGTH = 255


@dataclass
class Claim:
    key: str
    fingerprint: str


class Replay(Exception):
    def __init__(self, response: Response) -> None:
        self.response = response


def fingerprint(request: Request) -> str:
    def default(value: Any) -> Any:
        name = getattr(value, "name", None)
        size = getattr(value, "size", None)
        return {"file": name, "size": size} if size is not None else str(value)

    data = request.data
    if hasattr(data, "lists"):
        data = {k: v if len(v) > 1 else v[0] for k, v in data.lists()}
    payload = json.dumps(
        [request.method, request.path, data], sort_keys=True, default=default, ensure_ascii=True
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def claim(request: Request, account_id: Any) -> Claim | None:
    """Claim the request's key, or raise Replay / Conflict. None without a key."""
    key = request.META.get(HEADER, "").strip()
    if not key or request.method != "POST":
        return None
    if len(key) > MAX_KEY_LENGTH:
        from rest_framework.exceptions import ValidationError

        raise ValidationError(
            {"idempotency_key": [f"At most {MAX_KEY_LENGTH} characters."]}, code="invalid"
        )
    digest = fingerprint(request)
    table = IdempotencyKey._meta.db_table
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {table} (id, account_id, key, fingerprint, created_at)
            VALUES (gen_random_uuid(), %s, %s, %s, %s)
            ON CONFLICT (account_id, key) DO UPDATE
               SET fingerprint = EXCLUDED.fingerprint, created_at = EXCLUDED.created_at,
                   status_code = NULL, response_body = NULL
             WHERE {table}.created_at < %s - make_interval(hours => %s)
            RETURNING id
            """,  # noqa: S608  (table name from the model, values are parameters)
            [account_id, key, digest, now, now, TTL_HOURS],
        )
        claimed = cursor.fetchone() is not None
    if claimed:
        return Claim(key=key, fingerprint=digest)
    stored = IdempotencyKey.objects.get(key=key)
    if stored.fingerprint != digest:
        raise Conflict(
            "This Idempotency-Key was used with another request.", code="idempotency_key_reused"
        )
    response = Response(stored.response_body, status=stored.status_code)
    response["Idempotent-Replayed"] = "true"
    raise Replay(response)


def store(claim_: Claim, response: Response) -> None:
    IdempotencyKey.objects.filter(key=claim_.key).update(
        status_code=response.status_code, response_body=_jsonable(response.data)
    )


def _jsonable(data: Any) -> Any:
    from rest_framework.utils.encoders import JSONEncoder

    return json.loads(json.dumps(data, cls=JSONEncoder))


def release(claim_: Claim) -> None:
    """Forget a claim whose request did not succeed, so that a retry runs again. A
    transaction already marked for rollback drops the claim by itself."""
    if not connection.needs_rollback:
        IdempotencyKey.objects.filter(key=claim_.key).delete()
