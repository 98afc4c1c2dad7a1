"""The segments API: CRUD with `rules` or Open Loyalty `parts`, validation errors that
point at the offending node, activation, a segment's customers, previews, the catalog,
seed 003's paging and sorting, tenancy and roles."""

from decimal import Decimal

import pytest
from rest_framework.exceptions import ValidationError

from crm_project.tenancy import account_scope
from segments import selectors
from segments.models import Segment
from tests.factories import CustomerFactory, PointOfSaleFactory, SegmentFactory

SEGMENTS = "/api/v1/segments/"

LYON = {"field": "city", "operator": "=", "value": "Lyon"}
BIG_SPENDER = {"field": "lifetime_spend", "operator": ">", "value": 100}
VIP = {"field": "tags", "operator": "contains", "value": "vip"}
NOBODY = {"field": "first_name", "operator": "=", "value": "Zed"}
# city = Lyon OR (lifetime spend > 100 AND tag vip)
TWO_LEVELS = {"logic": "OR", "rules": [LYON, {"logic": "AND", "rules": [BIG_SPENDER, VIP]}]}


def url(segment=None, action=None):
    if segment is None:
        return SEGMENTS + (f"{action}/" if action else "")
    ref = segment["id"] if isinstance(segment, dict) else segment.pk
    return f"{SEGMENTS}{ref}/" + (f"{action}/" if action else "")


def errors_by_attr(response):
    return {error["attr"]: error["code"] for error in response.json()["errors"]}


@pytest.fixture
def people(account):
    """Two customers in TWO_LEVELS (Ann in Lyon, Bob a big VIP spender), two out."""
    return {
        "ann": CustomerFactory(
            account=account,
            first_name="Ann",
            last_name="Martin",
            city="Lyon",
            email="ann.martin@example.com",
            phone="+33612345678",
        ),
        "bob": CustomerFactory(
            account=account,
            first_name="Bob",
            last_name="Durand",
            city="Paris",
            lifetime_spend=Decimal("150.00"),
            tags=["vip"],
            email="bob@shop.example",
            phone="+33700000000",
        ),
        "cyd": CustomerFactory(
            account=account,
            first_name="Cyd",
            last_name="Bernard",
            city="Paris",
            lifetime_spend=Decimal("150.00"),
        ),
        "dan": CustomerFactory(
            account=account,
            first_name="Dan",
            last_name="Petit",
            city="Nice",
            lifetime_spend=Decimal("50.00"),
            tags=["vip"],
        ),
    }


@pytest.fixture
def foreigner(other_account):
    """Another account's customer who matches every rule here: never seen."""
    return CustomerFactory(
        account=other_account,
        first_name="Eve",
        last_name="Aubert",
        city="Lyon",
        lifetime_spend=Decimal("999.00"),
        tags=["vip"],
    )


@pytest.fixture
def segment(api_client, people, foreigner):
    response = api_client.post(
        SEGMENTS, {"name": "Lyon or big VIPs", "rules": TWO_LEVELS}, format="json"
    )
    assert response.status_code == 201, response.json()
    return response.json()


