"""Driving xsandbox, the local X API, from tests: a real server process on a free port, spoken to
over HTTP only (the app under test cannot tell it from api.x.com)."""

import atexit
import base64
import hashlib
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import requests

REPO = Path(__file__).resolve().parent.parent
ADMIN_TOKEN = "test-sandbox-admin"
PUBLIC_CLIENT_ID = "ZG1yZWFkZXItc2FuZGJveDoxOmNp"
CONFIDENTIAL_CLIENT_ID = "ZG1yZWFkZXItY29uZmlkZW50aWFsOjE6Y2k"
CONFIDENTIAL_CLIENT_SECRET = "sandbox-confidential-secret"
TEST_REDIRECT_URI = "http://testserver/auth/callback/"
ALL_SCOPES = "dm.read tweet.read users.read offline.access"
_ACCOUNT = re.compile(r'name="account" value="(?P<id>\d+)".*?@(?P<username>\w+)</span>', re.DOTALL)


# Seeding a sandbox's world takes seconds and the suite starts about twenty sandboxes: the first
# start of a run seeds a template that later ones copy (the seed is a pure function of its anchor,
# so a copy is the world a fresh seed would make, minutes earlier). They share one media cache too:
# the same anchor gives the same media ids, and each picture or video is then drawn once a run.
_SHARED = Path(tempfile.mkdtemp(prefix="xsandbox-shared-"))
atexit.register(shutil.rmtree, _SHARED, ignore_errors=True)
_TEMPLATE_LOCK = threading.Lock()
# Settings a sandbox reads only while serving; any other XSANDBOX_* setting may shape its world,
# so it gets a template of its own.
_SERVING_ONLY = {
    "XSANDBOX_DB",
    "XSANDBOX_MEDIA_DIR",
    "XSANDBOX_ADMIN_TOKEN",
    "XSANDBOX_EXTRA_REDIRECT_URIS",
    "XSANDBOX_RATE_LIMIT",
    "XSANDBOX_USERS_ME_RATE_LIMIT",
}


def template_key(env: dict) -> str:
    """Which seeded template a sandbox with this environment copies: one per world-shaping
    XSANDBOX_* setting's values (XSANDBOX_CROWD among them: a crowd is another world)."""
    shaping = sorted(
        (k, v) for k, v in env.items() if k.startswith("XSANDBOX_") and k not in _SERVING_ONLY
    )
    return hashlib.sha256(repr(shaping).encode()).hexdigest()[:16]


