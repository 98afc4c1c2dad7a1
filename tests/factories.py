"""factory-boy factories. Tenant rows are created inside their account's scope, as the
application itself would create them (the ORM and PostgreSQL's RLS both require it)."""

from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from accounts import services as account_services
from accounts.models import Account, Agent, Membership, Role
from crm_project.tenancy import account_scope
from customers import services as customer_services
from imports import services as import_services
from orders import services as order_services
from segments import services as segment_services
from segments.rules import validate_rule


class AccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Account

    name = factory.Sequence(lambda n: f"Account {n}")
    slug = factory.Sequence(lambda n: f"account-{n}")
    email = factory.LazyAttribute(lambda o: f"owner@{o.slug}.example")
    timezone = "UTC"


class TenantFactory(factory.django.DjangoModelFactory):
    """Creates the row inside `account_scope(account)`."""

    class Meta:
        abstract = True

    account = factory.SubFactory(AccountFactory)

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        with account_scope(kwargs["account"]):
            return super()._create(model_class, *args, **kwargs)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.com")
    password = factory.django.Password("correct horse battery")
    is_staff = True


class MembershipFactory(TenantFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    role = Role.MEMBER


class AgentFactory(TenantFactory):
    class Meta:
        model = Agent

    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.LazyAttribute(lambda o: f"{o.first_name}.{o.last_name}@agents.example".lower())
    external_id = factory.Sequence(lambda n: f"agent-{n}")


def make_api_key(account, role=Role.ADMIN, name="test"):
    """(ApiKey, secret) for `account`."""
    with account_scope(account):
        return account_services.api_key_create(account=account, role=role, name=name)


class CustomerFactory(TenantFactory):
    """A customer made by customers.services.customer_create, as the API makes one (its
    number from the account's sequence)."""

    class Meta:
        model = "customers.Customer"

    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.Sequence(lambda n: f"customer{n}@example.com")

    @classmethod
    def _create(cls, model_class, *args, account, **kwargs):
        with account_scope(account):
            return customer_services.customer_create(account=account, **kwargs)


class InteractionFactory(TenantFactory):
    """An interaction with a customer, made by customers.services.interaction_create."""

    class Meta:
        model = "customers.Interaction"

    customer = factory.SubFactory(CustomerFactory, account=factory.SelfAttribute("..account"))
    type = "call"
    subject = factory.Sequence(lambda n: f"Call {n}")
    date = factory.LazyFunction(timezone.now)

    @classmethod
    def _create(cls, model_class, *args, account, customer, **kwargs):
        with account_scope(account):
            return customer_services.interaction_create(
                account=account, customer=customer, **kwargs
            )


class ProductFactory(TenantFactory):
    class Meta:
        model = "orders.Product"

    sku = factory.Sequence(lambda n: f"SKU-{n:05d}")
    name = factory.Faker("word")
    brand = factory.Iterator(["Acme", "Globex", "Initech"])
    price = factory.Faker("pydecimal", left_digits=3, right_digits=2, positive=True)


class PointOfSaleFactory(TenantFactory):
    class Meta:
        model = "orders.PointOfSale"

    code = factory.Sequence(lambda n: f"POS{n:03d}")
    name = factory.LazyAttribute(lambda o: f"Store {o.code}")
    city = "Lyon"


class OrderFactory(TenantFactory):
    """An order made by orders.services.order_create, as the API makes one: its number
    from the account's sequence, its customer's spend aggregates refreshed. Give
    `items` (orders.services.ItemInput dicts) or an `amount`."""

    class Meta:
        model = "orders.Order"

    customer = factory.SubFactory(CustomerFactory, account=factory.SelfAttribute("..account"))
    amount = Decimal("10.00")
    status = "completed"
    ordered_at = factory.LazyFunction(timezone.now)

    @classmethod
    def _create(cls, model_class, *args, account, customer, items=None, **kwargs):
        if items:
            kwargs.pop("amount", None)
        with account_scope(account):
            return order_services.order_create(
                account=account, customer=customer, items=items, **kwargs
            )


class SegmentFactory(factory.django.DjangoModelFactory):
    """A segment made as the API makes one: its rule validated with the account
    (segments.rules), then created and counted by segments.services."""

    class Meta:
        model = "segments.Segment"

    account = factory.SubFactory(AccountFactory)
    name = factory.Sequence(lambda n: f"Segment {n}")
    rules = factory.LazyFunction(lambda: {"field": "city", "operator": "=", "value": "Lyon"})
    description = ""
    active = True

    @classmethod
    def _create(cls, model_class, *args, account, rules, **kwargs):
        with account_scope(account):
            rule = validate_rule(rules, account=account)
            return segment_services.segment_create(account=account, rules=rule, **kwargs)


class ImportJobFactory(factory.django.DjangoModelFactory):
    """An import job made as the API makes one (imports.services.import_job_create)
    from `content`, a CSV file's bytes: queued (not run: imports.jobs.import_job_run
    runs it), or failed at once when the file cannot be processed."""

    class Meta:
        model = "imports.ImportJob"

    account = factory.SubFactory(AccountFactory)
    kind = "customers"
    filename = "import.csv"
    content = b"email\r\nann@example.com\r\n"

    @classmethod
    def _create(cls, model_class, *args, account, content, **kwargs):
        with account_scope(account):
            return import_services.import_job_create(
                account=account, chunks=[content], enqueue=False, **kwargs
            )
