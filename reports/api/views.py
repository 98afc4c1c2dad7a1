from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from crm_project.api.views import ScopedAPIView
from customers import services as customer_services
from reports import selectors
from reports.api.serializers import (
    CustomerReportSerializer,
    DashboardSerializer,
    LeadReportSerializer,
    ReportQuerySerializer,
)


class ReportView(ScopedAPIView):
    """A read-only report over the caller's account within `date_from` / `date_to`
    (creation time; default all time). Any role reads it."""

    def window(self, request: Request) -> dict:
        query = ReportQuerySerializer(data=request.query_params, context={"account": self.account})
        query.is_valid(raise_exception=True)
        return query.validated_data


class LeadReportView(ReportView):
    serializer_class = LeadReportSerializer

    @extend_schema(parameters=[ReportQuerySerializer], responses=LeadReportSerializer)
    def get(self, request: Request) -> Response:
        window = self.window(request)
        figures = selectors.lead_report(self.account, start=window["start"], end=window["end"])
        return Response(LeadReportSerializer(figures).data)


class CustomerReportView(ReportView):
    serializer_class = CustomerReportSerializer

    @extend_schema(parameters=[ReportQuerySerializer], responses=CustomerReportSerializer)
    def get(self, request: Request) -> Response:
        """Customers created and counted orders placed within the window; lifecycle
        buckets as GET /customers/segments/ counts them."""
        window = self.window(request)
        figures = selectors.customer_report(
            self.account,
            start=window["start"],
            end=window["end"],
            thresholds=customer_services.health_thresholds_current(account=self.account),
        )
        return Response(CustomerReportSerializer(figures).data)


class DashboardView(ReportView):
    serializer_class = DashboardSerializer

    @extend_schema(parameters=[ReportQuerySerializer], responses=DashboardSerializer)
    def get(self, request: Request) -> Response:
        """The leads and customers reports, and the campaigns', feedback's and loyalty's
        summaries, over one window."""
        window = self.window(request)
        figures = selectors.analytics_dashboard(
            self.account,
            start=window["start"],
            end=window["end"],
            thresholds=customer_services.health_thresholds_current(account=self.account),
        )
        return Response(DashboardSerializer(figures).data)
