"""/api/v1/products/ and /api/v1/pos/."""

from decimal import Decimal

import pytest

from crm_project.tenancy import account_scope
from orders.models import PointOfSale, Product
from tests.factories import ProductFactory
from tests.orders.conftest import errors_by_attr, post_order

pytestmark = pytest.mark.django_db

PRODUCTS = "/api/v1/products/"
POS = "/api/v1/pos/"


def stored_product(account, sku):
    with account_scope(account):
        return Product.objects.get(sku=sku)


# --- Products -------------------------------------------------------------------------


def test_create_a_product(api_client, account):
    response = api_client.post(
        PRODUCTS,
        {
            "sku": " TS-9 ",
            "name": "Tee",
            "brand": "Acme",
            "category": "Apparel",
            "price": 19.9,
            "externalId": "P-9",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["price"] == "19.90"
    product = stored_product(account, "TS-9")
    assert (product.name, product.price, product.external_id, product.active) == (
        "Tee",
        Decimal("19.90"),
        "P-9",
        True,
    )


def test_a_duplicate_sku_is_409(api_client, shirt):
    response = api_client.post(PRODUCTS, {"sku": "TS-1", "name": "Again"}, format="json")
    assert response.status_code == 409
    assert response.json()["errors"][0]["code"] == "duplicate_sku"


def test_renaming_onto_a_taken_sku_is_409(api_client, shirt, mug, account):
    response = api_client.patch(f"{PRODUCTS}{mug.pk}/", {"sku": "TS-1"}, format="json")
    assert response.status_code == 409
    assert stored_product(account, "MUG-1").pk == mug.pk
    assert stored_product(account, "TS-1").pk == shirt.pk


def test_a_duplicate_external_id_is_409(api_client, account):
    ProductFactory(account=account, external_id="P-1")
    response = api_client.post(
        PRODUCTS, {"sku": "NEW", "name": "n", "external_id": "P-1"}, format="json"
    )
    assert response.json()["errors"][0]["code"] == "duplicate_external_id"


def test_the_same_sku_in_two_accounts_is_fine(api_client, other_api_client, account, other_account):
    assert api_client.post(PRODUCTS, {"sku": "S", "name": "n"}).status_code == 201
    assert other_api_client.post(PRODUCTS, {"sku": "S", "name": "n"}).status_code == 201
    assert stored_product(account, "S").account_id == account.pk
    assert stored_product(other_account, "S").account_id == other_account.pk


@pytest.mark.parametrize(
    ("payload", "attr"),
    [
        ({"name": "n"}, "sku"),
        ({"sku": "  ", "name": "n"}, "sku"),
        ({"sku": "S"}, "name"),
        ({"sku": "S", "name": "n", "price": "-1"}, "price"),
        ({"sku": "S", "name": "n", "price": "cheap"}, "price"),
        ({"sku": "S", "name": "n", "active": "maybe"}, "active"),
    ],
)
def test_bad_product_input_is_a_400(api_client, account, payload, attr):
    response = api_client.post(PRODUCTS, payload, format="json")
    assert response.status_code == 400
    assert attr in errors_by_attr(response)
    with account_scope(account):
        assert not Product.objects.exists()


def test_update_and_delete_a_product(api_client, shirt, account):
    response = api_client.put(f"{PRODUCTS}{shirt.pk}/", {"price": "21.00"}, format="json")
    assert response.status_code == 200
    assert stored_product(account, "TS-1").price == Decimal("21.00")
    assert api_client.delete(f"{PRODUCTS}{shirt.pk}/").status_code == 204
    with account_scope(account):
        assert not Product.objects.exists()


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("active=false", ["OLD"]),
        ("brand=acme", ["MUG-1", "TS-1"]),
        ("category=Apparel", ["TS-1"]),
        ("sku=TS-1", ["TS-1"]),
        ("q=mug", ["MUG-1"]),
        ("ordering=-price", ["OLD", "TS-1", "MUG-1"]),
    ],
)
def test_product_filters_and_ordering(api_client, account, query, expected):
    ProductFactory(account=account, sku="TS-1", brand="Acme", category="Apparel", price="19.99")
    ProductFactory(account=account, sku="MUG-1", name="Big mug", brand="ACME", price="7.50")
    ProductFactory(account=account, sku="OLD", brand="Other", active=False, price="99.00")
    results = api_client.get(f"{PRODUCTS}?{query}").json()["results"]
    assert [p["sku"] for p in results] == expected


def test_bulk_upserts_products_by_sku(api_client, shirt, account):
    response = api_client.post(
        f"{PRODUCTS}bulk/",
        {
            "products": [
                {"sku": "TS-1", "price": "25.00"},  # update
                {"sku": "NEW-1", "name": "New", "price": 3},  # create
                {"sku": "TS-1", "price": "25.00"},  # unchanged now
                {"sku": "NEW-2"},  # a new product needs a name
                {"name": "no sku"},
            ]
        },
        format="json",
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert [r["status"] for r in body["results"]] == [
        "updated",
        "created",
        "skipped",
        "failed",
        "failed",
    ]
    assert (body["created"], body["updated"], body["skipped"], body["failed"]) == (1, 1, 1, 2)
    assert body["results"][3]["errors"][0]["attr"] == "name"
    assert body["results"][4]["errors"][0]["attr"] == "sku"
    assert stored_product(account, "TS-1").price == Decimal("25.00")
    assert stored_product(account, "NEW-1").name == "New"
    with account_scope(account):
        assert Product.objects.count() == 2


# --- Points of sale -------------------------------------------------------------------


def test_pos_crud(api_client, account):
    created = api_client.post(POS, {"name": "Lyon", "code": "LYS", "city": "Lyon"})
    assert created.status_code == 201, created.json()
    pos_id = created.json()["id"]
    assert api_client.patch(f"{POS}{pos_id}/", {"city": "Villeurbanne"}).status_code == 200
    with account_scope(account):
        assert PointOfSale.objects.get(pk=pos_id).city == "Villeurbanne"
    assert api_client.delete(f"{POS}{pos_id}/").status_code == 204
    with account_scope(account):
        assert not PointOfSale.objects.exists()


def test_a_duplicate_pos_code_is_409(api_client, store):
    response = api_client.post(POS, {"name": "Again", "code": "PAR1"}, format="json")
    assert response.status_code == 409
    assert response.json()["errors"][0]["code"] == "duplicate_code"


def test_a_pos_with_orders_cannot_be_deleted(api_client, store, customer, account):
    post_order(api_client, customer, pos="PAR1")
    response = api_client.delete(f"{POS}{store.pk}/")
    assert response.status_code == 409
    with account_scope(account):
        assert PointOfSale.objects.filter(pk=store.pk).exists()


def test_pos_filters(api_client, store, account):
    api_client.post(POS, {"name": "Lyon Part-Dieu", "code": "LYS", "city": "Lyon"})
    assert [p["code"] for p in api_client.get(f"{POS}?city=lyon").json()["results"]] == ["LYS"]
    assert [p["code"] for p in api_client.get(f"{POS}?q=part").json()["results"]] == ["LYS"]
    assert [p["code"] for p in api_client.get(f"{POS}?code=PAR1").json()["results"]] == ["PAR1"]
    codes = [p["code"] for p in api_client.get(f"{POS}?ordering=-code").json()["results"]]
    assert codes == ["PAR1", "LYS"]


def test_bad_pos_input_is_a_400(api_client, account):
    response = api_client.post(POS, {"code": ""}, format="json")
    assert set(errors_by_attr(response)) == {"code", "name"}
    with account_scope(account):
        assert not PointOfSale.objects.exists()
