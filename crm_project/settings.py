"""The one settings module. Every value comes from the environment and a bad value stops
start-up with a message naming the variable; the defaults make `make run` work with
nothing set (private PostgreSQL and Redis under var/, see crm_project/embedded.py)."""

import logging
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import dj_database_url
import environs
from django.core.exceptions import ImproperlyConfigured

log = logging.getLogger("crm_project.settings")


class _Environment(environs.Env):
    """environs' typed readers: a value that does not parse or validate stops start-up
    with an error naming the variable. One rule of ours on top: values are trimmed, and a
    blank one counts as unset (`FOO=` in an env file keeps the default)."""

    def _get_value(self, env_key: str, default: Any) -> Any:
        # The hook environs' own FileAwareEnv overrides to read `<NAME>_FILE`.
        value = super()._get_value(env_key, default)
        if isinstance(value, str):
            value = value.strip()
            return value or default
        return value


env = _Environment()
# Numbers read from the environment are counts, sizes and durations.
NON_NEGATIVE = environs.validate.Range(min=0)


@env.parser_for("comma_list")
def _comma_list(value: str | list[str]) -> list[str]:
    """`a, b,,c` is ["a", "b", "c"] (a default is given as a list)."""
    items = value.split(",") if isinstance(value, str) else value
    return [item.strip() for item in items if item.strip()]


@env.parser_for("choice")
def _choice(value: str, choices: set[str]) -> str:
    """One of `choices`, in any case."""
    if value.lower() not in choices:
        raise environs.ValidationError(f"Must be one of: {', '.join(sorted(choices))}.")
    return value.lower()


@env.parser_for("rate")
def _rate(value: str) -> str:
    """A DRF throttle rate: `<count>/<s|m|h|d...>`."""
    count, _, period = value.partition("/")
    if not count.isdigit() or period[:1] not in {"s", "m", "h", "d"}:
        raise environs.ValidationError("Not a rate such as 600/min.")
    return value


