"""Customers and orders in the Django admin: staff see their own account only, and
writes through the admin keep the spend aggregates exact (orders go through
orders.services; a customer save never writes the aggregates)."""

from datetime import timedelta
from decimal import Decimal
from html.parser import HTMLParser

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import Role
from crm_project.tenancy import account_scope
from customers.models import Customer
from orders import services as order_services
from orders.models import Order
from tests.customers.conftest import place_order, stored
from tests.factories import CustomerFactory, MembershipFactory, ProductFactory

CUSTOMERS = "/admin/customers/customer/"
ORDERS = "/admin/orders/order/"


def signed_in(user):
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def staff(user):
    """An admin of `account` with staff access (tests.conftest's `user`)."""
    return signed_in(user)


class _FormReader(HTMLParser):
    """The fields a browser would send for the page's main form (`id=<model>_form`):
    inputs, checked boxes, selected options and textareas."""

    def __init__(self, form_id):
        super().__init__()
        self.form_id, self.inside, self.data = form_id, False, {}
        self._select = self._textarea = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.inside = attrs.get("id") == self.form_id
        if not self.inside or "__prefix__" in (attrs.get("name") or ""):
            return
        name = attrs.get("name")
        if tag == "input" and name and attrs.get("type") not in ("submit", "button", "file"):
            if attrs.get("type") in ("checkbox", "radio"):
                if "checked" in attrs:
                    self.data[name] = attrs.get("value", "on")
            else:
                self.data[name] = attrs.get("value") or ""
        elif tag == "select" and name:
            self._select = name
            self.data.setdefault(name, "")
        elif tag == "option" and self._select and "selected" in attrs:
            self.data[self._select] = attrs.get("value", "")
        elif tag == "textarea" and name:
            self._textarea = name
            self.data[name] = ""

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None
        elif tag == "form":
            self.inside = False

    def handle_data(self, data):
        if self._textarea:
            self.data[self._textarea] += (
                data.lstrip("\n") if not self.data[self._textarea] else data
            )


def form_data(client, url, form_id):
    response = client.get(url)
    assert response.status_code == 200, url
    reader = _FormReader(form_id)
    reader.feed(response.content.decode())
    data = reader.data
    data.pop("csrfmiddlewaretoken", None)
    return data


def change_url(base, obj):
    return f"{base}{obj.pk}/change/"


# --- Customers --------------------------------------------------------------------------


def test_staff_see_only_their_accounts_customers(staff, account, other_account):
    CustomerFactory(account=account, first_name="Ada", last_name="Acmeson")
    stranger = CustomerFactory(account=other_account, first_name="Gus", last_name="Globexson")

    html = staff.get(CUSTOMERS).content.decode()

    assert "Ada Acmeson" in html
    assert "Globexson" not in html
    response = staff.get(change_url(CUSTOMERS, stranger), follow=True)
    assert "Globexson" not in response.content.decode()
    assert response.redirect_chain  # "doesn't exist", back to the admin's index


