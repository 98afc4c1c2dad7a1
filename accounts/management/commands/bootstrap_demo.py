"""What `make run` calls: the `demo` account, its admin user and an admin API key,
printed for the person who just started the product, and demo data (customers,
products, orders) the first time, so the back office shows a populated product. The
credentials are kept in var/demo-credentials.json (development data, never used in
production) so that a second start prints the same ones."""

import json
import secrets
from io import StringIO

from django.conf import settings
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.core.management.base import BaseCommand

from accounts import services
from accounts.models import Role
from accounts.selectors import account_by_slug_or_id
from crm_project.tenancy import account_scope, unscoped
from customers.models import Customer
from orders.models import Order

SLUG = "demo"
USERNAME = "admin"
# A small, deterministic dataset (seed_demo's fixed seed): enough to page, sort and
# search the client table, and to give customers timelines and health.
DEMO_DATA = {"customers": 300, "orders": 2000, "products": 60, "points_of_sale": 4, "seed": 1}


class Command(BaseCommand):
    help = "Make sure the demo account, its admin user and an admin API key exist."

    def handle(self, *args, **options):
        path = settings.VAR_DIR / "demo-credentials.json"
        saved = json.loads(path.read_text()) if path.exists() else {}
        with unscoped():
            account = account_by_slug_or_id(SLUG) or services.account_create(
                name="Demo", slug=SLUG, email="demo@example.com"
            )
        password = saved.get("password") or secrets.token_urlsafe(9)
        with account_scope(account):
            user = authenticate(username=USERNAME, password=password)
            if user is None:
                services.user_create(
                    username=USERNAME, password=password, account=account, role=Role.ADMIN
                )
            else:
                services.membership_set(account=account, user=user, role=Role.ADMIN)
            key = saved.get("api_key", "")
            if services.api_key_authenticate(raw_key=key) is None:
                _api_key, key = services.api_key_create(
                    account=account, role=Role.ADMIN, name="make run"
                )
        # Only into an account without customers: a second start (or an account someone
        # filled by hand) gets nothing more.
        with account_scope(account):
            empty = not Customer.objects.exists()
        if empty:
            call_command("seed_demo", account=account.slug, stdout=StringIO(), **DEMO_DATA)
        with account_scope(account):
            customers, orders = Customer.objects.count(), Order.objects.count()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"password": password, "api_key": key}))
        path.chmod(0o600)
        self.stdout.write(
            "\n".join(
                [
                    f"Demo account: demo ({customers} customers, {orders} orders)",
                    f"  Sign in:     username {USERNAME}  password {password}",
                    f"  Admin API key (Bearer): {key}",
                ]
            )
        )