def _seeded_template(env: dict) -> Path:
    key = template_key(env)
    template = _SHARED / f"template-{key}.sqlite3"
    with _TEMPLATE_LOCK:
        if not template.exists():
            partial = _SHARED / f"template-{key}.partial.sqlite3"
            prepare = {
                **env,
                "DJANGO_SETTINGS_MODULE": "xsandbox.settings",
                "XSANDBOX_DB": str(partial),
            }
            for command in (["migrate", "--verbosity=0"], ["seed_sandbox", "--if-empty"]):
                subprocess.run(
                    [sys.executable, "-m", "django", *command],
                    cwd=REPO,
                    env=prepare,
                    check=True,
                    capture_output=True,
                    timeout=300,
                )
            partial.rename(template)
    return template


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Sandbox:
    def __init__(self, workdir: Path, **env: str):
        self.workdir = workdir
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "XSANDBOX_DB": str(workdir / "xsandbox.sqlite3"),
            "XSANDBOX_MEDIA_DIR": str(_SHARED / "media"),
            "XSANDBOX_ADMIN_TOKEN": ADMIN_TOKEN,
            "XSANDBOX_EXTRA_REDIRECT_URIS": TEST_REDIRECT_URI,
            **env,
        }
        self.process: subprocess.Popen | None = None

    # Lifecycle

    def start(self, timeout: float = 90) -> "Sandbox":
        self.workdir.mkdir(parents=True, exist_ok=True)
        database = Path(self.env["XSANDBOX_DB"])
        if not database.exists():
            shutil.copyfile(_seeded_template(self.env), database)
        log = (self.workdir / "sandbox.log").open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "xsandbox", "--port", str(self.port), "--quiet"],
            cwd=REPO,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"xsandbox exited: {self.log_tail()}")
            try:
                if requests.get(self.base_url + "/", timeout=2).status_code == 200:
                    return self
            except requests.ConnectionError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"xsandbox did not start in {timeout}s: {self.log_tail()}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()

    def log_tail(self) -> str:
        path = self.workdir / "sandbox.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    @property
    def urls(self) -> dict[str, str]:
        """The app's X_* settings for this sandbox."""
        return {
            "X_API_BASE_URL": self.base_url,
            "X_AUTHORIZE_URL": self.base_url + "/i/oauth2/authorize",
            "X_TOKEN_URL": self.base_url + "/2/oauth2/token",
            "X_REVOKE_URL": self.base_url + "/2/oauth2/revoke",
        }

    # The control API (/_sandbox/)

    def admin(self, method: str, path: str, **kwargs) -> dict:
        response = requests.request(
            method,
            self.base_url + "/_sandbox/" + path,
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            timeout=30,
            **kwargs,
        )
        response.raise_for_status()
        return response.json()

    def fault(self, username: str, kind: str, count: int | None = 1, seconds: float = 0) -> None:
        self.admin(
            "POST",
            "faults",
            json={"username": username, "kind": kind, "count": count, "seconds": seconds},
        )

    def clear_faults(self, username: str) -> None:
        self.admin("DELETE", f"faults?username={username}")

    def register_redirect_uri(self, uri: str) -> None:
        for client_id, secret in (
            (PUBLIC_CLIENT_ID, ""),
            (CONFIDENTIAL_CLIENT_ID, CONFIDENTIAL_CLIENT_SECRET),
        ):
            self.admin(
                "POST",
                "clients",
                json={
                    "client_id": client_id,
                    "client_secret": secret,
                    "name": "DM Reader",
                    "redirect_uris": [TEST_REDIRECT_URI, uri],
                },
            )

    def grants(self, username: str) -> list[dict]:
        return self.admin("GET", f"tokens?username={username}")["grants"]

    # The consent page, as a person would use it

    def consent(self, authorize_url: str, username: str, decision: str = "approve") -> str:
        """Open the consent page at `authorize_url`, pick `username`, press Authorize or Cancel.
        Returns where X sends the browser back to (the app's callback URL)."""
        browser = requests.Session()
        page = browser.get(authorize_url, timeout=10)
        assert page.status_code == 200, page.text[:500]
        accounts = {m["username"]: m["id"] for m in _ACCOUNT.finditer(page.text)}
        form = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.text))
        form = {k: _unescape(v) for k, v in form.items()}
        form.update(account=accounts[username], decision=decision)
        answer = browser.post(
            authorize_url.split("?")[0],
            data=form,
            headers={"Referer": authorize_url},
            allow_redirects=False,
            timeout=10,
        )
        assert answer.status_code == 302, answer.text[:500]
        return answer.headers["Location"]

    def token(self, username: str, scopes: str = ALL_SCOPES) -> dict:
        """A token for `username` through the real authorize + token flow (public client)."""
        verifier = secrets.token_urlsafe(64)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
        query = urlencode(
            {
                "response_type": "code",
                "client_id": PUBLIC_CLIENT_ID,
                "redirect_uri": TEST_REDIRECT_URI,
                "scope": scopes,
                "state": secrets.token_urlsafe(16),
                "code_challenge": challenge.decode().rstrip("="),
                "code_challenge_method": "S256",
            }
        )
        back = self.consent(f"{self.base_url}/i/oauth2/authorize?{query}", username)
        code = parse_qs(urlsplit(back).query)["code"][0]
        response = requests.post(
            self.base_url + "/2/oauth2/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": TEST_REDIRECT_URI,
                "code_verifier": verifier,
                "client_id": PUBLIC_CLIENT_ID,
            },
            timeout=10,
        )
        response.raise_for_status()
        return response.json()


def _unescape(value: str) -> str:
    import html

    return html.unescape(value)
