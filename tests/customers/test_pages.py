"""The client pages through Django's test client: the client table at `/` (search, sort,
keyset pages, counts, the import link) and a customer's detail page."""

import re
from datetime import timedelta
from decimal import Decimal
from io import StringIO
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from crm_project import counting
from crm_project.tenancy import account_scope
from customers import views
from customers.models import Customer
from orders.models import Order
from tests.customers.conftest import add_interaction, place_order
from tests.factories import CustomerFactory, MembershipFactory

NAME_CELL = re.compile(r'<td class="cell-name"><a href="/customers/(\d+)/"[^>]*>([^<]*)</a>')


def signed_in(user):
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def client(user):
    return signed_in(user)


def names_on(html):
    return [name for _number, name in NAME_CELL.findall(html)]


def link(html, rel):
    found = re.search(rf'<a class="button" href="([^"]*)" rel="{rel}">', html)
    return found.group(1).replace("&amp;", "&") if found else None


def walk(client, url, rel="next"):
    """Every page from `url` following `rel` links: a list of the names of each page."""
    pages = []
    while url is not None:
        html = client.get(f"/{url}" if url.startswith("?") else url).content.decode()
        pages.append(names_on(html))
        url = link(html, rel)
        assert len(pages) < 100, "the pages never end"
    return pages


# --- Access ---------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_sign_in(db):
    assert Client().get("/")["Location"] == "/login/?next=/"
    assert Client().get("/customers/1/")["Location"] == "/login/?next=/customers/1/"


def test_the_client_table_is_the_home_page():
    assert reverse("home") == reverse("customers:list") == "/"


def test_the_navigation_marks_clients_as_the_current_section(client):
    html = client.get("/").content.decode()
    assert '<a class="nav-link" href="/" aria-current="page">Clients</a>' in html


def test_a_superuser_across_accounts_gets_the_platform_overview(superuser, account):
    html = signed_in(superuser).get("/").content.decode()
    assert "All accounts" in html
    assert "cell-name" not in html


# --- The table --------------------------------------------------------------------------


def test_table_shows_only_the_accounts_clients(client, account, other_account):
    CustomerFactory(account=account, first_name="Ada", last_name="Lovelace")
    CustomerFactory(account=other_account, first_name="Gus", last_name="Globex")

    html = client.get("/").content.decode()

    assert names_on(html) == ["Ada Lovelace"]
    assert re.search(r"\b1 client\b", html)


def test_rows_show_contact_money_with_two_decimals_and_a_status_badge(client, account):
    customer = CustomerFactory(
        account=account,
        first_name="Ada",
        last_name="Lovelace",
        email="ada@example.com",
        phone="+33612345678",
        city="Lyon",
        status="blocked",
    )
    place_order(account, customer, "1234.5")
    place_order(account, customer, "10")

    html = client.get("/").content.decode()

    row = re.search(r"<tr>\s*<td class=\"cell-name\">.*?</tr>", html, re.S).group(0)
    for text in ["ada@example.com", "+33612345678", "Lyon", "1,244.50", ">2<"]:
        assert text in row, text
    assert '<span class="badge badge-status-blocked">Blocked</span>' in row
    assert f'href="/customers/{customer.number}/"' in row


def test_a_small_accounts_table_shows_each_clients_lifecycle(client, account):
    CustomerFactory(account=account)  # created now, no orders: new
    html = client.get("/").content.decode()
    assert '<span class="badge badge-lifecycle-new" title="Lifecycle">New</span>' in html


def test_a_big_accounts_table_leaves_the_lifecycle_to_the_detail_page(client, account, monkeypatch):
    monkeypatch.setattr(views, "LIFECYCLE_TABLE_MAX", 1)
    CustomerFactory.create_batch(2, account=account)
    html = client.get("/").content.decode()
    assert 'title="Lifecycle"' not in html
    assert "Lifecycle and health are on each client's page." in html


def test_the_import_link_leads_to_the_import_page(client):
    html = client.get("/").content.decode()
    assert '<a class="button button-primary" href="/import/">Import customers</a>' in html


def test_an_empty_account_is_invited_to_import(client):
    html = client.get("/").content.decode()
    assert "No clients yet." in html
    assert "0 clients" in html


# --- Search -------------------------------------------------------------------------------