def create(client, **fields):
    response = client.post(SEGMENTS, fields, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def stored(account, segment):
    with account_scope(account):
        return Segment.objects.get(pk=segment["id"])


# --- Create, read, update, delete ------------------------------------------------------


def test_create_with_rules_counts_and_reads_back(api_client, account, segment):
    read = api_client.get(url(segment)).json()

    assert read["name"] == "Lyon or big VIPs"
    assert read["description"] == ""
    assert read["active"] is True
    assert read["rules"]["logic"] == "OR"
    assert len(read["rules"]["rules"]) == 2
    assert read["customers_count"] == 2
    assert read["counted_at"] is not None
    assert read["parts"] is None  # a condition on the customer is not an OL criterion
    assert set(read) == {
        "id",
        "name",
        "description",
        "active",
        "rules",
        "parts",
        "customers_count",
        "counted_at",
        "created_at",
        "updated_at",
    }
    assert stored(account, segment).customers_count == 2


def test_create_with_parts_answers_parts_with_stable_ids(api_client, account, people):
    parts = [
        {"criteria": [{"type": "transaction_count", "min": 1}]},
        {
            "criteria": [
                {"type": "transaction_amount", "fromAmount": 10, "toAmount": 50},
                {"type": "average_transaction_amount", "from_amount": "100"},
            ]
        },
    ]
    created = create(api_client, name="Buyers", description="OL parts", parts=parts)

    row = stored(account, created)
    assert (row.name, row.description, row.rules) == ("Buyers", "OL parts", created["rules"])
    assert row.rules["rules"][1]["rules"][0] == {
        "type": "transaction_amount",
        "from_amount": "10.00",
        "to_amount": "50.00",
    }
    assert created["rules"]["logic"] == "AND"
    assert [group["logic"] for group in created["rules"]["rules"]] == ["OR", "OR"]
    assert len(created["parts"]) == 2
    assert [len(part["criteria"]) for part in created["parts"]] == [1, 2]
    assert created["parts"][1]["criteria"][0]["type"] == "transaction_amount"
    assert created["customers_count"] == 0  # nobody has orders yet
    again = api_client.get(url(created)).json()
    assert again["parts"] == created["parts"]  # the ids are stable


def test_parts_count_customers_by_their_orders(api_client, account):
    buyers = {
        name: CustomerFactory(account=account, first_name=name) for name in ["Gil", "Hal", "Ivy"]
    }
    for name, amount in [("Gil", "30.00"), ("Hal", "80.00")]:
        answer = api_client.post(
            "/api/v1/orders/",
            {"customer": str(buyers[name].pk), "amount": amount},
            format="json",
        )
        assert answer.status_code == 201, answer.json()
    parts = [{"criteria": [{"type": "transaction_amount", "fromAmount": 10, "toAmount": 50}]}]

    created = create(api_client, name="Small buyers", parts=parts)

    assert created["customers_count"] == 1
    assert stored(account, created).customers_count == 1
    listed = api_client.get(url(created, "customers")).json()
    assert [row["first_name"] for row in listed["results"]] == ["Gil"]


def test_active_defaults_to_true_and_may_be_given(api_client, account, people):
    assert create(api_client, name="A", rules=LYON)["active"] is True
    assert create(api_client, name="B", rules=LYON, active=False)["active"] is False

    with account_scope(account):
        assert dict(Segment.objects.values_list("name", "active")) == {"A": True, "B": False}


def nothing_stored(account):
    with account_scope(account):
        return not Segment.objects.exists()


def test_a_rule_is_required_on_create(api_client, account):
    response = api_client.post(SEGMENTS, {"name": "Nothing"}, format="json")

    assert response.status_code == 400
    assert errors_by_attr(response) == {"rules": "required"}
    assert nothing_stored(account)


def test_name_is_required(api_client, account):
    response = api_client.post(SEGMENTS, {"rules": LYON}, format="json")

    assert response.status_code == 400
    assert "name" in errors_by_attr(response)
    assert nothing_stored(account)


def test_an_invalid_operator_is_reported_at_its_node(api_client, account):
    rules = {
        "logic": "AND",
        "rules": [LYON, {"field": "city", "operator": "older_than", "value": 1}],
    }

    response = api_client.post(SEGMENTS, {"name": "Bad", "rules": rules}, format="json")

    assert response.status_code == 400
    assert response.json()["type"] == "validation_error"
    assert "rules.rules.1.operator" in errors_by_attr(response)
    assert nothing_stored(account)


def test_an_unknown_field_is_reported_at_its_node(api_client, account):
    rules = {
        "logic": "OR",
        "rules": [
            LYON,
            {"logic": "AND", "rules": [{"field": "shoe_size", "operator": "=", "value": 42}]},
        ],
    }

    response = api_client.post(SEGMENTS, {"name": "Bad", "rules": rules}, format="json")

    assert response.status_code == 400
    assert "rules.rules.1.rules.0.field" in errors_by_attr(response)
    assert nothing_stored(account)


def test_an_invalid_criterion_parameter_is_reported_in_parts(api_client, account):
    parts = [
        {
            "criteria": [
                {"type": "transaction_count", "min": 1},
                {"type": "transaction_amount", "fromAmount": "lots"},
            ]
        }
    ]

    response = api_client.post(SEGMENTS, {"name": "Bad", "parts": parts}, format="json")

    assert response.status_code == 400
    assert "parts.0.criteria.1.from_amount" in errors_by_attr(response)
    assert nothing_stored(account)


def test_rules_and_parts_that_disagree_are_refused(api_client, account):
    parts = [{"criteria": [{"type": "transaction_count", "min": 1}]}]

    response = api_client.post(
        SEGMENTS, {"name": "Both", "rules": LYON, "parts": parts}, format="json"
    )

    assert response.status_code == 400
    assert errors_by_attr(response) == {"parts": "conflict"}
    assert nothing_stored(account)


def test_a_read_segment_can_be_sent_back_as_is(api_client, account, people):
    parts = [{"criteria": [{"type": "transaction_count", "min": 1}]}]
    created = create(api_client, name="Round trip", parts=parts)

    response = api_client.put(url(created), created, format="json")

    assert response.status_code == 200, response.json()
    assert response.json()["parts"] == created["parts"]
    assert stored(account, created).rules == created["rules"]


def test_update_changes_the_rule_and_recounts(api_client, account, segment):
    response = api_client.patch(url(segment), {"rules": LYON}, format="json")

    assert response.status_code == 200
    assert response.json()["customers_count"] == 1
    assert stored(account, segment).customers_count == 1
    assert stored(account, segment).rules == response.json()["rules"]


def test_put_is_partial(api_client, account, segment):
    response = api_client.put(
        url(segment), {"description": "Lyon, or VIPs over 100"}, format="json"
    )

    assert response.status_code == 200
    row = stored(account, segment)
    assert row.description == "Lyon, or VIPs over 100"
    assert row.name == "Lyon or big VIPs"
    assert row.rules == segment["rules"]


def test_update_with_an_invalid_rule_changes_nothing(api_client, account, segment):
    bad = {"logic": "XOR", "rules": [LYON]}

    response = api_client.patch(url(segment), {"name": "Renamed", "rules": bad}, format="json")

    assert response.status_code == 400
    assert "rules.logic" in errors_by_attr(response)
    row = stored(account, segment)
    assert (row.name, row.rules) == ("Lyon or big VIPs", segment["rules"])


def test_update_with_parts(api_client, account, segment):
    parts = [{"criteria": [{"type": "transaction_count", "min": 1}]}]

    response = api_client.patch(url(segment), {"parts": parts}, format="json")

    assert response.status_code == 200
    assert response.json()["customers_count"] == 0
    assert len(response.json()["parts"]) == 1
    assert stored(account, segment).rules["logic"] == "AND"


def test_delete(api_client, account, segment):
    assert api_client.delete(url(segment)).status_code == 204

    assert api_client.get(url(segment)).status_code == 404
    with account_scope(account):
        assert not Segment.objects.filter(pk=segment["id"]).exists()


def test_an_unknown_or_malformed_id_is_a_404(api_client):
    assert api_client.get(url(action=None) + "not-a-uuid/").status_code == 404
    missing = "00000000-0000-0000-0000-000000000000"
    assert api_client.get(f"{SEGMENTS}{missing}/").status_code == 404
    assert api_client.get(f"{SEGMENTS}{missing}/customers/").status_code == 404


# --- Limits of a rule -------------------------------------------------------------------


def wide(groups, per_group=50):
    """An AND of groups of conditions, each group within its limit of 50 rules."""
    return {
        "logic": "AND",
        "rules": [
            {"logic": "OR", "rules": [{**LYON, "value": f"Lyon {n}"}] * per_group}
            for n in range(groups)
        ],
    }


def test_a_rule_of_more_than_500_objects_is_a_400_on_rules(api_client, account):
    response = api_client.post(SEGMENTS, {"name": "Huge", "rules": wide(11)}, format="json")

    assert response.status_code == 400
    assert errors_by_attr(response) == {"rules": "rule_too_large"}
    assert nothing_stored(account)


def test_parts_of_more_than_500_objects_are_a_400_on_parts(api_client, account):
    part = {"criteria": [{"type": "transaction_count", "min": n} for n in range(11)]}

    response = api_client.post(SEGMENTS, {"name": "Huge", "parts": [part] * 50}, format="json")

    assert response.status_code == 400
    assert errors_by_attr(response) == {"parts": "rule_too_large"}
    assert nothing_stored(account)


def test_an_update_to_a_too_large_rule_keeps_the_rule(api_client, account, segment):
    response = api_client.patch(url(segment), {"rules": wide(11)}, format="json")

    assert response.status_code == 400
    assert errors_by_attr(response) == {"rules": "rule_too_large"}
    assert stored(account, segment).rules == segment["rules"]


def test_a_preview_of_a_too_large_rule_is_a_400(api_client):
    response = api_client.post(url(action="preview"), {"rules": wide(11)}, format="json")

    assert response.status_code == 400
    assert errors_by_attr(response) == {"rules": "rule_too_large"}


def test_a_list_value_of_thousands_of_items_is_a_400_on_that_value(api_client, account):
    skus = {"type": "bought_skus", "skus": [f"SKU-{n}" for n in range(2000)]}

    response = api_client.post(SEGMENTS, {"name": "Skus", "rules": skus}, format="json")

    assert response.status_code == 400
    assert errors_by_attr(response) == {"rules.skus": "too_many_values"}
    assert nothing_stored(account)


# --- Activate, deactivate --------------------------------------------------------------


def test_deactivate_and_activate_answer_204_and_change_the_flag(api_client, account, segment):
    response = api_client.post(url(segment, "deactivate"))
    assert response.status_code == 204
    assert stored(account, segment).active is False
    assert api_client.get(url(segment)).json()["active"] is False

    assert api_client.post(url(segment, "deactivate")).status_code == 204  # idempotent
    assert stored(account, segment).active is False

    assert api_client.post(url(segment, "activate")).status_code == 204
    assert stored(account, segment).active is True


def test_an_update_keeps_the_state_unless_it_names_it(api_client, account, segment):
    api_client.post(url(segment, "deactivate"))

    api_client.patch(url(segment), {"name": "Renamed"}, format="json")
    assert stored(account, segment).active is False

    response = api_client.put(url(segment), {"active": True}, format="json")
    assert response.json()["active"] is True
    assert stored(account, segment).active is True


def test_activation_recounts_the_segment(api_client, account, segment):
    api_client.post(url(segment, "deactivate"))
    CustomerFactory(account=account, city="Lyon")

    api_client.post(url(segment, "activate"))

    assert stored(account, segment).customers_count == 3


def test_a_deactivated_segment_no_longer_contains_its_customers(
    api_client, account, segment, people
):
    with account_scope(account):
        assert [s.name for s in selectors.active_segments_containing(account, people["ann"])] == [
            "Lyon or big VIPs"
        ]

    api_client.post(url(segment, "deactivate"))

    with account_scope(account):
        assert selectors.active_segments_containing(account, people["ann"]) == []


def test_an_inactive_segment_can_be_read_listed_and_previewed(api_client, segment):
    api_client.post(url(segment, "deactivate"))

    assert api_client.get(url(segment)).status_code == 200
    assert api_client.get(SEGMENTS).json()["count"] == 1
    assert api_client.get(url(segment, "customers")).json()["count"] == 2


# --- A segment's customers ----------------------------------------------------------


def test_customers_of_a_segment_in_name_order(api_client, segment):
    response = api_client.get(url(segment, "customers"))

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert [row["last_name"] for row in body["results"]] == ["Durand", "Martin"]
    assert set(body["results"][0]) == {
        "id",
        "number",
        "first_name",
        "last_name",
        "email",
        "phone",
        "city",
        "lifetime_spend",
        "total_orders",
    }
    assert body["results"][0]["lifetime_spend"] == "150.00"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("first_name=an", ["Ann"]),
        ("firstName=BO", ["Bob"]),
        ("last_name=mart", ["Ann"]),
        ("lastName=DUR", ["Bob"]),
        ("email=SHOP.example", ["Bob"]),
        ("phone=61234", ["Ann"]),
        ("phone=%2B33 7 00", ["Bob"]),
        ("first_name=zed", []),
    ],
)
def test_customers_of_a_segment_filtered(api_client, segment, query, expected):
    response = api_client.get(url(segment, "customers") + "?" + query)

    assert response.status_code == 200
    assert [row["first_name"] for row in response.json()["results"]] == expected


