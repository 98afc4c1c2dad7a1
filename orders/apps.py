from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "orders"

    def ready(self) -> None:
        from crm_project import rollups
        from orders import timeline  # noqa: F401  (registers the orders' timeline entries)
        from orders.models import OrderDay

        rollups.register(OrderDay, group=["day"], sums=["orders", "revenue"])