@pytest.fixture
def people(account):
    return {
        "ada": CustomerFactory(
            account=account,
            first_name="Ada",
            last_name="Lovelace",
            email="ada@analytical.example",
            phone="+33611112222",
            external_id="CRM-ADA",
        ),
        "alan": CustomerFactory(
            account=account,
            first_name="Alan",
            last_name="Turing",
            email="alan@bletchley.example",
            phone="+447700900123",
        ),
        "grace": CustomerFactory(
            account=account, first_name="Grace", last_name="Hopper", email="grace@navy.example"
        ),
    }


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("love", ["Ada Lovelace"]),  # a part of the name, any case
        ("ALAN TUR", ["Alan Turing"]),  # across first and last name
        ("bletchley", ["Alan Turing"]),  # a part of the email
        ("1111 2222", ["Ada Lovelace"]),  # phone digits
        ("CRM-ADA", ["Ada Lovelace"]),  # the external id, exactly
        ("nobody", []),
    ],
)
def test_search_uses_the_apis_q(client, people, q, expected):
    html = client.get("/", {"q": q}).content.decode()
    assert sorted(names_on(html)) == expected
    assert f'value="{q}"' in html  # the box keeps the term


def test_search_by_number(client, people):
    html = client.get("/", {"q": str(people["grace"].number)}).content.decode()
    assert "Grace Hopper" in names_on(html)


def test_a_search_counts_its_matches_and_can_be_cleared(client, people):
    html = client.get("/", {"q": "a"}).content.decode()  # all three have an "a"
    assert re.search(r"3 matches", html)
    assert '<a class="button" href="?ordering=-created_at">Clear</a>' in html


def test_search_finds_nothing_of_another_account(client, other_account):
    CustomerFactory(account=other_account, first_name="Eve", email="eve@globex.example")
    html = client.get("/", {"q": "eve"}).content.decode()
    assert names_on(html) == []
    assert "No client matches this search." in html


def test_status_filter(client, account):
    CustomerFactory(account=account, first_name="Active", last_name="One")
    CustomerFactory(account=account, first_name="Blocked", last_name="One", status="blocked")
    html = client.get("/", {"status": "blocked"}).content.decode()
    assert names_on(html) == ["Blocked One"]
    assert '<option value="blocked" selected>' in html


def test_other_filters_of_the_api_apply_and_show_as_removable_chips(client, account):
    CustomerFactory(account=account, first_name="Tagged", last_name="Vip", tags=["vip"])
    CustomerFactory(account=account, first_name="Plain", last_name="Customer")

    html = client.get("/", {"tag": "vip"}).content.decode()

    assert names_on(html) == ["Tagged Vip"]
    assert 'title="Remove this filter">tag: vip' in html
    # a search from there keeps the tag
    assert '<input type="hidden" name="tag" value="vip">' in html


def test_an_invalid_filter_says_so_instead_of_failing(client, account):
    CustomerFactory(account=account)
    response = client.get("/", {"created_after": "not a date"})
    assert response.status_code == 200
    html = response.content.decode()
    assert 'class="alert alert-error"' in html
    assert names_on(html) == []


# --- Sorting ------------------------------------------------------------------------------


@pytest.fixture
def spenders(account):
    """Three customers with different spend, order counts and last orders; one never
    ordered."""
    now = timezone.now()
    low = CustomerFactory(account=account, first_name="Low", last_name="Baker", city="Paris")
    high = CustomerFactory(account=account, first_name="High", last_name="Adams", city="Lyon")
    mid = CustomerFactory(account=account, first_name="Mid", last_name="Carter", city="Nice")
    CustomerFactory(account=account, first_name="Never", last_name="Dalton", city="Arles")
    place_order(account, low, "5.00", ordered_at=now - timedelta(days=3))
    place_order(account, high, "500.00", ordered_at=now - timedelta(days=30))
    place_order(account, mid, "50.00", ordered_at=now - timedelta(days=1))
    place_order(account, mid, "50.00", ordered_at=now - timedelta(days=2))
    return low, high, mid


