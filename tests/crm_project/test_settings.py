"""The settings module reads every value from the environment and refuses a bad one
at start-up, naming the variable."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run(*argv, **overrides):
    """`python *argv` in this checkout, with a secret and `overrides` (None unsets)."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "crm_project.settings",
        "SECRET_KEY": "x" * 60,
        **overrides,
    }
    return subprocess.run(
        [sys.executable, *argv],
        env={k: v for k, v in env.items() if v is not None},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def start(**overrides):
    return run("-c", "import django; django.setup()", **overrides)


def test_the_test_environment_starts():
    assert start().returncode == 0


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DEBUG", "maybe"),
        ("SECRET_KEY", ""),
        ("DATABASE_URL", "mysql://root@localhost/crm"),
        ("REDIS_URL", "http://localhost:6379"),
        ("EMAIL_URL", "carrier-pigeon://coop"),
        ("SMS_PROVIDER", "fax"),
        ("SMS_PROVIDER", "http"),
        ("API_THROTTLE_RATE", "fast"),
        ("DB_CONN_MAX_AGE", "forever"),
        ("DEFAULT_ACCOUNT_TIMEZONE", "Mars/Olympus"),
        ("LLM_URL", "ftp://llm"),
        ("DB_STATEMENT_TIMEOUT", "-1"),
        ("DATA_UPLOAD_MAX_MEMORY_SIZE", "12"),
        ("SECURE_HSTS_PRELOAD", "sometimes"),
        ("LOG_LEVEL", "loud"),
        ("AUTH_FAILURE_THROTTLE_RATE", "10/fortnight"),
        ("NUM_PROXIES", "one"),
        ("DB_APP_ROLE", "crm app; drop table"),
    ],
)
def test_a_bad_value_stops_start_up_naming_the_variable(variable, value):
    result = start(**{variable: value})
    assert result.returncode != 0
    # The error's own line (the last of the traceback) names the variable.
    error = result.stderr.strip().splitlines()[-1]
    assert error.startswith(("django.core.exceptions.ImproperlyConfigured", "environs.")), error
    assert variable in error


def test_a_blank_value_keeps_the_default():
    """`FOO=` in an env file, or an empty CI variable, is as if it were unset."""
    result = start(DEBUG=" ", DB_CONN_MAX_AGE="", ALLOWED_HOSTS="", SMS_PROVIDER="  ")
    assert result.returncode == 0, result.stderr


def test_values_are_read_trimmed_and_typed():
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.ALLOWED_HOSTS, s.DB_STATEMENT_TIMEOUT, s.SESSION_COOKIE_SECURE, "
        "s.SMS_PROVIDER, s.API_THROTTLE_RATE)"
    )
    result = run(
        "-c",
        code,
        ALLOWED_HOSTS=" crm.example.com, ,api.example.com ",
        DB_STATEMENT_TIMEOUT=" 45 ",
        SESSION_COOKIE_SECURE="off",
        SMS_PROVIDER="LOG",
        API_THROTTLE_RATE="100/hour",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == (
        "['crm.example.com', 'api.example.com'] 45 False log 100/hour"
    )


def test_deploy_checks_are_clean_with_debug_off():
    """A production configuration: a real secret and an SMTP server (the default file
    mailer is for development and `check --deploy` rightly says so)."""
    result = run(
        "manage.py",
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        SECRET_KEY=secrets.token_urlsafe(50),
        DEBUG="false",
        EMAIL_URL="smtp://crm:pw@mail.example.com:587",
    )
    assert result.returncode == 0, result.stderr
