"""The Dockerfile, docker-compose.yml and their config files stay consistent with the code and the
docs: every `lore` command they run exists, every LORE_* variable is a real setting, and the ports
match the settings' defaults and the documentation."""

from __future__ import annotations

import argparse
import json
import re
import shlex
from pathlib import Path

import pytest
import yaml

from app.cli import build_parser
from retrieval.settings import ApiSettings, AppSettings, iter_setting_names

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "Dockerfile"
API_PORT = ApiSettings.model_fields["port"].default
APP_PORT = AppSettings.model_fields["port"].default


def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def lore_invocations(text: str) -> list[list[str]]:
    """Every `lore ...` command line inside a shell string or an exec-form list, as tokens."""
    found = []
    for match in re.finditer(r"(?:^|[\s;&|(\"'\[,/])lore\s+([a-z][^;&|\n\"']*)", text):
        tokens = [t for t in shlex.split(match.group(1).replace(",", " ")) if t]
        found.append(tokens)
    return found


def check_invocation(tokens: list[str]) -> None:
    parser = build_parser()
    path = ["lore"]
    for token in tokens:
        choices = subcommands(parser)
        if not choices or token.startswith("-"):
            break
        assert token in choices, f"`{' '.join(path)} {token}` is not a lore command (in {', '.join(choices)})"
        parser = choices[token]
        path.append(token)
    assert len(path) > 1, f"no lore subcommand in {tokens}"
    options = {opt for action in parser._actions for opt in action.option_strings}
    for token in tokens:
        if token.startswith("--"):
            assert token.split("=")[0] in options, f"`{' '.join(path)}` has no option {token}"


def command_text(command) -> str:
    return " ".join(shlex.quote(c) if " " in c else c for c in command) if isinstance(command, list) else str(command)


def service_commands() -> dict[str, str]:
    return {name: command_text(spec["command"]) for name, spec in compose()["services"].items() if "command" in spec and "lore" in str(spec["command"])}


def test_compose_runs_the_api_app_and_a_nightly_ingest():
    services = compose()["services"]
    assert {"chroma", "api", "app", "ingest", "vllm"} <= set(services)
    commands = service_commands()
    assert "lore serve" in commands["api"] and "lore app" in commands["app"] and "lore ingest" in commands["ingest"]
    assert services["vllm"]["profiles"] == ["gpu"]


@pytest.mark.parametrize("service", sorted(service_commands()))
def test_compose_lore_commands_exist(service):
    invocations = lore_invocations(service_commands()[service])
    assert invocations
    for tokens in invocations:
        check_invocation(tokens)


def test_dockerfile_lore_commands_exist_and_ports_match():
    if not DOCKERFILE.exists():
        pytest.fail("Dockerfile is missing: the README and docker-compose.yml build from it")
    text = DOCKERFILE.read_text(encoding="utf-8")
    instructions = [line for line in re.sub(r"\\\n", " ", text).splitlines() if not line.lstrip().startswith("#")]
    runs = []
    for line in instructions:
        if match := re.match(r"\s*(RUN|CMD|ENTRYPOINT|HEALTHCHECK)\s+(.*)", line):
            rest = match.group(2).strip()
            runs.append(" ".join(json.loads(rest)) if rest.startswith("[") else rest)  # exec form
    assert any(r.startswith("lore ") for r in runs), "the image's CMD should run a lore command"
    invocations = [tokens for line in runs for tokens in lore_invocations(line)]
    assert invocations, "the Dockerfile runs no lore command"
    for tokens in invocations:
        check_invocation(tokens)
    exposed = {int(p) for line in instructions if line.startswith("EXPOSE") for p in line.split()[1:]}
    assert {API_PORT, APP_PORT} <= exposed


def test_compose_environment_names_real_settings():
    names = set(iter_setting_names())
    anchors = compose().get("x-lore", {}).get("environment", {})
    services = [spec.get("environment", {}) for spec in compose()["services"].values()]
    for env in (anchors, *services):
        for key in env if isinstance(env, dict) else []:
            if key.startswith("LORE_") and key != "LORE_HOME":
                dotted = key.removeprefix("LORE_").lower().replace("__", ".")
                assert dotted in names, f"{key} in docker-compose.yml is not a setting"


def test_ports_match_settings_healthchecks_proxy_and_docs():
    services = compose()["services"]
    api_cmd = services["api"]["command"]
    assert api_cmd[api_cmd.index("--port") + 1] == str(API_PORT)
    assert str(API_PORT) in " ".join(services["api"]["healthcheck"]["test"]) and "/readyz" in " ".join(services["api"]["healthcheck"]["test"])
    app_cmd = services["app"]["command"]
    assert app_cmd[app_cmd.index("--port") + 1] == str(APP_PORT)
    assert f"{APP_PORT}:{APP_PORT}" in services["app"]["ports"]
    assert f"{API_PORT}:{API_PORT}" in services["proxy"]["ports"]
    assert services["chroma"]["expose"] == [str(services["api"]["environment"]["LORE_STORE__PORT"])] if "environment" in services["api"] else True
    nginx = (REPO / "deploy" / "nginx" / "lore.conf").read_text(encoding="utf-8")
    assert f"http://api:{API_PORT}" in nginx and f"listen {API_PORT}" in nginx
    docs = (REPO / "README.md").read_text(encoding="utf-8") + (REPO / "docs" / "deployment.md").read_text(encoding="utf-8")
    for port in (API_PORT, APP_PORT, 8000):
        assert str(port) in docs, f"port {port} of docker-compose.yml is not in README.md or docs/deployment.md"


def test_compose_store_points_at_the_chroma_service():
    env = compose()["x-lore"]["environment"]
    assert env["LORE_STORE__KIND"] == "http" and env["LORE_STORE__HOST"] == "chroma"
    assert str(env["LORE_STORE__PORT"]) in compose()["services"]["chroma"]["expose"]


def test_compose_source_config_is_valid():
    from ingest.source_config import load_source_config

    sources, default = load_source_config(REPO / "deploy" / "compose" / "sources.yaml")
    assert [s.name for s in sources] == ["documents"] and str(sources[0].root) == "/documents"
    mounts = " ".join(compose()["x-lore"]["volumes"])
    assert ":/documents" in mounts and "./deploy/compose:/config" in mounts
    assert "/config/sources.yaml" in service_commands()["ingest"]
