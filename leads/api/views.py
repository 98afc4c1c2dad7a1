from typing import Any

from django.db.models import Prefetch, QuerySet
from django.shortcuts import get_object_or_404
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import selectors as account_selectors
from accounts.models import Account, Role
from crm_project.api.bulk import MAX_BULK_ROWS, BulkResultSerializer, run_bulk_at_once
from crm_project.api.pagination import PageOrCursorPagination
from crm_project.api.permissions import IsPlatformAdmin
from crm_project.api.views import TenantModelViewSet, require_list
from crm_project.tenancy import account_scope
from crm_project.writes import FAILED
from customers.api.serializers import CustomerSerializer
from customers.api.views import InteractionViewSet, interaction_routes_schema
from customers.models import Interaction
from leads import selectors, services
from leads.api.serializers import (
    LeadBulkSerializer,
    LeadInteractionSerializer,
    LeadLookupSerializer,
    LeadSerializer,
    LeadStatisticsSerializer,
    NurtureSequenceSerializer,
    NurtureStartedSerializer,
    NurtureStartSerializer,
    UnsubscribedSerializer,
)
from leads.filters import (
    LEAD_ORDERING_FIELDS,
    LeadFilter,
    LeadOrdering,
    NurtureSequenceFilter,
)
from leads.models import LEAD_COUNTER, Lead, NurtureSequence, NurtureStep

# seed 002's platform bulk: `{"leads_by_account": {"<account id or slug>": [...]}}`
# (`leadsByAccountId` arrives snake-cased by the parser).
PLATFORM_BULK_KEYS = ("leads_by_account", "leads_by_account_id")

LEAD_REF = OpenApiParameter(
    "id",
    OpenApiTypes.STR,
    OpenApiParameter.PATH,
    description="The lead's UUID or `ext:<external_id>`.",
)


