"""The back office's campaign pages: the list (status and live progress), the composer
(channel, segment, subject and message with a live rendered preview for a sample
customer, the audience with its reachable count; save as draft, launch or schedule),
and a campaign's page (stats refreshing while it sends, launch and cancel, its
recipients filterable by status).

Reads go through campaigns.selectors, writes through campaigns.services only; their
refusals are shown on the form next to the field they name. The live parts are page
fragments rendered by the same templates as the page (`_rows.html`, `_stats.html`,
`_message_preview.html`, `_audience.html`), fetched by static/campaigns/campaigns.js
with the session: while a campaign sends, its fragment is fetched again every second."""

import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.core.cache import cache
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.models import Account, Role
from campaigns import forms, selectors, services
from campaigns.errors import InvalidTemplate
from campaigns.models import (
    CANCELLABLE,
    LAUNCHABLE,
    Campaign,
    CampaignStatus,
    Channel,
    DeliveryMode,
    Message,
    MessageStatus,
    SkipReason,
)
from campaigns.templates import (
    RECIPIENT_FIELDS,
    SAMPLE_CONTEXT,
    account_values,
    looks_like_html,
    recipient_values,
    render_text,
)
from crm_project.api.permissions import role_at_least
from crm_project.errors import Conflict, Invalid
from crm_project.keyset import Column, KeysetTable, Position, SortKey, keyset_page
from crm_project.views import account_role_required, page_links, query_string
from customers import selectors as customer_selectors
from customers.models import Customer
from segments import selectors as segment_selectors
from segments.models import Segment

PAGE_SIZE = 50
RECIPIENTS_PAGE_SIZE = 50
SMS_LENGTH = 160
# How long a composer's form token remembers the campaign it created (a second send
# of the same form, a double click, opens that campaign instead of making another).
FORM_TOKEN_TTL = 6 * 3600

CAMPAIGN_TABLE = KeysetTable(
    model=Campaign,
    columns=(Column("created_at", "Created", (SortKey("created_at"),), descending_first=True),),
    default_ordering="-created_at",
)
# A campaign's recipients in the selector's order (by id: uuid7, the order they were
# written), paged by id alone.
RECIPIENT_TABLE = KeysetTable(
    model=Message, columns=(Column("id", "Order", ()),), default_ordering="id"
)
SKIP_REASONS = dict(SkipReason.choices)


def _can_write(request: HttpRequest) -> bool:
    return role_at_least(request.account_role, Role.MEMBER)  # type: ignore[attr-defined]


def _campaign_or_404(request: HttpRequest, campaign_id: uuid.UUID) -> Campaign:
    campaign = selectors.campaign_get(request.account, campaign_id)  # type: ignore[attr-defined]
    if campaign is None:
        raise Http404("No such campaign.")
    return campaign


# --- Progress ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    """How far a campaign has gone: messages that have left the queue (sent, failed,
    skipped or bounced) of its audience."""

    status: str
    stats: dict[str, Any]

    @property
    def total(self) -> int:
        return int(self.stats["audience_size"])

    @property
    def done(self) -> int:
        return self.total - int(self.stats["queued"])

    @property
    def percent(self) -> int:
        return round(100 * self.done / self.total) if self.total else 0

    @property
    def live(self) -> bool:
        """Whether the page keeps fetching it: while it sends."""
        return self.status == CampaignStatus.SENDING

    @property
    def preparing(self) -> bool:
        """Sending, its recipients not written yet."""
        return self.live and not self.total

    @property
    def ctr_percent(self) -> str:
        return f"{100 * self.stats['ctr']:.1f}"


def _progress_of(account: Account, campaigns: list[Campaign]) -> list[Progress]:
    stats = selectors.campaign_stats(account, [c.pk for c in campaigns])
    return [Progress(status=c.status, stats=stats[c.pk]) for c in campaigns]


# --- The list ---------------------------------------------------------------------------


def _list_context(request: HttpRequest) -> dict[str, Any]:
    account = request.account  # type: ignore[attr-defined]
    ordering = CAMPAIGN_TABLE.ordering(None)
    after = Position.decode(request.GET.get("after", ""), ordering)
    before = None if after else Position.decode(request.GET.get("before", ""), ordering)
    page = keyset_page(
        selectors.campaign_list(account), ordering, after=after, before=before, size=PAGE_SIZE
    )
    rows = list(zip(page.rows, _progress_of(account, page.rows), strict=True))
    params = QueryDict(mutable=True)
    return {
        "rows": rows,
        "live": any(progress.live for _campaign, progress in rows),
        "rows_url": query_string(request.GET),
        **page_links(params, page),
    }


@require_GET
@account_role_required(Role.READ_ONLY)
def campaign_list(request: HttpRequest) -> HttpResponse:
    context = {**_list_context(request), "can_write": _can_write(request)}
    return render(request, "campaigns/list.html", context)


@require_GET
@account_role_required(Role.READ_ONLY)
def campaign_list_rows(request: HttpRequest) -> HttpResponse:
    """The list's table body, for the page to refresh while a campaign sends."""
    return render(request, "campaigns/_rows.html", _list_context(request))


