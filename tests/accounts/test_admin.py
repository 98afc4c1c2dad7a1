"""The Django admin: staff who are not superusers work in their own account only, with
the permissions of their role there; superusers see every account."""

import pytest
from django.test import Client

from accounts.models import Agent, Membership, Role
from crm_project.tenancy import account_scope, unscoped
from tests.factories import AgentFactory, MembershipFactory, make_api_key

AGENTS = "/admin/accounts/agent/"


def signed_in(user):
    client = Client()
    client.force_login(user)
    return client


def staff_of(account, role):
    return MembershipFactory(account=account, role=role).user


@pytest.fixture
def agents(account, other_account):
    """One agent in each account."""
    return (
        AgentFactory(account=account, first_name="Ada", last_name="Acmeson"),
        AgentFactory(account=other_account, first_name="Gus", last_name="Globexson"),
    )


def agent_form(**fields):
    data = {
        "first_name": "Nina",
        "last_name": "New",
        "email": "nina@acme.example",
        "phone": "",
        "external_id": "",
        "user": "",
        "active": "on",
        "_save": "Save",
    }
    data.update(fields)
    return data


# --- Staff of one account ----------------------------------------------------------


def test_staff_sees_only_their_accounts_agents(user, agents):
    html = signed_in(user).get(AGENTS).content.decode()
    assert "Ada Acmeson" in html
    assert "Gus Globexson" not in html
    assert "1 agent" in html


def test_staff_sees_only_their_accounts_api_keys_without_hashes(user, account, other_account):
    own, _ = make_api_key(account, name="acme key")
    foreign, _ = make_api_key(other_account, name="globex key")

    html = signed_in(user).get("/admin/accounts/apikey/").content.decode()
    assert own.prefix in html
    assert foreign.prefix not in html
    assert own.secret_hash not in html

    detail = signed_in(user).get(f"/admin/accounts/apikey/{own.pk}/change/").content.decode()
    assert own.prefix in detail
    assert own.secret_hash not in detail


def test_staff_sees_only_their_accounts_memberships(user, other_account):
    stranger = staff_of(other_account, Role.ADMIN)
    html = signed_in(user).get("/admin/accounts/membership/").content.decode()
    assert user.username in html
    assert stranger.username not in html


def test_staff_sees_only_their_own_account_read_only(user, account, other_account):
    client = signed_in(user)
    listing = client.get("/admin/accounts/account/").content.decode()
    assert "Acme" in listing
    assert "Globex" not in listing

    page = client.get(f"/admin/accounts/account/{account.pk}/change/")
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()  # view only

    assert (
        client.post(
            f"/admin/accounts/account/{account.pk}/change/", {"name": "Renamed"}
        ).status_code
        == 403
    )
    account.refresh_from_db()
    assert account.name == "Acme"
    assert client.get(f"/admin/accounts/account/{other_account.pk}/change/").status_code == 302


def test_another_accounts_agent_is_out_of_reach(user, agents):
    _own, foreign = agents
    client = signed_in(user)

    page = client.get(f"{AGENTS}{foreign.pk}/change/")
    assert page.status_code in {302, 404}
    if page.status_code == 302:
        assert page["Location"] == "/admin/"

    client.post(f"{AGENTS}{foreign.pk}/change/", agent_form(first_name="Hijacked"))
    client.post(f"{AGENTS}{foreign.pk}/delete/", {"post": "yes"})
    with unscoped():
        foreign.refresh_from_db()
    assert foreign.first_name == "Gus"


def test_agent_created_in_the_admin_belongs_to_the_staffs_account(user, account, other_account):
    response = signed_in(user).post(f"{AGENTS}add/", agent_form(external_id="nina-1"))
    assert response.status_code == 302

    with account_scope(account):
        agent = Agent.objects.get(external_id="nina-1")
    assert agent.account_id == account.pk
    assert agent.first_name == "Nina"
    with account_scope(other_account):
        assert not Agent.objects.filter(external_id="nina-1").exists()


def test_the_form_cannot_choose_the_account(user, account, other_account):
    signed_in(user).post(
        f"{AGENTS}add/", agent_form(external_id="nina-2", account=str(other_account.pk))
    )
    with unscoped():
        assert Agent.objects.get(external_id="nina-2").account_id == account.pk


