"""Random sequences of credit, redeem and adjust against a plain-Python model of the
balances: after each step the service's answer, every card's balance and the ledger
match the model (STYLE: an independent oracle compared row by row)."""

from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm_project.errors import Conflict
from crm_project.tenancy import account_scope
from loyalty import services
from loyalty.models import LoyaltyCard, LoyaltyTransaction
from tests.factories import AccountFactory, CustomerFactory

pytestmark = pytest.mark.django_db

CARDS = ["A", "B"]
CENTS = st.integers(min_value=1, max_value=50_000).map(lambda n: Decimal(n) / 100)

TICKET_IDS = st.sampled_from([None, "T1", "T2", "T3"])
steps = st.lists(
    st.one_of(
        st.tuples(st.just("credit"), st.sampled_from(CARDS), CENTS, TICKET_IDS),
        st.tuples(st.just("redeem"), st.sampled_from(CARDS), CENTS, st.none()),
        st.tuples(st.just("adjust"), st.sampled_from(CARDS), CENTS, st.booleans()),
    ),
    max_size=25,
)  # fmt: skip


class Model:
    """The rules in plain Python: balances never below zero, a ticket id once."""

    def __init__(self, rate):
        self.rate = rate
        self.balances = dict.fromkeys(CARDS, Decimal("0.00"))
        self.tickets = set()
        self.rows = []  # (card, kind, points, balance_after)

    def move(self, card, kind, points):
        if self.balances[card] + points < 0:
            return False
        self.balances[card] += points
        self.rows.append((card, kind, points, self.balances[card]))
        return True

    def credit(self, card, amount, ticket_id):
        if ticket_id is not None and ticket_id in self.tickets:
            return "duplicate"
        if ticket_id is not None:
            self.tickets.add(ticket_id)
        points = (amount * self.rate).quantize(Decimal("0.01"), ROUND_HALF_UP)
        self.move(card, "credit", points)
        return "credited"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=steps, rate=st.sampled_from([Decimal("0.50"), Decimal("0.33"), Decimal("1.25")]))
def test_balances_and_ledger_follow_the_plain_python_model(steps, rate):
    account = AccountFactory(loyalty_earn_rate=rate)
    customer = CustomerFactory(account=account)
    model = Model(rate)
    with account_scope(account):
        for number in CARDS:
            services.card_issue(account=account, customer=customer, number=number)
        for kind, card, value, extra in steps:
            if kind == "credit":
                ticket = services.Ticket(card_number=card, amount=value, ticket_id=extra)
                [outcome] = services.tickets_credit(account=account, tickets=[ticket])
                assert outcome.status == model.credit(card, value, extra)
                continue
            points = -value if kind == "redeem" or extra else value
            try:
                if kind == "redeem":
                    services.card_redeem(account=account, card_number=card, points=value)
                else:
                    services.card_adjust(
                        account=account, card_number=card, points=points, reason="p"
                    )
                refusal = None
            except Conflict as exc:
                refusal = exc.code
            moved = model.move(card, kind, points)
            assert refusal == (None if moved else "insufficient_points")

            balances = dict(LoyaltyCard.objects.values_list("number", "points_balance"))
            assert balances == model.balances
        rows = LoyaltyTransaction.objects.order_by("created_at", "id").values_list(
            "card__number", "kind", "points", "balance_after"
        )
        assert list(rows) == model.rows