def test_customers_of_a_segment_ordered(api_client, segment):
    by_spend = api_client.get(url(segment, "customers") + "?ordering=-lifetime_spend").json()
    assert [row["first_name"] for row in by_spend["results"]] == ["Bob", "Ann"]

    seed = api_client.get(url(segment, "customers") + "?sort=firstName&direction=DESC").json()
    assert [row["first_name"] for row in seed["results"]] == ["Bob", "Ann"]


def test_customers_of_a_segment_paginated_with_per_page(api_client, segment):
    body = api_client.get(url(segment, "customers") + "?perPage=1&page=2").json()

    assert body["count"] == 2
    assert [row["first_name"] for row in body["results"]] == ["Ann"]
    assert body["previous"] is not None


# --- Preview and catalog ---------------------------------------------------------------


def test_preview_counts_and_samples_without_saving(api_client, account, people, foreigner):
    response = api_client.post(url(action="preview"), {"rules": TWO_LEVELS}, format="json")

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert [row["first_name"] for row in body["sample"]] == ["Bob", "Ann"]
    assert "lifetime_spend" in body["sample"][0]
    with account_scope(account):
        assert not Segment.objects.exists()


def test_preview_samples_at_most_ten(api_client, account):
    for _ in range(12):
        CustomerFactory(account=account, city="Lyon")

    body = api_client.post(url(action="preview"), {"rules": LYON}, format="json").json()

    assert body["count"] == 12
    assert len(body["sample"]) == 10


