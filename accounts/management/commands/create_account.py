from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.core.management.base import BaseCommand, CommandError

from accounts import services
from accounts.models import Role
from crm_project.errors import Conflict
from crm_project.tenancy import unscoped


class Command(BaseCommand):
    help = "Create an account with an admin API key; the key is the last line printed."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--name", required=True)
        parser.add_argument("--timezone", default="UTC")
        parser.add_argument("--email", default="")

    def handle(self, *args, slug, name, timezone, email, **options):
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise CommandError(f"Unknown time zone {timezone!r}.") from None
        with unscoped():
            try:
                account = services.account_create(
                    name=name, slug=slug, timezone=timezone, email=email
                )
            except Conflict as exc:
                raise CommandError(str(exc)) from None
            except Exception as exc:
                if hasattr(exc, "message_dict"):
                    raise CommandError(f"Invalid account: {exc.message_dict}") from None
                raise
            _key, raw = services.api_key_create(
                account=account, role=Role.ADMIN, name="created by create_account"
            )
        self.stdout.write(f"Created account {account.slug} ({account.pk}). Admin API key:")
        self.stdout.write(raw)
