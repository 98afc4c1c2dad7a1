"""/api/v1/orders/: pricing, references, seed forms, validation, filters and paths."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from crm_project.tenancy import account_scope
from orders.models import Order
from tests.factories import CustomerFactory
from tests.orders.conftest import (
    ORDERS,
    amounts_of,
    errors_by_attr,
    order_url,
    post_order,
    stored_order,
)

pytestmark = pytest.mark.django_db


# --- Pricing --------------------------------------------------------------------------


def test_line_total_is_rounded_half_up_after_the_discount(api_client, customer, account):
    body = post_order(
        api_client,
        customer,
        items=[
            {
                "sku": "X",
                "name": "Thing",
                "unit_price": "19.99",
                "quantity": 3,
                "discount_percent": 15,
            }
        ],
    )
    # 3 x 19.99 = 59.97; x 0.85 = 50.9745 -> 50.97
    assert body["items"][0]["line_total"] == "50.97"
    assert body["amount"] == "50.97"
    order = stored_order(account, body["id"])
    assert order.amount == Decimal("50.97")
    assert order.stored_items[0].line_total == Decimal("50.97")


@pytest.mark.parametrize(
    ("unit_price", "quantity", "discount", "expected"),
    [
        ("0.25", 1, "50", "0.13"),  # 0.125: half-up, not half-even
        ("5.35", 1, "50", "2.68"),  # 2.675: a float would give 2.67
        ("0.10", 3, "0", "0.30"),  # 0.1 x 3 is not 0.30000000000000004 here
        ("33.33", 7, "33.33", "155.55"),  # 233.31 x 0.6667 = 155.547777
        ("1.15", 1, "10", "1.04"),  # 1.035: a float would give 1.03
    ],
)
def test_line_totals_use_decimal_half_up(
    api_client, customer, unit_price, quantity, discount, expected
):
    body = post_order(
        api_client,
        customer,
        items=[
            {
                "name": "x",
                "unit_price": unit_price,
                "quantity": quantity,
                "discount_percent": discount,
            }
        ],
    )
    assert body["items"][0]["line_total"] == expected


def test_amount_is_the_sum_of_the_line_totals(api_client, customer, shirt, mug):
    body = post_order(
        api_client,
        customer,
        items=[
            {"product": str(shirt.pk), "quantity": 2},
            {"sku": "MUG-1", "quantity": 3, "discount_percent": "10"},
        ],
    )
    # 2 x 19.99 = 39.98; 3 x 7.50 x 0.9 = 20.25
    assert [i["line_total"] for i in body["items"]] == ["39.98", "20.25"]
    assert body["amount"] == "60.23"


def test_a_given_amount_must_agree_with_the_items(api_client, customer, shirt, account):
    response = api_client.post(
        ORDERS,
        {
            "customer": str(customer.pk),
            "items": [{"product": str(shirt.pk), "quantity": 1}],
            "amount": "20.00",
        },
        format="json",
    )
    assert response.status_code == 400
    assert errors_by_attr(response) == {"amount": "amount_mismatch"}
    ok = post_order(
        api_client, customer, items=[{"product": str(shirt.pk), "quantity": 1}], amount=19.99
    )
    assert ok["amount"] == "19.99"
    assert amounts_of(account) == [Decimal("19.99")]


def test_amount_is_required_without_items(api_client, customer, account):
    response = api_client.post(ORDERS, {"customer": str(customer.pk)}, format="json")
    assert response.status_code == 400
    assert errors_by_attr(response) == {"amount": "required"}
    with account_scope(account):
        assert not Order.objects.exists()


def test_an_order_without_items_keeps_its_amount(api_client, customer):
    body = post_order(api_client, customer, amount=1200.5)
    assert body["amount"] == "1200.50"
    assert body["items"] == []


# --- Products on lines ----------------------------------------------------------------


def test_a_line_naming_a_product_takes_its_name_brand_sku_and_price(api_client, customer, shirt):
    body = post_order(api_client, customer, items=[{"product": str(shirt.pk), "quantity": 1}])
    line = body["items"][0]
    assert line == {
        "product": str(shirt.pk),
        "sku": "TS-1",
        "name": "T-shirt",
        "brand": "Acme",
        "quantity": 1,
        "unit_price": "19.99",
        "discount_percent": "0.00",
        "line_total": "19.99",
    }


def test_given_values_override_the_products(api_client, customer, shirt):
    body = post_order(
        api_client,
        customer,
        items=[
            {
                "product_id": str(shirt.pk),
                "quantity": 2,
                "unit_price": "15.00",
                "name": "Promo shirt",
                "brand": "Other",
            }
        ],
    )
    line = body["items"][0]
    assert (line["name"], line["brand"], line["unit_price"], line["line_total"]) == (
        "Promo shirt",
        "Other",
        "15.00",
        "30.00",
    )


def test_a_sku_of_a_known_product_links_the_product(api_client, customer, shirt):
    body = post_order(api_client, customer, items=[{"sku": "TS-1", "quantity": 1}])
    assert body["items"][0]["product"] == str(shirt.pk)
    assert body["items"][0]["unit_price"] == "19.99"


def test_an_unknown_sku_is_a_free_text_line(api_client, customer):
    body = post_order(
        api_client,
        customer,
        items=[{"sku": "NEW-9", "name": "Gift card", "unit_price": 25, "quantity": 2}],
    )
    line = body["items"][0]
    assert (line["product"], line["sku"], line["name"], line["line_total"]) == (
        None,
        "NEW-9",
        "Gift card",
        "50.00",
    )


def test_a_free_text_line_needs_a_name_and_a_price(api_client, customer, account):
    response = api_client.post(
        ORDERS,
        {"customer": str(customer.pk), "items": [{"sku": "NEW-9", "quantity": 1}]},
        format="json",
    )
    assert response.status_code == 400
    assert errors_by_attr(response) == {
        "items.0.name": "required",
        "items.0.unit_price": "required",
    }
    assert amounts_of(account) == []


def test_seed_004_one_product_order(api_client, customer, shirt, account):
    response = api_client.post(
        ORDERS,
        {
            "customer_id": str(customer.pk),
            "product_id": str(shirt.pk),
            "quantity": 2,
            "status": "pending",
            "order_date": "2024-01-15T10:00:00Z",
            "shipping_address": "123 Main St",
            "billing_address": "123 Main St",
            "notes": "Rush delivery",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["amount"] == "39.98"
    assert body["status"] == "pending"
    assert body["ordered_at"] == "2024-01-15T10:00:00Z"
    assert body["customer"] == str(customer.pk)
    order = stored_order(account, body["id"])
    assert [(i.product_id, i.quantity, i.line_total) for i in order.stored_items] == [
        (shirt.pk, 2, Decimal("39.98"))
    ]
    assert order.shipping_address == "123 Main St"


def test_seed_000_camel_case_and_upper_case_choices(api_client, customer, account):
    response = api_client.post(
        ORDERS,
        {
            "customerId": customer.number,
            "amount": 1200,
            "status": "COMPLETED",
            "channel": "e-commerce",
            "paymentMethod": "CASH",
            "orderDate": "2025-09-15",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["customer"], body["status"], body["channel"], body["payment_method"]) == (
        str(customer.pk),
        "completed",
        "ecommerce",
        "cash",
    )
    assert body["ordered_at"] == "2025-09-15T00:00:00Z"
    order = stored_order(account, body["id"])
    assert (order.customer_id, order.status, order.channel, order.payment_method) == (
        customer.pk,
        "completed",
        "ecommerce",
        "cash",
    )
    assert (order.amount, order.ordered_at) == (Decimal(1200), datetime(2025, 9, 15, tzinfo=UTC))


def test_an_order_date_without_offset_is_in_the_account_timezone(api_client, customer, account):
    account.timezone = "Europe/Paris"
    account.save()
    body = post_order(api_client, customer, ordered_at="2024-07-01 10:00:00")
    assert body["ordered_at"] == "2024-07-01T08:00:00Z"


@pytest.mark.parametrize(
    ("timezone", "ordered_at"),
    [
        ("America/New_York", "9999-12-31T23:30:00"),  # year 10000 in UTC
        ("Pacific/Auckland", "0001-01-01"),  # year 0 in UTC
        ("UTC", "0001-01-01T00:00:00+00:01"),
    ],
)
def test_an_order_date_out_of_range_once_its_zone_applies_is_a_400(
    api_client, customer, account, timezone, ordered_at
):
    account.timezone = timezone
    account.save()
    response = api_client.post(
        ORDERS, {"customer": str(customer.pk), "amount": "1", "ordered_at": ordered_at}
    )
    assert errors_by_attr(response) == {"ordered_at": "out_of_range"}
    with account_scope(account):
        assert not Order.objects.exists()
    assert api_client.get(ORDERS).status_code == 200
    assert api_client.get(f"/api/v1/customers/{customer.pk}/").status_code == 200


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("ordered_before=9999-12-31", 200),  # the whole last day: no upper bound
        ("ordered_after=0001-01-01T00:00:00%2B00:01", 400),
        ("ordered_before=12-31-9999 23:00:00", 200),
    ],
)
def test_order_date_filters_at_the_edges_never_answer_500(api_client, customer, query, status):
    post_order(api_client, customer)
    response = api_client.get(f"{ORDERS}?{query}")
    assert response.status_code == status, response.json()
    if status == 200:
        assert response.json()["count"] == 1


def test_ordered_before_a_date_ends_at_local_midnight_across_a_dst_change(
    api_client, customer, account
):
    """Paris leaves summer time on 2024-10-27: that day lasts 25 hours, and an order at
    23:30 that evening is still on it."""
    account.timezone = "Europe/Paris"
    account.save()
    post_order(api_client, customer, ordered_at="2024-10-27T23:30:00")
    assert api_client.get(f"{ORDERS}?ordered_before=2024-10-27").json()["count"] == 1
    assert api_client.get(f"{ORDERS}?ordered_before=2024-10-26").json()["count"] == 0


def test_ordered_at_defaults_to_now(api_client, customer):
    before = datetime.now(UTC)
    body = post_order(api_client, customer)
    assert datetime.fromisoformat(body["ordered_at"]) >= before.replace(microsecond=0)


# --- Naming the customer and the point of sale ----------------------------------------


def test_customer_by_external_id(api_client, customer):
    body = post_order(api_client, customer, customer=None, customer_external_id="CRM-1")
    assert body["customer"] == str(customer.pk)


def test_customer_by_email_ignores_case(api_client, customer):
    response = api_client.post(
        ORDERS, {"customerEmail": "ANN@example.com", "amount": "5"}, format="json"
    )
    assert response.status_code == 201, response.json()
    assert response.json()["customer"] == str(customer.pk)


def test_customer_by_number(api_client, customer):
    body = post_order(api_client, customer, customer=str(customer.number))
    assert body["customer"] == str(customer.pk)


@pytest.mark.parametrize(
    ("payload", "attr"),
    [
        ({}, "customer"),
        ({"customer": "not-an-id"}, "customer"),
        ({"customer": "00000000-0000-0000-0000-000000000000"}, "customer"),
        ({"customer_external_id": "nope"}, "customer_external_id"),
        ({"customer_email": "nobody@example.com"}, "customer_email"),
    ],
)
def test_an_unknown_customer_is_a_400_naming_the_field(api_client, account, payload, attr):
    response = api_client.post(ORDERS, {"amount": "1", **payload}, format="json")
    assert response.status_code == 400
    assert list(errors_by_attr(response)) == [attr]
    assert amounts_of(account) == []


def test_pos_by_id_or_code(api_client, customer, store):
    by_code = post_order(api_client, customer, pos="PAR1")
    by_id = post_order(api_client, customer, pos=str(store.pk))
    assert by_code["pos"] == by_id["pos"] == str(store.pk)


def test_an_unknown_pos_is_a_400(api_client, customer, account):
    response = api_client.post(
        ORDERS, {"customer": str(customer.pk), "amount": 1, "pos": "NOPE"}, format="json"
    )
    assert response.status_code == 400
    assert errors_by_attr(response) == {"pos": "does_not_exist"}
    assert amounts_of(account) == []


# --- Bad input ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("item", "attr", "code"),
    [
        ({"quantity": 0}, "items.2.quantity", "min_value"),
        ({"quantity": -3}, "items.2.quantity", "min_value"),
        ({"quantity": "two"}, "items.2.quantity", "invalid"),
        ({"quantity": 1.5}, "items.2.quantity", "invalid"),
        ({"discount_percent": 101}, "items.2.discount_percent", "max_value"),
        ({"discount_percent": -1}, "items.2.discount_percent", "min_value"),
        ({"unit_price": "abc"}, "items.2.unit_price", "invalid"),
        ({"unit_price": "-1"}, "items.2.unit_price", "min_value"),
        ({"product": "00000000-0000-0000-0000-000000000000"}, "items.2.product", "does_not_exist"),
        ({"product": "TS-1"}, "items.2.product", "invalid"),
        ({"product": None, "sku": "TS-2"}, "items.2.name", "required"),
    ],
)
def test_a_bad_line_is_a_400_with_its_index(api_client, customer, shirt, account, item, attr, code):
    good = {"product": str(shirt.pk), "quantity": 1}
    bad = {**good, **item}
    response = api_client.post(
        ORDERS, {"customer": str(customer.pk), "items": [good, good, bad]}, format="json"
    )
    assert response.status_code == 400, response.json()
    assert errors_by_attr(response)[attr] == code
    with account_scope(account):
        assert not Order.objects.exists()


def test_a_sku_that_contradicts_the_product_is_a_400(api_client, customer, shirt):
    response = api_client.post(
        ORDERS,
        {
            "customer": str(customer.pk),
            "items": [{"product": str(shirt.pk), "sku": "OTHER", "quantity": 1}],
        },
        format="json",
    )
    assert errors_by_attr(response) == {"items.0.sku": "sku_mismatch"}


@pytest.mark.parametrize(
    ("payload", "attr"),
    [
        ({"amount": "lots"}, "amount"),
        ({"amount": -5}, "amount"),
        ({"amount": None}, "amount"),
        ({"status": "teleported"}, "status"),
        ({"channel": 12}, "channel"),
        ({"ordered_at": "yesterday"}, "ordered_at"),
        ({"currency": "EURO"}, "currency"),
        ({"items": "many"}, "items"),
        ({"items": []}, "items"),
        ({"items": [5]}, "items.0.non_field_errors"),
        ({"items": [{"sku": "TS-1"}]}, "items.0.quantity"),
    ],
)
def test_wrong_types_are_400s_naming_the_field(api_client, customer, shirt, account, payload, attr):
    response = api_client.post(
        ORDERS, {"customer": str(customer.pk), "amount": 1, **payload}, format="json"
    )
    assert response.status_code == 400, response.json()
    assert attr in errors_by_attr(response)
    assert amounts_of(account) == []


def test_items_and_a_single_product_together_are_a_400(api_client, customer, shirt, account):
    response = api_client.post(
        ORDERS,
        {
            "customer": str(customer.pk),
            "product": str(shirt.pk),
            "quantity": 1,
            "items": [{"product": str(shirt.pk), "quantity": 1}],
        },
        format="json",
    )
    assert errors_by_attr(response) == {"product": "items_and_product"}
    assert amounts_of(account) == []


def test_an_amount_too_large_for_the_column_is_a_400(api_client, customer, account):
    response = api_client.post(
        ORDERS,
        {
            "customer": str(customer.pk),
            "items": [{"name": "x", "unit_price": "9999999999.99", "quantity": 1000000}],
        },
        format="json",
    )
    assert response.status_code == 400
    assert "items.0.quantity" in errors_by_attr(response)
    assert amounts_of(account) == []


def test_external_id_is_unique_per_account(api_client, customer):
    post_order(api_client, customer, external_id="ORD-1")
    response = api_client.post(
        ORDERS, {"customer": str(customer.pk), "amount": 1, "external_id": "ORD-1"}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["errors"][0]["code"] == "duplicate_external_id"


# --- Reading, paths, updates ----------------------------------------------------------


def test_an_order_is_found_by_uuid_or_number(api_client, customer):
    body = post_order(api_client, customer)
    assert api_client.get(order_url(body["id"])).json()["id"] == body["id"]
    assert api_client.get(order_url(body["number"])).json()["id"] == body["id"]
    assert api_client.get(order_url("nonsense")).status_code == 404
    assert api_client.get(order_url(999999)).status_code == 404


def test_numbers_follow_the_account_sequence(api_client, customer):
    first = post_order(api_client, customer)
    second = post_order(api_client, customer)
    assert second["number"] == first["number"] + 1


def test_put_is_partial_like_seed_000(api_client, customer, account):
    body = post_order(api_client, customer, status="pending", notes="keep me")
    response = api_client.put(
        order_url(body["number"]), {"amount": 1200, "status": "COMPLETED"}, format="json"
    )
    assert response.status_code == 200, response.json()
    order = stored_order(account, body["id"])
    assert (order.amount, order.status, order.notes) == (Decimal("1200.00"), "completed", "keep me")


def test_sending_items_replaces_them_and_recomputes_the_amount(
    api_client, customer, shirt, mug, account
):
    body = post_order(api_client, customer, items=[{"product": str(shirt.pk), "quantity": 1}])
    response = api_client.patch(
        order_url(body["id"]), {"items": [{"product": str(mug.pk), "quantity": 2}]}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert response.json()["amount"] == "15.00"
    order = stored_order(account, body["id"])
    assert [(i.sku, i.quantity) for i in order.stored_items] == [("MUG-1", 2)]
    assert order.amount == Decimal("15.00")


def test_an_order_with_items_keeps_the_amount_they_make(api_client, customer, shirt, account):
    body = post_order(api_client, customer, items=[{"product": str(shirt.pk), "quantity": 1}])
    response = api_client.patch(order_url(body["id"]), {"amount": "5.00"}, format="json")
    assert errors_by_attr(response) == {"amount": "amount_mismatch"}
    assert stored_order(account, body["id"]).amount == Decimal("19.99")
    ok = api_client.patch(order_url(body["id"]), {"amount": "19.99", "notes": "n"}, format="json")
    assert ok.status_code == 200
    order = stored_order(account, body["id"])
    assert (order.amount, order.notes) == (Decimal("19.99"), "n")


def test_a_failed_update_changes_nothing(api_client, customer, shirt, account):
    body = post_order(api_client, customer, items=[{"product": str(shirt.pk), "quantity": 1}])
    response = api_client.patch(
        order_url(body["id"]),
        {"notes": "changed", "items": [{"product": str(shirt.pk), "quantity": 0}]},
        format="json",
    )
    assert errors_by_attr(response) == {"items.0.quantity": "min_value"}
    order = stored_order(account, body["id"])
    assert order.notes == ""
    assert [i.quantity for i in order.stored_items] == [1]


def test_delete_answers_204_and_removes_the_order_with_its_items(
    api_client, customer, shirt, account
):
    body = post_order(api_client, customer, items=[{"product": str(shirt.pk), "quantity": 1}])
    assert api_client.delete(order_url(body["number"])).status_code == 204
    with account_scope(account):
        assert not Order.objects.exists()
    assert api_client.get(order_url(body["id"])).status_code == 404


def test_deleting_a_product_keeps_the_lines_text(api_client, customer, shirt, account):
    body = post_order(api_client, customer, items=[{"product": str(shirt.pk), "quantity": 1}])
    assert api_client.delete(f"/api/v1/products/{shirt.pk}/").status_code == 204
    line = api_client.get(order_url(body["id"])).json()["items"][0]
    assert (line["product"], line["sku"], line["name"]) == (None, "TS-1", "T-shirt")


# --- Filters and ordering -------------------------------------------------------------


@pytest.fixture
def three_orders(api_client, customer, other_customer, store):
    return [
        post_order(
            api_client,
            customer,
            amount="10",
            status="pending",
            channel="store",
            pos="PAR1",
            ordered_at="2024-01-10T12:00:00Z",
            external_id="A",
        ),
        post_order(
            api_client,
            customer,
            amount="50",
            status="completed",
            channel="ecommerce",
            payment_method="card",
            ordered_at="2024-02-10T12:00:00Z",
        ),
        post_order(
            api_client,
            other_customer,
            amount="30",
            status="cancelled",
            ordered_at="2024-03-10T12:00:00Z",
        ),
    ]


def numbers(response):
    assert response.status_code == 200, response.json()
    return [o["number"] for o in response.json()["results"]]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", [2, 1, 0]),
        ("status=PENDING", [0]),
        ("status=pending,cancelled", [2, 0]),
        ("channel=e-commerce", [1]),
        ("pos=PAR1", [0]),
        ("payment_method=card", [1]),
        ("ordered_after=2024-02-01", [2, 1]),
        ("ordered_before=2024-02-10", [1, 0]),
        ("ordered_before=2024-02-10T11:00:00Z", [0]),
        ("min_amount=20&max_amount=40", [2]),
        ("external_id=A", [0]),
        ("ordering=amount", [0, 2, 1]),
        ("ordering=-number", [2, 1, 0]),
        ("ordering=ordered_at", [0, 1, 2]),
    ],
)
def test_order_filters_and_ordering(api_client, three_orders, query, expected):
    response = api_client.get(f"{ORDERS}?{query}")
    assert numbers(response) == [three_orders[i]["number"] for i in expected]


def test_filter_by_customer_id_or_number(api_client, three_orders, customer, store):
    by_id = numbers(api_client.get(f"{ORDERS}?customer={customer.pk}"))
    by_number = numbers(api_client.get(f"{ORDERS}?customer={customer.number}"))
    assert by_id == by_number == [three_orders[1]["number"], three_orders[0]["number"]]
    assert numbers(api_client.get(f"{ORDERS}?pos={store.pk}")) == [three_orders[0]["number"]]


@pytest.mark.parametrize("query", ["status=teleported", "ordered_after=soon", "customer=x"])
def test_bad_filter_values_are_400s(api_client, query):
    response = api_client.get(f"{ORDERS}?{query}")
    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == query.split("=")[0]


def test_cursor_pagination_walks_every_order_once(api_client, customer):
    created = {
        post_order(api_client, customer, ordered_at=f"2024-01-{d:02d}")["id"] for d in range(1, 8)
    }
    seen, url = [], f"{ORDERS}?cursor=&page_size=3"
    while url:
        body = api_client.get(url).json()
        assert "count" not in body
        seen += [o["id"] for o in body["results"]]
        url = body["next"]
    assert len(seen) == 7
    assert set(seen) == created


def test_page_pagination_counts_exactly(api_client, customer):
    for _ in range(3):
        post_order(api_client, customer)
    body = api_client.get(f"{ORDERS}?page_size=2").json()
    assert body["count"] == 3
    assert len(body["results"]) == 2


def test_a_customer_of_the_account_is_enough_context(api_client, account):
    lone = CustomerFactory(account=account, email="", phone="+33612345678")
    body = post_order(api_client, lone)
    assert body["customer"] == str(lone.pk)