def test_preview_takes_parts(api_client, people):
    parts = [{"criteria": [{"type": "transaction_count", "max": 0}]}]

    body = api_client.post(url(action="preview"), {"parts": parts}, format="json").json()

    assert body["count"] == 4


def test_preview_of_an_invalid_rule_points_at_the_node(api_client):
    rules = {
        "logic": "AND",
        "rules": [LYON, {"field": "lifetime_spend", "operator": ">", "value": "much"}],
    }

    response = api_client.post(url(action="preview"), {"rules": rules}, format="json")

    assert response.status_code == 400
    assert any(attr.startswith("rules.rules.1") for attr in errors_by_attr(response))


def test_preview_needs_a_rule(api_client):
    response = api_client.post(url(action="preview"), {}, format="json")

    assert response.status_code == 400
    assert errors_by_attr(response) == {"rules": "required"}


def test_fields_lists_the_catalog(api_client):
    response = api_client.get(url(action="fields"))

    assert response.status_code == 200
    text = response.content.decode()
    for name in ["city", "lifetime_spend", "tags", "metadata", "transaction_amount", "between"]:
        assert name in text


# --- Listing: paging and sorting -------------------------------------------------------


@pytest.fixture
def three(account, people):
    return [
        SegmentFactory(account=account, name="Charlie", rules=LYON),  # 1 customer
        SegmentFactory(account=account, name="Alpha", rules=TWO_LEVELS),  # 2
        SegmentFactory(account=account, name="Bravo", rules=NOBODY, active=False),  # 0
    ]


