"""The feedback app's entries in a customer's timeline (customers.timeline): each
request, and its answer once given, registered when the app is ready."""

from accounts.models import Account
from customers.models import Customer
from customers.timeline import TimelineEntry, register
from feedback import selectors
from feedback.models import Feedback


def _summary(feedback: Feedback) -> str:
    if feedback.answered_at is None:
        return f"Feedback requested by {feedback.get_channel_display()}: no answer yet"
    text = f"Feedback: rated {feedback.rating}/5"
    if feedback.comment:
        comment = feedback.comment if len(feedback.comment) <= 120 else feedback.comment[:119] + "…"
        text += f": “{comment}”"
    return text


@register("feedback")
def feedback_entries(account: Account, customer: Customer, limit: int) -> list[TimelineEntry]:
    return [
        {
            "kind": "feedback",
            # An answered request shows when it was answered.
            "at": feedback.answered_at or feedback.requested_at,
            "id": feedback.pk,
            "summary": _summary(feedback),
            "data": {
                "channel": feedback.channel,
                "category": feedback.category,
                "requested_at": feedback.requested_at.isoformat(),
                "rating": feedback.rating,
                "comment": feedback.comment,
                "answered_at": feedback.answered_at.isoformat() if feedback.answered_at else None,
            },
        }
        for feedback in selectors.customer_feedback(account, customer.pk, limit)
    ]
