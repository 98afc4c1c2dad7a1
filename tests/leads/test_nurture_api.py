"""Nurturing over the API: sequences (steps numbered, one default, templates checked
when saved), enrolment (`nurture/start/`), stop, reset, unsubscribe (one lead, or by
phone, email or external_id), status changes that end a sequence, statistics."""

from datetime import timedelta

import pytest
from django.utils import timezone

from campaigns import services as campaign_services
from campaigns.models import Message
from crm_project.tenancy import account_scope
from leads.models import NurtureSequence
from tests.leads.conftest import LeadFactory, stored
from tests.leads.nurturing import EMAIL_STEP, make_sequence, nurture_messages, set_fields

pytestmark = pytest.mark.django_db

SEQUENCES = "/api/v1/nurture-sequences/"
START = "/api/v1/leads/nurture/start/"
UNSUBSCRIBE = "/api/v1/leads/unsubscribe/"


def errors(response):
    return [(e["attr"], e["code"]) for e in response.json()["errors"]]


def run(callbacks):
    """Run what the request sent on commit (the nurture writer, among others); what
    they send in turn waits for the test's transaction, which never commits."""
    for callback in callbacks:
        callback()


def lead_url(ref, action):
    return f"/api/v1/leads/{ref}/{action}/"


def new_lead(account, name="Ann", **fields):
    fields.setdefault("email", f"{name.lower()}@x.example")
    return LeadFactory(account=account, first_name=name, **fields)


# --- Sequences ----------------------------------------------------------------------------


def test_a_sequence_is_created_with_its_steps_numbered(api_client, account):
    body = {
        "name": "Onboarding",
        "isDefault": True,
        "steps": [
            {"order": 5, "delay_hours": 24, "channel": "SMS", "message": "Third"},
            {"channel": "email", "subject": "Later", "message": "Fourth"},
            {"order": 2, "delay_hours": 0, "channel": "email", "subject": "S", "message": "One"},
            {"order": 3, "channel": "sms", "subject": "dropped", "message": "Two"},
        ],
    }
    response = api_client.post(SEQUENCES, body, format="json")
    assert response.status_code == 201, response.json()
    data = api_client.get(f"{SEQUENCES}{response.json()['id']}/").json()
    assert data["is_default"] is True
    assert data["active"] is True
    assert [(s["order"], s["message"]) for s in data["steps"]] == [
        (1, "One"),
        (2, "Two"),
        (3, "Third"),
        (4, "Fourth"),
    ]
    assert [s["delay_hours"] for s in data["steps"]] == [0, 0, 24, 0]
    assert data["steps"][1]["subject"] == ""  # SMS steps have no subject


def test_one_default_per_account(api_client, account):
    first = api_client.post(
        SEQUENCES, {"name": "A", "is_default": True, "steps": [EMAIL_STEP]}, format="json"
    ).json()
    second = api_client.post(
        SEQUENCES, {"name": "B", "is_default": True, "steps": [EMAIL_STEP]}, format="json"
    ).json()
    assert api_client.get(f"{SEQUENCES}{first['id']}/").json()["is_default"] is False
    assert api_client.get(f"{SEQUENCES}{second['id']}/").json()["is_default"] is True

    response = api_client.patch(f"{SEQUENCES}{first['id']}/", {"is_default": True}, format="json")
    assert response.status_code == 200, response.json()
    assert api_client.get(f"{SEQUENCES}{second['id']}/").json()["is_default"] is False
    defaults = api_client.get(SEQUENCES, {"is_default": "true"}).json()["results"]
    assert [s["name"] for s in defaults] == ["A"]


def test_another_accounts_default_is_untouched(api_client, other_account):
    theirs = make_sequence(other_account, is_default=True)
    api_client.post(
        SEQUENCES, {"name": "A", "is_default": True, "steps": [EMAIL_STEP]}, format="json"
    )
    with account_scope(other_account):
        assert NurtureSequence.objects.get(pk=theirs.pk).is_default is True