@pytest.mark.parametrize(
    ("ordering", "expected"),
    [
        ("name", ["High Adams", "Low Baker", "Mid Carter", "Never Dalton"]),
        ("-name", ["Never Dalton", "Mid Carter", "Low Baker", "High Adams"]),
        ("city", ["Never Dalton", "High Adams", "Mid Carter", "Low Baker"]),
        ("-lifetime_spend", ["High Adams", "Mid Carter", "Low Baker", "Never Dalton"]),
        ("lifetime_spend", ["Never Dalton", "Low Baker", "Mid Carter", "High Adams"]),
        ("-total_orders", ["Mid Carter"]),  # then the two with one order, by id
        # missing dates last in both directions, as the API sorts them
        ("-last_order_date", ["Mid Carter", "Low Baker", "High Adams", "Never Dalton"]),
        ("last_order_date", ["High Adams", "Low Baker", "Mid Carter", "Never Dalton"]),
    ],
)
def test_sort_by_column(client, spenders, ordering, expected):
    names = names_on(client.get("/", {"ordering": ordering}).content.decode())
    assert names[: len(expected)] == expected


def header_query(html, label):
    """The query of the sort link of the column called `label`."""
    href = re.search(rf'<a class="sort-link[^"]*" href="([^"]*)">{label}<', html).group(1)
    return parse_qs(urlsplit(href.replace("&amp;", "&")).query)


def test_the_sorted_column_says_so_and_its_header_reverses_the_order(client, spenders):
    html = client.get("/", {"ordering": "-lifetime_spend", "q": "a"}).content.decode()
    header = re.search(r'<th scope="col" class="num" aria-sort="descending">(.*?)</th>', html, re.S)
    assert header is not None
    assert "Lifetime spend" in header.group(1)
    assert html.count("aria-sort=") == 1
    assert header_query(html, "Lifetime spend") == {"ordering": ["lifetime_spend"], "q": ["a"]}
    # another column's first click: largest first for numbers and dates, A-Z for text
    assert header_query(html, "Orders") == {"ordering": ["-total_orders"], "q": ["a"]}
    assert header_query(html, "Name") == {"ordering": ["name"], "q": ["a"]}


@pytest.mark.parametrize("ordering", ["email", "-email"])
def test_email_sorts_case_insensitively_with_the_emailless_last(client, crowd, ordering):
    names = names_on(client.get("/", {"ordering": ordering}).content.decode())
    with_email = [f"P{i}" for i in (0, 1, 2, 3, 5, 6, 8)]
    expected = with_email if ordering == "email" else with_email[::-1]
    assert [name.split()[0] for name in names[:7]] == expected
    assert sorted(name.split()[0] for name in names[7:]) == ["P4", "P7"]


def test_an_unknown_ordering_falls_back_to_newest_first(client, spenders):
    response = client.get("/", {"ordering": "password"})
    assert response.status_code == 200
    assert names_on(response.content.decode())[0] == "Never Dalton"  # created last


# --- Keyset pages -------------------------------------------------------------------------


@pytest.fixture
def crowd(account):
    """Nine customers with ties in every sort key (two cities, equal spend, no orders
    or no email for some) so that pages must break ties by id."""
    now = timezone.now()
    customers = []
    for i in range(9):
        customer = CustomerFactory(
            account=account,
            first_name=f"P{i}",
            last_name="Same" if i % 2 else "Other",
            city=["Lyon", "Paris"][i % 2],
            phone=f"+3361000000{i % 3}",
            # two without an email, which sort last by email in both directions
            **(
                {"email": ""}
                if i in (4, 7)
                else {"email": f"{'P' if i % 2 else 'p'}{i}@example.com"}
            ),
        )
        if i % 3:
            place_order(account, customer, "20.00", ordered_at=now - timedelta(days=i % 2))
        customers.append(customer)
    return customers


ORDERINGS = [f"{sign}{column.key}" for column in views.COLUMNS for sign in ("", "-")]


@pytest.mark.parametrize("ordering", ORDERINGS)
def test_next_pages_visit_every_client_once_in_order(client, crowd, monkeypatch, ordering):
    monkeypatch.setattr(views, "PAGE_SIZE", 2)
    one_page = names_on(client.get("/", {"ordering": ordering}).content.decode())
    monkeypatch.setattr(views, "PAGE_SIZE", 50)
    everything = names_on(client.get("/", {"ordering": ordering}).content.decode())
    monkeypatch.setattr(views, "PAGE_SIZE", 2)

    pages = walk(client, f"/?ordering={ordering}")

    assert [name for page in pages for name in page] == everything
    assert len(everything) == 9
    assert pages[0] == one_page
    assert [len(page) for page in pages] == [2, 2, 2, 2, 1]


