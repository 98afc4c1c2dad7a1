"""The ledger's public endpoints: no login, a token signed with SECRET_KEY bound to one
message (campaigns.tracking).

- `GET /t/c/<token>`: a click, redirected to the link at the token's index among the
  message's own links (nothing else: an open redirect would be a phishing tool).
- `GET /t/o/<token>`: the open pixel, a 1x1 transparent GIF never cached.
- `GET /u/<token>`: the unsubscribe confirmation page; `POST /u/<token>` unsubscribes
  (RFC 8058 one-click: the mail client POSTs `List-Unsubscribe=One-Click` with no
  cookie and no CSRF token, so the view is CSRF-exempt; it changes nothing but the
  recipient's own opt-in, and doing it twice is doing it once).

Every failure (a tampered token, a token of another kind, an unknown message, a link
index out of range) is the same 404: a token reveals nothing it does not prove."""

from __future__ import annotations

import uuid
from urllib.parse import urlsplit

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_safe

from campaigns import services, tracking
from campaigns.models import Channel, Message
from campaigns.selectors import message_in_its_scope

# The smallest transparent GIF: 1x1, one transparent colour.
PIXEL = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00"
    b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)


def _not_found() -> Http404:
    return Http404("No such link.")


def _message_id(kind: str, token: str) -> tuple[uuid.UUID, int | None]:
    read = tracking.read_token(kind, token)
    if read is None:
        raise _not_found()
    return read


def _no_store(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "no-store, private"
    return response


def _link_of(message: Message, index: int | None) -> str | None:
    links = message.links if isinstance(message.links, list) else []
    if index is None or index >= len(links):
        return None
    link = links[index]
    if not isinstance(link, str) or urlsplit(link).scheme.lower() not in ("http", "https"):
        return None
    return link


@require_safe
def click(request: HttpRequest, token: str) -> HttpResponse:
    message_id, index = _message_id("click", token)
    with message_in_its_scope(message_id) as message:
        link = None if message is None else _link_of(message, index)
        if message is None or link is None:
            raise _not_found()
        if request.method == "GET":  # a HEAD (a link checker) is no click
            services.message_clicked(message=message)
    response = _no_store(HttpResponseRedirect(link))
    # The destination learns nothing of the token.
    response["Referrer-Policy"] = "no-referrer"
    return response


@require_safe
def open_pixel(request: HttpRequest, token: str) -> HttpResponse:
    message_id, _index = _message_id("open", token)
    with message_in_its_scope(message_id) as message:
        if message is None:
            raise _not_found()
        if request.method == "GET":
            services.message_opened(message=message)
    return _no_store(HttpResponse(PIXEL, content_type="image/gif"))


@csrf_exempt
@require_http_methods(["GET", "HEAD", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    message_id, _index = _message_id("unsubscribe", token)
    with message_in_its_scope(message_id) as message:
        if message is None:
            raise _not_found()
        done = message.unsubscribed_at is not None
        if request.method == "POST":
            services.message_unsubscribe(message=message)
            done = True
        context = {
            "account_name": message.account.name,
            "address": message.address,
            "channel": "email" if message.channel == Channel.EMAIL else "text messages (SMS)",
            "done": done,
        }
        response = render(request, "campaigns/unsubscribe.html", context)
    return _no_store(response)
