"""Segments seen from the customers API: the `segment` filter and a customer's
segments."""

import pytest

from tests.factories import CustomerFactory, SegmentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def lyon_segment(account):
    CustomerFactory(account=account, city="Lyon", email="ann@x.io")
    CustomerFactory(account=account, city="Paris", email="bob@x.io")
    rule = {"logic": "AND", "rules": [{"field": "city", "operator": "=", "value": "lyon"}]}
    return {"id": str(SegmentFactory(account=account, name="Lyon", rules=rule).pk)}


def test_customers_list_filters_by_segment(api_client, lyon_segment):
    body = api_client.get(f"/api/v1/customers/?segment={lyon_segment['id']}").json()
    assert [c["email"] for c in body["results"]] == ["ann@x.io"]
    assert body["count"] == 1


def test_a_foreign_or_unknown_segment_filter_is_a_400(api_client, other_account, lyon_segment):
    theirs = SegmentFactory(account=other_account, rules={"field": "city", "operator": "is_empty"})
    for value in (theirs.pk, "not-a-uuid"):
        response = api_client.get(f"/api/v1/customers/?segment={value}")
        assert response.status_code == 400
        assert response.json()["errors"][0]["attr"] == "segment"


def test_a_customers_active_segments(api_client, lyon_segment):
    ann = api_client.get("/api/v1/customers/?email=ann@x.io").json()["results"][0]
    bob = api_client.get("/api/v1/customers/?email=bob@x.io").json()["results"][0]
    assert [
        s["name"] for s in api_client.get(f"/api/v1/customers/{ann['id']}/segments/").json()
    ] == ["Lyon"]
    assert api_client.get(f"/api/v1/customers/{bob['id']}/segments/").json() == []
    api_client.post(f"/api/v1/segments/{lyon_segment['id']}/deactivate/")
    assert api_client.get(f"/api/v1/customers/{ann['id']}/segments/").json() == []


def test_another_accounts_customer_segments_are_404(other_api_client, api_client, lyon_segment):
    ann = api_client.get("/api/v1/customers/?email=ann@x.io").json()["results"][0]
    assert other_api_client.get(f"/api/v1/customers/{ann['id']}/segments/").status_code == 404