def test_a_duplicate_external_id_is_a_form_error(user, account):
    AgentFactory(account=account, external_id="dup")
    response = signed_in(user).post(f"{AGENTS}add/", agent_form(external_id="dup"))
    assert response.status_code == 200  # the form again, with the error; not a 500
    assert "An agent with this external id exists" in response.content.decode()
    with account_scope(account):
        assert Agent.objects.filter(external_id="dup").count() == 1


def test_user_choices_are_the_accounts_members_only(user, account, other_account):
    stranger = staff_of(other_account, Role.ADMIN)
    html = signed_in(user).get(f"{AGENTS}add/").content.decode()
    assert f'<option value="{user.pk}">{user.username}</option>' in html
    assert stranger.username not in html

    response = signed_in(user).post(
        f"{AGENTS}add/", agent_form(external_id="nina-3", user=str(stranger.pk))
    )
    assert response.status_code == 200
    with account_scope(account):
        assert not Agent.objects.filter(external_id="nina-3").exists()


def test_a_member_views_agents_but_cannot_change_them(account, agents):
    own, _ = agents
    client = signed_in(staff_of(account, Role.MEMBER))
    assert client.get(AGENTS).status_code == 200
    assert client.get(f"{AGENTS}add/").status_code == 403
    client.post(f"{AGENTS}{own.pk}/change/", agent_form(first_name="Changed"))
    with account_scope(account):
        own.refresh_from_db()
    assert own.first_name == "Ada"


def test_read_only_staff_cannot_see_api_keys(account):
    client = signed_in(staff_of(account, Role.READ_ONLY))
    assert client.get("/admin/accounts/apikey/").status_code == 403
    assert "/admin/accounts/apikey/" not in client.get("/admin/").content.decode()


def test_an_account_admin_changes_a_role_but_not_the_user(user, account):
    colleague = staff_of(account, Role.MEMBER)
    with account_scope(account):
        membership = Membership.objects.get(user=colleague)
    response = signed_in(user).post(
        f"/admin/accounts/membership/{membership.pk}/change/",
        {"role": Role.READ_ONLY, "user": str(user.pk), "_save": "Save"},
    )
    assert response.status_code == 302
    with account_scope(account):
        membership.refresh_from_db()
    assert membership.role == Role.READ_ONLY
    assert membership.user_id == colleague.pk


def test_staff_without_a_chosen_account_see_nothing(account, other_account, agents):
    both = staff_of(account, Role.ADMIN)
    MembershipFactory(account=other_account, user=both, role=Role.ADMIN)
    client = signed_in(both)
    assert "permission to view or edit anything" in client.get("/admin/").content.decode()
    assert client.get(AGENTS).status_code == 403


# --- Superusers ----------------------------------------------------------------------------


def test_superuser_sees_every_accounts_rows(superuser, agents):
    html = signed_in(superuser).get(AGENTS).content.decode()
    assert "Ada Acmeson" in html
    assert "Gus Globexson" in html
    assert "By account" in html  # the account filter, across accounts only


def test_superuser_creates_an_agent_in_a_chosen_account(superuser, other_account):
    client = signed_in(superuser)
    assert 'name="account"' in client.get(f"{AGENTS}add/").content.decode()
    response = client.post(
        f"{AGENTS}add/", agent_form(external_id="platform-1", account=str(other_account.pk))
    )
    assert response.status_code == 302
    with unscoped():
        assert Agent.objects.get(external_id="platform-1").account_id == other_account.pk


def test_superuser_must_choose_the_account_of_a_new_row(superuser):
    response = signed_in(superuser).post(f"{AGENTS}add/", agent_form(external_id="platform-2"))
    assert response.status_code == 200
    assert "This field is required" in response.content.decode()
    with unscoped():
        assert not Agent.objects.filter(external_id="platform-2").exists()


def test_superuser_pauses_an_account_through_the_action(superuser, account):
    response = signed_in(superuser).post(
        "/admin/accounts/account/",
        {"action": "pause", "_selected_action": [str(account.pk)]},
    )
    assert response.status_code == 302
    account.refresh_from_db()
    assert account.status == "paused"


def test_admin_site_header(user):
    assert "CRM admin" in signed_in(user).get("/admin/").content.decode()


def test_superuser_whose_chosen_account_is_gone_sees_nothing_rather_than_everything(
    superuser, agents
):
    client = signed_in(superuser)
    session = client.session
    session["account_id"] = "no-such-account"
    session.save()
    assert client.get(AGENTS).status_code == 403
    assert "No account selected" in client.get("/").content.decode()
