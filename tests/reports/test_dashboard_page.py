"""The back-office dashboard (`/dashboard/`): its tiles and the figures its charts draw
are the API's (`GET /api/v1/analytics/dashboard/` with an API key of the same account),
for all time and for a window; the window's form works without JavaScript (a GET) and,
in a real browser, redraws the tiles and charts in place from `/dashboard/data`; a bad
window is the field's error (400), never a 500; another account sees its own figures;
anonymous visitors sign in first; Chart.js comes from /static/, nothing leaves the host."""

import json
import re
import tempfile
from datetime import timedelta
from decimal import Decimal
from html import unescape
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.test import Client
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import Role
from crm_project.tenancy import account_scope
from customers.models import Customer
from feedback import services as feedback_services
from feedback.models import Feedback
from leads.models import Lead
from loyalty import services as loyalty_services
from tests.browser.conftest import browser, page  # noqa: F401  (Playwright fixtures)
from tests.browser.test_login import sign_in
from tests.factories import CustomerFactory, MembershipFactory, OrderFactory
from tests.leads.conftest import LeadFactory

pytestmark = pytest.mark.django_db

API = "/api/v1/analytics/dashboard/"
# Looked at by people: the dashboard after a change of window.
SCREENSHOT = Path(tempfile.gettempdir()) / "dashboard.png"


def signed_in(account, role=Role.READ_ONLY):
    client = Client()
    client.force_login(MembershipFactory(account=account, role=role).user)
    return client


def api_figures(api_client, **query):
    response = api_client.get(API, query)
    assert response.status_code == 200, response.content
    return response.json()


def themes(api_client):
    response = api_client.get("/api/v1/feedback/themes/", {"limit": 10})
    assert response.status_code == 200, response.content
    return response.json()


def embedded(html):
    """The payload the page embeds for its charts (json_script)."""
    found = re.search(r'<script id="dashboard-data" type="application/json">(.*?)</script>', html)
    assert found, "no embedded figures"
    return json.loads(found.group(1))


def tiles(html):
    """{tile id: (text shown, data-value)}."""
    return {
        tile: (unescape(text), unescape(value))
        for tile, value, text in re.findall(
            r'data-tile="([^"]+)" data-path="[^"]+" data-value="([^"]*)">([^<]*)<', html
        )
    }


def window(days=7):
    """A window of the last `days` days, today included (bare dates)."""
    today = timezone.localdate()
    return {"date_from": (today - timedelta(days=days)).isoformat(), "date_to": today.isoformat()}


@pytest.fixture
def figures(account):
    """Old business (200 days ago: a customer, her 100.00 order, a lead, a feedback
    rated 5) and recent business (a customer with a 30.00 order two days ago, a
    qualified lead, a loyalty card credited 40.00 today, three feedback requests today:
    two answered about late deliveries, rated 2 and 1)."""
    long_ago = timezone.now() - timedelta(days=200)
    old = CustomerFactory(account=account, first_name="Olga", last_name="Old")
    OrderFactory(account=account, customer=old, amount=Decimal("100.00"), ordered_at=long_ago)
    old_lead = LeadFactory(account=account, first_name="Otto", last_name="Old")
    with account_scope(account):
        Customer.objects.filter(pk=old.pk).update(created_at=long_ago)
        Lead.objects.filter(pk=old_lead.pk).update(created_at=long_ago)
    new = CustomerFactory(account=account, first_name="Nina", last_name="New")
    OrderFactory(
        account=account,
        customer=new,
        amount=Decimal("30.00"),
        ordered_at=timezone.now() - timedelta(days=2),
    )
    LeadFactory(account=account, first_name="Ned", last_name="New", status="qualified")
    with account_scope(account):
        loyalty_services.card_issue(account=account, customer=new, number="8800123")
        (outcome,) = loyalty_services.tickets_credit(
            account=account, tickets=[loyalty_services.Ticket("8800123", Decimal("40"), "T-1")]
        )
    assert outcome.status == "credited", outcome
    answers = [
        (old, long_ago, (5, "Great service")),
        (new, None, (2, "Late delivery, again")),
        (new, None, (1, "The delivery was late")),
        (new, None, None),
    ]
    with account_scope(account):
        for customer, requested_at, answer in answers:
            feedback = Feedback.objects.create(
                account=account,
                customer=customer,
                channel="email",
                requested_at=requested_at or timezone.now(),
            )
            if answer:
                rating, comment = answer
                feedback_services.feedback_answer(
                    feedback=feedback,
                    rating=rating,
                    comment=comment,
                    now=(requested_at or timezone.now()) + timedelta(hours=1),
                )


# --- Access -----------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_sign_in(db):
    for url in ["/dashboard/", "/dashboard/data"]:
        assert Client().get(url)["Location"] == f"/login/?next={url}"


