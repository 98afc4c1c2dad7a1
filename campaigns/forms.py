"""The composer's form (campaigns.views): what the page can ask for, checked the way a
form checks input (required, lengths, a segment of the account, a datetime read in the
account's timezone). Everything else (an inactive segment, a template that does not
compile, a schedule in the past) is the services' to refuse; the view shows their
errors on the fields they name (`show_service_error`)."""

from datetime import datetime
from typing import Any

from django import forms
from django.db.models import Q

from accounts.models import Account
from campaigns.models import LAUNCHABLE, Campaign, CampaignStatus, Channel
from crm_project.datetimes import InvalidDateTime, account_zone, parse_account_datetime
from crm_project.errors import FieldError, ServiceError
from segments import selectors as segment_selectors
from segments.models import Segment

# `<input type="datetime-local">` sends and shows this.
LOCAL_INPUT_FORMAT = "%Y-%m-%dT%H:%M"

# The buttons of the composer (`name="action"`).
DRAFT, LAUNCH, SCHEDULE = "draft", "launch", "schedule"
ACTIONS = (DRAFT, LAUNCH, SCHEDULE)


class SegmentChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Segment) -> str:
        if obj.customers_count is None:
            return obj.name
        return f"{obj.name} ({obj.customers_count:,} customers)"


class CampaignForm(forms.Form):
    name = forms.CharField(max_length=200)
    channel = forms.ChoiceField(choices=Channel.choices, initial=Channel.EMAIL)
    segment = SegmentChoiceField(
        queryset=Segment.objects.none(), required=False, empty_label="Choose a segment…"
    )
    subject = forms.CharField(
        max_length=500,
        required=False,
        help_text="Defaults to the campaign's name. Templates work here too.",
    )
    message = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 12, "spellcheck": "true"}),
        strip=False,
        help_text="Variables: {{ first_name }}, {{ last_name }}, {{ name }}, {{ email }}, "
        "{{ metadata.KEY }}, {{ account.name }}, {{ unsubscribe_url }}; filters such as "
        '{{ first_name|default:"there" }}. An email with HTML tags is sent as HTML.',
    )
    description = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 2}), label="Notes"
    )
    scheduled_at = forms.CharField(
        required=False,
        label="Send at",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )

    def __init__(
        self, *args: Any, account: Account, campaign: Campaign | None = None, **kwargs: Any
    ) -> None:
        self.account = account
        self.campaign = campaign
        self.zone = account_zone(account)
        if campaign is not None and "initial" not in kwargs:
            kwargs["initial"] = self.initial_of(campaign)
        super().__init__(*args, **kwargs)
        # Active segments, and the one a saved campaign targets even if it has been
        # deactivated since (the service then says why it cannot be used).
        choices = Q(active=True)
        if campaign is not None and campaign.segment_id is not None:
            choices |= Q(pk=campaign.segment_id)
        segment = self.fields["segment"]
        segment.queryset = segment_selectors.segment_list(account).filter(choices)  # type: ignore[attr-defined]
        if self.keeps_inline_rule:
            segment.empty_label = "Its own rule (set through the API)"  # type: ignore[attr-defined]
        self.fields["scheduled_at"].help_text = f"In the account's timezone ({self.zone.key})."

    @property
    def keeps_inline_rule(self) -> bool:
        """A campaign made through the API with inline rules keeps them while no
        segment is picked."""
        return self.campaign is not None and self.campaign.rules is not None

    def initial_of(self, campaign: Campaign) -> dict[str, Any]:
        return {
            "name": campaign.name,
            "channel": campaign.channel,
            "segment": campaign.segment_id,
            "subject": "" if campaign.subject == campaign.name else campaign.subject,
            "message": campaign.message,
            "description": campaign.description,
            "scheduled_at": (
                campaign.scheduled_at.astimezone(self.zone).strftime(LOCAL_INPUT_FORMAT)
                if campaign.scheduled_at
                else ""
            ),
        }

    def clean_segment(self) -> Segment | None:
        segment = self.cleaned_data.get("segment")
        if segment is None and not self.keeps_inline_rule:
            raise forms.ValidationError("Choose the segment the campaign goes to.")
        return segment

    def clean_scheduled_at(self) -> datetime | None:
        text = self.cleaned_data.get("scheduled_at", "").strip()
        if not text:
            return None
        try:
            moment, _is_date = parse_account_datetime(text, self.zone)
        except InvalidDateTime as exc:
            raise forms.ValidationError(str(exc)) from None
        return moment

    def clean_message(self) -> str:
        # Browsers send a textarea's line breaks as CRLF; templates keep plain newlines.
        return self.cleaned_data.get("message", "").replace("\r\n", "\n")

    def clean_subject(self) -> str:
        if self.cleaned_data.get("channel") == Channel.SMS:
            return ""  # an SMS has no subject
        return self.cleaned_data.get("subject", "")

    def fields_for_services(self) -> dict[str, Any]:
        """The cleaned values as campaign_create / campaign_update take them; a campaign
        keeping its inline rule passes no segment (nothing about its audience changes)."""
        data = self.cleaned_data
        fields = {
            "name": data["name"],
            "channel": data["channel"],
            "subject": data["subject"],
            "message": data["message"],
            "description": data["description"],
        }
        if data["segment"] is not None or not self.keeps_inline_rule:
            fields["segment"] = data["segment"]
        return fields

    def show_service_error(self, error: ServiceError) -> None:
        """A service's refusal on the fields it names (`segment`, `scheduled_at`,
        `message`, `subject`...), anything else above the form."""
        detail = error.detail
        if not isinstance(detail, dict):
            self.add_error(None, str(error) or "This campaign could not be saved.")
            return
        for attr, value in detail.items():
            field = attr if attr in self.fields else None
            if attr == "rules":
                field = "segment"
            for message in _messages(value):
                self.add_error(field, message)


def _messages(value: Any) -> list[str]:
    if isinstance(value, FieldError | str):
        return [str(value)]
    if isinstance(value, dict):
        return [m for item in value.values() for m in _messages(item)]
    if isinstance(value, list | tuple):
        return [m for item in value for m in _messages(item)]
    return [str(value)]


def editable(campaign: Campaign) -> bool:
    """Whether the composer may still change it (a draft or a scheduled campaign)."""
    return campaign.status in LAUNCHABLE


def save_label(campaign: Campaign | None) -> str:
    if campaign is not None and campaign.status == CampaignStatus.SCHEDULED:
        return "Save changes"
    return "Save draft"
