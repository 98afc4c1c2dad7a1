"""Feedback's API: request feedback from a customer, record an answer, read requests
and answers, run the reminders, and read the analytics, themes and dashboard."""

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from crm_project.api.views import ScopedAPIView, TenantGenericViewSet
from customers import selectors as customer_selectors
from feedback import selectors, services
from feedback.api.serializers import (
    FeedbackAnalyticsSerializer,
    FeedbackAnswerSerializer,
    FeedbackDashboardSerializer,
    FeedbackRequestSerializer,
    FeedbackSerializer,
    FeedbackThemeSerializer,
    FeedbackThemesQuerySerializer,
    RemindersAnswerSerializer,
)
from feedback.filters import FeedbackFilter
from feedback.models import AnsweredVia, Feedback
from reports.api.serializers import ReportQuerySerializer


class FeedbackViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantGenericViewSet):
    """Feedback requests with their answers, newest request first. `POST
    /feedback/{id}/` records the request's one answer (201; a second is a 409
    `already_answered`)."""

    model = Feedback
    serializer_class = FeedbackSerializer
    filterset_class = FeedbackFilter
    ordering_fields = ["requested_at", "answered_at", "rating"]
    ordering = ["-requested_at", "-id"]

    def get_scoped_queryset(self) -> Any:
        return selectors.feedback_list(self.account)

    @extend_schema(request=FeedbackAnswerSerializer, responses={201: FeedbackSerializer})
    def answer(self, request: Request, pk: str) -> Response:
        """Record the answer: `rating` 1-5 (required), `comment`, `category`."""
        feedback = self.get_object()
        body = FeedbackAnswerSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        answered = services.feedback_answer(
            feedback=feedback, via=AnsweredVia.API, **body.validated_data
        )
        return Response(FeedbackSerializer(answered).data, status=status.HTTP_201_CREATED)


class FeedbackRequestView(ScopedAPIView):
    """`POST /customers/{id}/feedback/request/`: ask the customer (by id or number) for
    feedback. 202 with the request; its message goes out through the ledger (held
    while the account is paused). 400 `no_address` when the customer cannot be reached
    on the channel."""

    @extend_schema(request=FeedbackRequestSerializer, responses={202: FeedbackSerializer})
    def post(self, request: Request, customer_pk: str) -> Response:
        customer = customer_selectors.customer_by_ref(self.account, customer_pk)
        if customer is None:
            raise NotFound()
        body = FeedbackRequestSerializer(data=request.data or {})
        body.is_valid(raise_exception=True)
        feedback = services.feedback_request(
            account=self.account, customer=customer, **body.validated_data
        )
        return Response(FeedbackSerializer(feedback).data, status=status.HTTP_202_ACCEPTED)


class FeedbackRemindersView(ScopedAPIView):
    """`POST /feedback/process-reminders/` (beat runs it daily): remind the unanswered
    requests due (see feedback.services.feedback_reminders_process)."""

    @extend_schema(request=None, responses=RemindersAnswerSerializer)
    def post(self, request: Request) -> Response:
        done = services.feedback_reminders_process(account=self.account)
        return Response(RemindersAnswerSerializer(done).data)


class FeedbackWindowView(ScopedAPIView):
    """A read over the requests made within `date_from` / `date_to` (default all time;
    the reports' window)."""

    def window(self, request: Request) -> dict:
        query = ReportQuerySerializer(data=request.query_params, context={"account": self.account})
        query.is_valid(raise_exception=True)
        return query.validated_data


class FeedbackAnalyticsView(FeedbackWindowView):
    """`GET /feedback/analytics/`: response rate, ratings, CSAT, categories and the
    weekly trend of the window's requests."""

    @extend_schema(parameters=[ReportQuerySerializer], responses=FeedbackAnalyticsSerializer)
    def get(self, request: Request) -> Response:
        window = self.window(request)
        figures = selectors.feedback_analytics(
            self.account, start=window["start"], end=window["end"]
        )
        return Response(FeedbackAnalyticsSerializer(figures).data)


class FeedbackThemesView(ScopedAPIView):
    """`GET /feedback/themes/`: the recurring phrases of the comments, most mentioned
    first (`limit`, default 20; `min_mentions`, default 2)."""

    @extend_schema(
        parameters=[FeedbackThemesQuerySerializer], responses=FeedbackThemeSerializer(many=True)
    )
    def get(self, request: Request) -> Response:
        query = FeedbackThemesQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        themes = selectors.feedback_themes(self.account, **query.validated_data)
        return Response(FeedbackThemeSerializer(themes, many=True).data)


class FeedbackDashboardView(FeedbackWindowView):
    """`GET /feedback/dashboard/`: the analytics and the last 10 low ratings (2 or less)
    of the window, and the themes."""

    @extend_schema(parameters=[ReportQuerySerializer], responses=FeedbackDashboardSerializer)
    def get(self, request: Request) -> Response:
        window = self.window(request)
        figures = selectors.feedback_dashboard(
            self.account, start=window["start"], end=window["end"]
        )
        return Response(FeedbackDashboardSerializer(figures).data)
