"""The imports API and the streamed exports. Views validate and shape; the work is in
imports.services (jobs) and imports.exports (the CSV streams)."""

import re
from typing import Any

from django.conf import settings
from django.http import FileResponse, HttpResponse, StreamingHttpResponse
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, renderers, status
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import Role
from crm_project.api.exceptions import PayloadTooLarge
from crm_project.api.views import TenantGenericViewSet
from customers import selectors as customer_selectors
from customers.filters import CUSTOMER_ORDERING_FIELDS, CustomerFilter, CustomerOrdering
from customers.models import Customer
from imports import exports, selectors, services
from imports.api.serializers import (
    CustomerImportSerializer,
    ImportCreateSerializer,
    ImportJobSerializer,
    LeadImportSerializer,
)
from imports.models import ImportJob
from leads import selectors as lead_selectors
from leads.filters import LEAD_ORDERING_FIELDS, LeadFilter, LeadOrdering
from leads.models import Lead
from orders.filters import OrderFilter
from orders.models import Order, OrderItem

UUID_PATTERN = "[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"
CSV_RESPONSE = {
    (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="A CSV file, streamed.")
}


class CSVRenderer(renderers.BaseRenderer):
    """Lets a client ask for `text/csv`; errors still render as JSON."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(
        self, data: Any, accepted_media_type: Any = None, renderer_context: Any = None
    ) -> Any:
        if isinstance(data, bytes | str):
            return data
        return renderers.JSONRenderer().render(data)


CSV_RENDERERS = [renderers.JSONRenderer, CSVRenderer]


def _refuse_too_large(request: Request) -> None:
    """413 before the body is read, when its announced size is over the limit."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > settings.FILE_UPLOAD_MAX_SIZE + 64 * 1024:
        raise PayloadTooLarge(
            f"The file is too large: at most {settings.FILE_UPLOAD_MAX_SIZE} bytes per import."
        )


