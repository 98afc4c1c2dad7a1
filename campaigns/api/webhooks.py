"""Provider delivery receipts: `POST /api/v1/webhooks/delivery/`, signed with the
Standard Webhooks scheme (https://www.standardwebhooks.com/).

The signature is the authentication: no API key or session is read (the provider has
none), no role applies, and the per-credential throttle does not either (a provider
sends receipts at the rate we send messages). The checks, in order:

1. `webhook-id`, `webhook-timestamp` and `webhook-signature` are present, the timestamp
   within 5 minutes of now (either way), and one of the signature's space-separated
   `v1,<base64>` entries is the HMAC-SHA256 of `{id}.{timestamp}.{raw body}` keyed with
   the base64 part of `WEBHOOK_SECRET` (`whsec_...`), compared in constant time.
   Anything else, and a server with no `WEBHOOK_SECRET`, is a 401.
2. A `webhook-id` already applied answers 200 (`duplicate`) and changes nothing (ids
   are remembered in the cache for a day after they were applied; the events are
   idempotent anyway, so two copies racing each other apply once).
3. The body is validated (400 naming the field), and the receipt applied by
   campaigns.services.message_receipt, which never moves a message backwards.
   A receipt for a message this server does not know answers 200 (`ignored`): the
   provider must not retry it forever."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from functools import cache
from typing import Any

from django.conf import settings
from django.core.cache import cache as django_cache
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from campaigns import services
from campaigns.selectors import message_in_its_scope
from campaigns.services import RECEIPT_EVENTS
from crm_project.api.fields import ChoiceField, DateTimeField
from crm_project.api.schema import ClientErrorResponseSerializer

TOLERANCE_SECONDS = 5 * 60
REMEMBER_SECONDS = 24 * 60 * 60
MAX_ID_LENGTH = 255
SCHEME = "Webhook-Signature"


# --- The signature -----------------------------------------------------------------------


@cache
def _key(secret: str) -> bytes | None:
    """The HMAC key of a `whsec_<base64>` secret; None when it is not one."""
    if not secret.startswith("whsec_"):
        return None
    try:
        key = base64.b64decode(secret.removeprefix("whsec_"), validate=True)
    except (binascii.Error, ValueError):
        return None
    return key or None


def _refuse(detail: str) -> AuthenticationFailed:
    return AuthenticationFailed(detail, code="authentication_failed")


def verify_signature(headers: Any, body: bytes, *, now: float | None = None) -> str:
    """The webhook id of a request the Standard Webhooks scheme vouches for;
    AuthenticationFailed otherwise."""
    key = _key(settings.WEBHOOK_SECRET)
    if key is None:
        raise _refuse("Webhooks are not configured on this server (WEBHOOK_SECRET).")
    webhook_id = headers.get("webhook-id") or ""
    timestamp = headers.get("webhook-timestamp") or ""
    signatures = headers.get("webhook-signature") or ""
    if not (webhook_id and timestamp and signatures):
        raise _refuse("Sign the request: webhook-id, webhook-timestamp, webhook-signature.")
    if (
        len(webhook_id) > MAX_ID_LENGTH
        or len(timestamp) > 20
        or not (timestamp.isascii() and timestamp.isdigit())
    ):
        raise _refuse("Bad webhook-id or webhook-timestamp.")
    now = time.time() if now is None else now
    if abs(now - int(timestamp)) > TOLERANCE_SECONDS:
        raise _refuse("webhook-timestamp is more than 5 minutes away from now.")
    signed = webhook_id.encode() + b"." + timestamp.encode() + b"." + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest())
    for entry in signatures.split():
        version, _, signature = entry.partition(",")
        if version == "v1" and hmac.compare_digest(expected, signature.encode()):
            return webhook_id
    raise _refuse("No valid signature.")


def _seen_key(webhook_id: str) -> str:
    return "webhooks:delivery:" + hashlib.sha256(webhook_id.encode()).hexdigest()


# --- The view -------------------------------------------------------------------------


class DeliveryReceiptSerializer(serializers.Serializer):
    message_id = serializers.UUIDField(help_text="The `message_id` we sent the message with.")
    event = ChoiceField(choices=[(event, event) for event in RECEIPT_EVENTS])
    reason = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=500,
        default="",
        help_text="Why it bounced or failed.",
    )
    occurred_at = DateTimeField(
        required=False,
        allow_null=True,
        default=None,
        help_text="When it happened (default: now; a time in the future is read as now).",
    )

    def validate_occurred_at(self, value: Any) -> Any:
        return None if value is None else min(value, timezone.now())


class DeliveryReceiptResultSerializer(serializers.Serializer):
    result = serializers.ChoiceField(
        choices=["applied", "unchanged", "duplicate", "ignored"],
        help_text="`applied`: the message moved on; `unchanged`: it was already there or "
        "further (events never move a message backwards); `duplicate`: this webhook-id "
        "was applied before; `ignored`: no such message here (not retried).",
    )


_SIGNATURE_HEADERS = [
    OpenApiParameter(
        name,
        str,
        OpenApiParameter.HEADER,
        required=True,
        description=description,
    )
    for name, description in (
        ("webhook-id", "The event's unique id (a repeated id changes nothing)."),
        ("webhook-timestamp", "Unix seconds; at most 5 minutes from now."),
        (
            "webhook-signature",
            "`v1,<base64 HMAC-SHA256 of {id}.{timestamp}.{body}>`, keyed with "
            "WEBHOOK_SECRET's base64 part; several may be given, space-separated.",
        ),
    )
]


class DeliveryWebhookView(APIView):
    """Delivery receipts from the SMS (or mail) provider."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    throttle_classes: list[Any] = []

    def get_authenticate_header(self, request: Request) -> str:
        # Without it DRF would turn the 401 into a 403.
        return SCHEME

    @extend_schema(
        auth=[],
        parameters=_SIGNATURE_HEADERS,
        request=DeliveryReceiptSerializer,
        responses={
            200: DeliveryReceiptResultSerializer,
            401: OpenApiResponse(
                ClientErrorResponseSerializer,
                description="Unsigned, badly signed, a timestamp more than 5 minutes from "
                "now, or no WEBHOOK_SECRET on this server (`authentication_failed`).",
            ),
        },
    )
    def post(self, request: Request) -> Response:
        """Apply a signed provider receipt (`delivered`, `bounced`, `failed`) to its
        message. Signed with the Standard Webhooks scheme instead of an API key."""
        webhook_id = verify_signature(request.headers, request.body)
        seen = _seen_key(webhook_id)
        if django_cache.get(seen) is not None:
            return Response({"result": "duplicate"})
        serializer = DeliveryReceiptSerializer(data=request.data, context={"account": None})
        serializer.is_valid(raise_exception=True)
        receipt = serializer.validated_data
        with message_in_its_scope(receipt["message_id"]) as message:
            if message is None:
                result = "ignored"
            else:
                changed = services.message_receipt(
                    message=message,
                    event=receipt["event"],
                    reason=receipt["reason"],
                    occurred_at=receipt["occurred_at"],
                )
                result = "applied" if changed else "unchanged"
        django_cache.add(seen, result, REMEMBER_SECONDS)
        return Response({"result": result})

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)
        response["Cache-Control"] = "no-store"
        return response
