"""Loyalty's API: cards, ticket credit, redeem, adjust, the read-only ledger, levels,
allow-credit and its credit requests, and orders read as seed 001's tickets.

Cards are addressed by their number (`/loyalty/cards/{number}/`): another account's
number answers 404 exactly as a missing one; a card number inside a body that the
account does not hold is a 400 on `card_number`."""

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.exceptions import ErrorDetail, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import Role
from crm_project.api.bulk import MAX_BULK_ROWS, row_errors
from crm_project.api.pagination import PageOrCursorPagination
from crm_project.api.views import PartialUpdateMixin, TenantGenericViewSet, require_list
from loyalty import selectors, services
from loyalty.api.serializers import (
    AdjustSerializer,
    AllowCreditSerializer,
    CreditAnswerSerializer,
    CreditBodySerializer,
    CreditDecisionSerializer,
    CreditRequestSerializer,
    LoyaltyCardSerializer,
    LoyaltyLevelSerializer,
    LoyaltyTransactionSerializer,
    RedeemSerializer,
    TicketInputSerializer,
    TicketOutcomeSerializer,
    TicketSerializer,
)
from loyalty.filters import (
    CreditRequestFilter,
    LoyaltyCardFilter,
    LoyaltyTransactionFilter,
    TicketFilter,
)
from loyalty.models import CardStatus, CreditRequest, LoyaltyCard, LoyaltyLevel, LoyaltyTransaction
from orders.models import Order

CARD_NUMBER = OpenApiParameter(
    "id", OpenApiTypes.STR, OpenApiParameter.PATH, description="The card's number."
)


class _ByNumber:
    """A card in the path by its number (the route's kwarg keeps DRF's name `pk`)."""

    lookup_field = "number"
    lookup_url_kwarg = "pk"
    lookup_value_regex = "[^/]+"


@extend_schema_view(
    retrieve=extend_schema(parameters=[CARD_NUMBER]),
    update=extend_schema(parameters=[CARD_NUMBER]),
    partial_update=extend_schema(parameters=[CARD_NUMBER]),
)
class LoyaltyCardViewSet(
    _ByNumber,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    PartialUpdateMixin,
    mixins.ListModelMixin,
    TenantGenericViewSet,
):
    """Loyalty cards, by number. Issue (`POST`), list, read, and block or unblock;
    a card is never deleted (its ledger is the history)."""

    model = LoyaltyCard
    serializer_class = LoyaltyCardSerializer
    filterset_class = LoyaltyCardFilter
    ordering_fields = ["number", "issued_at", "points_balance", "created_at"]
    ordering = ["number"]

    def get_scoped_queryset(self) -> Any:
        return selectors.card_list(self.account)

    def perform_create(self, serializer: LoyaltyCardSerializer) -> None:
        serializer.instance = services.card_issue(account=self.account, **serializer.validated_data)

    def perform_update(self, serializer: LoyaltyCardSerializer) -> None:
        card = serializer.instance
        wanted = serializer.validated_data.get("status")
        if wanted == CardStatus.BLOCKED:
            card = services.card_block(card=card)
        elif wanted == CardStatus.ACTIVE:
            card = services.card_unblock(card=card)
        serializer.instance = card

    @extend_schema(parameters=[CARD_NUMBER], request=None, responses=LoyaltyCardSerializer)
    @action(detail=True, methods=["post"])
    def block(self, request: Request, pk: str) -> Response:
        """Block the card: it is credited and redeemed nothing until unblocked."""
        card = services.card_block(card=self.get_object())
        return Response(self.get_serializer(card).data)

    @extend_schema(parameters=[CARD_NUMBER], request=None, responses=LoyaltyCardSerializer)
    @action(detail=True, methods=["post"])
    def unblock(self, request: Request, pk: str) -> Response:
        card = services.card_unblock(card=self.get_object())
        return Response(self.get_serializer(card).data)


def _given_text(row: Any, *names: str) -> str:
    if not isinstance(row, dict):
        return ""
    for name in names:
        value = row.get(name)
        if value is not None and not isinstance(value, dict | list | bool):
            return str(value)
    return ""


