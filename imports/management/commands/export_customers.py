from typing import Any

from customers.selectors import customer_list
from imports import exports
from imports.management.commands._base import ExportCommand


class Command(ExportCommand):
    help = (
        "Export an account's customers as CSV (the columns and escaping of GET "
        "/api/v1/customers/export/), streamed in constant memory, to --out or stdout."
    )

    def copy_sql(self, account: Any) -> tuple[str, list[Any]]:
        return exports.customers_copy_sql(customer_list(account).order_by("number"))