@pytest.mark.parametrize(
    "ordering", ["-created_at", "last_order_date", "-last_order_date", "email", "-lifetime_spend"]
)
def test_previous_pages_walk_back_the_same_pages(client, crowd, monkeypatch, ordering):
    monkeypatch.setattr(views, "PAGE_SIZE", 2)
    forward = walk(client, f"/?ordering={ordering}")
    html = client.get("/", {"ordering": ordering}).content.decode()
    url = link(html, "next")
    while True:  # to the last page
        html = client.get(f"/{url}").content.decode()
        if link(html, "next") is None:
            break
        url = link(html, "next")

    backward = walk(client, f"/{url}", rel="prev")

    assert backward == forward[::-1]


def test_the_first_page_has_no_previous_and_the_last_no_next(client, crowd, monkeypatch):
    monkeypatch.setattr(views, "PAGE_SIZE", 5)
    first = client.get("/").content.decode()
    assert '<span class="button" aria-disabled="true">Previous</span>' in first
    assert ">First</a>" not in first
    last = client.get(f"/{link(first, 'next')}").content.decode()
    assert '<span class="button" aria-disabled="true">Next</span>' in last
    assert ">First</a>" in last


def test_pages_keep_the_search(client, crowd, monkeypatch):
    monkeypatch.setattr(views, "PAGE_SIZE", 2)
    pages = walk(client, "/?q=same")
    assert sorted(name for page in pages for name in page) == [
        "P1 Same",
        "P3 Same",
        "P5 Same",
        "P7 Same",
    ]


@pytest.mark.parametrize("cursor", ["garbage", "W10", "WzEsMiwzXQ", "!!!", "WyJ4Il0"])
def test_a_broken_page_link_shows_the_first_page(client, crowd, cursor):
    for name in ("after", "before"):
        response = client.get("/", {name: cursor})
        assert response.status_code == 200
        assert len(names_on(response.content.decode())) == 9


# --- Counting ---------------------------------------------------------------------------------


def test_counts_are_exact_up_to_the_cap(client, crowd):
    assert re.search(r"\b9 clients\b", client.get("/").content.decode())


def test_past_the_cap_a_search_gives_a_lower_bound_and_the_table_its_counter(
    client, crowd, monkeypatch
):
    monkeypatch.setattr(counting, "COUNT_CAP", 3)
    whole = client.get("/").content.decode()
    assert re.search(r"\b9 clients\b", whole)  # the count maintained with the rows
    search = client.get("/", {"q": "p"}).content.decode()
    assert "More than 3 matches" in search


def test_the_whole_tables_count_is_never_counted(client, crowd):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        client.get("/")
    counts = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("SELECT COUNT(")]
    assert counts == []


# --- The detail page ------------------------------------------------------------------------


@pytest.fixture
def ada(account):
    customer = CustomerFactory(
        account=account,
        first_name="Ada",
        last_name="Lovelace",
        email="ada@analytical.example",
        phone="+33611112222",
        city="London",
        tags=["vip", "engine"],
        metadata={"loyalty_tier": "gold", "visits": 12, "prefs": {"ink": "blue"}},
    )
    now = timezone.now()
    place_order(account, customer, "120.00", ordered_at=now - timedelta(days=20))
    place_order(account, customer, "80.50", ordered_at=now - timedelta(days=2))
    place_order(account, customer, "999.00", ordered_at=now - timedelta(days=1), status="cancelled")
    add_interaction(
        account,
        customer,
        type="call",
        subject="Asked about the difference engine",
        date=now - timedelta(days=5),
    )
    return customer


def test_detail_shows_contact_tags_and_custom_fields(client, ada):
    html = client.get(f"/customers/{ada.number}/").content.decode()
    assert "<h1>Ada Lovelace</h1>" in html
    for text in ["ada@analytical.example", "+33611112222", "London", "loyalty_tier", "gold"]:
        assert text in html, text
    assert '{"ink": "blue"}' in html.replace("&quot;", '"')
    assert 'href="/?tag=vip"' in html


