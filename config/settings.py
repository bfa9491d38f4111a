"""Settings read from the environment.

With nothing set this is the embedded default: SQLite and the Celery filesystem broker under ``var/``, the
in-memory channel layer, the local AI engine and console e-mail. Production sets ``DATABASE_URL``,
``REDIS_URL``, ``SECRET_KEY``, ``ALLOWED_HOSTS`` and ``DEBUG=false``.
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONCE, NONE, SELF, UNSAFE_INLINE
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", True)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "embedded-default-insecure-key-only-for-local-use"  # noqa: S105  (DEBUG only)

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "django_htmx",
    "template_partials",
    "guardian",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    # Login throttling and lockout (its attempts and lockouts are in the admin, where staff unlock them).
    "axes",
    "csp",
    "brokerages",
    "copilot",
    "nurturing",
    "coaching",
    "analytics",
]

MIDDLEWARE = [
    # Load balancer probes are answered before the host check and the HTTPS redirect below (config/health.py).
    "config.health.HealthProbeMiddleware",
    # Request id, log context and one access line per request, for everything below (config/observability.py).
    "config.observability.RequestContextMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Production static files (collectstatic) before anything else touches the request: hashed names cached for
    # a year, gzip/brotli served. With DEBUG on, config/asgi.py serves them from the apps' folders instead.
    *([] if DEBUG else ["whitenoise.middleware.WhiteNoiseMiddleware"]),
    # Content-Security-Policy on every page (static files above need none); policy at the end of this file.
    "csp.middleware.CSPMiddleware",
    "brokerages.middleware.ApiBodyLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "brokerages.middleware.TenantScopeMiddleware",
    # Inside the tenant scope and the request's client address: one audit entry per 403 a member receives.
    "brokerages.middleware.PermissionDeniedAuditMiddleware",
    # Last, as django-axes requires: turns a refused sign-in of a locked-out username + address into its page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "builtins": ["template_partials.templatetags.partials"],
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "brokerages.context_processors.brokerage",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web process read while the Celery worker writes.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
elif env_bool("DB_POOL", True):
    # Daphne runs each request on a fresh thread, so persistent per-thread connections are never reused; a
    # process-wide psycopg pool is (a new PostgreSQL connection costs milliseconds on every request otherwise).
    # While the database is away, a request waits `timeout` for a connection, then answers 503
    # (config/outage.py). A failed reconnection is retried with a doubling delay for `reconnect_timeout`, then
    # given up: the next request starts a fresh attempt, so the pool is back within seconds of the database.
    DATABASES["default"]["OPTIONS"] = {
        "pool": {"min_size": 2, "max_size": int(os.environ.get("DB_POOL_MAX_SIZE", "10")),
                 "timeout": float(os.environ.get("DB_POOL_TIMEOUT", "5")), "reconnect_timeout": 5},
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # The pool checks each connection as it hands it out (one round trip) and replaces the ones the server
    # dropped (restart, failover), instead of failing one request per dropped connection.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "brokerages.User"
AUTHENTICATION_BACKENDS = [
    # First, so a locked-out username + address is refused before its password is even checked.
    "brokerages.lockout.LockoutBackend",
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
PASSWORD_RESET_TIMEOUT = 60 * 60 * 24 * 3  # an invitation link stays valid for three days

# guardian: no anonymous user row; permissions are granted to per-brokerage groups.
ANONYMOUS_USER_NAME = None
GUARDIAN_RAISE_403 = False

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "Asia/Dubai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", VAR_DIR / "staticfiles"))
STATICFILES_DIRS = [BASE_DIR / "static"]
# In production `collectstatic` writes every file under a content-hashed name with .gz and .br copies beside it,
# and WhiteNoise serves them from the web process (far-future cache headers, the compressed copy the browser
# accepts). With DEBUG on, files are served as they are from the apps' folders.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage" if DEBUG
                    else "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
MEDIA_URL = "media/"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 12 * 1024 * 1024

# E-mail: console by default; EMAIL_BACKEND_FILE_PATH keeps messages as files for the demo.
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_FILE_PATH = VAR_DIR / "mail"
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Agent Excellence <no-reply@localhost>")
if os.environ.get("EMAIL_HOST"):
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = os.environ["EMAIL_HOST"]
    EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "587"))
    EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
    EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)

REDIS_URL = os.environ.get("REDIS_URL", "")
# How long a request waits on a Redis that stopped answering, per connection attempt and per command: the rate
# counters' cache, an alert push, each of a Celery publish's two attempts (a refused connection fails at once).
# Past it Redis counts as down and the request carries on without it (brokerages.throttling, coaching.realtime,
# config.tasks).
REDIS_TIMEOUT_SECONDS = float(os.environ.get("REDIS_TIMEOUT_SECONDS", "1"))
if REDIS_URL:
    CHANNEL_LAYERS = {
        # A consumer blocks up to 5 s reading its channel; redis-py's default socket timeout is also 5 s, so an
        # idle socket would die with "Timeout reading" unless the read may outlast the block.
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer",
                    "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": 10,
                                          "socket_connect_timeout": REDIS_TIMEOUT_SECONDS}]}}
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# The cache holds the API's request counters (brokerages.throttling): shared through Redis when there is one, so
# every process counts the same requests; per process otherwise (one machine, one Daphne).
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL,
                          "KEY_PREFIX": "aep",
                          "OPTIONS": {"socket_connect_timeout": REDIS_TIMEOUT_SECONDS,
                                      "socket_timeout": REDIS_TIMEOUT_SECONDS}}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Celery: Redis when configured, otherwise kombu's filesystem transport so one machine needs no server.
CELERY_BROKER_DIR = VAR_DIR / "celery"
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # kombu waits forever on a broker that stopped answering unless told otherwise; a worker's reads of its
        # queues are driven by its event loop and are not bounded by these.
        "socket_connect_timeout": REDIS_TIMEOUT_SECONDS,
        "socket_timeout": REDIS_TIMEOUT_SECONDS,
        # How long a task a worker took but never acknowledged (killed mid-task) waits before another worker
        # gets it again: kombu's default, an hour, unless set.
        "visibility_timeout": int(os.environ.get("CELERY_VISIBILITY_TIMEOUT", "3600")),
    }
else:
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_BROKER_DIR / "queue"),
        "data_folder_out": str(CELERY_BROKER_DIR / "queue"),
        "processed_folder": str(CELERY_BROKER_DIR / "processed"),
        "store_processed": False,
    }
    for folder in ("queue", "processed"):
        (CELERY_BROKER_DIR / folder).mkdir(parents=True, exist_ok=True)
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
# A publish that fails is tried once more at once, then left to config.tasks (kept and queued again when the
# broker answers), so a request never waits out Celery's default four attempts on a dead broker.
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2,
                                    "interval_max": 0.2}
# Workers wait for the broker when they start and ride out any outage, reconnecting when it is back, instead of
# exiting after Celery's default 100 attempts.
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
# A task running when the broker connection drops finishes its work rather than being cancelled half-way; its
# acknowledgement is lost, and a redelivery finds the work done (tasks are idempotent).
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# /readyz (config/health.py): each check's time limit, and the age past which the Celery heartbeat (recorded
# every 30 s by a worker, through beat) means no worker is consuming the queue.
READYZ_TIMEOUT_SECONDS = float(os.environ.get("READYZ_TIMEOUT_SECONDS", "2"))
READYZ_HEARTBEAT_MAX_AGE = int(os.environ.get("READYZ_HEARTBEAT_MAX_AGE", "120"))

# Nurturing: how SMS/WhatsApp follow-ups leave (console by default), the address links in e-mails start with,
# and whether automation webhooks may call private or loopback addresses (tests only).
NURTURING_MESSAGE_BACKEND = os.environ.get("NURTURING_MESSAGE_BACKEND", "nurturing.messaging.ConsoleBackend")
PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "")
WEBHOOKS_ALLOW_PRIVATE_TARGETS = env_bool("WEBHOOKS_ALLOW_PRIVATE_TARGETS", False)
# Outbound calls (brokerages.outbound, docs/webhooks.md): the bound on one whole exchange, in seconds; the waits
# before each retry of a webhook delivery (a delivery makes one attempt more than there are waits); and how
# many failed attempts in a row disable an endpoint (its owners are notified).
WEBHOOKS_TIMEOUT_SECONDS = float(os.environ.get("WEBHOOKS_TIMEOUT_SECONDS", "10"))
WEBHOOKS_RETRY_DELAYS = [int(value) for value in os.environ.get(
    "WEBHOOKS_RETRY_DELAYS", "10,30,120,600,1800,3600,10800,21600").split(",") if value.strip()]
WEBHOOKS_DISABLE_AFTER_FAILURES = int(os.environ.get("WEBHOOKS_DISABLE_AFTER_FAILURES", "15"))

# AI engines: "local" (offline, the default), "anthropic" or "gemini"; brokerages may override per setting.
LLM_PROVIDER = os.environ.get("LLM_PROVIDER", "local")
ANTHROPIC_API_KEY = os.environ.get("ANTHROPIC_API_KEY", "")
ANTHROPIC_MODEL = os.environ.get("ANTHROPIC_MODEL", "claude-sonnet-4-5")
ANTHROPIC_BASE_URL = os.environ.get("ANTHROPIC_BASE_URL", "")
GEMINI_API_KEY = os.environ.get("GEMINI_API_KEY", "")
GEMINI_MODEL = os.environ.get("GEMINI_MODEL", "gemini-2.5-flash")
GEMINI_BASE_URL = os.environ.get("GEMINI_BASE_URL", "")
# The bound on one model call, its retries included (copilot/llm/budget.py): a feature answers within its own
# time plus this, with the local engine if the model has not answered; a retry happens only while one fits.
LLM_TIMEOUT_SECONDS = float(os.environ.get("LLM_TIMEOUT_SECONDS", "20"))
LLM_MAX_RETRIES = int(os.environ.get("LLM_MAX_RETRIES", "2"))

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "brokerages.authentication.ApiKeyAuthentication",
        "brokerages.authentication.MemberTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "brokerages.api_schema.AutoSchema",
    "EXCEPTION_HANDLER": "brokerages.api_errors.json_exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["brokerages.throttling.ApiKeyRateThrottle",
                                 "brokerages.throttling.MemberRateThrottle"],
    "DEFAULT_PAGINATION_CLASS": "brokerages.api_contract.Pagination",
    "PAGE_SIZE": 50,
    # The API reads JSON (the CSV import names its multipart parser itself).
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "UNAUTHENTICATED_USER": None,
}
# Requests per integration key and per member (token or session): "<n>/<s|min|hour|day>".
API_KEY_THROTTLE_RATE = os.environ.get("API_KEY_THROTTLE_RATE", "600/min")
API_USER_THROTTLE_RATE = os.environ.get("API_USER_THROTTLE_RATE", "600/min")
# The largest /api/ request body (413 above it); multipart uploads (a listing photo of up to 10 MB, a CSV import)
# get the ceiling every page's request has.
API_MAX_BODY_BYTES = int(os.environ.get("API_MAX_BODY_BYTES", str(1024 * 1024)))
API_MAX_UPLOAD_BYTES = int(os.environ.get("API_MAX_UPLOAD_BYTES", str(DATA_UPLOAD_MAX_MEMORY_SIZE)))
API_DESCRIPTION = f"""Brokerage management, co-pilot, nurturing, coaching and analytics.