def names(response):
    assert response.status_code == 200, response.json()
    return [row["name"] for row in response.json()["results"]]


def test_list_is_ordered_by_name_by_default(api_client, three):
    response = api_client.get(SEGMENTS)

    assert response.json()["count"] == 3
    assert names(response) == ["Alpha", "Bravo", "Charlie"]


def test_list_ordering(api_client, three):
    by_count = names(api_client.get(SEGMENTS + "?ordering=-customers_count"))
    assert by_count == ["Alpha", "Charlie", "Bravo"]
    assert names(api_client.get(SEGMENTS + "?ordering=-name")) == ["Charlie", "Bravo", "Alpha"]


def test_list_sort_and_direction_as_open_loyalty_sends_them(api_client, three):
    ascending = names(api_client.get(SEGMENTS + "?sort=name&direction=ASC"))
    descending = names(api_client.get(SEGMENTS + "?sort=name&direction=DESC"))

    assert ascending == ["Alpha", "Bravo", "Charlie"]
    assert descending == ["Charlie", "Bravo", "Alpha"]
    by_count = names(api_client.get(SEGMENTS + "?sort=customersCount&direction=desc"))
    assert by_count == ["Alpha", "Charlie", "Bravo"]


def test_list_per_page(api_client, three):
    body = api_client.get(SEGMENTS + "?perPage=2").json()

    assert body["count"] == 3
    assert len(body["results"]) == 2
    assert body["next"] is not None