@pytest.mark.parametrize(
    ("step", "attr"),
    [
        ({"channel": "email", "subject": "ok", "message": "{% if a %}"}, "steps.1.message"),
        ({"channel": "email", "subject": "{% if %}", "message": "ok"}, "steps.1.subject"),
        ({"channel": "sms", "message": "{% load static %}"}, "steps.1.message"),
    ],
)
def test_a_step_template_that_does_not_parse_is_a_400_on_it(api_client, account, step, attr):
    body = {"name": "Bad", "steps": [EMAIL_STEP, step]}
    response = api_client.post(SEQUENCES, body, format="json")
    assert response.status_code == 400
    assert [a for a, _code in errors(response)] == [attr]
    with account_scope(account):
        assert not NurtureSequence.objects.exists()


def test_a_bad_template_in_an_update_is_a_400_and_changes_nothing(api_client, account):
    sequence = make_sequence(account)
    response = api_client.patch(
        f"{SEQUENCES}{sequence.pk}/",
        {"name": "Renamed", "steps": [{"channel": "sms", "message": "{{ x|nope }}"}]},
        format="json",
    )
    assert response.status_code == 400
    assert [a for a, _code in errors(response)] == ["steps.0.message"]
    data = api_client.get(f"{SEQUENCES}{sequence.pk}/").json()
    assert data["name"] == "Welcome"
    assert [s["message"] for s in data["steps"]] == ["Welcome"]


@pytest.mark.parametrize(
    ("steps", "attr"),
    [
        ([], "steps"),
        (None, "steps"),
        ([{"channel": "fax", "message": "x"}], "steps.0.channel"),
        ([{"channel": "sms"}], "steps.0.message"),
        ([{"channel": "sms", "message": "x", "delay_hours": -1}], "steps.0.delay_hours"),
        ([{"channel": "sms", "message": "x", "delay_hours": 24 * 366 + 1}], "steps.0.delay_hours"),
        ([{"channel": "sms", "message": "x", "order": 0}], "steps.0.order"),
    ],
)
def test_bad_steps_are_a_400_naming_the_field(api_client, steps, attr):
    body = {"name": "Bad"} if steps is None else {"name": "Bad", "steps": steps}
    response = api_client.post(SEQUENCES, body, format="json")
    assert response.status_code == 400
    assert attr in [a for a, _code in errors(response)]


def test_two_steps_with_the_same_order_are_a_400(api_client):
    step = {"channel": "sms", "message": "x", "order": 1}
    response = api_client.post(SEQUENCES, {"name": "S", "steps": [step, step]}, format="json")
    assert response.status_code == 400
    assert [a for a, _code in errors(response)] == ["steps"]


def test_the_longest_delay_is_accepted(api_client):
    step = {"channel": "sms", "message": "x", "delay_hours": 24 * 366}
    response = api_client.post(SEQUENCES, {"name": "S", "steps": [step]}, format="json")
    assert response.status_code == 201, response.json()


def test_a_duplicate_name_is_a_409_in_the_account_only(api_client, other_api_client, account):
    make_sequence(account, name="Welcome")
    body = {"name": "Welcome", "steps": [EMAIL_STEP]}
    response = api_client.post(SEQUENCES, body, format="json")
    assert response.status_code == 409
    assert errors(response)[0][0] == "name"
    assert other_api_client.post(SEQUENCES, body, format="json").status_code == 201


def test_an_update_without_steps_keeps_them_and_with_steps_replaces_them(api_client, account):
    sequence = make_sequence(account, steps=[{**EMAIL_STEP}, {"channel": "sms", "message": "2"}])
    response = api_client.put(f"{SEQUENCES}{sequence.pk}/", {"active": False}, format="json")
    assert response.status_code == 200, response.json()
    assert [s["order"] for s in response.json()["steps"]] == [1, 2]
    assert response.json()["active"] is False
    response = api_client.patch(
        f"{SEQUENCES}{sequence.pk}/", {"steps": [{"channel": "sms", "message": "only"}]}
    )
    assert response.status_code == 200, response.json()
    assert [(s["order"], s["message"]) for s in response.json()["steps"]] == [(1, "only")]


def test_deleting_a_sequence_stops_its_active_leads(api_client, account):
    sequence = make_sequence(account, steps=[{**EMAIL_STEP, "delay_hours": 5}])
    lead = new_lead(account)
    api_client.post(START, {"sequence": str(sequence.pk)}, format="json")
    assert stored(account, lead).nurture_state == "active"
    assert api_client.delete(f"{SEQUENCES}{sequence.pk}/").status_code == 204
    assert stored(account, lead).nurture_state == "stopped"


