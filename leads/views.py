"""The back office's lead pages: the pipeline board (`/leads/`: one column per status
with its count and newest cards, filtered by agent, source and a search) and a lead's
page (its fields, interactions, nurture state and statistics; add an interaction,
stop or restart its nurturing, convert it into a customer).

Reads go through leads.selectors and leads.filters (the API's own queries), writes
through leads.services only. A card moves to another column by drag and drop or by its
status menu (static/leads/board.js): a PATCH to `/leads/<id>/status/` that answers the
board's counts as JSON (with the board's filters in its query string), so the columns'
counts follow without a reload; without JavaScript the menu's form POSTs to the same
URL and comes back to the board. Moving a card to "converted" converts the lead
(leads.services.lead_convert: a status update refuses it). Read-only users see
everything and change nothing (403)."""

import json
import uuid
from typing import Any

from django import forms
from django.contrib import messages
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import selectors as account_selectors
from accounts.models import Account, Role
from crm_project.api.errors import error_body
from crm_project.api.permissions import role_at_least
from crm_project.datetimes import InvalidDateTime, account_zone, parse_account_datetime
from crm_project.errors import Conflict, FieldError, Invalid, ServiceError
from crm_project.views import account_role_required
from customers import selectors as customer_selectors
from customers.api.serializers import interaction_type_choices
from customers.models import LEAD_INTERACTION_TYPES, Customer
from leads import selectors, services
from leads.filters import LeadFilter
from leads.models import Lead, LeadSource, LeadStatus

# The newest cards a column shows; its count is always the whole column's.
COLUMN_LIMIT = 25
INTERACTIONS_LIMIT = 50
# The board's own filters (LeadFilter's names): the agent, the source and the search.
BOARD_FILTERS = ("q", "source", "assigned_to")
STATUS_LABELS = dict(LeadStatus.choices)


def _can_write(request: HttpRequest) -> bool:
    return role_at_least(request.account_role, Role.MEMBER)  # type: ignore[attr-defined]


def _lead_or_404(request: HttpRequest, lead_id: uuid.UUID) -> Lead:
    lead = selectors.lead_by_ref(request.account, str(lead_id))  # type: ignore[attr-defined]
    if lead is None:
        raise Http404("No such lead.")
    return lead


# --- The board --------------------------------------------------------------------------


def _board_filters(request: HttpRequest) -> QueryDict:
    """The board's filters from the query string (anything else is left out)."""
    params = QueryDict(mutable=True)
    for name in BOARD_FILTERS:
        value = request.GET.get(name, "").strip()
        if value:
            params[name] = value
    return params


def _board_leads(request: HttpRequest, params: QueryDict) -> tuple[QuerySet[Lead], LeadFilter]:
    """The account's leads the board's filters keep (none when a filter is invalid: the
    page says which)."""
    account = request.account  # type: ignore[attr-defined]
    filterset = LeadFilter(params, queryset=selectors.lead_list(account), request=request)
    if not filterset.is_valid():
        return selectors.lead_list(account).none(), filterset
    return filterset.qs, filterset


def _counts(request: HttpRequest) -> dict[str, int]:
    params = _board_filters(request)
    leads, _filterset = _board_leads(request, params)
    return selectors.lead_status_counts(leads, whole_table=not params)


@require_GET
@account_role_required(Role.READ_ONLY)
def lead_board(request: HttpRequest) -> HttpResponse:
    account = request.account  # type: ignore[attr-defined]
    params = _board_filters(request)
    leads, filterset = _board_leads(request, params)
    counts = selectors.lead_status_counts(leads, whole_table=not params)
    columns = []
    for status, label in LeadStatus.choices:
        cards = selectors.lead_column(leads, status, COLUMN_LIMIT) if counts[status] else []
        columns.append(
            {
                "status": status,
                "label": label,
                "count": counts[status],
                "cards": cards,
                "hidden": counts[status] - len(cards),
            }
        )
    board_query = params.urlencode()
    context = {
        "columns": columns,
        "total": sum(counts.values()),
        "filtered": bool(params),
        "q": params.get("q", ""),
        "source": params.get("source", ""),
        "assigned_to": params.get("assigned_to", ""),
        "source_choices": LeadSource.choices,
        "status_choices": LeadStatus.choices,
        "agents": account_selectors.agent_list(account).order_by("first_name", "last_name", "id"),
        "filter_errors": [
            (filterset.form.fields[name].label or name, errors)
            for name, errors in filterset.errors.items()
        ],
        "board_query": board_query,
        "board_url": reverse("leads:board") + (f"?{board_query}" if board_query else ""),
        "column_limit": COLUMN_LIMIT,
        "can_write": _can_write(request),
    }
    return render(request, "leads/board.html", context)


