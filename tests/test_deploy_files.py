"""compose.yaml and the Dockerfile name only what exists: scripts in scripts/ (the ones the tests
start), manage.py commands, and settings that dmreader/settings.py reads. No Docker runs here, so
this is what keeps the deploy files from drifting from the code."""

import os
import re
import shlex
from pathlib import Path

import pytest
import yaml
from django.core.management import get_commands

from tests.sandbox import REPO

COMPOSE = yaml.safe_load((REPO / "compose.yaml").read_text())
APP_SERVICES = {name: s for name, s in COMPOSE["services"].items() if "build" in s}
SETTINGS = (REPO / "dmreader" / "settings.py").read_text()
# Every variable settings.py reads: env_str("NAME"...), env_bool, env_list, env_int, env_required
# and os.environ.get("NAME").
SETTINGS_VARIABLES = set(re.findall(r'(?:env_\w+|os\.environ\.get)\(\s*"([A-Z0-9_]+)"', SETTINGS))


def script_of(command: list[str]) -> Path | None:
    return REPO / command[0] if command[0].startswith("scripts/") else None


def read_by_script(name: str, command: list[str]) -> bool:
    script = script_of(command)
    return script is not None and re.search(rf"\b{name}\b", script.read_text()) is not None


def test_compose_yaml_has_the_services_of_a_deployment():
    assert set(COMPOSE["services"]) >= {"db", "migrate", "web", "worker", "scheduler"}
    assert {"media", "pgdata"} <= set(COMPOSE["volumes"])
    assert "healthcheck" in COMPOSE["services"]["db"]
    assert "healthcheck" in COMPOSE["services"]["web"]
    for name, service in APP_SERVICES.items():
        assert service["env_file"] == ".env", name


@pytest.mark.parametrize("name", sorted(APP_SERVICES))
def test_each_app_service_runs_an_existing_script_or_manage_py_command(name):
    command = APP_SERVICES[name]["command"]
    script = script_of(command)
    if script is not None:
        assert script.is_file(), f"{name}: {command[0]} does not exist"
        assert os.access(script, os.X_OK), f"{name}: {command[0]} is not executable"
    else:
        assert command[:2] == [".venv/bin/python", "manage.py"], command
        assert command[2] in get_commands(), f"{name}: no manage.py {command[2]}"


def test_the_long_running_processes_are_the_scripts_the_tests_start():
    commands = {name: APP_SERVICES[name]["command"] for name in ("web", "worker", "scheduler")}
    assert commands == {
        "web": ["scripts/serve"],
        "worker": ["scripts/worker"],
        "scheduler": ["scripts/scheduler"],
    }
    assert "manage.py worker" in (REPO / "scripts" / "worker").read_text()


@pytest.mark.parametrize("name", sorted(APP_SERVICES))
def test_every_variable_a_service_sets_is_read_by_the_settings_or_its_script(name):
    service = APP_SERVICES[name]
    for variable in service.get("environment", {}):
        assert variable in SETTINGS_VARIABLES or read_by_script(variable, service["command"]), (
            f"{name}: {variable} is read by neither dmreader/settings.py nor {service['command']}"
        )


def test_every_setting_in_env_example_is_read_by_the_settings_or_compose():
    example = (REPO / ".env.example").read_text()
    names = set(re.findall(r"^([A-Z][A-Z0-9_]*)=", example, re.MULTILINE))
    compose_text = (REPO / "compose.yaml").read_text()
    for variable in names:
        assert variable in SETTINGS_VARIABLES or f"${{{variable}" in compose_text, variable
    # The ones commented out are read too: by the settings (the S3 ones), or by the web server's
    # script (scripts/serve: workers, threads; GUNICORN_CMD_ARGS by gunicorn itself); the
    # sandbox's are its own.
    commented = set(re.findall(r"^# ([A-Z][A-Z0-9_]*)=", example, re.MULTILINE))
    for variable in commented - {v for v in commented if v.startswith("XSANDBOX_")}:
        assert (
            variable in SETTINGS_VARIABLES
            or read_by_script(variable, ["scripts/serve"])
            or variable == "GUNICORN_CMD_ARGS"
        ), variable


def test_the_media_and_exports_volumes_are_where_the_settings_put_their_files():
    for name, service in APP_SERVICES.items():
        if name == "migrate":
            continue
        mounts = dict(volume.split(":", 1) for volume in service["volumes"])
        assert mounts["media"] == service["environment"]["MEDIA_CACHE_DIR"], name
        # Written by a worker, downloaded through the web server.
        assert mounts["exports"] == service["environment"]["EXPORTS_DIR"], name


def test_the_web_health_check_asks_healthz_as_the_proxy_would():
    test = COMPOSE["services"]["web"]["healthcheck"]["test"]
    assert test[:3] == ["CMD", ".venv/bin/python", "-c"]
    code = test[3]
    compile(code, "healthcheck", "exec")
    assert "/healthz" in code and "ALLOWED_HOSTS" in code and "ALLOWED_HOSTS" in SETTINGS_VARIABLES


def test_the_dockerfile_starts_the_web_script_and_installs_the_requirements():
    dockerfile = (REPO / "Dockerfile").read_text()
    cmd = re.search(r"^CMD (.+)$", dockerfile, re.MULTILINE).group(1)
    assert yaml.safe_load(cmd) == ["scripts/serve"]
    assert "requirements.txt" in dockerfile
    assert ".venv" in shlex.split((REPO / ".dockerignore").read_text().replace("\n", " "))
    for variable in re.findall(r"^\s+([A-Z_]+)=", dockerfile, re.MULTILINE):
        assert (
            variable in SETTINGS_VARIABLES
            or read_by_script(variable, ["scripts/serve"])
            or (variable.startswith(("PYTHON", "PIP_")))
        ), variable