class ImportUploadMixin:
    parser_classes = [MultiPartParser, FormParser]

    def start_import(self, request: Request, serializer_class: type) -> Response:
        _refuse_too_large(request)
        serializer = serializer_class(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        upload = data["file"]
        if upload.size is not None and upload.size > settings.FILE_UPLOAD_MAX_SIZE:
            raise PayloadTooLarge(
                f"The file is too large: at most {settings.FILE_UPLOAD_MAX_SIZE} bytes per import."
            )
        job = services.import_job_create(
            account=self.account,  # type: ignore[attr-defined]
            kind=data["kind"],
            filename=upload.name or "import.csv",
            chunks=upload.chunks(),
            on_conflict=data["on_conflict"],
            dry_run=data["dry_run"],
            date_format=data["date_format"],
            created_by=request.user,
        )
        body = ImportJobSerializer(job, context={"request": request}).data
        return Response(body, status=status.HTTP_202_ACCEPTED)


class ImportJobViewSet(
    ImportUploadMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantGenericViewSet
):
    """Import jobs: upload a CSV file, follow its progress, read its error report."""

    model = ImportJob
    serializer_class = ImportJobSerializer
    lookup_value_regex = UUID_PATTERN
    filter_backends: list = []
    write_role = Role.MEMBER

    # Uploads are multipart; the actions without a body parse nothing.
    parser_classes = [MultiPartParser, FormParser]

    def get_scoped_queryset(self) -> Any:
        return selectors.import_job_list(self.account)

    @extend_schema(
        request={"multipart/form-data": ImportCreateSerializer},
        responses={202: ImportJobSerializer},
        description="Upload a CSV file (multipart `file`); the import runs in the "
        "background. 202 with the job; a file that cannot be processed (empty, not a "
        "CSV, a required column missing) fails the job at once, with its reason.",
    )
    def create(self, request: Request) -> Response:
        return self.start_import(request, ImportCreateSerializer)

    @extend_schema(request=None, responses=ImportJobSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str) -> Response:
        """Stop between chunks: what the committed chunks wrote is kept (the job's
        message says how much). A finished import is a 409."""
        job = services.import_job_cancel(job=self.get_object())
        return Response(ImportJobSerializer(job, context={"request": request}).data)

    @extend_schema(responses=CSV_RESPONSE, operation_id="imports_errors_csv")
    @action(
        detail=True,
        methods=["get"],
        url_path="errors.csv",
        url_name="errors-csv",
        renderer_classes=CSV_RENDERERS,
    )
    def errors_csv(self, request: Request, pk: str) -> HttpResponse:
        """Every failed row: the original columns, then `line` and `reason`."""
        job = self.get_object()
        path = selectors.import_job_report(job)
        stem = re.sub(r"[^A-Za-z0-9._-]+", "_", job.filename.rsplit(".", 1)[0]) or "import"
        filename = f"{stem}-errors.csv"
        if path is None:
            response = HttpResponse("line,reason\r\n", content_type="text/csv; charset=utf-8")
        else:
            response = FileResponse(
                open(path, "rb"),  # noqa: SIM115  (FileResponse closes it)
                content_type="text/csv; charset=utf-8",
            )
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response


class CustomerImportViewSet(ImportUploadMixin, TenantGenericViewSet):
    model = ImportJob
    serializer_class = ImportJobSerializer
    write_role = Role.MEMBER

    @extend_schema(
        request={"multipart/form-data": CustomerImportSerializer},
        responses={202: ImportJobSerializer},
        description="Import customers from a CSV file (an import job of kind customers).",
    )
    def create(self, request: Request) -> Response:
        return self.start_import(request, CustomerImportSerializer)


class LeadImportViewSet(ImportUploadMixin, TenantGenericViewSet):
    model = ImportJob
    serializer_class = ImportJobSerializer
    write_role = Role.MEMBER

    @extend_schema(
        request={"multipart/form-data": LeadImportSerializer},
        responses={202: ImportJobSerializer},
        description="Import leads from a CSV file (an import job of kind leads): upsert by "
        "external_id, else email; seed 002's camelCase columns are read.",
    )
    def create(self, request: Request) -> Response:
        return self.start_import(request, LeadImportSerializer)


def _csv_response(stream: Any, filename: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(stream, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


class CustomerExportViewSet(TenantGenericViewSet):
    """The customer list as CSV: the same filters and ordering as `GET /customers/`."""

    model = Customer
    filterset_class = CustomerFilter
    filter_backends = [DjangoFilterBackend, CustomerOrdering]
    ordering_fields = CUSTOMER_ORDERING_FIELDS
    ordering = ["-created_at"]
    renderer_classes = CSV_RENDERERS
    pagination_class = None

    def get_scoped_queryset(self) -> Any:
        return customer_selectors.customer_list(self.account)

    @extend_schema(responses=CSV_RESPONSE, filters=True)
    def list(self, request: Request) -> StreamingHttpResponse:
        queryset = self.filter_queryset(self.get_queryset())
        statement, params = exports.customers_copy_sql(queryset)
        return _csv_response(exports.stream(self.account.pk, statement, params), "customers.csv")


class LeadExportViewSet(TenantGenericViewSet):
    """The lead list as CSV: the same filters and ordering as `GET /leads/`."""

    model = Lead
    filterset_class = LeadFilter
    filter_backends = [DjangoFilterBackend, LeadOrdering]
    ordering_fields = LEAD_ORDERING_FIELDS
    ordering = ["-created_at"]
    renderer_classes = CSV_RENDERERS
    pagination_class = None

    def get_scoped_queryset(self) -> Any:
        return lead_selectors.lead_list(self.account)

    @extend_schema(responses=CSV_RESPONSE, filters=True)
    def list(self, request: Request) -> StreamingHttpResponse:
        queryset = self.filter_queryset(self.get_queryset())
        statement, params = exports.leads_copy_sql(queryset)
        return _csv_response(exports.stream(self.account.pk, statement, params), "leads.csv")


class OrderExportViewSet(TenantGenericViewSet):
    """The order list as CSV, one line per item: the filters of `GET /orders/`."""

    model = Order
    filterset_class = OrderFilter
    filter_backends = [DjangoFilterBackend]
    renderer_classes = CSV_RENDERERS
    pagination_class = None

    def get_scoped_queryset(self) -> Any:
        return Order.objects.filter(account=self.account).order_by("-ordered_at", "-id")

    @extend_schema(responses=CSV_RESPONSE, filters=True)
    def list(self, request: Request) -> StreamingHttpResponse:
        queryset = self.filter_queryset(self.get_queryset())
        statement, params = exports.orders_copy_sql(queryset, OrderItem._meta.db_table)
        return _csv_response(exports.stream(self.account.pk, statement, params), "orders.csv")