@env.parser_for("timezone")
def _timezone(value: str) -> str:
    """An IANA time zone name."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise environs.ValidationError("Not a known time zone.") from None
    return value


# --- Core -----------------------------------------------------------------------------
BASE_DIR = Path(__file__).resolve().parent.parent
# Private servers' data, uploads, mail files (crm_project/run.py reads it the same way).
VAR_DIR = env.path("CRM_VAR_DIR", BASE_DIR / "var")
DEBUG = env.bool("DEBUG", False)
SECRET_KEY = env.str("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY is required when DEBUG is off.")
    SECRET_KEY = "insecure-development-key-only-used-with-DEBUG-on"  # noqa: S105
ALLOWED_HOSTS = env.comma_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.comma_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "drf_standardized_errors",
    "crm_project",
    "accounts",
    "customers",
    "orders",
    "segments",
    "imports",
    "campaigns",
    "leads",
    "reports",
    "loyalty",
    "feedback",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "crm_project.middleware.RefuseNulInQueryMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "crm_project.middleware.AccountScopeMiddleware",
]

ROOT_URLCONF = "crm_project.urls"
WSGI_APPLICATION = "crm_project.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "crm_project.context_processors.current_account",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------
DATABASE_URL = env.str("DATABASE_URL", "")
if not DATABASE_URL:
    from crm_project.embedded import ensure_database_url

    DATABASE_URL = ensure_database_url(VAR_DIR)
try:
    _db = dj_database_url.parse(
        DATABASE_URL,
        conn_max_age=env.int("DB_CONN_MAX_AGE", 60, validate=NON_NEGATIVE),
        conn_health_checks=True,
    )
except ValueError as exc:
    raise ImproperlyConfigured(f"DATABASE_URL is not a database URL: {exc}") from None
if _db.get("ENGINE") != "django.db.backends.postgresql":
    raise ImproperlyConfigured("DATABASE_URL must name a PostgreSQL database (postgres://...).")
_db.setdefault("OPTIONS", {})
# JIT compilation costs 80-160 ms on every large count (segments) and wins nothing on
# the short queries of a CRM. Set per connection: the app switches role with SET ROLE.
_db["OPTIONS"].setdefault("options", "-c jit=off")
_db["TEST"] = {"NAME": env.str("TEST_DATABASE_NAME", "") or None}
DATABASES = {"default": _db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# The role every application connection switches to (`SET ROLE`), so PostgreSQL's
# row-level security applies even when DATABASE_URL names a superuser or the owner.
# Created by accounts' migrations; empty: the login role is the application role.
DB_APP_ROLE = env.str("DB_APP_ROLE", "crm_app")
# The role `unscoped()` switches to for its transaction: the only one the row-level
# security policies show every account's rows (see README, Tenancy).
DB_MAINTENANCE_ROLE = env.str("DB_MAINTENANCE_ROLE", "crm_maintenance")
for _name, _role in (("DB_APP_ROLE", DB_APP_ROLE), ("DB_MAINTENANCE_ROLE", DB_MAINTENANCE_ROLE)):
    if _role and not _role.replace("_", "").isalnum():
        raise ImproperlyConfigured(f"{_name}={_role!r} must be a plain identifier.")
if not DB_MAINTENANCE_ROLE or DB_MAINTENANCE_ROLE == DB_APP_ROLE:
    raise ImproperlyConfigured("DB_MAINTENANCE_ROLE must be set and differ from DB_APP_ROLE.")
# Seconds one SQL statement may run (0: no limit): a request's, a Celery task's, an
# import's and a segment count's (crm_project.tenancy.statement_timeout).
DB_STATEMENT_TIMEOUT = env.int("DB_STATEMENT_TIMEOUT", 30, validate=NON_NEGATIVE)
DB_TASK_STATEMENT_TIMEOUT = env.int("DB_TASK_STATEMENT_TIMEOUT", 120, validate=NON_NEGATIVE)
DB_IMPORT_STATEMENT_TIMEOUT = env.int("DB_IMPORT_STATEMENT_TIMEOUT", 1800, validate=NON_NEGATIVE)
DB_COUNT_STATEMENT_TIMEOUT = env.int("DB_COUNT_STATEMENT_TIMEOUT", 600, validate=NON_NEGATIVE)

# --- Redis, cache, Celery -------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", "")
if not REDIS_URL:
    from crm_project.embedded import ensure_redis_url

    REDIS_URL = ensure_redis_url(VAR_DIR) or ""
CELERY_BROKER_URL = ""
if REDIS_URL:
    from crm_project.embedded import celery_broker_url

    # kombu names a unix socket `redis+socket://`, redis-py `unix://`.
    CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", "") or celery_broker_url(REDIS_URL)
    _scheme = urlparse(REDIS_URL).scheme
    if _scheme not in {"redis", "rediss", "unix"}:
        raise ImproperlyConfigured(
            f"REDIS_URL scheme {_scheme!r} is not redis://, rediss:// or unix://."
        )
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "crm",
        }
    }
    CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", False)
else:
    log.warning("No Redis available: Celery runs tasks eagerly in-process and the cache is local.")
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CELERY_TASK_ALWAYS_EAGER = True

CELERY_TASK_EAGER_PROPAGATES = True
# Celery's Django fixup closes every database connection before and after each task
# unless told to reuse them: a new PostgreSQL backend (and its role set-up) per task,
# several a second while a campaign sends. Connections are kept and recycled as in a
# request instead (CONN_MAX_AGE, health checks: crm_project.celery).
CELERY_DB_REUSE_MAX = 1_000_000
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# Periodic work is declared by each app in `CELERY_BEAT_SCHEDULE` below as it lands.
CELERY_BEAT_SCHEDULE: dict[str, dict] = {
    # Idempotency-Key records older than 24 hours are deleted.
    "idempotency-keys-expire": {
        "task": "crm_project.tasks.idempotency_keys_expire",
        "schedule": 3600.0,
    },
    # Imports whose worker stopped are resumed (or failed, saying what was committed).
    "imports-reap-stalled": {"task": "imports.tasks.import_jobs_reap", "schedule": 60.0},
    # Customers' health quintile thresholds, for each account whose snapshot is due.
    "customers-health-thresholds": {
        "task": "customers.tasks.health_thresholds_refresh_all",
        "schedule": 5 * 60.0,
    },
    # Buyers' 365-day order statistics computed again once an order left the window.
    "orders-stats-refresh": {"task": "orders.tasks.order_stats_refresh_all", "schedule": 3600.0},
    # Interactions whose next action is due get their follow-up, agents notified.
    "customers-followups": {
        "task": "customers.tasks.followups_process_all",
        "schedule": 5 * 60.0,
    },
    # Scheduled campaigns whose time has come start (within a minute of scheduled_at).
    "campaigns-start-due": {"task": "campaigns.tasks.campaigns_start_due", "schedule": 20.0},
    # Stale message claims queued again, pumps for accounts with due messages, lost
    # campaign starts sent again.
    "messages-reap": {"task": "campaigns.tasks.messages_reap", "schedule": 60.0},
    # Nurture steps that are due, written to the ledger (leads.nurture).
    "leads-nurture": {"task": "leads.tasks.nurture_write_due_all", "schedule": 60.0},
    # The reports' rollups folded (each account's rows appended by its writes;
    # crm_project.rollups).
    "rollups-compact": {"task": "crm_project.tasks.rollups_compact_all", "schedule": 600.0},
    # Unanswered feedback requests reminded on the account's schedule (feedback.services).
    "feedback-reminders": {
        "task": "feedback.tasks.feedback_reminders_process_all",
        "schedule": 24 * 3600.0,
    },
    # Customer counts of active segments: one task per account and chunk of segments.
    "segments-refresh-counts": {
        "task": "segments.tasks.segment_counts_refresh_all",
        "schedule": 15 * 60.0,
    },
}

# --- Auth, sessions, security ---------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# TLS usually ends at the proxy: redirecting is off by default and the proxy's header
# is trusted. Secure cookies still work on plain-HTTP localhost (a secure context).
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", False)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", not DEBUG)
SESSION_COOKIE_HTTPONLY = True
SECURE_HSTS_SECONDS = env.int(
    "SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000, validate=NON_NEGATIVE
)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", False)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# W008 (SSL redirect off) is the documented default: TLS ends at the proxy.
# W021 (HSTS preload) is an opt-in decision for the domain owner.
SILENCED_SYSTEM_CHECKS = ["security.W008", "security.W021"]

# --- I18n and time --------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
DEFAULT_ACCOUNT_TIMEZONE = env.timezone("DEFAULT_ACCOUNT_TIMEZONE", "UTC")

# --- Static files ---------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
MEDIA_ROOT = VAR_DIR / "media"
# Tests and development serve static files straight from the finders.
WHITENOISE_USE_FINDERS = DEBUG or env.bool("WHITENOISE_USE_FINDERS", False)

# --- Request limits -------------------------------------------------------------------
_AT_LEAST_1_KIB = environs.validate.Range(min=1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int(
    "DATA_UPLOAD_MAX_MEMORY_SIZE", 10 * 1024 * 1024, validate=_AT_LEAST_1_KIB
)
FILE_UPLOAD_MAX_SIZE = env.int("FILE_UPLOAD_MAX_SIZE", 200 * 1024 * 1024, validate=_AT_LEAST_1_KIB)

# --- Email and SMS --------------------------------------------------------------------
EMAIL_URL = env.str("EMAIL_URL", "console://" if DEBUG else f"file://{VAR_DIR / 'mail'}")


def _mailer_from_url(url: str) -> dict[str, object]:
    parsed = urlparse(url)
    query = parse_qs(parsed.query)
    if parsed.scheme == "console":
        return {"BACKEND": "django.core.mail.backends.console.EmailBackend"}
    if parsed.scheme == "file":
        return {
            "BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "OPTIONS": {"file_path": unquote(parsed.path) or str(VAR_DIR / "mail")},
        }
    if parsed.scheme == "locmem":
        return {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}
    if parsed.scheme in {"smtp", "smtps"}:
        if not parsed.hostname:
            raise ImproperlyConfigured("EMAIL_URL needs a host: smtp://user:pass@host:port")
        return {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {
                "host": parsed.hostname,
                "port": parsed.port or (465 if parsed.scheme == "smtps" else 587),
                "username": unquote(parsed.username or ""),
                "password": unquote(parsed.password or ""),
                "use_ssl": parsed.scheme == "smtps",
                "use_tls": parsed.scheme == "smtp"
                and query.get("tls", ["true"])[0].lower() in {"1", "true", "yes", "on"},
                "timeout": 30,
            },
        }
    raise ImproperlyConfigured(
        f"EMAIL_URL scheme {parsed.scheme!r} is not smtp://, smtps://, file:// or console://."
    )


MAILERS = {"default": _mailer_from_url(EMAIL_URL)}
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", "CRM <no-reply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

SMS_PROVIDER = env.choice("SMS_PROVIDER", "log", choices={"log", "http"})
SMS_HTTP_URL = env.str("SMS_HTTP_URL", "")
SMS_HTTP_TOKEN = env.str("SMS_HTTP_TOKEN", "")
if SMS_PROVIDER == "http" and not (
    SMS_HTTP_URL.startswith(("http://", "https://")) and SMS_HTTP_TOKEN
):
    raise ImproperlyConfigured(
        "SMS_PROVIDER=http needs SMS_HTTP_URL (http[s]://) and SMS_HTTP_TOKEN."
    )

SMS_HTTP_CONCURRENCY = env.int(
    "SMS_HTTP_CONCURRENCY", 16, validate=environs.validate.Range(min=1, max=256)
)

# --- Outbound messages (campaigns.delivery) --------------------------------------------
# Where tracking links, the open pixel and unsubscribe links point: the product's public
# address, as recipients reach it.
PUBLIC_URL = env.str("PUBLIC_URL", "http://localhost:8000").rstrip("/")
if not PUBLIC_URL.startswith(("http://", "https://")):
    raise ImproperlyConfigured("PUBLIC_URL must be an http(s) URL.")
# Messages claimed, sent and marked together by one delivery task.
MESSAGE_CHUNK_SIZE = env.int(
    "MESSAGE_CHUNK_SIZE", 500, validate=environs.validate.Range(min=1, max=10_000)
)
# Delivery tasks started at once for a campaign (more run as workers free up).
MESSAGE_SEND_PARALLELISM = env.int(
    "MESSAGE_SEND_PARALLELISM", 4, validate=environs.validate.Range(min=1, max=64)
)
# A claim older than this is taken to have lost its worker and is queued again.
MESSAGE_CLAIM_LEASE_SECONDS = env.int(
    "MESSAGE_CLAIM_LEASE_SECONDS", 300, validate=environs.validate.Range(min=10, max=86_400)
)
# Delivery receipts (POST /api/v1/webhooks/delivery/) are signed with this Standard
# Webhooks secret (`whsec_` + base64); without it receipts are refused.
WEBHOOK_SECRET = env.str("WEBHOOK_SECRET", "")
if WEBHOOK_SECRET and not WEBHOOK_SECRET.startswith("whsec_"):
    raise ImproperlyConfigured("WEBHOOK_SECRET must be whsec_ followed by base64.")

LLM_URL = env.str("LLM_URL", "")
LLM_API_KEY = env.str("LLM_API_KEY", "")
if LLM_URL and not LLM_URL.startswith(("http://", "https://")):
    raise ImproperlyConfigured("LLM_URL must be an http(s) URL.")

# --- REST API -------------------------------------------------------------------------
API_THROTTLE_RATE = env.rate("API_THROTTLE_RATE", "1200/min")
# Failed sign-ins (Bearer, Basic, /login/, the admin's) per client address and per
# username, checked before any key lookup or password hash (crm_project.api.signins).
AUTH_FAILURE_THROTTLE_RATE = env.rate("AUTH_FAILURE_THROTTLE_RATE", "10/min")
# How many reverse proxies append to X-Forwarded-For in front of the app; 0 reads the
# client's address from the connection, which a client cannot forge.
NUM_PROXIES = env.int("NUM_PROXIES", 0, validate=NON_NEGATIVE)
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "crm_project.api.authentication.ApiKeyAuthentication",
        "crm_project.api.authentication.BasicAuthentication",
        "crm_project.api.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["crm_project.api.permissions.HasAccountRole"],
    "DEFAULT_THROTTLE_CLASSES": ["crm_project.api.throttling.CredentialRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"credential": API_THROTTLE_RATE},
    "NUM_PROXIES": NUM_PROXIES,
    "DEFAULT_PAGINATION_CLASS": "crm_project.api.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_PARSER_CLASSES": [
        "crm_project.api.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    # The browsable API renders forms and filter choice lists: for development only.
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        *(["rest_framework.renderers.BrowsableAPIRenderer"] if DEBUG else []),
    ],
    "DEFAULT_SCHEMA_CLASS": "crm_project.api.schema.AutoSchema",
    "EXCEPTION_HANDLER": "drf_standardized_errors.handler.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "COERCE_DECIMAL_TO_STRING": True,
    "DATETIME_FORMAT": "iso-8601",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
DRF_STANDARDIZED_ERRORS = {
    "EXCEPTION_FORMATTER_CLASS": "crm_project.api.errors.ExceptionFormatter",
    "EXCEPTION_HANDLER_CLASS": "crm_project.api.errors.ExceptionHandler",
    "ENABLE_IN_DEBUG_FOR_UNHANDLED_EXCEPTIONS": True,
    # Each status an operation may document, with its body as the handler answers it;
    # crm_project.api.schema.AutoSchema picks the ones each operation can answer.
    "ERROR_SCHEMAS": {
        "400": "crm_project.api.schema.BadRequestResponseSerializer",
        **{
            status: "crm_project.api.schema.ClientErrorResponseSerializer"
            for status in ("401", "403", "404", "405", "406", "409", "413", "415", "429")
        },
        "500": "crm_project.api.schema.ServerErrorResponseSerializer",
        "503": "crm_project.api.schema.ServerErrorResponseSerializer",
    },
}
DRF_STANDARDIZED_ERRORS["ALLOWED_ERROR_STATUS_CODES"] = list(
    DRF_STANDARDIZED_ERRORS["ERROR_SCHEMAS"]
)
_ERRORS = "drf_standardized_errors.openapi_serializers"
SPECTACULAR_SETTINGS = {
    "TITLE": "CRM API",
    "DESCRIPTION": "Multi-tenant CRM: customers, orders, leads, segments, campaigns, "
    "loyalty, feedback and reports. Authenticate with `Authorization: Bearer <api key>` "
    "or HTTP Basic (with `X-Account` when the user belongs to several accounts).",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "RoleEnum": "accounts.models.Role.choices",
        "AccountTypeEnum": "accounts.models.AccountType.choices",
        "AccountStatusEnum": "accounts.models.AccountStatus.choices",
        "CreditStatusEnum": "loyalty.models.CreditStatus.choices",
        "FeedbackChannelEnum": "feedback.models.FeedbackChannel.choices",
        "ValidationErrorEnum": f"{_ERRORS}.ValidationErrorEnum.choices",
        "ClientErrorEnum": f"{_ERRORS}.ClientErrorEnum.choices",
        "ServerErrorEnum": f"{_ERRORS}.ServerErrorEnum.choices",
        "BadRequestTypeEnum": "crm_project.api.schema.BAD_REQUEST_TYPES",
    },
    "PREPROCESSING_HOOKS": ["crm_project.api.schema.drop_slash_duplicates"],
    "POSTPROCESSING_HOOKS": [
        "drf_standardized_errors.openapi_hooks.postprocess_schema_enums",
    ],
}

# --- Logging --------------------------------------------------------------------------
LOG_LEVEL = env.choice("LOG_LEVEL", "info", choices={"debug", "info", "warning", "error"}).upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    # httpx logs every request at INFO: one line per SMS sent.
    "loggers": {"django.db.backends": {"level": "INFO"}, "httpx": {"level": "WARNING"}},
}