@extend_schema_view(
    retrieve=extend_schema(parameters=[LEAD_REF]),
    update=extend_schema(parameters=[LEAD_REF], description="Partial, like PATCH."),
    partial_update=extend_schema(parameters=[LEAD_REF]),
    destroy=extend_schema(parameters=[LEAD_REF]),
)
class LeadViewSet(TenantModelViewSet):
    """Leads. `{id}` is the UUID or `ext:<external_id>`."""

    model = Lead
    row_counter = LEAD_COUNTER
    serializer_class = LeadSerializer
    pagination_class = PageOrCursorPagination
    write_role = Role.MEMBER
    filterset_class = LeadFilter
    filter_backends = [DjangoFilterBackend, LeadOrdering]
    ordering_fields = LEAD_ORDERING_FIELDS
    ordering = ["-created_at"]
    # `{id}` may be `ext:<external_id>`, whose external_id may hold dots.
    lookup_value_regex = "[^/]+"

    def get_scoped_queryset(self) -> QuerySet[Lead]:
        # Its place in nurturing (nurture_step) comes with each lead.
        return selectors.lead_list(self.account).select_related("nurture")

    def get_object(self) -> Lead:
        condition = selectors.lead_ref_filter(self.kwargs["pk"])
        if condition is None:
            raise NotFound()
        lead = get_object_or_404(self.get_queryset(), condition)
        self.check_object_permissions(self.request, lead)
        return lead

    def perform_create(self, serializer: LeadSerializer) -> None:
        serializer.instance = services.lead_create(
            account=self.account, **serializer.validated_data
        )

    def perform_update(self, serializer: LeadSerializer) -> None:
        serializer.instance = services.lead_update(
            lead=serializer.instance, **serializer.validated_data
        )

    def perform_destroy(self, instance: Lead) -> None:
        services.lead_delete(lead=instance)

    @extend_schema(request=LeadLookupSerializer, responses=LeadSerializer)
    @action(detail=False, methods=["post"], write_role=Role.READ_ONLY)
    def lookup(self, request: Request) -> Response:
        """The lead with this email (case-insensitive), phone or external_id, or 404 (the
        most recent one when several match). A read: every role may call it."""
        query = LeadLookupSerializer(data=request.data)
        query.is_valid(raise_exception=True)
        lead = selectors.lead_lookup(self.account, **query.validated_data)
        if lead is None:
            raise NotFound("No lead matches.")
        return Response(LeadSerializer(lead, context=self.get_serializer_context()).data)

    def _platform_bulk_body(self) -> dict[str, Any] | None:
        """seed 002's rows of several accounts, when the body is that (else None)."""
        if self.action != "bulk" or not isinstance(self.request.data, dict):
            return None
        for key in PLATFORM_BULK_KEYS:
            if key in self.request.data:
                return {"key": key, "value": self.request.data[key]}
        return None

    def get_permissions(self) -> list[Any]:
        # Rows of several accounts: platform (superuser) credentials only.
        if self._platform_bulk_body() is not None:
            return [IsPlatformAdmin()]
        return super().get_permissions()

    def _bulk_rows(self, account: Account, rows: list[Any], *, create: bool) -> dict[str, Any]:
        # One serializer validates every row (building one per row was most of a
        # call's time): run_validation raises the row's ValidationError.
        serializer = LeadSerializer(
            partial=True, context={**self.get_serializer_context(), "account": account}
        )

        def validate_row(row: dict) -> dict[str, Any]:
            return serializer.run_validation(row)

        def apply_rows(valid: list[dict[str, Any]]) -> list[Any]:
            return services.leads_upsert_many(account=account, rows=valid, create=create)

        return run_bulk_at_once(rows, validate_row, apply_rows)

    def _bulk_by_account(self, key: str, by_account: Any, *, create: bool) -> Response:
        """Each account's rows in its own scope; an unknown or inactive account's rows
        fail, the others go on. Rows carry `account` and their index in its list."""
        if not isinstance(by_account, dict):
            raise ValidationError(
                {key: ["An object: account id or slug -> list of leads."]}, code="invalid"
            )
        for name, rows in by_account.items():
            if not isinstance(rows, list):
                raise ValidationError({f"{key}.{name}": ["A list of leads."]}, code="not_a_list")
        total = sum(len(rows) for rows in by_account.values())
        if total > MAX_BULK_ROWS:
            raise ValidationError(
                {key: [f"At most {MAX_BULK_ROWS} rows per call, across accounts ({total})."]},
                code="max_length",
            )
        answer: dict[str, Any] = {"created": 0, "updated": 0, "skipped": 0, "failed": 0}
        results = []
        for name, rows in by_account.items():
            account = account_selectors.account_by_slug_or_id(str(name))
            if account is None or not account.is_active:
                problem = "No such account." if account is None else "This account is inactive."
                outcome = {"created": 0, "updated": 0, "skipped": 0, "failed": len(rows)}
                rows_done = [
                    {
                        "index": index,
                        "status": FAILED,
                        "id": None,
                        "errors": [{"code": "not_found", "detail": problem, "attr": key}],
                    }
                    for index in range(len(rows))
                ]
            else:
                with account_scope(account):
                    outcome = self._bulk_rows(account, rows, create=create)
                rows_done = outcome["results"]
            for counter in answer:
                answer[counter] += outcome[counter]
            results += [{"account": str(name), **row} for row in rows_done]
        return Response({**answer, "results": results})

    def _bulk(self, request: Request, *, create: bool) -> Response:
        platform = self._platform_bulk_body()
        if platform is not None:
            return self._bulk_by_account(platform["key"], platform["value"], create=create)
        rows = require_list(request.data, "leads", max_rows=MAX_BULK_ROWS)
        return Response(self._bulk_rows(self.account, rows, create=create))

    @extend_schema(
        request=LeadBulkSerializer,
        responses=BulkResultSerializer,
        description='POST: upsert up to 1,000 leads by external_id (`{"leads": [...]}` '
        "or a bare list). PUT: update only; a row whose external_id names no lead fails. "
        'Platform (superuser) credentials may send `{"leads_by_account": {"<account id '
        'or slug>": [...]}}` (also `leadsByAccountId`): each result row then carries '
        "`account`; the 1,000-row cap counts all rows.",
    )
    @action(detail=False, methods=["post", "put"])
    def bulk(self, request: Request) -> Response:
        return self._bulk(request, create=request.method == "POST")

    @extend_schema(
        parameters=[LEAD_REF],
        request=None,
        responses={201: CustomerSerializer, 200: CustomerSerializer},
    )
    @action(detail=True, methods=["post", "put"])
    def convert(self, request: Request, pk: str) -> Response:
        """Convert the lead into a customer: 201 with a new customer, 200 with the
        customer of the same email (case-insensitive) it was linked to, or the one it
        was converted to before."""
        lead = self.get_object()
        customer, created = services.lead_convert(account=self.account, lead=lead)
        data = CustomerSerializer(customer, context=self.get_serializer_context()).data
        return Response(data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    # --- Nurturing and unsubscribes ----------------------------------------------------

    @extend_schema(request=NurtureStartSerializer, responses=NurtureStartedSerializer)
    @action(detail=False, methods=["post", "put"], url_path="nurture/start")
    def nurture_start(self, request: Request) -> Response:
        """Enrol leads in a sequence (none named: every eligible lead of the account;
        no sequence: the default, none is a 409)."""
        query = NurtureStartSerializer(
            data=request.data or {}, context=self.get_serializer_context()
        )
        query.is_valid(raise_exception=True)
        refs = query.validated_data.get("lead_ids")
        started = services.nurture_start(
            account=self.account,
            lead_ids=None if refs is None else selectors.lead_ids_for_refs(self.account, refs),
            sequence=query.validated_data.get("sequence"),
        )
        return Response(NurtureStartedSerializer(started).data)

    def _lead_answer(self, lead: Lead) -> Response:
        return Response(LeadSerializer(lead, context=self.get_serializer_context()).data)

    @extend_schema(parameters=[LEAD_REF], request=None, responses=LeadSerializer)
    @action(detail=True, methods=["post", "put"])
    def stop(self, request: Request, pk: str) -> Response:
        """Stop the lead's nurturing (idle or stopped already: no change)."""
        return self._lead_answer(services.nurture_stop(lead=self.get_object()))

    @extend_schema(parameters=[LEAD_REF], request=None, responses=LeadSerializer)
    @action(detail=True, methods=["post", "put"])
    def reset(self, request: Request, pk: str) -> Response:
        """Restart the lead's nurturing at step 1 (an unsubscribed or converted lead:
        409)."""
        lead = services.nurture_reset(account=self.account, lead=self.get_object())
        return self._lead_answer(lead)

    # Named apart from the list route `/leads/unsubscribe/` (the same path tokens).
    @extend_schema(
        methods=["POST"],
        operation_id="v1_leads_unsubscribe_one_create",
        parameters=[LEAD_REF],
        request=None,
        responses=LeadSerializer,
    )
    @extend_schema(
        methods=["PUT"],
        operation_id="v1_leads_unsubscribe_one_update",
        parameters=[LEAD_REF],
        request=None,
        responses=LeadSerializer,
    )
    @action(detail=True, methods=["post", "put"], url_path="unsubscribe")
    def unsubscribe_one(self, request: Request, pk: str) -> Response:
        """Unsubscribe the lead: nothing more is sent to it, its nurturing ends."""
        lead = services.lead_unsubscribe(account=self.account, lead=self.get_object())
        return self._lead_answer(lead)

    @extend_schema(request=LeadLookupSerializer, responses=UnsubscribedSerializer)
    @action(detail=False, methods=["post", "put"])
    def unsubscribe(self, request: Request) -> Response:
        """Unsubscribe every lead of the account with this phone (any common format),
        email (ignoring case) or external_id, given in the body or the query string.
        No lead matches: 404; a repeat: 200."""
        data = {**request.query_params.dict()}
        if isinstance(request.data, dict):
            data.update(request.data)
        query = LeadLookupSerializer(data=data)
        query.is_valid(raise_exception=True)
        count = services.leads_unsubscribe(account=self.account, **query.validated_data)
        if count == 0:
            raise NotFound("No lead matches.")
        return Response(UnsubscribedSerializer({"unsubscribed": count}).data)

    @extend_schema(parameters=[LEAD_REF], responses=LeadStatisticsSerializer)
    @action(detail=True, methods=["get"])
    def statistics(self, request: Request, pk: str) -> Response:
        lead = self.get_object()
        figures = selectors.lead_statistics(self.account, lead)
        return Response(LeadStatisticsSerializer(figures).data)


@interaction_routes_schema("lead_pk", "The lead's UUID or `ext:<external_id>`.")
class LeadInteractionViewSet(InteractionViewSet):
    """A lead's interactions (its `last_contact` follows them)."""

    serializer_class = LeadInteractionSerializer

    def get_holder(self) -> Lead | None:
        return selectors.lead_by_ref(self.account, self.kwargs["lead_pk"])

    def get_scoped_queryset(self) -> QuerySet[Interaction]:
        return selectors.lead_interactions(self.account, self.holder)

    def perform_create(self, serializer: LeadInteractionSerializer) -> None:
        serializer.instance = services.lead_interaction_create(
            account=self.account, lead=self.holder, **serializer.validated_data
        )

    def perform_update(self, serializer: LeadInteractionSerializer) -> None:
        serializer.instance = services.lead_interaction_update(
            account=self.account,
            lead=self.holder,
            interaction=serializer.instance,
            **serializer.validated_data,
        )

    def perform_destroy(self, instance: Interaction) -> None:
        services.lead_interaction_delete(
            account=self.account, lead=self.holder, interaction=instance
        )


class NurtureSequenceViewSet(TenantModelViewSet):
    """Nurture sequences and their steps (one default per account)."""

    model = NurtureSequence
    serializer_class = NurtureSequenceSerializer
    write_role = Role.MEMBER
    filterset_class = NurtureSequenceFilter
    ordering_fields = ["name", "created_at"]
    ordering = ["name"]

    def get_scoped_queryset(self) -> QuerySet[NurtureSequence]:
        steps = Prefetch("steps", queryset=NurtureStep.objects.order_by("order"))
        return selectors.nurture_sequence_list(self.account).prefetch_related(steps)

    def perform_create(self, serializer: NurtureSequenceSerializer) -> None:
        serializer.instance = services.sequence_create(
            account=self.account, **serializer.validated_data
        )

    def perform_update(self, serializer: NurtureSequenceSerializer) -> None:
        serializer.instance = services.sequence_update(
            sequence=serializer.instance, **serializer.validated_data
        )

    def perform_destroy(self, instance: NurtureSequence) -> None:
        services.sequence_delete(sequence=instance)
