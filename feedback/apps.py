from django.apps import AppConfig


class FeedbackConfig(AppConfig):
    name = "feedback"

    def ready(self) -> None:
        from feedback import timeline  # noqa: F401  (registers the feedback timeline entries)