def test_the_customer_list_counts_the_accounts_customers_without_counting_rows(
    staff, account, other_account
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    CustomerFactory.create_batch(2, account=account)
    CustomerFactory.create_batch(3, account=other_account)

    with CaptureQueriesContext(connection) as queries:
        html = staff.get(CUSTOMERS).content.decode()

    assert "2 customers" in html
    assert not [q for q in queries.captured_queries if q["sql"].startswith("SELECT COUNT(")]


def test_the_admin_search_is_the_apis_indexed_search(staff, account):
    CustomerFactory(account=account, first_name="Ada", last_name="Lovelace", phone="+33611112222")
    CustomerFactory(account=account, first_name="Alan", last_name="Turing")

    by_phone = staff.get(CUSTOMERS, {"q": "11 11 22"}).content.decode()
    by_name = staff.get(CUSTOMERS, {"q": "ada lov"}).content.decode()

    assert "Ada Lovelace" in by_phone
    assert "Turing" not in by_phone
    assert "Ada Lovelace" in by_name


def test_the_aggregates_are_shown_read_only(staff, account):
    customer = CustomerFactory(account=account)
    place_order(account, customer, "42.00")

    data = form_data(staff, change_url(CUSTOMERS, customer), "customer_form")
    html = staff.get(change_url(CUSTOMERS, customer)).content.decode()

    for name in ("lifetime_spend", "total_orders", "last_order_date", "number"):
        assert name not in data
    assert "42.00" in html


def test_a_customer_saved_in_the_admin_keeps_the_aggregates_orders_wrote_meanwhile(staff, account):
    customer = CustomerFactory(account=account, first_name="Ada", last_name="Lovelace")
    place_order(account, customer, "10.00")
    data = form_data(staff, change_url(CUSTOMERS, customer), "customer_form")
    place_order(account, customer, "90.00")  # while the form is open

    data.update(last_name="King", _save="Save")
    response = staff.post(change_url(CUSTOMERS, customer), data)

    assert response.status_code == 302, response.content.decode()[:2000]
    saved = stored(account, customer)
    assert saved.last_name == "King"
    assert saved.lifetime_spend == Decimal("100.00")
    assert saved.total_orders == 2


def test_a_customer_added_in_the_admin_gets_a_number_and_an_e164_phone(staff, account):
    data = form_data(staff, f"{CUSTOMERS}add/", "customer_form")
    data.update(first_name="Grace", last_name="Hopper", phone="(202) 555-0143", _save="Save")

    response = staff.post(f"{CUSTOMERS}add/", data)

    assert response.status_code == 302, response.content.decode()[:3000]
    with account_scope(account):
        grace = Customer.objects.get(last_name="Hopper")
    assert grace.phone == "+12025550143"
    assert grace.number >= 1
    assert grace.lifetime_spend == Decimal("0.00")


def test_a_duplicate_email_is_a_form_error(staff, account):
    CustomerFactory(account=account, email="ada@example.com")
    data = form_data(staff, f"{CUSTOMERS}add/", "customer_form")
    data.update(first_name="Ada", email="ADA@example.com", _save="Save")

    response = staff.post(f"{CUSTOMERS}add/", data)

    assert response.status_code == 200
    assert "errornote" in response.content.decode()
    with account_scope(account):
        assert Customer.objects.count() == 1


def test_a_customer_with_orders_cannot_be_deleted(staff, account):
    customer = CustomerFactory(account=account)
    place_order(account, customer, "5.00")
    staff.post(f"{change_url(CUSTOMERS, customer)[:-7]}delete/", {"post": "yes"})
    with account_scope(account):
        assert Customer.objects.filter(pk=customer.pk).exists()


# --- Orders -------------------------------------------------------------------------------


@pytest.fixture
def customer(account):
    return CustomerFactory(account=account, first_name="Ada", last_name="Lovelace")


@pytest.fixture
def shirt(account):
    return ProductFactory(account=account, sku="TS-1", name="T-shirt", price=Decimal("19.99"))


def order_form(client, url, **fields):
    data = form_data(client, url, "order_form")
    data.update({"_save": "Save", **{k: str(v) for k, v in fields.items()}})
    return data


def new_order_form(client, customer, **fields):
    now = timezone.localtime()
    return order_form(
        client,
        f"{ORDERS}add/",
        customer=customer.pk,
        ordered_at_0=now.date().isoformat(),
        ordered_at_1=now.strftime("%H:%M:%S"),
        **fields,
    )


def test_staff_see_only_their_accounts_orders(staff, account, other_account, customer):
    mine = place_order(account, customer, "12.34")
    stranger = CustomerFactory(account=other_account, first_name="Gus", last_name="Globexson")
    theirs = place_order(other_account, stranger, "56.78")

    html = staff.get(ORDERS).content.decode()

    assert f"Order #{mine.number}" in html
    assert "56.78" not in html
    assert "Globexson" not in staff.get(change_url(ORDERS, theirs), follow=True).content.decode()


def test_an_order_added_in_the_admin_updates_the_customers_spend(staff, account, customer, shirt):
    data = new_order_form(staff, customer, **{"amount": ""})
    data.update(
        {
            "items-TOTAL_FORMS": "2",
            "items-0-product": str(shirt.pk),
            "items-0-quantity": "2",
            "items-1-name": "Gift wrap",
            "items-1-quantity": "1",
            "items-1-unit_price": "3.50",
            "items-1-discount_percent": "0",
        }
    )

    response = staff.post(f"{ORDERS}add/", data)

    assert response.status_code == 302, response.content.decode()[:3000]
    with account_scope(account):
        order = Order.objects.get(customer=customer)
        items = list(order.items.order_by("position"))
    assert order.amount == Decimal("43.48")  # 2 x 19.99 + 3.50
    assert [(i.sku, i.name, i.line_total) for i in items] == [
        ("TS-1", "T-shirt", Decimal("39.98")),
        ("", "Gift wrap", Decimal("3.50")),
    ]
    saved = stored(account, customer)
    assert saved.lifetime_spend == Decimal("43.48")
    assert saved.total_orders == 1


def test_an_order_without_items_needs_an_amount(staff, account, customer):
    response = staff.post(f"{ORDERS}add/", new_order_form(staff, customer, amount=""))
    assert response.status_code == 200
    assert "An order without items needs an amount." in response.content.decode()
    with account_scope(account):
        assert not Order.objects.exists()


def test_an_order_without_items_takes_its_amount(staff, account, customer):
    response = staff.post(f"{ORDERS}add/", new_order_form(staff, customer, amount="25.10"))
    assert response.status_code == 302
    assert stored(account, customer).lifetime_spend == Decimal("25.10")


def test_changing_an_orders_items_in_the_admin_updates_the_spend(staff, account, customer, shirt):
    with account_scope(account):
        order = order_services.order_create(
            account=account, customer=customer, items=[{"product": shirt, "quantity": 1}]
        )
    assert stored(account, customer).lifetime_spend == Decimal("19.99")

    data = order_form(staff, change_url(ORDERS, order))
    data["items-0-quantity"] = "3"
    response = staff.post(change_url(ORDERS, order), data)

    assert response.status_code == 302, response.content.decode()[:3000]
    saved = stored(account, customer)
    assert saved.lifetime_spend == Decimal("59.97")
    assert saved.average_order_value == Decimal("59.97")


def test_removing_a_line_in_the_admin_reprices_the_order(staff, account, customer, shirt):
    with account_scope(account):
        order = order_services.order_create(
            account=account,
            customer=customer,
            items=[
                {"product": shirt, "quantity": 1},
                {"name": "Wrap", "unit_price": 5, "quantity": 1},
            ],
        )
    assert stored(account, customer).lifetime_spend == Decimal("24.99")

    data = order_form(staff, change_url(ORDERS, order))
    data["items-1-DELETE"] = "on"
    assert staff.post(change_url(ORDERS, order), data).status_code == 302

    with account_scope(account):
        assert [i.name for i in Order.objects.get(pk=order.pk).items.all()] == ["T-shirt"]
    assert stored(account, customer).lifetime_spend == Decimal("19.99")


def test_removing_every_line_keeps_the_amount_given(staff, account, customer, shirt):
    with account_scope(account):
        order = order_services.order_create(
            account=account, customer=customer, items=[{"product": shirt, "quantity": 1}]
        )
    data = order_form(staff, change_url(ORDERS, order), amount="12.00")
    data["items-0-DELETE"] = "on"

    assert staff.post(change_url(ORDERS, order), data).status_code == 302

    with account_scope(account):
        order = Order.objects.get(pk=order.pk)
        assert not order.items.exists()
    assert order.amount == Decimal("12.00")
    assert stored(account, customer).lifetime_spend == Decimal("12.00")


def test_an_order_changed_without_touching_items_keeps_them(staff, account, customer, shirt):
    with account_scope(account):
        order = order_services.order_create(
            account=account, customer=customer, items=[{"product": shirt, "quantity": 2}]
        )
    data = order_form(staff, change_url(ORDERS, order), notes="Gift")
    assert staff.post(change_url(ORDERS, order), data).status_code == 302
    with account_scope(account):
        order = Order.objects.get(pk=order.pk)
        assert order.items.count() == 1
    assert (order.notes, order.amount) == ("Gift", Decimal("39.98"))


def test_moving_an_order_to_another_customer_moves_the_spend(staff, account, customer):
    order = place_order(account, customer, "30.00")
    other = CustomerFactory(account=account, first_name="Alan")
    data = order_form(staff, change_url(ORDERS, order), customer=other.pk)

    assert staff.post(change_url(ORDERS, order), data).status_code == 302

    assert stored(account, customer).lifetime_spend == Decimal("0.00")
    assert stored(account, other).lifetime_spend == Decimal("30.00")


def test_cancelling_an_order_in_the_admin_stops_it_counting(staff, account, customer):
    place_order(account, customer, "30.00")
    order = place_order(account, customer, "70.00")

    data = order_form(staff, change_url(ORDERS, order), status="cancelled")
    assert staff.post(change_url(ORDERS, order), data).status_code == 302

    saved = stored(account, customer)
    assert (saved.lifetime_spend, saved.total_orders) == (Decimal("30.00"), 1)


def test_the_refund_action_stops_orders_counting(staff, account, customer):
    order = place_order(account, customer, "70.00")
    response = staff.post(ORDERS, {"action": "refund_orders", "_selected_action": [str(order.pk)]})
    assert response.status_code == 302
    assert stored(account, customer).lifetime_spend == Decimal("0.00")


def test_deleting_an_order_in_the_admin_updates_the_spend(staff, account, customer):
    place_order(account, customer, "30.00", ordered_at=timezone.now() - timedelta(days=9))
    order = place_order(account, customer, "70.00")

    response = staff.post(f"{ORDERS}{order.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    saved = stored(account, customer)
    assert (saved.lifetime_spend, saved.total_orders) == (Decimal("30.00"), 1)
    assert saved.last_order_date < timezone.now() - timedelta(days=8)


def test_a_product_of_another_account_is_refused_in_an_order_line(
    staff, account, other_account, customer
):
    foreign = ProductFactory(account=other_account, sku="X-1", price=Decimal("1.00"))
    data = new_order_form(staff, customer, amount="")
    data.update(
        {"items-TOTAL_FORMS": "1", "items-0-product": str(foreign.pk), "items-0-quantity": "1"}
    )

    response = staff.post(f"{ORDERS}add/", data)

    assert response.status_code == 200
    with account_scope(account):
        assert not Order.objects.exists()


def test_a_read_only_member_may_look_but_not_add_orders(account, customer):
    reader = signed_in(MembershipFactory(account=account, role=Role.READ_ONLY).user)
    assert reader.get(ORDERS).status_code == 200
    assert reader.get(f"{ORDERS}add/").status_code == 403
