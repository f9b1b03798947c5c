"""DM Reader served as in production: `manage.py check --deploy` with the settings the README
documents, and scripts/serve (what `make run` starts) answering over HTTP with DEBUG off."""

import os
import re
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
import psycopg
import pytest
import requests
from cryptography.fernet import Fernet
from django.db import DatabaseError
from django.urls import path

from tests.sandbox import free_port

REPO = Path(__file__).resolve().parent.parent


def documented_production_env(tmp_path: Path) -> dict[str, str]:
    """The variables of the README's "Using it with the real X API" block, its `…` filled in."""
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Using it with the real X API", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.DOTALL)[1]
    env = dict(re.findall(r"^\s*([A-Z_]+)=(\S*)", block, re.MULTILINE))
    filled = {
        "SECRET_KEY": secrets.token_urlsafe(50),
        "TOKEN_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'dmreader.sqlite3'}",
        "X_CLIENT_ID": "documented-client",
        "X_CLIENT_SECRET": "",
    }
    return {name: filled[name] if "…" in value else value for name, value in env.items()}


def without_settings_env() -> dict[str, str]:
    """This process's environment less what DM Reader's settings, or the tests, put there
    (conftest.py allows Django's async-unsafe calls, which check --deploy rightly rejects)."""
    ours = re.compile(
        r"^(DEBUG|SECRET_KEY|TOKEN_|ALLOWED_|CSRF_|DATABASE_|SECURE_|X_|PLAIN_|BEHIND_|DJANGO_)"
    )
    return {name: value for name, value in os.environ.items() if not ours.match(name)}


def test_check_deploy_passes_with_the_production_settings_the_readme_documents(tmp_path):
    env = {**without_settings_env(), **documented_production_env(tmp_path)}
    assert env["DEBUG"] == "false"
    assert "BEHIND_PROXY" in env

    check = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert check.returncode == 0, check.stdout + check.stderr
    assert "no issues" in check.stdout


def database_gone(request):
    raise DatabaseError("connection to server failed")


urlpatterns = [path("database-gone/", database_gone)]


@pytest.mark.urls("tests.test_serving")
def test_an_error_answers_500_with_the_apps_own_page_without_touching_the_database(client):
    # Django's server_error view renders 500.html with no context: no request, no user. The test
    # may not use the database either (no django_db mark): a query would fail the page.
    client.raise_request_exception = False

    response = client.get("/database-gone/")

    assert response.status_code == 500
    page = response.content.decode()
    assert "Something went wrong on our side" in page
    assert 'class="app-header"' in page
    assert re.search(r'<link rel="stylesheet" href="/static/css/app\.[^"]*css">', page)


@pytest.fixture(scope="module")
def database_url(tmp_path_factory):
    """A throwaway database: a SQLite file, or under scripts/with-postgres a new PostgreSQL one."""
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        yield f"sqlite:///{tmp_path_factory.mktemp('serving') / 'dmreader.sqlite3'}"
        return
    config = dj_database_url.parse(os.environ["DATABASE_URL"])
    name = f"serving_{secrets.token_hex(4)}"
    connect = {
        "host": config["HOST"],
        "port": config["PORT"] or 5432,
        "user": config["USER"],
        "password": config["PASSWORD"],
        "dbname": config["NAME"],
        "autocommit": True,
    }
    with psycopg.connect(**connect) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield urlsplit(os.environ["DATABASE_URL"])._replace(path=f"/{name}").geturl()
    with psycopg.connect(**connect) as admin:
        admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def served(tmp_path_factory, database_url, sandbox):
    """scripts/serve on a free port with DEBUG off, on a migrated throwaway database, signing in
    through the test sandbox."""
    tmp = tmp_path_factory.mktemp("served")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    sandbox.register_redirect_uri(f"{base}/auth/callback/")
    env = {
        **without_settings_env(),
        "DEBUG": "false",
        "PLAIN_HTTP": "true",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "TOKEN_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "DATABASE_URL": database_url,
        "STATIC_ROOT": str(tmp / "static"),
        "PORT": str(port),
        "PYTHON": sys.executable,
        **sandbox.urls,
        "X_REDIRECT_URI": f"{base}/auth/callback/",
    }
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input", "--verbosity", "0"],
        cwd=REPO,
        env=env,
        check=True,
        timeout=120,
    )
    log = (tmp / "serve.log").open("wb")
    # Its own process group, so that whatever happens its workers go with it.
    server = subprocess.Popen(
        ["scripts/serve"],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_until_it_answers(base, server, tmp / "serve.log")
        yield base
        # SIGTERM, as scripts/run stops it: gunicorn finishes what is in flight and exits.
        server.send_signal(signal.SIGTERM)
        server.wait(10)
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()


def wait_until_it_answers(base: str, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 90
    while True:
        assert server.poll() is None, log.read_text()
        assert time.monotonic() < deadline, log.read_text()
        try:
            # gunicorn listens before its workers are ready: a slow start times out, then answers.
            requests.get(base + "/", timeout=10)
            return
        except (requests.ConnectionError, requests.Timeout):
            time.sleep(0.1)


def test_the_welcome_page_renders(served):
    response = requests.get(served + "/", timeout=30)

    assert response.status_code == 200
    assert "Sign in with X" in response.text
    assert "script-src 'self' 'nonce-" in response.headers["Content-Security-Policy"]


def test_an_unknown_address_answers_404_with_the_apps_own_page(served):
    response = requests.get(served + "/no/such/page/", timeout=30)

    assert response.status_code == 404
    assert "There is nothing here" in response.text
    assert 'class="brand"' in response.text
    assert re.search(r'href="/static/css/app\.[0-9a-f]{12}\.css"', response.text)


def test_static_files_are_served_by_whitenoise_hashed_compressed_and_cached_for_long(served):
    page = requests.get(served + "/", timeout=30).text
    stylesheet = re.search(r'href="(/static/css/app\.[0-9a-f]{12}\.css)"', page)[1]

    response = requests.get(served + stylesheet, headers={"Accept-Encoding": "gzip"}, timeout=30)

    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/css")
    assert response.headers["Content-Encoding"] == "gzip"
    assert "immutable" in response.headers["Cache-Control"]
    assert "max-age=315360000" in response.headers["Cache-Control"]
    assert ".app-header" in response.text


def test_a_person_signs_in_with_x_and_out_again_over_plain_http(served, sandbox):
    # make run serves http on 127.0.0.1: with Secure cookies the browser would never send the
    # session back, and the sign-in would end on "This sign-in link has expired".
    browser = requests.Session()
    authorize = browser.get(served + "/auth/login/", allow_redirects=False, timeout=30)
    inbox = browser.get(sandbox.consent(authorize.headers["Location"], "maya_reads"), timeout=30)

    assert inbox.status_code == 200
    assert "@maya_reads" in inbox.text
    assert "secure" not in authorize.headers["Set-Cookie"].lower()

    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', inbox.text)[1]
    signed_out = browser.post(
        served + "/auth/logout/",
        data={"csrfmiddlewaretoken": csrf},
        headers={"Origin": served},
        timeout=30,
    )

    assert signed_out.status_code == 200
    assert "Sign in with X" in signed_out.text