## Authentication
- **Integration keys** (for other systems): `Authorization: Bearer aep_<prefix>_<secret>`. A brokerage owner
  creates them on the *API keys* page; the key is shown once and only its hash is stored. A key acts as the owner
  who created it and stops working when it is revoked, when it expires, or when that person is no longer an
  active owner.
- **Member tokens** (a person's own scripts): `Authorization: Token <key>`, created on the account page; the
  token has its member's role.

## Scopes
Each key holds scopes `<area>:read` and/or `<area>:write`. The areas, by path: **copilot** `/api/copilot/…`,
`/api/knowledge/…` and `/api/brokerage/knowledge-base`; **nurturing** `/api/nurturing/…` and `/api/listings…`;
**coaching** `/api/coaching/…`; **analytics** `/api/brokerage/dashboard` and `/api/brokerage/team/performance`;
**brokerages** the rest of `/api/brokerage/…`. Read covers GET, HEAD and OPTIONS; write covers every method and
includes read. A call outside the key's scopes answers 403 naming the scope it lacks, e.g. "This API key lacks
the scope nurturing:write."; within them, the role of the key's creator (an owner) applies.

## Errors
Every error has one body: `{{"error": {{"status": 403, "code": "permission_denied", "message": "…",
"fields": {{}}}}}}`. `message` is written for a person; `fields` maps each invalid field to its messages (400).
401 means the credentials are missing or no longer valid (the message says which: unknown, revoked on …,
expired on …); 404 is also the answer for another brokerage's objects.

## Limits
- **Rate**: {API_KEY_THROTTLE_RATE} per key and {API_USER_THROTTLE_RATE} per member (token or session), counted
  in fixed windows. Over it the API answers **429** with a `Retry-After` header (seconds); wait that long and retry.
- **Size**: a request body over {API_MAX_BODY_BYTES // 1024} KB answers **413** before it is parsed; file uploads
  (`multipart/form-data`) may be up to {API_MAX_UPLOAD_BYTES // (1024 * 1024)} MB, each file within its own
  limit.
"""
SPECTACULAR_SETTINGS = {
    "TITLE": "Agent Excellence Platform API",
    "DESCRIPTION": API_DESCRIPTION,
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Members may carry any role; invitations and role changes offer only the three tenant roles.
    "ENUM_NAME_OVERRIDES": {
        "TenantRoleEnum": "brokerages.forms.TENANT_ROLE_CHOICES",
        "RoleEnum": "brokerages.models.Role",
        "LeadStageEnum": "nurturing.models.Stage",
        "ListingStatusEnum": "nurturing.models.ListingStatus",
        "LeadPriorityEnum": "nurturing.models.Priority",
        "LeadSourceEnum": "nurturing.models.Source",
        "InteractionChannelEnum": "nurturing.models.Channel",
        "SendChannelEnum": "nurturing.api.followups.SEND_CHANNEL_CHOICES",
        "SequenceTypeEnum": "nurturing.models.SequenceType",
        "EnrollmentStatusEnum": "nurturing.models.Enrollment.Status",
        "FollowUpStatusEnum": "nurturing.models.FollowUp.Status",
        "FollowUpReasonEnum": "nurturing.models.FollowUp.Reason",
        "ConversationChannelEnum": "coaching.models.ConversationChannel",
        "WebhookEventEnum": "brokerages.api_webhooks.EVENT_NAMES",
        "WebhookDeliveryEventEnum": "brokerages.api_webhooks.DELIVERY_EVENT_NAMES",
    },
}

# Production hardening: on whenever DEBUG is off.
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
# A sign-in lasts one working day, not Django's two weeks; a password change ends every other session (Django
# checks each session against the password hash) and keeps the one that made it.
SESSION_COOKIE_AGE = int(os.environ.get("SESSION_COOKIE_AGE", str(60 * 60 * 12)))
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", str(60 * 60 * 24 * 365)))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

# Sign-in lockout (django-axes): AXES_FAILURE_LIMIT wrong passwords for one username from one
# address lock that pair out for AXES_COOLOFF_MINUTES; a successful sign-in clears its failures, staff unlock
# early in the admin (Axes › Access attempts). The address is the one every other part of the app records
# (brokerages.request_context: REMOTE_ADDR, which Daphne sets from X-Forwarded-For with --proxy-headers).
AXES_ENABLED = env_bool("AXES_ENABLED", True)
AXES_FAILURE_LIMIT = int(os.environ.get("AXES_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("AXES_COOLOFF_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# Trying again while locked out neither counts nor extends the lockout, so the time the page gives holds.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_USERNAME_FORM_FIELD = "username"  # Django's sign-in forms call the e-mail field "username"
AXES_USERNAME_CALLABLE = "brokerages.lockout.username"
AXES_CLIENT_IP_CALLABLE = "brokerages.request_context.ip_from_request"
AXES_LOCKOUT_CALLABLE = "brokerages.lockout.locked_out_response"
# No start-up banner outside the request log's format; failures and lockouts are still logged.
AXES_VERBOSE = False

# Content-Security-Policy (django-csp): no inline script, no eval, nothing from another origin. A style element
# needs the response's nonce (the report preview's brand-coloured styles); style attributes are allowed: the
# brokerage's colours on <html> (templates/base.html) and the widths of bars computed per row. The coaching socket
# is same-origin ('self' covers ws:/wss: in current browsers; the explicit hosts cover those that do not).
_SOCKET_HOSTS = [host.replace(".", "*.", 1) if host.startswith(".") else host
                 for host in ALLOWED_HOSTS if host != "*"]
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, NONCE],
        "style-src-attr": [UNSAFE_INLINE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF, *(f"wss://{host}:*" for host in _SOCKET_HOSTS),
                        *((f"ws://{host}:*" for host in _SOCKET_HOSTS) if DEBUG else ())],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}

# Logs go to standard error, one line per record (stdout stays clean for commands' output, e.g. dumpdata): JSON
# in production for the log collector, text at a terminal. Every line names the request (or task), brokerage and
# user it was emitted for (config/observability.py).
LOG_FORMAT = os.environ.get("LOG_FORMAT", "text" if DEBUG else "json").strip().lower()
if LOG_FORMAT not in {"json", "text"}:
    raise ImproperlyConfigured(f"LOG_FORMAT must be json or text, not {LOG_FORMAT!r}.")
LOGGING_CONFIG = "config.observability.configure"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "config.observability.ContextFilter"}},
    "formatters": {"json": {"()": "config.observability.JsonFormatter"},
                   "text": {"()": "config.observability.TextFormatter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["context"], "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    # WeasyPrint narrates every PDF step at INFO.
    "loggers": {"django.db.backends": {"level": "WARNING"}, "weasyprint.progress": {"level": "WARNING"}},
}