def test_the_navigation_links_to_the_dashboard(account):
    html = signed_in(account).get("/dashboard/").content.decode()

    assert '<a class="nav-link" href="/dashboard/" aria-current="page">Dashboard</a>' in html


# --- The figures are the API's ----------------------------------------------------------


def test_the_page_shows_the_apis_figures_for_all_time(account, api_client, figures):
    response = signed_in(account).get("/dashboard/")
    assert response.status_code == 200
    html = response.content.decode()
    api = api_figures(api_client)

    payload = embedded(html)
    assert payload["dashboard"] == api
    assert payload["window"] == {"date_from": "", "date_to": ""}
    assert api["customers"]["total_revenue"] == "130.00"
    assert api["leads"]["total"] == 2
    assert (api["feedback"]["requests"], api["feedback"]["responses"]) == (4, 3)
    assert payload["themes"] == themes(api_client)
    assert payload["themes"], "no feedback theme"
    for theme in payload["themes"]:
        assert f'<li data-theme="{theme["theme"]}"><strong>{theme["theme"]}</strong>' in html
    shown = tiles(html)
    assert shown["revenue"] == ("130.00", api["customers"]["total_revenue"])
    assert shown["customers-total"] == ("2", "2")
    assert shown["leads-total"] == ("2", str(api["leads"]["total"]))
    assert shown["loyalty-earned"][0] == "20.00" == api["loyalty"]["points_earned"]
    assert shown["loyalty-outstanding"][0] == api["loyalty"]["points_outstanding"]
    rate = Decimal(str(api["leads"]["conversion_rate"])) * 100
    assert shown["leads-conversion"][0] == f"{rate.quantize(Decimal('0.1'))}%"
    assert Decimal(shown["feedback-response-rate"][1] or "0") == Decimal(
        str(api["feedback"]["response_rate"] or 0)
    )
    # Every tile's value is the API's figure at its path.
    for tile, (_text, value) in shown.items():
        path = re.search(rf'data-tile="{tile}" data-path="([^"]+)"', html).group(1)
        figure = api
        for key in path.split("."):
            figure = figure[key]
        assert value == ("" if figure is None else str(figure)), tile
    assert '<script src="/static/vendor/chart.js/chart.umd.js" defer></script>' in html
    assert "cdn" not in html.lower()


def test_a_window_shows_the_apis_figures_for_that_window(account, api_client, figures):
    query = window()
    html = signed_in(account).get("/dashboard/", query).content.decode()
    api = api_figures(api_client, **query)

    assert embedded(html)["dashboard"] == api
    assert embedded(html)["window"] == query
    assert api["customers"]["total_revenue"] == "30.00"
    assert api["leads"]["total"] == 1
    assert [m["revenue"] for m in api["customers"]["revenue_by_month"]][-1] == "30.00"
    shown = tiles(html)
    assert shown["revenue"][0] == "30.00"
    assert shown["leads-total"][0] == "1"
    assert f'value="{query["date_from"]}"' in html
    assert f'value="{query["date_to"]}"' in html


def test_the_json_view_answers_the_apis_figures(account, api_client, figures):
    client = signed_in(account)
    for query in [{}, window(), window(400)]:
        response = client.get("/dashboard/data", query)
        assert response.status_code == 200
        body = response.json()
        assert body["dashboard"] == api_figures(api_client, **query), query
        html = client.get("/dashboard/", query).content.decode()
        assert body["tiles"] == {tile: text for tile, (text, _v) in tiles(html).items()}


def test_a_bad_window_is_the_fields_error_never_a_500(account, figures):
    client = signed_in(account)

    shown = client.get("/dashboard/", {"date_from": "2026-05-10", "date_to": "2026-05-01"})
    assert shown.status_code == 400
    html = shown.content.decode()
    assert "date_to: `date_to` must be after `date_from`." in unescape(html)
    assert 'id="dashboard-data"' not in html

    data = client.get("/dashboard/data", {"date_from": "2026-05-10", "date_to": "2026-05-01"})
    assert data.status_code == 400
    assert data.json()["errors"][0]["attr"] == "date_to"

    garbage = client.get("/dashboard/data", {"date_from": "yesterday"})
    assert garbage.status_code == 400
    assert garbage.json()["errors"][0]["attr"] == "date_from"
    assert client.get("/dashboard/", {"date_from": "2026-13-45"}).status_code == 400


def test_another_account_sees_only_its_own_figures(
    account, other_account, other_api_client, figures
):
    OrderFactory(account=other_account, amount=Decimal("7.50"))

    html = signed_in(other_account).get("/dashboard/").content.decode()
    api = api_figures(other_api_client)

    assert embedded(html)["dashboard"] == api
    assert api["customers"]["total_revenue"] == "7.50"
    assert api["leads"]["total"] == 0
    assert tiles(html)["revenue"][0] == "7.50"
    assert tiles(html)["leads-total"][0] == "0"
    assert "130.00" not in html
    data = signed_in(other_account).get("/dashboard/data").json()
    assert data["dashboard"] == api


