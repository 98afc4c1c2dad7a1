"""The back office's dashboard (`/dashboard/`): the account's figures within a window
(`date_from` / `date_to`, the reports' window: crm_project.api.windows), as KPI tiles
and Chart.js charts (static/vendor/chart.js, served from /static/).

The figures are `reports.selectors.analytics_dashboard`, computed and serialized as the
API's `GET /api/v1/analytics/dashboard/` does (reports.api.serializers.DashboardSerializer,
DRF's JSON renderer), so that every number on the page is the API's; the feedback themes
are feedback.selectors.feedback_themes (all time) as `GET /api/v1/feedback/themes/`
answers them. The page renders the tiles on the server and embeds the same figures
(json_script) for the charts; the window's form works without JavaScript (a GET, a
full reload). With JavaScript (static/js/dashboard.js) the form fetches
`/dashboard/data` (the same payload as JSON, session-authenticated, the same account)
and redraws the tiles and charts in place.
A bad window is the page with the field's error (400), or a 400 in the API's error
shape from the JSON view."""

import json
import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET
from rest_framework.renderers import JSONRenderer

from accounts.models import Account, Role
from crm_project.api.errors import error_body
from crm_project.views import account_role_required
from customers import services as customer_services
from feedback import selectors as feedback_selectors
from feedback.api.serializers import FeedbackThemeSerializer
from reports import selectors
from reports.api.serializers import DashboardSerializer, ReportQuerySerializer

WINDOW_FIELDS = ("date_from", "date_to")
THEMES_LIMIT = 10


# --- Formatting (the tiles' texts; the browser shows what the server formats) ----------

_GROUPS = re.compile(r"\B(?=(\d{3})+(?!\d))")


def _grouped(text: str) -> str:
    """ "1234567.5" -> "1,234,567.5" (the integer part grouped by thousands)."""
    whole, dot, fraction = text.partition(".")
    return _GROUPS.sub(",", whole) + dot + fraction


def _count(value: Any) -> str:
    return "—" if value is None else _grouped(str(int(value)))


def _amount(value: Any) -> str:
    """Money and points: two places."""
    if value is None:
        return "—"
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return str(value)
    return _grouped(f"{amount:.2f}")


def _rate(value: Any) -> str:
    """A rate 0..1 as a percentage with one decimal."""
    if value is None:
        return "—"
    percent = (Decimal(str(value)) * 100).quantize(Decimal("0.1"))
    return f"{percent}%"


def _decimal(places: int) -> Callable[[Any], str]:
    def format_(value: Any) -> str:
        if value is None:
            return "—"
        return _grouped(f"{Decimal(str(value)).quantize(Decimal(1).scaleb(-places))}")

    return format_


# (id, label, path in the figures, format). Each tile shows one figure of the API's
# dict; `data-value` carries the figure as the API answers it.
TILES: tuple[tuple[str, str, str, Callable[[Any], str]], ...] = (
    ("revenue", "Revenue", "customers.total_revenue", _amount),
    ("customers-total", "Customers", "customers.total", _count),
    ("customers-new", "New customers (30 days)", "customers.new_last_30_days", _count),
    ("customers-active", "Active customers (90 days)", "customers.active_last_90_days", _count),
    ("lifetime-spend", "Average lifetime spend", "customers.average_lifetime_spend", _amount),
    ("leads-total", "Leads", "leads.total", _count),
    ("leads-conversion", "Lead conversion", "leads.conversion_rate", _rate),
    ("campaigns-sent", "Campaign messages sent", "campaigns.sent", _count),
    ("campaigns-ctr", "Campaign click-through", "campaigns.ctr", _rate),
    ("feedback-rating", "Average rating", "feedback.average_rating", _decimal(2)),
    ("feedback-response-rate", "Feedback response rate", "feedback.response_rate", _rate),
    ("loyalty-earned", "Points earned", "loyalty.points_earned", _amount),
    ("loyalty-redeemed", "Points redeemed", "loyalty.points_redeemed", _amount),
    ("loyalty-outstanding", "Points outstanding", "loyalty.points_outstanding", _amount),
)


def _at(figures: dict, path: str) -> Any:
    value: Any = figures
    for key in path.split("."):
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _tiles(figures: dict) -> list[dict[str, Any]]:
    tiles = []
    for tile_id, label, path, format_ in TILES:
        value = _at(figures, path)
        tiles.append(
            {"id": tile_id, "label": label, "path": path, "value": value, "text": format_(value)}
        )
    return tiles


# --- The figures ------------------------------------------------------------------------


def _as_api_json(data: Any) -> Any:
    """`data` (a serializer's) as the API's JSON renders it, so the page and the API agree
    to the digit."""
    return json.loads(JSONRenderer().render(data))


def _window(request: HttpRequest, account: Account) -> tuple[dict, dict[str, str], dict]:
    """(the window {"start", "end"} or {} when invalid, the query's window fields, the
    errors {field: message})."""
    given = {name: request.GET[name] for name in WINDOW_FIELDS if request.GET.get(name, "")}
    query = ReportQuerySerializer(data=given, context={"account": account})
    if not query.is_valid():
        errors = {
            field: " ".join(str(message) for message in messages)
            for field, messages in query.errors.items()
        }
        return {}, given, errors
    return query.validated_data, given, {}


def _payload(account: Account, window: dict, given: dict[str, str]) -> dict[str, Any]:
    """What the page embeds and `/dashboard/data` answers: the API's figures for the
    window, the feedback themes (all time), the tiles' texts, and the window asked."""
    # As GET /api/v1/analytics/dashboard/ (reports.api.views.DashboardView) computes it.
    figures = selectors.analytics_dashboard(
        account,
        start=window["start"],
        end=window["end"],
        thresholds=customer_services.health_thresholds_current(account=account),
    )
    themes = feedback_selectors.feedback_themes(account, limit=THEMES_LIMIT)
    figures = _as_api_json(DashboardSerializer(figures).data)
    themes = _as_api_json(FeedbackThemeSerializer(themes, many=True).data)
    return {
        "window": {name: given.get(name, "") for name in WINDOW_FIELDS},
        "dashboard": figures,
        "themes": themes,
        "tiles": {tile["id"]: tile["text"] for tile in _tiles(figures)},
    }


@require_GET
@account_role_required(Role.READ_ONLY)
def dashboard(request: HttpRequest) -> HttpResponse:
    account = request.account  # type: ignore[attr-defined]
    window, given, errors = _window(request, account)
    context: dict[str, Any] = {
        "date_from": request.GET.get("date_from", ""),
        "date_to": request.GET.get("date_to", ""),
        "window_errors": errors,
        "data_url": reverse("dashboard-data"),
        "payload": None,
        "tiles": [],
    }
    if errors:
        return render(request, "reports/dashboard.html", context, status=400)
    payload = _payload(account, window, given)
    context["payload"] = payload
    context["tiles"] = _tiles(payload["dashboard"])
    return render(request, "reports/dashboard.html", context)


@require_GET
@account_role_required(Role.READ_ONLY)
def dashboard_data(request: HttpRequest) -> HttpResponse:
    """The page's figures as JSON for its script: 400 in the API's error shape for a
    bad window."""
    account = request.account  # type: ignore[attr-defined]
    window, given, errors = _window(request, account)
    if errors:
        field, message = next(iter(errors.items()))
        body = error_body(400, "invalid", message, field)
        body["errors"] = [
            {"code": "invalid", "detail": detail, "attr": name} for name, detail in errors.items()
        ]
        return JsonResponse(body, status=400)
    response = JsonResponse(_payload(account, window, given))
    response["Cache-Control"] = "no-store"
    return response
