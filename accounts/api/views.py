from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import selectors, services, statistics
from accounts.api.serializers import (
    AccountCreatedSerializer,
    AccountSerializer,
    AgentBulkRowSerializer,
    AgentSerializer,
    ApiKeyCreatedSerializer,
    ApiKeySerializer,
    PlatformAccountSerializer,
)
from accounts.api.statistics import AccountStatisticsSerializer, StatisticsQuerySerializer
from accounts.filters import AgentFilter, PlatformAccountFilter
from accounts.models import Account, Agent, ApiKey, Role
from crm_project.api.bulk import MAX_BULK_ROWS, BulkResultSerializer, RowResult, run_bulk
from crm_project.api.idempotency import SecretResponse
from crm_project.api.views import (
    PlatformGenericViewSet,
    ScopedAPIView,
    TenantGenericViewSet,
    TenantModelViewSet,
    require_list,
)


class AccountView(ScopedAPIView):
    """The caller's own account. Any role reads it; admins change its settings."""

    write_role = Role.ADMIN
    serializer_class = AccountSerializer

    @extend_schema(responses=AccountSerializer)
    def get(self, request: Request) -> Response:
        return Response(AccountSerializer(self.account).data)

    @extend_schema(request=AccountSerializer, responses=AccountSerializer)
    def patch(self, request: Request) -> Response:
        serializer = AccountSerializer(self.account, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        account = services.account_update(account=self.account, **serializer.validated_data)
        return Response(AccountSerializer(account).data)


class AccountStatisticsView(ScopedAPIView):
    """The account's figures, over all time or within `from` / `to`. Any role reads them."""

    serializer_class = AccountStatisticsSerializer

    @extend_schema(parameters=[StatisticsQuerySerializer], responses=AccountStatisticsSerializer)
    def get(self, request: Request) -> Response:
        query = StatisticsQuerySerializer(
            data=request.query_params, context={"account": self.account}
        )
        query.is_valid(raise_exception=True)
        window = query.validated_data
        figures = statistics.account_statistics(
            self.account, start=window["start"], end=window["end"]
        )
        figures |= {"from": window["start"], "to": window["end"]}
        return Response(AccountStatisticsSerializer(figures).data)


class PlatformAccountViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    PlatformGenericViewSet,
):
    """Every account, for platform (superuser) credentials only."""

    queryset = Account.objects.all()
    serializer_class = PlatformAccountSerializer
    filterset_class = PlatformAccountFilter
    ordering_fields = ["name", "slug", "created_at", "status"]
    ordering = ["name"]

    @extend_schema(request=PlatformAccountSerializer, responses={201: AccountCreatedSerializer})
    def create(self, request: Request) -> Response:
        serializer = PlatformAccountSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        account = services.account_create(**serializer.validated_data)
        _key, raw = services.api_key_create(
            account=account, role=Role.ADMIN, name="initial admin key", created_by=request.user
        )
        data = AccountCreatedSerializer(account).data
        data["api_key"] = raw
        return SecretResponse(data, status=status.HTTP_201_CREATED)

    @extend_schema(request=PlatformAccountSerializer, responses=PlatformAccountSerializer)
    def partial_update(self, request: Request, pk: str) -> Response:
        account = self.get_object()
        serializer = PlatformAccountSerializer(account, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        account = services.account_update(account=account, **serializer.validated_data)
        return Response(PlatformAccountSerializer(account).data)

    @extend_schema(request=PlatformAccountSerializer, responses=PlatformAccountSerializer)
    def update(self, request: Request, pk: str) -> Response:
        return self.partial_update(request, pk)

    def destroy(self, request: Request, pk: str) -> Response:
        services.account_delete(account=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _change_status(self, action_name: str) -> Response:
        account = services.account_change_status(account=self.get_object(), action=action_name)
        return Response(PlatformAccountSerializer(account).data)

    @extend_schema(request=None, responses=PlatformAccountSerializer)
    @action(detail=True, methods=["post", "put"])
    def pause(self, request: Request, pk: str) -> Response:
        """Paused: the API works; nothing outbound is sent until unpaused."""
        return self._change_status("pause")

    @extend_schema(request=None, responses=PlatformAccountSerializer)
    @action(detail=True, methods=["post", "put"])
    def unpause(self, request: Request, pk: str) -> Response:
        return self._change_status("unpause")

    @extend_schema(request=None, responses=PlatformAccountSerializer)
    @action(detail=True, methods=["post", "put"])
    def inactivate(self, request: Request, pk: str) -> Response:
        """Inactive: every credential of the account is refused (403 account_inactive)."""
        return self._change_status("inactivate")

    @extend_schema(request=None, responses=PlatformAccountSerializer)
    @action(detail=True, methods=["post", "put"])
    def activate(self, request: Request, pk: str) -> Response:
        return self._change_status("activate")


class ApiKeyViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    TenantGenericViewSet,
):
    """API keys of the account (admins only). The secret is in the create answer only."""

    model = ApiKey
    serializer_class = ApiKeySerializer
    read_role = Role.ADMIN
    write_role = Role.ADMIN
    filterset_fields = ["role"]
    ordering_fields = ["created_at", "name", "last_used_at"]
    ordering = ["-created_at"]

    def get_scoped_queryset(self) -> Any:
        return selectors.api_key_list(self.account)

    @extend_schema(request=ApiKeySerializer, responses={201: ApiKeyCreatedSerializer})
    def create(self, request: Request) -> Response:
        serializer = ApiKeySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        api_key, raw = services.api_key_create(
            account=self.account, created_by=request.user, **serializer.validated_data
        )
        data = ApiKeyCreatedSerializer(api_key).data
        data["key"] = raw
        return SecretResponse(data, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance: ApiKey) -> None:
        services.api_key_revoke(api_key=instance)


class AgentViewSet(TenantModelViewSet):
    """Agents, to whom leads and customers are assigned. Admins manage them."""

    model = Agent
    serializer_class = AgentSerializer
    write_role = Role.ADMIN
    filterset_class = AgentFilter
    ordering_fields = ["last_name", "first_name", "created_at", "external_id"]
    ordering = ["last_name", "first_name"]

    def perform_create(self, serializer: AgentSerializer) -> None:
        serializer.instance = services.agent_create(
            account=self.account, **serializer.validated_data
        )

    def perform_update(self, serializer: AgentSerializer) -> None:
        serializer.instance = services.agent_update(
            agent=serializer.instance, **serializer.validated_data
        )

    def perform_destroy(self, instance: Agent) -> None:
        services.agent_delete(agent=instance)

    @extend_schema(request=AgentBulkRowSerializer(many=True), responses=BulkResultSerializer)
    @action(detail=False, methods=["post"])
    def bulk(self, request: Request) -> Response:
        """Upsert up to 1,000 agents by `external_id`: `{"agents": [...]}`."""
        rows = require_list(request.data, "agents", max_rows=MAX_BULK_ROWS)

        def apply_row(row: dict) -> RowResult:
            serializer = AgentBulkRowSerializer(data=row, context=self.get_serializer_context())
            serializer.is_valid(raise_exception=True)
            fields = dict(serializer.validated_data)
            agent, outcome = services.agent_upsert(
                account=self.account, external_id=fields.pop("external_id"), **fields
            )
            return RowResult(outcome, agent.pk)

        return Response(run_bulk(rows, apply_row))
