"""DM Reader settings, read from the environment (see .env.example).

With nothing set, DEBUG is on and every X endpoint points at the local sandbox (`python -m xsandbox`).
With DEBUG off, the secrets must be set explicitly or the process refuses to start.
"""

import base64
import hashlib
import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name, "")
    if not raw:
        return default
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, got {raw!r}")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "")
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, got {raw!r}") from None


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


def env_required(name: str, dev_default: str) -> str:
    """A secret: a development default with DEBUG on, a loud failure without it in production."""
    value = env_str(name)
    if value:
        return value
    if not DEBUG:
        raise ImproperlyConfigured(f"{name} must be set when DEBUG is off")
    return dev_default


DEBUG = env_bool("DEBUG", True)
SECRET_KEY = env_required("SECRET_KEY", "dmreader-development-only-secret-key-do-not-deploy")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

# Fernet keys for OAuth tokens at rest, newest first; older ones still decrypt (key rotation).
TOKEN_ENCRYPTION_KEYS = env_list(
    "TOKEN_ENCRYPTION_KEYS",
    base64.urlsafe_b64encode(hashlib.sha256(b"dmreader-dev-tokens:" + SECRET_KEY.encode()).digest())
    .decode()
    .rstrip("=")
    + "=",
)
if not DEBUG and not env_str("TOKEN_ENCRYPTION_KEYS"):
    raise ImproperlyConfigured("TOKEN_ENCRYPTION_KEYS must be set when DEBUG is off")

# The X API. Every default points at the local sandbox; for api.x.com set all of these.
_SANDBOX = env_str("XSANDBOX_URL", "http://127.0.0.1:8765")
X_CLIENT_ID = env_str("X_CLIENT_ID", "ZG1yZWFkZXItc2FuZGJveDoxOmNp")
X_CLIENT_SECRET = env_str("X_CLIENT_SECRET")  # empty: a public client (PKCE only)
X_REDIRECT_URI = env_str("X_REDIRECT_URI")  # empty: this site's /auth/callback/
X_AUTHORIZE_URL = env_str("X_AUTHORIZE_URL", f"{_SANDBOX}/i/oauth2/authorize")
X_TOKEN_URL = env_str("X_TOKEN_URL", f"{_SANDBOX}/2/oauth2/token")
X_REVOKE_URL = env_str("X_REVOKE_URL", f"{_SANDBOX}/2/oauth2/revoke")
X_API_BASE_URL = env_str("X_API_BASE_URL", _SANDBOX).rstrip("/")
# The sandbox's own address: where the app's X API is this URL, it runs on the sandbox, and the
# Import page links to the sandbox's archive of the signed-in account (xsandbox/archive.py).
XSANDBOX_URL = _SANDBOX.rstrip("/")
X_SCOPES = ["dm.read", "tweet.read", "users.read", "offline.access"]
# (connect, read) seconds for every call to X.
X_TIMEOUT = (5.0, float(env_str("X_READ_TIMEOUT", "20")))

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "django_tasks_db",
    "dmreader",
    "conversations",
    "exports",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "dmreader.middleware.reject_nul",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "dmreader.urls"