class LoyaltyCreditViewSet(_ByNumber, TenantGenericViewSet):
    """Seed 001's fidelity credit: credit tickets, read a card's credit."""

    model = LoyaltyCard
    pagination_class = None
    filter_backends = ()

    def get_scoped_queryset(self) -> Any:
        return selectors.card_list(self.account)

    @extend_schema(
        request=CreditBodySerializer, responses={200: TicketOutcomeSerializer(many=True)}
    )
    def create(self, request: Request) -> Response:
        """Credit up to 1,000 tickets: `{"tickets": [{"card_number", "amount",
        "ticket_id"?}]}` (seed 001's `{"Tickets": [{"carteFid", "Montant"}]}` too).
        Answers 200 with each ticket's outcome in the order sent: `credited`,
        `duplicate` (its ticket_id was credited before: "0.00") or `failed` (with the
        error), whatever the others'. A ticket that is not an object is a 400."""
        rows = require_list(request.data, "tickets", max_rows=MAX_BULK_ROWS)
        not_objects = {
            str(index): [ErrorDetail("Expected an object.", code="not_an_object")]
            for index, row in enumerate(rows)
            if not isinstance(row, dict)
        }
        if not_objects:  # not a ticket at all: the body is malformed
            raise ValidationError({"tickets": not_objects})
        checked: list[services.Ticket | services.TicketOutcome] = []
        # One reader for every ticket: a Serializer per ticket (its fields copied each
        # time) was half of a 1,000-ticket call.
        reader = TicketInputSerializer()
        for row in rows:
            try:
                checked.append(services.Ticket(**reader.to_internal_value(row)))
                continue
            except ValidationError as exc:
                error = row_errors(exc)[0]
            checked.append(
                services.ticket_failed(
                    card_number=_given_text(row, "card_number", "carte_fid"),
                    ticket_id=_given_text(row, "ticket_id") or None,
                    code=error["code"],
                    detail=str(error["detail"]),
                    attr=error["attr"],
                )
            )
        tickets = [item for item in checked if isinstance(item, services.Ticket)]
        credited = iter(services.tickets_credit(account=self.account, tickets=tickets))
        outcomes = [
            next(credited) if isinstance(item, services.Ticket) else item for item in checked
        ]
        return Response(TicketOutcomeSerializer(outcomes, many=True).data)

    @extend_schema(parameters=[CARD_NUMBER], responses=CreditAnswerSerializer)
    def retrieve(self, request: Request, pk: str) -> Response:
        """A card's credit (its points balance), as seed 001's `/api/credit/<carteFid>`."""
        card = self.get_object()
        return Response(
            CreditAnswerSerializer({"card_number": card.number, "credit": card.points_balance}).data
        )


class LoyaltyRedeemViewSet(TenantGenericViewSet):
    model = LoyaltyTransaction
    pagination_class = None
    filter_backends = ()

    @extend_schema(request=RedeemSerializer, responses={201: LoyaltyTransactionSerializer})
    def create(self, request: Request) -> Response:
        """Redeem points from an active card: the ledger row (201). A balance short of
        the points is a 409 `insufficient_points`."""
        serializer = RedeemSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        row = services.card_redeem(account=self.account, **serializer.validated_data)
        return Response(LoyaltyTransactionSerializer(row).data, status=status.HTTP_201_CREATED)


class LoyaltyAdjustViewSet(TenantGenericViewSet):
    model = LoyaltyTransaction
    pagination_class = None
    filter_backends = ()
    write_role = Role.ADMIN

    @extend_schema(request=AdjustSerializer, responses={201: LoyaltyTransactionSerializer})
    def create(self, request: Request) -> Response:
        """An admin's signed correction of a card's balance: the ledger row (201). One
        that would take the balance below zero is a 409 `insufficient_points`."""
        serializer = AdjustSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        row = services.card_adjust(account=self.account, **serializer.validated_data)
        return Response(LoyaltyTransactionSerializer(row).data, status=status.HTTP_201_CREATED)


class LoyaltyTransactionViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantGenericViewSet
):
    """The points ledger, read-only and append-only: newest first; `?cursor=` walks it
    at constant cost per page."""

    model = LoyaltyTransaction
    row_counter = "loyalty_transactions"
    serializer_class = LoyaltyTransactionSerializer
    filterset_class = LoyaltyTransactionFilter
    pagination_class = PageOrCursorPagination
    cursor_ordering = ("-created_at", "-id")
    ordering_fields = ["created_at"]
    ordering = ["-created_at", "-id"]

    def get_scoped_queryset(self) -> Any:
        return selectors.transaction_list(self.account)


class LoyaltyLevelViewSet(
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    PartialUpdateMixin,
    mixins.DestroyModelMixin,
    mixins.ListModelMixin,
    TenantGenericViewSet,
):
    """The program's levels, lowest first. Admins write them; a customer's level is
    read from their lifetime earned points, so a change applies at once."""

    model = LoyaltyLevel
    serializer_class = LoyaltyLevelSerializer
    write_role = Role.ADMIN
    pagination_class = None
    filter_backends = ()

    def get_scoped_queryset(self) -> Any:
        return selectors.level_list(self.account)

    def perform_create(self, serializer: LoyaltyLevelSerializer) -> None:
        serializer.instance = services.level_create(
            account=self.account, **serializer.validated_data
        )

    def perform_update(self, serializer: LoyaltyLevelSerializer) -> None:
        serializer.instance = services.level_update(
            level=serializer.instance, **serializer.validated_data
        )

    def perform_destroy(self, instance: LoyaltyLevel) -> None:
        services.level_delete(level=instance)


class AllowCreditViewSet(TenantGenericViewSet):
    model = CreditRequest
    pagination_class = None
    filter_backends = ()

    @extend_schema(request=AllowCreditSerializer, responses={200: CreditDecisionSerializer})
    def create(self, request: Request) -> Response:
        """May the customer take `amount` of credit on `date`? 200 with `allowed` and
        the reasons of a refusal (`inactive_customer`, `non_positive_amount`,
        `past_date`, `too_many_refusals`, `over_credit_limit`); allowed, a scheduled
        credit request is created; refused, the customer's `refusals_count` grows by
        one. An unknown customer, or another account's, is a 400 on `customer`."""
        serializer = AllowCreditSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        decision = services.credit_allow(account=self.account, **serializer.validated_data)
        return Response(CreditDecisionSerializer(decision).data)


class CreditRequestViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, PartialUpdateMixin, TenantGenericViewSet
):
    """Credit requests allow-credit scheduled, newest first; PATCH `status` to
    `granted` or `cancelled` settles one (a settled one is a 409)."""

    model = CreditRequest
    serializer_class = CreditRequestSerializer
    filterset_class = CreditRequestFilter
    ordering_fields = ["created_at", "date", "amount"]
    ordering = ["-created_at", "-id"]
    http_method_names = ["get", "put", "patch", "head", "options"]

    def get_scoped_queryset(self) -> Any:
        return selectors.credit_request_list(self.account)

    def perform_update(self, serializer: CreditRequestSerializer) -> None:
        status_ = serializer.validated_data.get("status")
        if status_ is None:
            raise ValidationError({"status": ["Give the status: granted or cancelled."]})
        serializer.instance = services.credit_request_settle(
            credit_request=serializer.instance, status=status_
        )


class TicketViewSet(mixins.ListModelMixin, TenantGenericViewSet):
    """Orders as seed 001's tickets, newest first: each with its lines (`articles`) and
    the loyalty points it earned net of any reversal. `?cursor=` pages at constant
    cost."""

    model = Order
    row_counter = "orders"
    serializer_class = TicketSerializer
    filterset_class = TicketFilter
    pagination_class = PageOrCursorPagination
    cursor_ordering = ("-ordered_at", "-id")
    ordering_fields = ["ordered_at"]
    ordering = ["-ordered_at", "-id"]

    def get_scoped_queryset(self) -> Any:
        return selectors.ticket_list(self.account)