# --- In a browser -----------------------------------------------------------------------


def chart_data(page, canvas, dataset=0):  # noqa: F811
    return page.evaluate(
        "([id, i]) => Chart.getChart(document.getElementById(id)).data.datasets[i].data",
        [canvas, dataset],
    )


def drawn(page, canvas):  # noqa: F811
    """The bars, points or arcs Chart.js drew for the chart's first dataset."""
    return page.evaluate("id => Chart.getChart(id).getDatasetMeta(0).data.length", canvas)


@pytest.mark.browser
def test_change_the_window_and_see_the_charts_redraw_with_the_apis_figures(
    page,  # noqa: F811
    user,
    account,
    api_client,
    figures,
    live_server,
):
    outside, requested = [], []

    def only_this_host(route):
        url = route.request.url
        if urlsplit(url).hostname not in ("localhost", "127.0.0.1"):
            outside.append(url)
            route.abort()
        else:
            route.continue_()

    page.route("**/*", only_this_host)
    page.on("request", lambda request: requested.append(request.url))

    sign_in(page, user)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Dashboard").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Dashboard")
    page.wait_for_function("() => window.Chart && Chart.getChart('chart-revenue')")

    api = api_figures(api_client)
    expect(page.locator("#tile-revenue")).to_have_text("130.00")
    expect(page.locator("#tile-leads-total")).to_have_text(str(api["leads"]["total"]))
    months = api["customers"]["revenue_by_month"]
    assert chart_data(page, "chart-revenue") == [float(m["revenue"]) for m in months]
    assert chart_data(page, "chart-revenue", 1) == [m["orders"] for m in months]
    assert drawn(page, "chart-revenue") == len(months) > 2
    assert chart_data(page, "chart-leads") == list(api["leads"]["by_status"].values())
    assert chart_data(page, "chart-lifecycle") == list(api["customers"]["by_lifecycle"].values())
    loyalty = api["loyalty"]
    assert chart_data(page, "chart-loyalty") == [
        float(loyalty[key]) for key in ("points_earned", "points_redeemed", "points_outstanding")
    ]

    weeks = api["feedback"]["weekly_trend"]
    assert chart_data(page, "chart-feedback") == [week["responses"] for week in weeks]
    assert chart_data(page, "chart-feedback", 1) == [week["average_rating"] for week in weeks]
    expect(page.locator("#themes [data-theme]")).to_have_count(len(themes(api_client)))

    page.evaluate("window.stillThisPage = 'yes'")
    query = window()
    page.get_by_label("From").fill(query["date_from"])
    page.get_by_label("To (included)").fill(query["date_to"])
    page.get_by_role("button", name="Apply").click()

    windowed = api_figures(api_client, **query)
    expect(page.locator("#tile-revenue")).to_have_text("30.00")
    expect(page.locator("#tile-leads-total")).to_have_text("1")
    expect(page.locator("#tile-revenue")).to_have_attribute(
        "data-value", windowed["customers"]["total_revenue"]
    )
    months = windowed["customers"]["revenue_by_month"]
    assert chart_data(page, "chart-revenue") == [float(m["revenue"]) for m in months]
    assert drawn(page, "chart-revenue") == len(months) <= 2  # redrawn: chart.update()
    assert chart_data(page, "chart-leads") == list(windowed["leads"]["by_status"].values())
    weeks = windowed["feedback"]["weekly_trend"]
    assert chart_data(page, "chart-feedback") == [week["responses"] for week in weeks]
    expect(page.locator("#tile-feedback-response-rate")).to_have_text(
        f"{(Decimal(str(windowed['feedback']['response_rate'])) * 100).quantize(Decimal('0.1'))}%"
    )
    assert page.evaluate("window.stillThisPage") == "yes"  # redrawn in place, no reload
    page.screenshot(path=str(SCREENSHOT), full_page=True)
    assert page.url == (
        f"{live_server.url}/dashboard/?date_from={query['date_from']}&date_to={query['date_to']}"
    )

    # A bad window: the field's error, the figures kept.
    page.get_by_label("From").fill(query["date_to"])
    page.get_by_label("To (included)").fill(query["date_from"])
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("#window-errors")).to_contain_text("`date_to` must be after `date_from`.")
    expect(page.locator("#tile-revenue")).to_have_text("30.00")
    assert page.evaluate("window.stillThisPage") == "yes"

    assert outside == []
    assert f"{live_server.url}/static/vendor/chart.js/chart.umd.js" in requested
    assert all(
        urlsplit(url).hostname in ("localhost", "127.0.0.1")
        for url in requested
        if url.startswith("http")
    )
