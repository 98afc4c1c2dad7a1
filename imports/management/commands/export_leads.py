from typing import Any

from imports import exports
from imports.management.commands._base import ExportCommand
from leads.selectors import lead_list


class Command(ExportCommand):
    help = (
        "Export an account's leads as CSV (the columns and escaping of GET "
        "/api/v1/leads/export/), streamed in constant memory, to --out or stdout."
    )

    def copy_sql(self, account: Any) -> tuple[str, list[Any]]:
        return exports.leads_copy_sql(lead_list(account).order_by("created_at", "id"))
