"""The shared ModelSerializer's fast read path answers exactly what DRF's own
`to_representation` answers, endpoint by endpoint."""

import pytest
from rest_framework import serializers

from crm_project.api.fields import ModelSerializer
from tests.factories import AgentFactory

pytestmark = pytest.mark.django_db

URLS = [
    "/api/v1/account/",
    "/api/v1/agents/",
    "/api/v1/api-keys/",
    "/api/v1/customers/",
    "/api/v1/products/",
    "/api/v1/pos/",
    "/api/v1/orders/",
]


@pytest.fixture
def data(api_client, account):
    agent = AgentFactory(account=account)
    customer = api_client.post(
        "/api/v1/customers/",
        {
            "name": "Ada Lovelace",
            "email": "ada@x.io",
            "phone": "+33 6 12 34 56 78",
            "tags": ["vip", "b2b"],
            "metadata": {"tier": "gold", "visits": 3, "nested": {"a": [1, 2]}},
            "assigned_to": str(agent.pk),
            "date_of_birth": "1990-02-28",
            "credit_limit": "1500.5",
        },
        format="json",
    ).json()
    api_client.post("/api/v1/products/", {"sku": "S1", "name": "Shoe", "price": "19.99"})
    api_client.post("/api/v1/pos/", {"code": "P1", "name": "Lyon"})
    api_client.post(
        "/api/v1/orders/",
        {
            "customer": customer["id"],
            "pos": "P1",
            "ordered_at": "2026-01-02T03:04:05.678901+02:00",
            "items": [{"sku": "S1", "quantity": 3, "discount_percent": "15"}],
        },
        format="json",
    )
    api_client.post(
        f"/api/v1/customers/{customer['id']}/interactions/",
        {"type": "call", "subject": "Hello", "date": "2026-01-03"},
        format="json",
    )
    return customer


@pytest.mark.parametrize("url", URLS)
def test_fast_path_equals_drf(api_client, data, url, monkeypatch):
    fast = api_client.get(url).json()
    assert fast.get("results", [fast]), f"{url} answered nothing to compare"
    monkeypatch.setattr(
        ModelSerializer, "to_representation", serializers.ModelSerializer.to_representation
    )
    assert api_client.get(url).json() == fast


def test_fast_path_equals_drf_on_detail_and_nested(api_client, data, monkeypatch):
    urls = [
        f"/api/v1/customers/{data['id']}/",
        f"/api/v1/customers/{data['id']}/interactions/",
    ]
    fast = [api_client.get(u).json() for u in urls]
    monkeypatch.setattr(
        ModelSerializer, "to_representation", serializers.ModelSerializer.to_representation
    )
    assert [api_client.get(u).json() for u in urls] == fast
