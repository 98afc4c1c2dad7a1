"""A customer's timeline: what happened to them, newest first, from every app.

The one extension point is `register`: an app contributes a source, a function
`(account, customer, limit) -> list[entry]` returning at most `limit` of its own newest
entries, each a dict `{"kind", "at", "id", "summary", "data"}` (`at` an aware datetime,
`data` plain JSON values). `customer_timeline` merges the sources newest first and keeps
`limit`: since each source gives its own newest `limit`, the merge is exact.

Apps register in their `AppConfig.ready()`: the orders app registers its orders
(orders/timeline.py), campaigns its messages, loyalty its points, feedback its
requests and answers."""

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypedDict

from accounts.models import Account
from customers.models import Customer, Interaction


class TimelineEntry(TypedDict):
    kind: str
    at: datetime
    id: Any
    summary: str
    data: dict[str, Any]


TimelineSource = Callable[[Account, Customer, int], list[TimelineEntry]]

_sources: dict[str, TimelineSource] = {}

DEFAULT_LIMIT = 50
MAX_LIMIT = 500


def register(kind: str) -> Callable[[TimelineSource], TimelineSource]:
    """Register the source of one kind of entry (registering a kind again replaces it)."""

    def decorator(source: TimelineSource) -> TimelineSource:
        _sources[kind] = source
        return source

    return decorator


def registered_kinds() -> list[str]:
    return sorted(_sources)


def customer_timeline(
    account: Account, customer: Customer, *, limit: int = DEFAULT_LIMIT
) -> list[TimelineEntry]:
    entries = [entry for source in _sources.values() for entry in source(account, customer, limit)]
    # Newest first; equal times in a fixed order (kind, then id), never by chance.
    entries.sort(key=lambda e: (e["at"], e["kind"], str(e["id"])), reverse=True)
    return entries[:limit]


# --- The customers app's own source --------------------------------------------------


@register("interaction")
def interaction_entries(account: Account, customer: Customer, limit: int) -> list[TimelineEntry]:
    interactions = Interaction.objects.filter(account=account, customer=customer).order_by(
        "-date", "-id"
    )[:limit]
    return [
        {
            "kind": "interaction",
            "at": interaction.date,
            "id": interaction.pk,
            "summary": f"{interaction.get_type_display()}: {interaction.subject}".strip(": "),
            "data": {
                "type": interaction.type,
                "subject": interaction.subject,
                "description": interaction.description,
                "outcome": interaction.outcome,
                "next_action": interaction.next_action,
                "next_action_date": interaction.next_action_date.isoformat()
                if interaction.next_action_date
                else None,
                "agent": str(interaction.agent_id) if interaction.agent_id else None,
                "completed": interaction.completed,
            },
        }
        for interaction in interactions
    ]