def test_another_accounts_sequences_are_invisible(other_api_client, account):
    sequence = make_sequence(account)
    assert other_api_client.get(SEQUENCES).json()["results"] == []
    path = f"{SEQUENCES}{sequence.pk}/"
    assert other_api_client.get(path).status_code == 404
    assert other_api_client.patch(path, {"name": "X"}, format="json").status_code == 404
    assert other_api_client.delete(path).status_code == 404
    with account_scope(account):
        assert NurtureSequence.objects.get(pk=sequence.pk).name == "Welcome"


def test_read_only_keys_may_list_but_not_write_sequences(read_only_client, account):
    make_sequence(account)
    assert read_only_client.get(SEQUENCES).json()["count"] == 1
    body = {"name": "X", "steps": [EMAIL_STEP]}
    assert read_only_client.post(SEQUENCES, body, format="json").status_code == 403
    assert read_only_client.post(START).status_code == 403


# --- Enrolment ------------------------------------------------------------------------------


def test_start_without_a_default_sequence_is_a_409(api_client, account):
    make_sequence(account, is_default=False)
    new_lead(account)
    response = api_client.post(START)
    assert response.status_code == 409
    assert response.json()["errors"][0]["code"] == "no_default_sequence"


@pytest.mark.parametrize("method", ["post", "put"])
def test_start_with_no_body_enrols_every_eligible_lead_in_the_default(api_client, account, method):
    sequence = make_sequence(account, steps=[{**EMAIL_STEP, "delay_hours": 24}], is_default=True)
    eligible = [new_lead(account, "Ann"), new_lead(account, "Bea", status="contacted")]
    unsubscribed = new_lead(account, "Cy")
    set_fields(account, unsubscribed, unsubscribed_at=timezone.now())
    lost, won = new_lead(account, "Di", status="lost"), new_lead(account, "Ed", status="won")
    converted = new_lead(account, "Flo")
    api_client.post(lead_url(converted.pk, "convert"))
    busy = new_lead(account, "Gus")
    set_fields(account, busy, nurture_state="stopped")

    before = timezone.now()
    response = getattr(api_client, method)(START)
    assert response.status_code == 200, response.json()
    assert response.json() == {"enrolled": 2, "skipped": 5, "sent": 0}
    for lead in eligible:
        lead = stored(account, lead)
        assert (lead.nurture_state, lead.nurture_step, lead.nurture_sequence_id) == (
            "active",
            0,
            sequence.pk,
        )
        assert lead.nurture_run == 1
        assert before + timedelta(hours=24) <= lead.nurture_next_at
        assert lead.nurture_next_at <= timezone.now() + timedelta(hours=24)
    for lead in (unsubscribed, lost, won, converted):
        assert stored(account, lead).nurture_state in ("idle", "stopped")
    assert stored(account, busy).nurture_state == "stopped"
    assert nurture_messages(account) == []
    # A second start enrols nobody: they are active now.
    assert api_client.post(START).json() == {"enrolled": 0, "skipped": 7, "sent": 0}


