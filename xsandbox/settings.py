"""Settings of xsandbox, the local X API. It runs as its own server process with its own database.

It shares nothing with DM Reader but the repository: the app reaches it only over HTTP, through the
same base URLs it would use for api.x.com and x.com.
"""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name, "")
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise SystemExit(f"{name} must be a whole number, got {raw!r}") from None


def _rate(name: str, default: str) -> tuple[int, int]:
    raw = os.environ.get(name) or default
    try:
        limit, window = (int(part) for part in raw.split("/"))
    except ValueError:
        raise SystemExit(f"{name} must look like 300/900 (requests/seconds), got {raw!r}") from None
    return limit, window


SECRET_KEY = os.environ.get("XSANDBOX_SECRET_KEY", "xsandbox-is-a-local-test-double-only")
DEBUG = os.environ.get("XSANDBOX_DEBUG", "") == "1"
ALLOWED_HOSTS = ["*"]

INSTALLED_APPS = ["xsandbox"]
MIDDLEWARE = [
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "xsandbox.middleware.ApiHeadersMiddleware",
]
ROOT_URLCONF = "xsandbox.urls"
APPEND_SLASH = False
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": ["django.template.context_processors.csrf"]},
    }
]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("XSANDBOX_DB", str(BASE_DIR / "var" / "xsandbox.sqlite3")),
        # Requests arrive on many threads; IMMEDIATE makes each atomic block take the write lock up
        # front, so token rotation and rate-limit counters never race.
        "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 20},
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
TIME_ZONE = "UTC"

# Where generated media bytes (avatars, photos, videos) are cached once rendered.
XSANDBOX_MEDIA_DIR = Path(
    os.environ.get("XSANDBOX_MEDIA_DIR", str(BASE_DIR / "var" / "xsandbox-media"))
)
# Per-user budget of the DM GET endpoints, shared across them as X's 2022 guide says. X documents
# 15/900 for today's lower paid tier: set XSANDBOX_RATE_LIMIT=15/900 to rehearse it.
XSANDBOX_RATE_LIMIT = _rate("XSANDBOX_RATE_LIMIT", "300/900")
XSANDBOX_MEDIA_RATE_LIMIT = _rate("XSANDBOX_MEDIA_RATE_LIMIT", "900/900")
XSANDBOX_USERS_ME_RATE_LIMIT = _rate("XSANDBOX_USERS_ME_RATE_LIMIT", "75/900")
XSANDBOX_ACCESS_TOKEN_TTL = _int("XSANDBOX_ACCESS_TOKEN_TTL", 7200)
XSANDBOX_CODE_TTL = _int("XSANDBOX_CODE_TTL", 30)
# Bearer token for the /_sandbox/ control endpoints (faults, clock, clients, ground truth).
XSANDBOX_ADMIN_TOKEN = os.environ.get("XSANDBOX_ADMIN_TOKEN", "sandbox-admin")
# How many more accounts `seed_sandbox` adds to the seeded world (xsandbox/crowd.py): people who
# can sign in, with small DM histories between them, for runs that need hundreds of accounts.
XSANDBOX_CROWD = _int("XSANDBOX_CROWD", 0)
# Days of history X returns from the DM endpoints.
XSANDBOX_WINDOW_DAYS = 30

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"xsandbox": {"handlers": ["console"], "level": "INFO"}},
}
