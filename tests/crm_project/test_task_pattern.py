"""The one Celery task pattern (crm_project/celery.py): every task is a TenantTask (runs
for the account of its sender, in its scope) or a PlatformTask (beat's platform-wide
work), acknowledged late, with a statement timeout, and sent only after a commit."""

import re
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.db import connection

from accounts.tasks import api_key_mark_used
from crm_project.celery import PlatformTask, TenantTask, app
from crm_project.tenancy import ScopeError, account_scope, current_account_id
from imports import tasks as import_tasks
from segments import tasks as segment_tasks
from segments.models import Segment
from tests.crm_project.test_celery_worker import wait_until
from tests.factories import AgentFactory, CustomerFactory

pytestmark = pytest.mark.django_db

seen = []


def _observe(task_account_id=None):
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        timeout = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM accounts_agent")
        visible_agents = cursor.fetchone()[0]
    seen.append(
        {
            "scope": current_account_id(),
            "task_account_id": task_account_id,
            "in_transaction": connection.in_atomic_block,
            "timeout": timeout,
            "visible_agents": visible_agents,
        }
    )


@app.task
def probe():
    _observe()


@app.task(bind=True, atomic=False)
def probe_outside_a_transaction(self):
    with account_scope(self.account_id):
        _observe(self.account_id)


@app.task(base=PlatformTask)
def platform_probe():
    _observe()


@pytest.fixture(autouse=True)
def _forget():
    seen.clear()


@pytest.fixture
def agents(account, other_account):
    return AgentFactory(account=account), AgentFactory(account=other_account)


def our_tasks():
    app.loader.import_default_modules()  # what a worker does first: every app's tasks.py
    return {
        name: task
        for name, task in app.tasks.items()
        if name.split(".")[0] in {config.label for config in apps.get_app_configs()}
    }


# --- Declared once, on the base --------------------------------------------------------


def test_every_task_is_a_tenant_or_a_platform_task_acknowledged_late():
    tasks = our_tasks()
    assert {"accounts.tasks.api_key_mark_used", "imports.tasks.import_job_run"} <= set(tasks)
    for name, task in tasks.items():
        assert isinstance(task, TenantTask | PlatformTask), name
        assert (task.acks_late, task.reject_on_worker_lost) == (True, True), name


def test_beat_runs_only_platform_tasks():
    tasks = our_tasks()
    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        assert isinstance(tasks[entry["task"]], PlatformTask), entry["task"]


def test_imports_and_counts_have_their_own_statement_timeouts():
    assert import_tasks.import_job_run.statement_timeout_setting == "DB_IMPORT_STATEMENT_TIMEOUT"
    assert import_tasks.import_job_run.atomic is False
    assert (
        segment_tasks.segment_counts_refresh.statement_timeout_setting
        == "DB_COUNT_STATEMENT_TIMEOUT"
    )


def test_tasks_are_sent_only_through_delay_on_commit():
    """`.delay()`, `.apply_async()` and `send_task()` appear in the base only."""
    root = Path(settings.BASE_DIR)
    sending = re.compile(r"\.(delay|apply_async|send_task)\(")
    offenders = [
        str(path.relative_to(root))
        for config in apps.get_app_configs()
        if Path(config.path).is_relative_to(root)
        for path in Path(config.path).rglob("*.py")
        if "migrations" not in path.parts
        and path != root / "crm_project" / "celery.py"
        and sending.search(path.read_text())
    ]
    assert offenders == []


# --- Sending ---------------------------------------------------------------------------


def test_delay_on_commit_sends_after_the_commit_for_the_account_in_scope(
    agents, account, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks, account_scope(account):
        probe.delay_on_commit()
    assert seen == []  # nothing before the commit

    for callback in callbacks:
        callback()

    assert [row["scope"] for row in seen] == [account.pk]
    assert seen[0]["visible_agents"] == 1  # row-level security as that account


def test_delay_on_commit_outside_an_account_scope_is_refused(db):
    with pytest.raises(ScopeError):
        probe.delay_on_commit()


def test_platform_code_sends_for_an_account_explicitly(
    agents, other_account, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        probe.delay_on_commit_for(other_account.pk)

    assert [row["scope"] for row in seen] == [other_account.pk]


def test_an_account_scope_cannot_send_for_another_account(account, other_account):
    with account_scope(account), pytest.raises(ScopeError):
        api_key_mark_used.delay_on_commit_for(other_account.pk, "id", "2026-01-01T00:00:00Z")


# --- Running ---------------------------------------------------------------------------


def test_a_tenant_task_sent_with_no_account_refuses_to_run(agents):
    with pytest.raises(ScopeError):
        probe.apply().get()
    with pytest.raises(ScopeError):
        probe_outside_a_transaction.apply().get()
    assert seen == []


def test_a_tenant_task_runs_in_its_accounts_scope_with_the_task_timeout(agents, account, settings):
    settings.DB_TASK_STATEMENT_TIMEOUT = 7

    probe.apply(headers={"account_id": str(account.pk)}).get()

    assert seen == [
        {
            "scope": account.pk,
            "task_account_id": None,
            "in_transaction": True,
            "timeout": "7s",
            "visible_agents": 1,
        }
    ]


def test_a_non_atomic_task_gets_its_account_and_opens_its_own_scopes(agents, account):
    probe_outside_a_transaction.apply(headers={"account_id": str(account.pk)}).get()

    assert [(row["scope"], row["task_account_id"]) for row in seen] == [
        (account.pk, str(account.pk))
    ]


def test_a_platform_task_runs_with_no_account(agents):
    platform_probe.apply().get()

    assert [(row["scope"], row["visible_agents"]) for row in seen] == [(None, 0)]


def test_the_import_task_runs_outside_the_scope_with_the_import_timeout(
    account, settings, monkeypatch
):
    settings.DB_IMPORT_STATEMENT_TIMEOUT = 9
    calls = []

    def import_job_run(*, account_id, job_id):
        with account_scope(account_id), connection.cursor() as cursor:
            cursor.execute("SHOW statement_timeout")
            calls.append((account_id, job_id, current_account_id(), cursor.fetchone()[0]))

    monkeypatch.setattr(import_tasks.jobs, "import_job_run", import_job_run)

    import_tasks.import_job_run.apply(args=["job-1"], headers={"account_id": str(account.pk)})

    assert calls == [(str(account.pk), "job-1", account.pk, "9s")]


# --- On a real worker --------------------------------------------------------------------


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_beat_fans_the_counts_out_to_each_accounts_scope_on_a_worker(
    start_celery_worker, account, other_account, api_client, other_api_client
):
    lyon = {"name": "Lyon", "rules": {"field": "city", "operator": "=", "value": "Lyon"}}
    ours = api_client.post("/api/v1/segments/", lyon, format="json").json()["id"]
    theirs = other_api_client.post("/api/v1/segments/", lyon, format="json").json()["id"]
    CustomerFactory(account=account, city="Lyon")
    CustomerFactory.create_batch(2, account=other_account, city="Lyon")
    start_celery_worker()

    app.send_task("segments.tasks.segment_counts_refresh_all")  # as beat does

    def counts():
        return [
            segment_count(account, ours),
            segment_count(other_account, theirs),
        ]

    assert wait_until(lambda: counts() == [1, 2]), counts()


def segment_count(account, segment_id):
    with account_scope(account):
        return Segment.objects.get(pk=segment_id).customers_count
