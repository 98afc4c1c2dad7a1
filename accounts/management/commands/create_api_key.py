from django.core.management.base import BaseCommand, CommandError

from accounts import services
from accounts.models import Role
from accounts.selectors import account_by_slug_or_id
from crm_project.tenancy import account_scope


class Command(BaseCommand):
    help = "Create an API key for an account; the key is the last line printed."

    def add_arguments(self, parser):
        parser.add_argument("--account", required=True, help="account slug or id")
        parser.add_argument("--role", required=True, choices=Role.values)
        parser.add_argument("--name", default="")

    def handle(self, *args, account, role, name, **options):
        found = account_by_slug_or_id(account)
        if found is None:
            raise CommandError(f"No account {account!r}.")
        with account_scope(found):
            api_key, raw = services.api_key_create(account=found, role=role, name=name)
        self.stdout.write(f"Created {role} key {api_key.prefix}… for {found.slug}:")
        self.stdout.write(raw)