def test_start_names_leads_by_uuid_and_external_id_and_a_sequence(api_client, account):
    make_sequence(account, name="Default", is_default=True)
    chosen = make_sequence(account, name="Chosen", steps=[{**EMAIL_STEP, "delay_hours": 1}])
    by_id = new_lead(account, "Ann")
    by_ext = new_lead(account, "Bea", external_id="B-1")
    left_out = new_lead(account, "Cy")
    lost = new_lead(account, "Di", status="lost", external_id="D-1")
    body = {
        "leadIds": [str(by_id.pk), "ext:B-1", "ext:D-1", "ext:nobody", "junk"],
        "sequence": str(chosen.pk),
    }
    response = api_client.post(START, body, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["enrolled"] == 2
    assert response.json()["sent"] == 0
    for lead in (by_id, by_ext):
        assert stored(account, lead).nurture_sequence_id == chosen.pk
    assert stored(account, left_out).nurture_state == "idle"
    assert stored(account, lost).nurture_state == "idle"


def test_a_first_step_without_delay_is_written_to_the_ledger_at_once(
    api_client, account, django_capture_on_commit_callbacks
):
    make_sequence(
        account,
        steps=[{**EMAIL_STEP, "delay_hours": 0}, {**EMAIL_STEP, "delay_hours": 48}],
        is_default=True,
    )
    reachable = new_lead(account, "Ann")
    phone_only = new_lead(account, "Bea", email="", phone="+13331118888")
    with django_capture_on_commit_callbacks() as callbacks:
        response = api_client.post(START)
    assert response.json() == {"enrolled": 2, "skipped": 0, "sent": 1}
    run(callbacks)  # the writer, sent on commit (its own sends stay queued here)

    (message,) = nurture_messages(account, reachable)
    assert (message.status, message.error, message.channel) == ("queued", "", "email")
    assert message.address == reachable.email
    assert message.source_key == f"nurture:{reachable.pk}:1:1"
    (skipped,) = nurture_messages(account, phone_only)
    assert (skipped.status, skipped.error) == ("skipped", "no_address")
    for lead in (reachable, phone_only):
        lead = stored(account, lead)
        assert (lead.nurture_state, lead.nurture_step) == ("active", 1)
        assert lead.nurture_next_at > timezone.now() + timedelta(hours=47)


@pytest.mark.parametrize(
    ("body", "attr"),
    [
        ({"sequence": "not-a-uuid"}, "sequence"),
        ({"sequence": "00000000-0000-0000-0000-000000000000"}, "sequence"),
        ({"lead_ids": "ext:1"}, "lead_ids"),
    ],
)
def test_bad_start_bodies_are_a_400_on_the_field(api_client, account, body, attr):
    make_sequence(account, is_default=True)
    response = api_client.post(START, body, format="json")
    assert response.status_code == 400
    assert [a for a, _code in errors(response)] == [attr]


def test_an_inactive_sequence_cannot_start(api_client, account):
    sequence = make_sequence(account, active=False)
    new_lead(account)
    response = api_client.post(START, {"sequence": str(sequence.pk)}, format="json")
    assert response.status_code == 400
    assert [a for a, _code in errors(response)] == ["sequence"]


def test_start_never_touches_another_accounts_leads(other_api_client, account):
    mine = make_sequence(account, is_default=True)
    lead = new_lead(account)
    # The other account has no default; naming our sequence is a 400 on it.
    assert other_api_client.post(START).status_code == 409
    response = other_api_client.post(START, {"sequence": str(mine.pk)}, format="json")
    assert response.status_code == 400
    assert [a for a, _code in errors(response)] == ["sequence"]
    assert stored(account, lead).nurture_state == "idle"


def test_another_account_naming_our_lead_enrols_nothing(other_api_client, other_account, account):
    make_sequence(other_account, is_default=True)
    lead = new_lead(account, external_id="EXT-9")
    response = other_api_client.post(
        START, {"lead_ids": [str(lead.pk), "ext:EXT-9"]}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert response.json()["enrolled"] == 0
    assert stored(account, lead).nurture_state == "idle"


# --- Stop, reset ----------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["post", "put"])
def test_stop_stops_an_active_lead_and_leaves_others_unchanged(api_client, account, method):
    make_sequence(account, steps=[{**EMAIL_STEP, "delay_hours": 3}], is_default=True)
    lead = new_lead(account, external_id="L-1")
    idle = new_lead(account, "Bea")
    api_client.post(START, {"lead_ids": [str(lead.pk)]}, format="json")

    response = getattr(api_client, method)(lead_url("ext:L-1", "stop"))
    assert response.status_code == 200, response.json()
    assert response.json()["nurture_state"] == "stopped"
    assert stored(account, lead).nurture_next_at is None
    again = getattr(api_client, method)(lead_url(lead.pk, "stop"))
    assert (again.status_code, again.json()["nurture_state"]) == (200, "stopped")
    answer = api_client.post(lead_url(idle.pk, "stop"))
    assert (answer.status_code, answer.json()["nurture_state"]) == (200, "idle")


def test_reset_restarts_at_step_1_with_a_new_run(
    api_client, account, django_capture_on_commit_callbacks
):
    steps = [{**EMAIL_STEP}, {**EMAIL_STEP, "delay_hours": 5}]
    make_sequence(account, steps=steps, is_default=True)
    lead = new_lead(account, external_id="L-1")
    with django_capture_on_commit_callbacks() as callbacks:
        api_client.post(START)
    run(callbacks)
    api_client.put(lead_url("ext:L-1", "stop"))

    with django_capture_on_commit_callbacks() as callbacks:
        response = api_client.put(lead_url("ext:L-1", "reset"))
    assert response.status_code == 200, response.json()
    assert (response.json()["nurture_state"], response.json()["nurture_step"]) == ("active", 0)
    assert stored(account, lead).nurture_run == 2
    run(callbacks)
    keys = [m.source_key for m in nurture_messages(account, lead)]
    assert keys == [f"nurture:{lead.pk}:1:1", f"nurture:{lead.pk}:2:1"]
    assert stored(account, lead).nurture_step == 1


def test_reset_of_an_idle_lead_uses_the_default_sequence(api_client, account):
    sequence = make_sequence(account, steps=[{**EMAIL_STEP, "delay_hours": 2}], is_default=True)
    lead = new_lead(account)
    response = api_client.post(lead_url(lead.pk, "reset"))
    assert response.status_code == 200, response.json()
    assert stored(account, lead).nurture_sequence_id == sequence.pk
    assert nurture_messages(account) == []


def test_reset_without_any_sequence_is_a_409(api_client, account):
    lead = new_lead(account)
    assert api_client.post(lead_url(lead.pk, "reset")).status_code == 409


def test_reset_of_an_unsubscribed_or_converted_lead_is_a_409(api_client, account):
    make_sequence(account, is_default=True)
    unsubscribed, converted = new_lead(account, "Ann"), new_lead(account, "Bea")
    api_client.post(lead_url(unsubscribed.pk, "unsubscribe"))
    api_client.post(lead_url(converted.pk, "convert"))
    for lead, code in ((unsubscribed, "unsubscribed"), (converted, "converted")):
        response = api_client.put(lead_url(lead.pk, "reset"))
        assert response.status_code == 409
        assert response.json()["errors"][0]["code"] == code
        assert stored(account, lead).nurture_state != "active"


@pytest.mark.parametrize("action", ["stop", "reset", "unsubscribe", "statistics"])
def test_another_account_cannot_act_on_a_lead(other_api_client, account, action):
    make_sequence(account, is_default=True)
    lead = new_lead(account, external_id="L-1")
    for ref in (lead.pk, "ext:L-1"):
        if action == "statistics":
            assert other_api_client.get(lead_url(ref, action)).status_code == 404
        else:
            assert other_api_client.post(lead_url(ref, action)).status_code == 404
            assert other_api_client.put(lead_url(ref, action)).status_code == 404
    lead = stored(account, lead)
    assert (lead.nurture_state, lead.unsubscribed_at) == ("idle", None)


@pytest.mark.parametrize("action", ["stop", "reset", "unsubscribe"])
def test_read_only_keys_cannot_act(read_only_client, account, action):
    lead = new_lead(account)
    assert read_only_client.post(lead_url(lead.pk, action)).status_code == 403


# --- Unsubscribe ------------------------------------------------------------------------------


def test_unsubscribing_one_lead_ends_its_nurture_and_skips_its_queued_messages(
    api_client, account, django_capture_on_commit_callbacks
):
    make_sequence(account, is_default=True)
    lead = new_lead(account, external_id="L-1")
    with django_capture_on_commit_callbacks() as callbacks:
        api_client.post(START)
    run(callbacks)
    assert [m.status for m in nurture_messages(account, lead)] == ["queued"]

    response = api_client.put(lead_url("ext:L-1", "unsubscribe"))
    assert response.status_code == 200, response.json()
    first = response.json()["unsubscribed_at"]
    assert first is not None
    # One step, sent at once: the lead had completed it; unsubscribe keeps that state.
    assert [(m.status, m.error) for m in nurture_messages(account, lead)] == [
        ("skipped", "unsubscribed")
    ]
    again = api_client.post(lead_url(lead.pk, "unsubscribe"))
    assert (again.status_code, again.json()["unsubscribed_at"]) == (200, first)


def test_unsubscribe_stops_an_active_lead(api_client, account):
    make_sequence(account, steps=[{**EMAIL_STEP, "delay_hours": 1}], is_default=True)
    lead = new_lead(account)
    api_client.post(START)
    api_client.post(lead_url(lead.pk, "unsubscribe"))
    lead = stored(account, lead)
    assert (lead.nurture_state, lead.nurture_next_at) == ("stopped", None)


@pytest.mark.parametrize(
    "phone", ["(333) 111-8888", "+1 333-111-8888", "3331118888", "+1333-111-8888", "333.111.8888"]
)
def test_unsubscribe_by_phone_in_any_common_format(api_client, account, phone):
    lead = new_lead(account, phone="+13331118888")
    other = new_lead(account, "Bea", phone="+13331118889")
    response = api_client.post(UNSUBSCRIBE, {"phone": phone}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json() == {"unsubscribed": 1}
    assert stored(account, lead).unsubscribed_at is not None
    assert stored(account, other).unsubscribed_at is None


def test_unsubscribe_by_phone_in_the_query_string_with_put(api_client, account):
    lead = new_lead(account, phone="+13331118888")
    response = api_client.put(f"{UNSUBSCRIBE}?phone=%2B1333-111-8888")
    assert response.status_code == 200, response.json()
    assert stored(account, lead).unsubscribed_at is not None


def test_unsubscribe_by_email_ignores_case_and_counts_every_match(api_client, account):
    leads = [new_lead(account, n, email="Same@X.example") for n in ("Ann", "Bea")]
    response = api_client.post(f"{UNSUBSCRIBE}?email=same@x.EXAMPLE")
    assert response.json() == {"unsubscribed": 2}
    assert all(stored(account, lead).unsubscribed_at for lead in leads)


def test_unsubscribe_by_external_id_in_the_body(api_client, account):
    lead = new_lead(account, external_id="EXT-32342-TR")
    response = api_client.put(UNSUBSCRIBE, {"externalId": "EXT-32342-TR"}, format="json")
    assert response.json() == {"unsubscribed": 1}
    assert stored(account, lead).unsubscribed_at is not None


def test_unsubscribe_without_a_match_is_a_404_and_a_repeat_is_a_200(api_client, account):
    lead = new_lead(account, phone="+13331118888")
    assert api_client.post(UNSUBSCRIBE, {"phone": "+13331110000"}).status_code == 404
    assert api_client.post(UNSUBSCRIBE, {"email": "nobody@x.example"}).status_code == 404
    first = api_client.post(UNSUBSCRIBE, {"phone": "3331118888"})
    at = stored(account, lead).unsubscribed_at
    second = api_client.post(UNSUBSCRIBE, {"phone": "3331118888"})
    assert (first.status_code, second.status_code) == (200, 200)
    assert second.json() == {"unsubscribed": 1}
    assert stored(account, lead).unsubscribed_at == at


def test_unsubscribe_needs_a_key(api_client):
    response = api_client.post(UNSUBSCRIBE, {}, format="json")
    assert response.status_code == 400


def test_unsubscribe_never_reaches_another_accounts_leads(other_api_client, account):
    lead = new_lead(account, phone="+13331118888", external_id="X-1")
    for body in ({"phone": "3331118888"}, {"email": lead.email}, {"external_id": "X-1"}):
        assert other_api_client.post(UNSUBSCRIBE, body, format="json").status_code == 404
    assert stored(account, lead).unsubscribed_at is None


# --- Status changes and conversion end a sequence -------------------------------------------


@pytest.mark.parametrize("status", ["lost", "won", "LOST"])
def test_status_lost_or_won_ends_the_sequence(api_client, account, status):
    make_sequence(account, steps=[{**EMAIL_STEP, "delay_hours": 1}], is_default=True)
    lead = new_lead(account)
    api_client.post(START)
    response = api_client.patch(f"/api/v1/leads/{lead.pk}/", {"status": status}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["nurture_state"] == "stopped"
    assert stored(account, lead).nurture_next_at is None


def test_another_status_keeps_the_sequence(api_client, account):
    make_sequence(account, steps=[{**EMAIL_STEP, "delay_hours": 1}], is_default=True)
    lead = new_lead(account)
    api_client.post(START)
    api_client.patch(f"/api/v1/leads/{lead.pk}/", {"status": "qualified"}, format="json")
    assert stored(account, lead).nurture_state == "active"


def test_conversion_stops_the_sequence(api_client, account):
    make_sequence(account, steps=[{**EMAIL_STEP, "delay_hours": 1}], is_default=True)
    lead = new_lead(account)
    api_client.post(START)
    assert api_client.post(lead_url(lead.pk, "convert")).status_code == 201
    lead = stored(account, lead)
    assert (lead.nurture_state, lead.nurture_next_at, lead.status) == (
        "stopped",
        None,
        "converted",
    )


# --- Statistics -----------------------------------------------------------------------------


def test_statistics_of_a_new_lead(api_client, account):
    lead = new_lead(account, external_id="L-1")
    response = api_client.get(lead_url("ext:L-1", "statistics"))
    assert response.status_code == 200, response.json()
    assert response.json() == {
        "delivered_count": 0,
        "qualified": False,
        "last_delivered_at": None,
        "interactions_count": 0,
        "nurture_step": 0,
        "nurture_state": "idle",
    }
    del lead


def test_statistics_count_deliveries_interactions_and_qualification(api_client, account):
    lead = new_lead(account, status="negotiation")
    with account_scope(account):
        at = timezone.now() - timedelta(days=1)
        for status, delivered_at in (("delivered", at), ("clicked", None), ("queued", None)):
            Message.objects.create(
                account=account,
                source="nurture",
                lead_id=lead.pk,
                channel="email",
                address=lead.email,
                status=status,
                delivered_at=delivered_at,
                clicked_at=at - timedelta(hours=1) if status == "clicked" else None,
            )
    api_client.post(f"/api/v1/leads/{lead.pk}/interactions/", {"type": "call"}, format="json")
    data = api_client.get(lead_url(lead.pk, "statistics")).json()
    assert data["delivered_count"] == 2
    assert data["qualified"] is True
    assert data["interactions_count"] == 1
    assert data["last_delivered_at"] == at.isoformat().replace("+00:00", "Z")


def test_unsubscribe_by_external_id_in_the_query_string(api_client, account):
    lead = new_lead(account, external_id="EXT-7")
    response = api_client.post(f"{UNSUBSCRIBE}?external_id=EXT-7")
    assert response.json() == {"unsubscribed": 1}
    assert stored(account, lead).unsubscribed_at is not None


def test_a_messages_unsubscribe_link_unsubscribes_its_lead(
    api_client, account, django_capture_on_commit_callbacks
):
    """The ledger's one-click unsubscribe (campaigns.services.message_unsubscribe) on a
    lead's message: the lead is unsubscribed, its nurture ends, its queued messages are
    skipped."""
    steps = [{**EMAIL_STEP}, {**EMAIL_STEP, "delay_hours": 5}]
    make_sequence(account, steps=steps, is_default=True)
    lead = new_lead(account)
    with django_capture_on_commit_callbacks() as callbacks:
        api_client.post(START)
    run(callbacks)
    (message,) = nurture_messages(account, lead)
    with account_scope(account):
        campaign_services.message_unsubscribe(message=message)
        campaign_services.message_unsubscribe(message=message)  # a second click
    state = stored(account, lead)
    assert state.unsubscribed_at is not None
    assert (state.nurture_state, state.nurture_next_at) == ("stopped", None)
    (message,) = nurture_messages(account, lead)
    assert (message.status, message.error) == ("skipped", "unsubscribed")
    assert message.unsubscribed_at is not None


def test_statistics_are_a_read_for_read_only_keys(read_only_client, account):
    lead = new_lead(account)
    assert read_only_client.get(lead_url(lead.pk, "statistics")).status_code == 200


def test_a_nurtured_lead_can_be_deleted(api_client, account, django_capture_on_commit_callbacks):
    make_sequence(account, is_default=True)
    lead = new_lead(account)
    with django_capture_on_commit_callbacks() as callbacks:
        api_client.post(START)
    run(callbacks)
    assert api_client.delete(f"/api/v1/leads/{lead.pk}/").status_code == 204
    assert api_client.get(f"/api/v1/leads/{lead.pk}/").status_code == 404


@pytest.mark.parametrize("value", ["maybe", "-58800"])
def test_a_bad_boolean_filter_is_a_400_naming_it(api_client, value):
    response = api_client.get(SEQUENCES, {"is_default": value})
    assert response.status_code == 400
    assert [a for a, _code in errors(response)] == ["is_default"]
