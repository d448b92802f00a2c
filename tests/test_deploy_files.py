"""The deployment files say only what the code understands.

No container engine runs here, so the image is not built in tests; instead the Containerfile,
compose.yaml, the Caddyfile, the systemd units and the example environment are read and checked
against the code: every TIPLINE_* variable is a real setting, every command a real `tipline`
command (and role), the health check a real endpoint, the poster font the one posters expect.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from core.cases.poster_layout import DEFAULT_FONT
from settings import Settings
from tipline.cli import app
from tipline.startup import ROLES
from web.ops import router as ops_router

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = {f"TIPLINE_{name.upper()}" for name in Settings.model_fields}


def _instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Containerfile, continuation lines joined."""
    joined = re.sub(r"\\\n\s*", " ", text)
    lines = [line.strip() for line in joined.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "")
        for line in lines
        if line and not line.startswith("#")
    ]


def _env_pairs(arguments: str) -> dict[str, str]:
    """ENV A=1 B=2 (the KEY=VALUE form)."""
    return dict(part.split("=", 1) for part in shlex.split(arguments))


def _compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())  # type: ignore[no-any-return]


def _tipline_services() -> dict[str, dict[str, Any]]:
    services = _compose()["services"]
    return {name: s for name, s in services.items() if s.get("image") == "tipline:latest"}


def _is_real_command(argv: list[str]) -> None:
    """A `tipline` command line the CLI accepts (parsed up to --help, so nothing runs)."""
    answer = CliRunner().invoke(app, [*argv, "--help"])
    assert answer.exit_code == 0, f"tipline {' '.join(argv)}: {answer.output}"
    if argv[:1] == ["run"] and "--role" in argv:
        assert argv[argv.index("--role") + 1] in ROLES, argv


def test_containerfile_sets_only_real_settings_and_runs_a_real_command() -> None:
    steps = _instructions((ROOT / "Containerfile").read_text())
    final = steps[max(i for i, (op, _) in enumerate(steps) if op == "FROM") :]
    env: dict[str, str] = {}
    for op, arguments in final:
        if op == "ENV":
            env.update(_env_pairs(arguments))
    assert {k for k in env if k.startswith("TIPLINE_")} <= SETTINGS
    Settings(**{k.removeprefix("TIPLINE_").lower(): v for k, v in env.items() if k in SETTINGS})
    instructions = dict(final)
    assert json.loads(instructions["ENTRYPOINT"]) == ["tipline"]
    _is_real_command(json.loads(instructions["CMD"]))
    assert instructions["USER"] not in ("root", "0")
    assert instructions["EXPOSE"] == env["TIPLINE_WEB_PORT"]
    # The default SQLite file and media live in the volume the service user owns.
    volume = instructions["VOLUME"]
    assert env["TIPLINE_DATABASE_URL"].startswith(f"sqlite+aiosqlite:///{volume}/")
    assert env["TIPLINE_MEDIA_DIR"].startswith(volume) and env["TIPLINE_VAR_DIR"] == volume
    # Posters print Chinese with the font the package installs.
    assert "fonts-noto-cjk" in instructions["RUN"]
    assert env["TIPLINE_POSTER_FONT"] == str(DEFAULT_FONT)


def test_containerfile_health_check_asks_a_real_endpoint() -> None:
    steps = dict(_instructions((ROOT / "Containerfile").read_text()))
    check = steps["HEALTHCHECK"]
    [path] = re.findall(r"'(/[a-z]+)'", check)
    assert "TIPLINE_WEB_PORT" in check
    assert path in {getattr(route, "path", None) for route in ops_router.routes}


def test_build_context_leaves_out_local_state_and_secrets() -> None:
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".venv", "var", ".env", ".git"} <= set(ignored)


def test_compose_sets_only_real_settings() -> None:
    services = _compose()["services"]
    for name, service in services.items():
        environment = service.get("environment") or {}
        names = set(environment) if isinstance(environment, dict) else set()
        unknown = {n for n in names if n.startswith("TIPLINE_")} - SETTINGS
        assert not unknown, f"{name}: {unknown}"


def test_compose_runs_real_commands_and_roles() -> None:
    services = _tipline_services()
    commands = {name: s["command"] for name, s in services.items()}
    for command in commands.values():
        _is_real_command(command)
    assert commands["migrate"] == ["db", "upgrade"]
    roles = sorted(c[c.index("--role") + 1] for c in commands.values() if "--role" in c)
    assert roles == ["bot", "web", "web", "worker", "worker"]
    # Nothing but the migration waits on the migration; every role waits for it.
    for name, service in services.items():
        if name != "migrate":
            assert service["depends_on"]["migrate"]["condition"] == (
                "service_completed_successfully"
            )


def test_compose_roles_share_no_disk_and_caddy_reaches_every_web_process() -> None:
    services = _tipline_services()
    assert all("volumes" not in s for s in services.values())
    environment = next(iter(services.values()))["environment"]
    assert environment["TIPLINE_MEDIA_URL"].startswith("s3://")
    network = _compose()["networks"]["default"]["ipam"]["config"][0]["subnet"]
    assert environment["TIPLINE_TRUSTED_PROXIES"] == network
    caddy = (ROOT / "deploy" / "Caddyfile.compose").read_text()
    upstreams = set(re.findall(r"(\w+):(\d+)", caddy.split("reverse_proxy", 1)[1]))
    webs = {name for name, s in services.items() if s["command"][-1:] == ["web"]}
    assert upstreams == {(name, "8080") for name in webs}
    domain = re.search(r"\{\$(\w+)", caddy)
    assert domain and domain.group(1) in _compose()["services"]["caddy"]["environment"]


@pytest.mark.parametrize("unit", sorted((ROOT / "deploy").glob("*.service")), ids=lambda p: p.name)
def test_systemd_units_run_real_commands_with_real_settings(unit: Path) -> None:
    text = unit.read_text()
    for line in re.findall(r"^Environment=(.*)$", text, re.MULTILINE):
        assert {p.split("=", 1)[0] for p in shlex.split(line)} <= SETTINGS, line
    [start] = re.findall(r"^ExecStart=(.*)$", text, re.MULTILINE)
    program, *argv = shlex.split(start)
    assert program.endswith("/tipline")
    _is_real_command(argv)


def test_example_environment_names_only_real_settings() -> None:
    lines = (ROOT / "deploy" / "tipline.env.example").read_text().splitlines()
    names = {line.split("=", 1)[0] for line in lines if line and not line.startswith("#")}
    assert names and names <= SETTINGS, names - SETTINGS