def _requested_status(request: HttpRequest) -> str:
    """The `status` a move asks for: a form field (POST, or a PATCH's urlencoded body)
    or a JSON body's member."""
    if request.method == "POST":
        return request.POST.get("status", "")
    if request.content_type == "application/json":
        try:
            body = json.loads(request.body or b"{}")
        except ValueError:
            return ""
        value = body.get("status") if isinstance(body, dict) else None
        return value if isinstance(value, str) else ""
    return QueryDict(request.body, encoding=request.encoding).get("status", "")


def _error_json(status_code: int, error: ServiceError | None, detail: str, attr: str) -> Any:
    code = error.code if error is not None else "invalid_choice"
    if error is not None and isinstance(error.detail, dict):
        attr = next(iter(error.detail), attr)
        first = error.detail[attr]
        first = first[0] if isinstance(first, list | tuple) and first else first
        if isinstance(first, FieldError):
            code = first.code
    return JsonResponse(error_body(status_code, code, detail, attr), status=status_code)


def _back(request: HttpRequest, fallback: str) -> HttpResponse:
    """Back where a form came from (its `next`, when it is this site's), else
    `fallback`."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(target)
    return redirect(fallback)


def _customer_url(customer: Customer) -> str:
    return reverse("customers:detail", args=[customer.number])


@require_http_methods(["PATCH", "POST"])
@account_role_required(Role.MEMBER)
def lead_move(request: HttpRequest, lead_id: uuid.UUID) -> HttpResponse:
    """Move the lead to another status (a board column). PATCH (the board's script)
    answers JSON: the lead's status and the board's counts under the filters in the
    query string; an error is 400 (a bad status) or 409 in the API's error shape. POST
    (the card's form without JavaScript) comes back to the board with a message."""
    account = request.account  # type: ignore[attr-defined]
    lead = _lead_or_404(request, lead_id)
    status = _requested_status(request).strip()
    as_json = request.method == "PATCH"
    board = reverse("leads:board")
    error: ServiceError | None = None
    customer = None
    if status not in LeadStatus.values:
        detail = f"Choose one of: {', '.join(LeadStatus.values)}."
        if as_json:
            return _error_json(400, None, detail, "status")
        messages.error(request, f"Not moved: {detail}")
        return _back(request, board)
    try:
        if status == LeadStatus.CONVERTED:
            customer, _created = services.lead_convert(account=account, lead=lead)
        else:
            lead = services.lead_update(lead=lead, status=status)
    except (Invalid, Conflict) as exc:
        error = exc
    if error is not None:
        code = 409 if isinstance(error, Conflict) else 400
        if as_json:
            return _error_json(code, error, f"Not moved: {error}", "status")
        messages.error(request, f"Not moved: {error}")
        return _back(request, board)

    label = STATUS_LABELS[status]
    message = f"{lead} moved to {label}."
    if customer is not None:
        message = f"{lead} converted: the customer is {customer.name or customer}."
    if not as_json:
        messages.success(request, message)
        return _back(request, board)
    return JsonResponse(
        {
            "lead": str(lead.pk),
            "status": status,
            "status_label": label,
            "counts": _counts(request),
            "customer_url": _customer_url(customer) if customer is not None else None,
            "message": message,
        }
    )


# --- A lead -----------------------------------------------------------------------------

# `<input type="datetime-local">` sends this.
LOCAL_INPUT_FORMAT = "%Y-%m-%dT%H:%M"


class InteractionForm(forms.Form):
    """A new interaction with the lead: the API's fields (`notes` is its text), its
    datetimes read in the account's timezone; a blank date is now."""

    type = forms.ChoiceField(choices=interaction_type_choices(LEAD_INTERACTION_TYPES))
    notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    outcome = forms.CharField(max_length=255, required=False)
    date = forms.CharField(
        required=False,
        label="When",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    next_action = forms.CharField(max_length=255, required=False, label="Next action")
    next_action_date = forms.CharField(
        required=False,
        label="Next action due",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )

    def __init__(self, *args: Any, account: Account, **kwargs: Any) -> None:
        self.zone = account_zone(account)
        super().__init__(*args, **kwargs)
        self.fields["date"].help_text = f"Blank: now. In the account's timezone ({self.zone.key})."

    def _moment(self, name: str) -> Any:
        text = self.cleaned_data.get(name, "").strip()
        if not text:
            return None
        try:
            moment, _is_date = parse_account_datetime(text, self.zone)
        except InvalidDateTime as exc:
            raise forms.ValidationError(str(exc)) from None
        return moment

    def clean_date(self) -> Any:
        return self._moment("date")

    def clean_next_action_date(self) -> Any:
        return self._moment("next_action_date")

    def fields_for_services(self) -> dict[str, Any]:
        data = self.cleaned_data
        fields = {
            "type": data["type"],
            "description": data["notes"].replace("\r\n", "\n"),
            "outcome": data["outcome"],
            "next_action": data["next_action"],
            "next_action_date": data["next_action_date"],
        }
        if data["date"] is not None:
            fields["date"] = data["date"]
        return fields


def _converted_customer(account: Account, lead: Lead) -> Customer | None:
    if lead.converted_customer_id is None:
        return None
    return customer_selectors.customer_by_ref(account, str(lead.converted_customer_id))


def _detail(
    request: HttpRequest, lead: Lead, form: InteractionForm | None = None, status: int = 200
) -> HttpResponse:
    account = request.account  # type: ignore[attr-defined]
    can_write = _can_write(request)
    customer = _converted_customer(account, lead)
    converted = lead.status == LeadStatus.CONVERTED
    sequence = (
        selectors.nurture_sequence_get(account, lead.nurture_sequence_id)
        if lead.nurture_sequence_id is not None
        else None
    )
    interactions = selectors.lead_interactions(account, lead).order_by("-date", "-id")
    context = {
        "lead": lead,
        "agent": lead.assigned_to,
        "customer": customer,
        "converted": converted,
        "sequence": sequence,
        "statistics": selectors.lead_statistics(account, lead),
        "interactions": list(interactions[:INTERACTIONS_LIMIT]),
        "interactions_limit": INTERACTIONS_LIMIT,
        "form": form or InteractionForm(account=account),
        "attributes": sorted(lead.attributes.items()) if isinstance(lead.attributes, dict) else [],
        "status_choices": [c for c in LeadStatus.choices if c[0] != LeadStatus.CONVERTED],
        "can_write": can_write,
        "can_convert": can_write and not converted,
        "can_stop": can_write and lead.nurture_state == "active",
        "can_reset": can_write and not converted and lead.unsubscribed_at is None,
        "board_url": reverse("leads:board"),
    }
    return render(request, "leads/detail.html", context, status=status)


@require_GET
@account_role_required(Role.READ_ONLY)
def lead_detail(request: HttpRequest, lead_id: uuid.UUID) -> HttpResponse:
    """One lead; another account's is a 404."""
    return _detail(request, _lead_or_404(request, lead_id))


@require_POST
@account_role_required(Role.MEMBER)
def lead_interaction_add(request: HttpRequest, lead_id: uuid.UUID) -> HttpResponse:
    account = request.account  # type: ignore[attr-defined]
    lead = _lead_or_404(request, lead_id)
    form = InteractionForm(request.POST, account=account)
    if not form.is_valid():
        return _detail(request, lead, form, status=400)
    try:
        services.lead_interaction_create(account=account, lead=lead, **form.fields_for_services())
    except (Invalid, Conflict) as exc:
        form.add_error(None, str(exc) or "This interaction could not be saved.")
        return _detail(request, lead, form, status=400)
    messages.success(request, "Interaction added.")
    return redirect(reverse("leads:detail", args=[lead.pk]) + "#interactions")


@require_POST
@account_role_required(Role.MEMBER)
def lead_convert(request: HttpRequest, lead_id: uuid.UUID) -> HttpResponse:
    """Convert the lead and open its customer's page (a lead already converted opens
    the same customer: converting is idempotent)."""
    account = request.account  # type: ignore[attr-defined]
    lead = _lead_or_404(request, lead_id)
    try:
        customer, created = services.lead_convert(account=account, lead=lead)
    except (Invalid, Conflict) as exc:
        messages.error(request, f"Not converted: {exc}")
        return redirect("leads:detail", lead_id=lead.pk)
    if created:
        messages.success(request, f"{lead} converted into this new customer.")
    else:
        messages.success(request, f"{lead} converted: linked to this existing customer.")
    return redirect(_customer_url(customer))


@require_POST
@account_role_required(Role.MEMBER)
def lead_nurture_stop(request: HttpRequest, lead_id: uuid.UUID) -> HttpResponse:
    lead = _lead_or_404(request, lead_id)
    try:
        services.nurture_stop(lead=lead)
    except Conflict as exc:
        messages.error(request, f"Not stopped: {exc}")
    else:
        messages.success(request, "Nurturing stopped.")
    return redirect("leads:detail", lead_id=lead.pk)


@require_POST
@account_role_required(Role.MEMBER)
def lead_nurture_reset(request: HttpRequest, lead_id: uuid.UUID) -> HttpResponse:
    account = request.account  # type: ignore[attr-defined]
    lead = _lead_or_404(request, lead_id)
    try:
        services.nurture_reset(account=account, lead=lead)
    except (Invalid, Conflict) as exc:
        messages.error(request, f"Not restarted: {exc}")
    else:
        messages.success(request, "Nurturing restarted at step 1.")
    return redirect("leads:detail", lead_id=lead.pk)