# --- The composer -----------------------------------------------------------------------


def _sample_context(account: Account) -> tuple[dict[str, Any], Customer | None]:
    """What a preview renders with: the account's first customer's values (as delivery
    renders them), or SAMPLE_CONTEXT's made-up customer when it has none."""
    customer = customer_selectors.customer_list(account).order_by("number").first()
    context: dict[str, Any] = {
        **SAMPLE_CONTEXT,
        "account": account_values(
            name=account.name,
            ai_assistant_name=account.ai_assistant_name,
            attributes=account.attributes,
        ),
    }
    if customer is not None:
        context.update(
            recipient_values(
                **{field: getattr(customer, field) for field in RECIPIENT_FIELDS},
            )
        )
    return context, customer


@dataclass(frozen=True)
class TemplateProblem:
    message: str
    line: int | None
    source: str  # the text of that line

    @classmethod
    def of(cls, error: InvalidTemplate, text: str) -> "TemplateProblem":
        lines = text.splitlines()
        source = lines[error.line - 1] if error.line and 0 < error.line <= len(lines) else ""
        return cls(message=error.message, line=error.line, source=source[:300])


def _message_preview(
    account: Account, *, channel: str, name: str, subject: str, message: str
) -> dict[str, Any]:
    context, customer = _sample_context(account)
    html = channel == Channel.EMAIL and looks_like_html(message)
    preview: dict[str, Any] = {
        "channel": channel,
        "html": html,
        "customer": customer,
        "sample_name": context["name"],
        "subject": "",
        "body": "",
        "problems": {},
        "empty": not message.strip(),
    }
    if channel == Channel.EMAIL:
        text = subject or name
        try:
            preview["subject"] = render_text(text, context, html=False)
        except InvalidTemplate as exc:
            preview["problems"]["subject"] = TemplateProblem.of(exc, text)
    try:
        preview["body"] = render_text(message, context, html=html)
    except InvalidTemplate as exc:
        preview["problems"]["message"] = TemplateProblem.of(exc, message)
    if channel == Channel.SMS:
        preview["length"] = len(preview["body"])
        preview["parts"] = max(1, -(-preview["length"] // SMS_LENGTH))
    return preview


def _audience(
    account: Account, *, channel: str, segment: Segment | None, rules: dict[str, Any] | None
) -> dict[str, Any] | None:
    rule = segment.rules if segment is not None else rules
    if rule is None:
        return None
    preview = selectors.audience_preview(account, rule, channel=channel)
    return {**preview, "channel": channel, "segment": segment}


def _channel_of(data: QueryDict) -> str:
    channel = data.get("channel", "")
    return channel if channel in Channel.values else Channel.EMAIL


def _editable_or_none(request: HttpRequest, data: QueryDict) -> Campaign | None:
    """The campaign a composer edits (its hidden `campaign` field), when it is the
    account's and still editable."""
    campaign = selectors.campaign_get(request.account, data.get("campaign", ""))  # type: ignore[attr-defined]
    return campaign if campaign is not None and forms.editable(campaign) else None


@require_POST
@account_role_required(Role.READ_ONLY)
def preview_message(request: HttpRequest) -> HttpResponse:
    """The composer's message rendered for the sample customer (a fragment)."""
    data = request.POST
    preview = _message_preview(
        request.account,  # type: ignore[attr-defined]
        channel=_channel_of(data),
        name=data.get("name", ""),
        subject=data.get("subject", ""),
        message=data.get("message", ""),
    )
    return render(request, "campaigns/_message_preview.html", {"preview": preview})


@require_POST
@account_role_required(Role.READ_ONLY)
def preview_audience(request: HttpRequest) -> HttpResponse:
    """Who the composer's campaign would reach (a fragment): the chosen segment's
    count, reachable count and sample, or the edited campaign's own rule's."""
    account = request.account  # type: ignore[attr-defined]
    data = request.POST
    segment = segment_selectors.segment_get(account, data.get("segment", ""))
    campaign = None if segment is not None else _editable_or_none(request, data)
    audience = _audience(
        account,
        channel=_channel_of(data),
        segment=segment,
        rules=campaign.rules if campaign is not None else None,
    )
    return render(request, "campaigns/_audience.html", {"audience": audience})


def _save(campaign: Campaign | None, form: forms.CampaignForm, action: str) -> Campaign:
    """Create or change the campaign through the services, then launch or schedule it
    as the button says; one savepoint, so a refusal leaves nothing half done."""
    fields = form.fields_for_services()
    scheduled_at = form.cleaned_data["scheduled_at"]
    scheduled = action == forms.SCHEDULE or (
        action == forms.DRAFT
        and (
            scheduled_at is not None
            or (campaign is not None and campaign.status == CampaignStatus.SCHEDULED)
        )
    )
    fields["delivery_mode"] = DeliveryMode.SCHEDULED if scheduled else DeliveryMode.IMMEDIATE
    fields["scheduled_at"] = scheduled_at if scheduled else None
    with transaction.atomic():
        if campaign is None:
            return services.campaign_create(
                account=form.account, draft=action == forms.DRAFT, **fields
            )
        campaign = services.campaign_update(campaign=campaign, **fields)
        if action == forms.LAUNCH:
            return services.campaign_launch(campaign=campaign)
        if action == forms.SCHEDULE and campaign.status == CampaignStatus.DRAFT:
            return services.campaign_schedule(campaign=campaign, scheduled_at=scheduled_at)
        return campaign


SAVED_MESSAGES = {
    forms.DRAFT: "Saved.",
    forms.LAUNCH: "Launched: the campaign is sending.",
    forms.SCHEDULE: "Scheduled.",
}


def _composer(request: HttpRequest, campaign: Campaign | None) -> HttpResponse:
    account = request.account  # type: ignore[attr-defined]
    form = forms.CampaignForm(request.POST or None, account=account, campaign=campaign)
    form_token = request.POST.get("form_token") or secrets.token_urlsafe()
    if request.method == "POST" and form.is_valid():
        action = request.POST.get("action", forms.DRAFT)
        if action not in forms.ACTIONS:
            action = forms.DRAFT
        # A new campaign's form is sent once: a second send of it (a double click, a
        # reload of the answer) opens what the first made instead of making another.
        token_key = f"campaign-form:{account.pk}:{form_token}"
        if campaign is None and not cache.add(token_key, "", timeout=FORM_TOKEN_TTL):
            made = cache.get(token_key)
            if made:
                messages.warning(request, "This form was already sent.")
                return redirect("campaigns:detail", campaign_id=made)
            form.add_error(None, "This form is being sent; wait a moment.")
        else:
            try:
                saved = _save(campaign, form, action)
            except (Invalid, Conflict) as exc:
                form.show_service_error(exc)
                if campaign is None:
                    cache.delete(token_key)
            else:
                if campaign is None:
                    cache.set(token_key, str(saved.pk), timeout=FORM_TOKEN_TTL)
                messages.success(request, SAVED_MESSAGES[action])
                return redirect("campaigns:detail", campaign_id=saved.pk)

    data = form.data if form.is_bound else form.initial
    channel = _channel_of(data) if form.is_bound else data.get("channel", Channel.EMAIL)
    if form.is_bound:
        segment = segment_selectors.segment_get(account, data.get("segment", ""))
    else:
        segment = campaign.segment if campaign is not None else None
    context = {
        "form": form,
        "campaign": campaign,
        "form_token": form_token,
        "save_label": forms.save_label(campaign),
        "preview": _message_preview(
            account,
            channel=channel,
            name=data.get("name") or "",
            subject=data.get("subject") or "",
            message=data.get("message") or "",
        ),
        "audience": _audience(
            account,
            channel=channel,
            segment=segment,
            rules=campaign.rules if campaign is not None and segment is None else None,
        ),
    }
    status = 400 if request.method == "POST" else 200
    return render(request, "campaigns/composer.html", context, status=status)


@require_http_methods(["GET", "POST"])
@account_role_required(Role.MEMBER)
def campaign_new(request: HttpRequest) -> HttpResponse:
    return _composer(request, None)


@require_http_methods(["GET", "POST"])
@account_role_required(Role.MEMBER)
def campaign_edit(request: HttpRequest, campaign_id: uuid.UUID) -> HttpResponse:
    campaign = _campaign_or_404(request, campaign_id)
    if not forms.editable(campaign):
        messages.info(
            request,
            f"This campaign is {campaign.get_status_display().lower()}: "
            "it can no longer be changed.",
        )
        return redirect("campaigns:detail", campaign_id=campaign.pk)
    return _composer(request, campaign)


# --- A campaign -------------------------------------------------------------------------


def _stats_context(request: HttpRequest, campaign: Campaign) -> dict[str, Any]:
    [progress] = _progress_of(request.account, [campaign])  # type: ignore[attr-defined]
    return {"campaign": campaign, "progress": progress, "stats": progress.stats}


@require_GET
@account_role_required(Role.READ_ONLY)
def campaign_detail(request: HttpRequest, campaign_id: uuid.UUID) -> HttpResponse:
    account = request.account  # type: ignore[attr-defined]
    campaign = _campaign_or_404(request, campaign_id)
    status = request.GET.get("status", "")
    if status not in MessageStatus.values:
        status = ""
    ordering = RECIPIENT_TABLE.ordering(None)
    after = Position.decode(request.GET.get("after", ""), ordering)
    before = None if after else Position.decode(request.GET.get("before", ""), ordering)
    recipients = selectors.campaign_recipients(account, campaign, status=status or None)
    page = keyset_page(
        recipients.select_related("customer"),
        ordering,
        after=after,
        before=before,
        size=RECIPIENTS_PAGE_SIZE,
    )
    for message in page.rows:
        message.reason = SKIP_REASONS.get(message.error, message.error)
    params = QueryDict(mutable=True)
    if status:
        params["status"] = status
    can_write = _can_write(request)
    context = {
        **_stats_context(request, campaign),
        "can_write": can_write,
        "can_launch": can_write and campaign.status in LAUNCHABLE,
        "can_cancel": can_write and campaign.status in CANCELLABLE,
        "recipients": page.rows,
        "status": status,
        "status_choices": MessageStatus.choices,
        **page_links(params, page),
    }
    return render(request, "campaigns/detail.html", context)


@require_GET
@account_role_required(Role.READ_ONLY)
def campaign_stats(request: HttpRequest, campaign_id: uuid.UUID) -> HttpResponse:
    """The campaign's stats card, for its page to refresh while it sends."""
    campaign = _campaign_or_404(request, campaign_id)
    return render(request, "campaigns/_stats.html", _stats_context(request, campaign))


@require_POST
@account_role_required(Role.MEMBER)
def campaign_launch(request: HttpRequest, campaign_id: uuid.UUID) -> HttpResponse:
    campaign = _campaign_or_404(request, campaign_id)
    try:
        services.campaign_launch(campaign=campaign)
    except (Invalid, Conflict) as exc:
        messages.error(request, f"Not launched: {exc}")
    else:
        messages.success(request, SAVED_MESSAGES[forms.LAUNCH])
    return redirect("campaigns:detail", campaign_id=campaign.pk)


@require_POST
@account_role_required(Role.MEMBER)
def campaign_cancel(request: HttpRequest, campaign_id: uuid.UUID) -> HttpResponse:
    campaign = _campaign_or_404(request, campaign_id)
    try:
        services.campaign_cancel(campaign=campaign)
    except Conflict as exc:
        messages.error(request, f"Not cancelled: {exc}")
    else:
        messages.success(
            request, "Cancelled: messages not sent yet will not go out; those in flight finish."
        )
    return redirect("campaigns:detail", campaign_id=campaign.pk)