def test_detail_shows_the_spend_aggregates(client, ada, account):
    html = client.get(f"/customers/{ada.pk}/").content.decode()
    spend = html.split('id="spend-heading"', 1)[1].split("</section>", 1)[0]
    assert "<dd>200.50</dd>" in spend  # the cancelled order does not count
    assert "<dd>2</dd>" in spend
    assert "<dd>100.25</dd>" in spend  # average order value, two decimals


def test_detail_shows_health_from_the_selectors(client, ada, account):
    from customers.selectors import customer_health

    with account_scope(account):
        health = customer_health(account, ada)
    html = client.get(f"/customers/{ada.number}/").content.decode()
    card = html.split('id="health-heading"', 1)[1].split("</section>", 1)[0]
    assert f">{health.score}</span>" in card
    assert f"Grade {health.grade}" in card
    assert f"badge-risk-{health.risk}" in card
    assert f"badge-lifecycle-{health.lifecycle}" in card
    assert f"R {health.rfm['r']} · F {health.rfm['f']} · M {health.rfm['m']}" in card


def test_detail_timeline_lists_orders_and_interactions_newest_first(client, ada):
    html = client.get(f"/customers/{ada.number}/").content.decode()
    timeline = html.split('id="timeline-heading"', 1)[1].split("</section>", 1)[0]
    titles = re.findall(r'<span class="entry-title">([^<]*)</span>', timeline)
    assert [t.startswith("Order #") for t in titles] == [True, True, False, True]
    assert titles[2] == "Call: Asked about the difference engine"
    amounts = re.findall(r'<span class="entry-amount">([^<]*)</span>', timeline)
    assert amounts == ["999.00 USD", "80.50 USD", "", "120.00 USD"]  # the call has none
    assert '<span class="badge badge-order-cancelled">Cancelled</span>' in timeline


def test_detail_by_uuid_or_number(client, ada):
    assert client.get(f"/customers/{ada.pk}/").status_code == 200
    assert client.get(f"/customers/{ada.number}/").status_code == 200


@pytest.mark.parametrize("ref", ["uuid", "number"])
def test_another_accounts_customer_is_a_404(client, other_account, ref):
    stranger = CustomerFactory(account=other_account, first_name="Eve")
    response = client.get(f"/customers/{getattr(stranger, 'pk' if ref == 'uuid' else 'number')}/")
    assert response.status_code == 404
    assert "Eve" not in response.content.decode()


@pytest.mark.parametrize("ref", ["no-such-thing", "999999", "00000000-0000-0000-0000-000000000000"])
def test_a_missing_customer_is_a_404(client, ref):
    assert client.get(f"/customers/{ref}/").status_code == 404


def test_the_admin_link_is_for_staff_who_may_write(account, ada):
    admin_html = signed_in(MembershipFactory(account=account, role=Role.ADMIN).user).get(
        f"/customers/{ada.number}/"
    )
    assert "Edit in admin" in admin_html.content.decode()
    reader = MembershipFactory(account=account, role=Role.READ_ONLY).user
    assert (
        "Edit in admin" not in signed_in(reader).get(f"/customers/{ada.number}/").content.decode()
    )


def test_a_customer_with_nothing_yet(client, account):
    customer = CustomerFactory(account=account, first_name="Newt", last_name="Scamander")
    html = client.get(f"/customers/{customer.number}/").content.decode()
    assert "Nothing has happened with this client yet." in html
    assert "No tags." in html
    assert "<dd>0.00</dd>" in html


# --- Demo data ---------------------------------------------------------------------------------


def test_bootstrap_demo_seeds_the_demo_account_once(db, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    call_command("bootstrap_demo", stdout=StringIO())
    from accounts.selectors import account_by_slug_or_id
    from crm_project.tenancy import unscoped

    with unscoped():
        demo = account_by_slug_or_id("demo")

    def counts():
        with account_scope(demo):
            return Customer.objects.count(), Order.objects.count()

    first = counts()
    call_command("bootstrap_demo", stdout=StringIO())

    assert first[0] == 300
    assert 0 < first[1] <= 2000  # orders of customers of this seed
    assert counts() == first
    with account_scope(demo):
        assert Customer.objects.filter(lifetime_spend__gt=Decimal("0")).exists()
