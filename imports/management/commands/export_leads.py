import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from accounts.selectors import account_by_slug_or_id
from crm_project.tenancy import account_scope
from imports import exports
from leads.selectors import lead_list


class Command(BaseCommand):
    help = (
        "Export an account's leads as CSV (the columns and escaping of GET "
        "/api/v1/leads/export/), streamed in constant memory, to --out or stdout."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--account", required=True, help="account slug or id")
        parser.add_argument("--out", help="the file to write (default: standard output)")

    def handle(self, *args: Any, **options: Any) -> None:
        account = account_by_slug_or_id(options["account"])
        if account is None:
            raise CommandError(f"No account {options['account']!r}.")
        with account_scope(account):
            queryset = lead_list(account).order_by("created_at", "id")
            statement, params = exports.leads_copy_sql(queryset)
        pieces = exports.stream(account.pk, statement, params)
        if options["out"]:
            with open(options["out"], "wb") as out:
                for piece in pieces:
                    out.write(piece)
        else:
            for piece in pieces:
                sys.stdout.buffer.write(piece)
            sys.stdout.flush()
