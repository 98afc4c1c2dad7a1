from django.core.management.base import BaseCommand, CommandError

from accounts import services
from accounts.models import Role
from accounts.selectors import account_by_slug_or_id
from crm_project.tenancy import account_scope


class Command(BaseCommand):
    help = "Create a back-office user (or update its password) with a role in an account."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--password", required=True)
        parser.add_argument("--account", required=True, help="account slug or id")
        parser.add_argument("--role", required=True, choices=Role.values)
        parser.add_argument("--email", default="")

    def handle(self, *args, username, password, account, role, email, **options):
        found = account_by_slug_or_id(account)
        if found is None:
            raise CommandError(f"No account {account!r}.")
        with account_scope(found):
            user = services.user_create(
                username=username, password=password, account=found, role=role, email=email
            )
        self.stdout.write(f"User {user.username} is {role} of {found.slug}.")