WSGI_APPLICATION = "dmreader.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'var' / 'dmreader.sqlite3'}"),
        conn_max_age=0 if DEBUG else 600,
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        # The web server and the sync worker write at once: WAL lets readers run beside a writer,
        # and IMMEDIATE takes the write lock when a transaction starts instead of failing midway.
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # A file, not the shared-cache in-memory default: threads in tests then wait for SQLite's
    # write lock as the web server and the worker do, instead of failing with "table is locked".
    # Per process, so two test runs in one checkout never share (and destroy) each other's.
    DATABASES["default"]["TEST"] = {
        "NAME": str(BASE_DIR / "var" / f"test-dmreader-{os.getpid()}.sqlite3")
    }
    (BASE_DIR / "var").mkdir(exist_ok=True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

TASKS = {"default": {"BACKEND": "dmreader.task_queue.DatabaseBackend", "QUEUES": ["default"]}}
# Every signed-in account is synced this often with nobody visiting (conversations/schedule.py).
SYNC_INTERVAL_SECONDS = int(env_str("SYNC_INTERVAL_SECONDS", "900"))

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    "dmreader.accounts.AccountBackend",
    # Sessions signed in before AccountBackend name this one: they stay signed in.
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "signin"
LOGIN_REDIRECT_URL = "home"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "var" / "static")))
WHITENOISE_USE_FINDERS = DEBUG  # serve straight from static/ while developing, no collectstatic
if DEBUG:
    # WhiteNoise warns on every start when its root is missing; it stays empty until collectstatic.
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
MEDIA_CACHE_DIR = Path(env_str("MEDIA_CACHE_DIR", str(BASE_DIR / "var" / "media-cache")))
# X archives uploaded on the Import page wait here (one folder per person) until the worker has
# imported them, then are deleted: the web server and the workers must share it (compose.yaml).
IMPORT_DIR = Path(env_str("IMPORT_DIR", str(BASE_DIR / "var" / "imports")))
# The largest upload taken (bytes). X's archive holds every post's media too: several GB is usual.
IMPORT_MAX_UPLOAD_BYTES = env_int("IMPORT_MAX_UPLOAD_BYTES", 20 * 1024**3)
# Export files (the Export page's, written by the worker and downloaded through the web server),
# under unguessable names, removed a week after they were made: both must share this folder.
EXPORTS_DIR = Path(env_str("EXPORTS_DIR", str(BASE_DIR / "var" / "exports")))
# Fetched media is cached on the filesystem at MEDIA_CACHE_DIR (conversations/media.py), or with
# MEDIA_STORAGE=s3 in an S3-compatible bucket that every app server shares (django-storages).
MEDIA_STORAGE = env_str("MEDIA_STORAGE", "filesystem")
if MEDIA_STORAGE == "s3":
    STORAGES["media"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env_str("MEDIA_S3_BUCKET"),
            "endpoint_url": env_str("MEDIA_S3_ENDPOINT_URL") or None,  # empty: AWS itself
            "region_name": env_str("MEDIA_S3_REGION") or None,
            "access_key": env_str("MEDIA_S3_ACCESS_KEY_ID") or None,
            "secret_key": env_str("MEDIA_S3_SECRET_ACCESS_KEY") or None,
            "location": env_str("MEDIA_S3_PREFIX", "media-cache"),
            # Objects stay private: people get them only through the access-checked proxy.
            "default_acl": None,
            "file_overwrite": True,
            # A download bigger than this spools to disk, not memory (videos run to 100 MB).
            "max_memory_size": 2_000_000,
        },
    }
    if not STORAGES["media"]["OPTIONS"]["bucket_name"]:
        raise ImproperlyConfigured("MEDIA_S3_BUCKET must be set when MEDIA_STORAGE=s3")
elif MEDIA_STORAGE != "filesystem":
    raise ImproperlyConfigured(f"MEDIA_STORAGE must be filesystem or s3, got {MEDIA_STORAGE!r}")

# Content-Security-Policy: nothing from third parties; scripts only with the per-request nonce.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "media-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
}
SESSION_COOKIE_HTTPONLY = True
# Lax, not Strict: X's redirect back to /auth/callback/ is a cross-site navigation that must
# carry the session holding the PKCE verifier and state.
SESSION_COOKIE_SAMESITE = "Lax"
# A deployment is reached over HTTPS only: TLS ends at the WSGI server or, with BEHIND_PROXY, at a
# proxy that says so in X-Forwarded-Proto (and must overwrite, not pass on, a client's own).
# PLAIN_HTTP is for `make run` on 127.0.0.1: no redirect to https, no HSTS, and cookies without
# Secure, which http clients other than browsers on localhost (curl, requests) would not send back.
BEHIND_PROXY = env_bool("BEHIND_PROXY", False)
PLAIN_HTTP = env_bool("PLAIN_HTTP", DEBUG)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if BEHIND_PROXY else None
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not PLAIN_HTTP)
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", not PLAIN_HTTP)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
# A year. Browsers ignore HSTS that arrives over plain http, so it needs TLS to work at all.
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if PLAIN_HTTP else 365 * 24 * 3600)
# Covers dmreader.example.com's own subdomains only; set false when DM Reader is served from a
# registrable domain whose other subdomains are not all on https.
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
# Preloading is the domain owner's call (hstspreload.org takes registrable domains only, and
# leaving the list takes months): opt in with SECURE_HSTS_PRELOAD=true. Hence W021 is silenced.
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
SILENCED_SYSTEM_CHECKS = ["security.W021"]
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        # oauthlib and requests-oauthlib log token bodies at DEBUG: keep them quiet whatever
        # LOG_LEVEL says, so no token can reach a log.
        "oauthlib": {"level": "WARNING"},
        "requests_oauthlib": {"level": "WARNING"},
        "urllib3": {"level": "WARNING"},
    },
}
