"""Tenancy and roles on every orders endpoint: another account's ids are 404 in paths
and 400 in bodies; read_only keys cannot write."""

import pytest

from crm_project.tenancy import account_scope
from orders.models import Order, PointOfSale, Product
from tests.orders.conftest import ORDERS, amounts_of, errors_by_attr, order_url, post_order

pytestmark = pytest.mark.django_db


@pytest.fixture
def order(api_client, customer, shirt):
    return post_order(api_client, customer, items=[{"product": str(shirt.pk), "quantity": 1}])


def detail_calls(order, shirt, store):
    return [
        ("get", order_url(order)),
        ("get", order_url(order["number"])),
        ("put", order_url(order)),
        ("patch", order_url(order["number"])),
        ("delete", order_url(order)),
        ("post", order_url(order, "cancel")),
        ("post", order_url(order, "refund")),
        ("post", order_url(order["number"], "complete")),
        ("get", f"/api/v1/products/{shirt.pk}/"),
        ("patch", f"/api/v1/products/{shirt.pk}/"),
        ("delete", f"/api/v1/products/{shirt.pk}/"),
        ("get", f"/api/v1/pos/{store.pk}/"),
        ("put", f"/api/v1/pos/{store.pk}/"),
        ("delete", f"/api/v1/pos/{store.pk}/"),
    ]


def test_another_account_gets_404_on_every_detail_endpoint(
    other_api_client, order, shirt, store, account
):
    for method, url in detail_calls(order, shirt, store):
        response = getattr(other_api_client, method)(url, {"notes": "x"}, format="json")
        assert response.status_code == 404, (method, url)
        assert response.json()["errors"][0]["code"] == "not_found"
    with account_scope(account):
        assert Order.objects.get(pk=order["id"]).status == "completed"
        assert Product.objects.filter(pk=shirt.pk).exists()
        assert PointOfSale.objects.filter(pk=store.pk).exists()


def test_another_account_lists_none_of_these_rows(other_api_client, order, shirt, store):
    for url in [ORDERS, "/api/v1/products/", "/api/v1/pos/"]:
        assert other_api_client.get(url).json()["count"] == 0
    assert other_api_client.get(f"{ORDERS}?cursor=").json()["results"] == []


@pytest.mark.parametrize(
    ("body", "attr"),
    [
        (lambda f: {"customer": str(f["customer"].pk), "amount": 1}, "customer"),
        (lambda f: {"customer_email": "eve@example.com", "amount": 1}, "customer_email"),
        (lambda f: {"pos": str(f["pos"].pk), "amount": 1}, "pos"),
        (lambda f: {"product": str(f["product"].pk), "quantity": 1}, "product"),
        (
            lambda f: {
                "items": [
                    {"name": "a", "unit_price": 1, "quantity": 1},
                    {"name": "b", "unit_price": 1, "quantity": 1},
                    {"product": str(f["product"].pk), "quantity": 1},
                ]
            },
            "items.2.product",
        ),
    ],
)
def test_foreign_ids_in_a_body_are_400s_naming_the_field(
    api_client, customer, foreign, account, body, attr
):
    payload = {"customer": str(customer.pk), **body(foreign)}
    if "customer_email" in payload:
        del payload["customer"]
    response = api_client.post(ORDERS, payload, format="json")
    assert response.status_code == 400, response.json()
    assert errors_by_attr(response) == {attr: "does_not_exist"}
    with account_scope(account):
        assert not Order.objects.exists()


def test_a_foreign_customer_in_an_update_is_a_400(api_client, order, foreign, customer):
    response = api_client.patch(
        order_url(order), {"customer": str(foreign["customer"].pk)}, format="json"
    )
    assert errors_by_attr(response) == {"customer": "does_not_exist"}
    assert api_client.get(order_url(order)).json()["customer"] == str(customer.pk)


def test_a_foreign_sku_is_not_this_accounts_product(api_client, customer, foreign, account):
    # TS-1 exists only in the other account: here it is an unknown sku (a free-text line).
    response = api_client.post(
        ORDERS,
        {"customer": str(customer.pk), "items": [{"sku": "TS-1", "quantity": 1}]},
        format="json",
    )
    assert errors_by_attr(response) == {
        "items.0.name": "required",
        "items.0.unit_price": "required",
    }
    assert amounts_of(account) == []


def test_read_only_keys_cannot_write(read_only_client, order, customer, shirt, store, account):
    writes = [
        ("post", ORDERS, {"customer": str(customer.pk), "amount": 1}),
        ("post", f"{ORDERS}bulk/", {"orders": [{"customer": str(customer.pk), "amount": 1}]}),
        ("patch", order_url(order), {"notes": "x"}),
        ("put", order_url(order), {"notes": "x"}),
        ("delete", order_url(order), None),
        ("post", order_url(order, "cancel"), None),
        ("post", order_url(order, "refund"), None),
        ("post", order_url(order, "complete"), None),
        ("post", "/api/v1/products/", {"sku": "S", "name": "n"}),
        ("post", "/api/v1/products/bulk/", {"products": [{"sku": "S", "name": "n"}]}),
        ("patch", f"/api/v1/products/{shirt.pk}/", {"name": "x"}),
        ("delete", f"/api/v1/products/{shirt.pk}/", None),
        ("post", "/api/v1/pos/", {"code": "X", "name": "n"}),
        ("patch", f"/api/v1/pos/{store.pk}/", {"name": "x"}),
        ("delete", f"/api/v1/pos/{store.pk}/", None),
    ]
    for method, url, data in writes:
        response = getattr(read_only_client, method)(url, data, format="json")
        assert response.status_code == 403, (method, url)
    with account_scope(account):
        assert Order.objects.count() == 1
        assert Order.objects.get().notes == ""
    assert read_only_client.get(order_url(order)).status_code == 200
    assert read_only_client.get("/api/v1/products/").status_code == 200


def test_members_can_write_orders(member_client, customer):
    assert post_order(member_client, customer)["amount"] == "10.00"


def test_anonymous_requests_are_401(anonymous_client):
    for url in [ORDERS, "/api/v1/products/", "/api/v1/pos/"]:
        assert anonymous_client.get(url).status_code == 401


def test_idempotency_key_replays_an_order_create(api_client, customer, account):
    payload = {"customer": str(customer.pk), "amount": "9.00"}
    first = api_client.post(ORDERS, payload, format="json", HTTP_IDEMPOTENCY_KEY="o-1")
    second = api_client.post(ORDERS, payload, format="json", HTTP_IDEMPOTENCY_KEY="o-1")
    assert first.json() == second.json()
    with account_scope(account):
        assert Order.objects.count() == 1


def test_bulk_upserts_never_reach_another_accounts_orders(
    api_client, other_api_client, customer, account, foreign
):
    mine = post_order(api_client, customer, external_id="SHARED", amount="10.00")
    body = other_api_client.post(
        f"{ORDERS}bulk/",
        {"orders": [{"external_id": "SHARED", "amount": "99.00"}]},
        format="json",
    ).json()
    # Unknown in the other account: a create, which needs a customer of that account.
    assert body["results"][0]["status"] == "failed"
    assert {e["attr"] for e in body["results"][0]["errors"]} == {"customer"}
    with account_scope(account):
        assert Order.objects.get(pk=mine["id"]).amount == 10
