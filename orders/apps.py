from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "orders"

    def ready(self) -> None:
        from orders import timeline  # noqa: F401  (registers the orders' timeline entries)
