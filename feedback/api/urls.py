from django.urls import path

from feedback.api import views

feedback_list = views.FeedbackViewSet.as_view({"get": "list"})
feedback_detail = views.FeedbackViewSet.as_view({"get": "retrieve", "post": "answer"})

urlpatterns = [
    path(
        "customers/<str:customer_pk>/feedback/request/",
        views.FeedbackRequestView.as_view(),
        name="feedback-request",
    ),
    path("feedback/", feedback_list, name="feedback-list"),
    path(
        "feedback/process-reminders/",
        views.FeedbackRemindersView.as_view(),
        name="feedback-process-reminders",
    ),
    path("feedback/analytics/", views.FeedbackAnalyticsView.as_view(), name="feedback-analytics"),
    path("feedback/themes/", views.FeedbackThemesView.as_view(), name="feedback-themes"),
    path("feedback/dashboard/", views.FeedbackDashboardView.as_view(), name="feedback-dashboard"),
    path("feedback/<uuid:pk>/", feedback_detail, name="feedback-detail"),
]