def test_list_rejects_a_bad_direction_or_sort(api_client, three):
    response = api_client.get(SEGMENTS + "?sort=name&direction=UP")
    assert response.status_code == 400
    assert errors_by_attr(response) == {"direction": "invalid_choice"}

    response = api_client.get(SEGMENTS + "?sort=rules")
    assert response.status_code == 400
    assert errors_by_attr(response) == {"sort": "invalid_choice"}


def test_list_filters_by_active(api_client, three):
    assert names(api_client.get(SEGMENTS + "?active=false")) == ["Bravo"]


# --- Tenancy and roles -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "action", "body"),
    [
        ("get", None, None),
        ("patch", None, {"name": "Mine now"}),
        ("put", None, {"name": "Mine now"}),
        ("delete", None, None),
        ("post", "activate", None),
        ("post", "deactivate", None),
        ("get", "customers", None),
    ],
)
def test_another_accounts_segment_is_a_404(
    other_api_client, account, segment, method, action, body
):
    response = getattr(other_api_client, method)(url(segment, action), body, format="json")

    assert response.status_code == 404
    assert response.json()["errors"][0]["code"] == "not_found"
    row = stored(account, segment)
    assert row.name == "Lyon or big VIPs"
    assert row.active is True


def test_another_account_lists_and_previews_only_its_own(other_api_client, segment):
    assert other_api_client.get(SEGMENTS).json()["count"] == 0

    body = other_api_client.post(url(action="preview"), {"rules": TWO_LEVELS}, format="json").json()
    assert body["count"] == 1
    assert [row["first_name"] for row in body["sample"]] == ["Eve"]


def test_another_accounts_point_of_sale_in_a_rule_is_a_400(api_client, other_account):
    theirs = PointOfSaleFactory(account=other_account, code="GLX1")
    parts = [{"criteria": [{"type": "bought_in_pos", "posIds": [str(theirs.pk)]}]}]

    response = api_client.post(SEGMENTS, {"name": "Theirs", "parts": parts}, format="json")

    assert response.status_code == 400
    assert all(attr.startswith("parts.0.criteria.0.pos_ids") for attr in errors_by_attr(response))


def test_a_foreign_segment_id_is_a_400_for_the_customer_list_filter(
    account, other_account, segment
):
    with account_scope(other_account), pytest.raises(ValidationError) as raised:
        selectors.customer_ids_in_segment(other_account, segment["id"])
    assert "segment" in raised.value.detail

    with account_scope(account):
        ids = set(
            selectors.customer_ids_in_segment(account, segment["id"]).values_list("pk", flat=True)
        )
    assert len(ids) == 2


@pytest.mark.parametrize(
    ("method", "action", "body"),
    [
        ("post", None, {"name": "X", "rules": LYON}),
        ("patch", "detail", {"name": "X"}),
        ("put", "detail", {"name": "X"}),
        ("delete", "detail", None),
        ("post", "activate", None),
        ("post", "deactivate", None),
    ],
)
def test_read_only_cannot_write(read_only_client, account, segment, method, action, body):
    target = SEGMENTS if action is None else url(segment, None if action == "detail" else action)

    response = getattr(read_only_client, method)(target, body, format="json")

    assert response.status_code == 403
    row = stored(account, segment)
    assert (row.name, row.active) == ("Lyon or big VIPs", True)
    with account_scope(account):
        assert Segment.objects.count() == 1


def test_read_only_can_read_preview_and_see_the_catalog(read_only_client, segment):
    assert read_only_client.get(SEGMENTS).status_code == 200
    assert read_only_client.get(url(segment)).status_code == 200
    assert read_only_client.get(url(segment, "customers")).status_code == 200
    assert read_only_client.get(url(action="fields")).status_code == 200
    preview = read_only_client.post(url(action="preview"), {"rules": LYON}, format="json")
    assert preview.status_code == 200


def test_member_can_write(member_client, account, people):
    created = create(member_client, name="By a member", rules=LYON)

    assert created["customers_count"] == 1
    assert stored(account, created).name == "By a member"


def test_anonymous_is_a_401(anonymous_client):
    assert anonymous_client.get(SEGMENTS).status_code == 401
