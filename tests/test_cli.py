"""The command line as a new user meets it: clear errors, exit status 2, no tracebacks."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.databases import fresh_database

ROOT = Path(__file__).resolve().parent.parent


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIPLINE_")}
    env.update(
        TIPLINE_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'tipline.db'}",
        TIPLINE_VAR_DIR=str(tmp_path),
        TIPLINE_MEDIA_DIR=str(tmp_path / "media"),
        TIPLINE_WEB_PORT=str(_free_port()),
    )
    env.update(extra)
    return env


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def tipline(
    *args: str, env: dict[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tipline", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def assert_clean_failure(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    for needle in needles:
        assert needle in lines[0]


@pytest.fixture
def running(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], dict[str, str]]]:
    env = _env(tmp_path)
    proc = subprocess.Popen(
        [sys.executable, "-m", "tipline", "run"],
        env=env,
        cwd=ROOT,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{env['TIPLINE_WEB_PORT']}/healthz"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.2)
        assert proc.poll() is None, proc.communicate()[1]
    yield proc, env
    proc.terminate()
    proc.wait(timeout=20)


def test_help_lists_every_command(tmp_path: Path):
    result = tipline("--help", env=_env(tmp_path))
    assert result.returncode == 0
    for command in ("run", "db", "user", "vault", "backup", "restore"):
        assert command in result.stdout
    sub = tipline("db", "--help", env=_env(tmp_path))
    assert "upgrade" in sub.stdout and "check" in sub.stdout


def test_run_migrates_sqlite_and_answers_healthz(running):
    _proc, env = running
    body = httpx.get(f"http://127.0.0.1:{env['TIPLINE_WEB_PORT']}/healthz").json()
    assert body["status"] == "ok"
    assert body["database"]["backend"] == "sqlite"
    assert body["database"]["revision"] == body["database"]["head"]
    assert body["bot"] == "disabled"
    assert (Path(env["TIPLINE_VAR_DIR"]) / "vault.key").stat().st_mode & 0o077 == 0


def test_second_run_on_same_sqlite_file_fails_at_once(running):
    _, env = running
    other_port = dict(env, TIPLINE_WEB_PORT=str(_free_port()))
    assert_clean_failure(tipline("run", env=other_port, timeout=30), "already using")


def test_port_in_use_is_a_clear_error(tmp_path: Path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        env = _env(tmp_path, TIPLINE_WEB_PORT=str(sock.getsockname()[1]))
        assert_clean_failure(
            tipline("run", env=env, timeout=30), "cannot listen", "TIPLINE_WEB_PORT"
        )


@pytest.mark.parametrize(
    ("url", "needle"),
    [
        ("nonsense", "is not a database URL"),
        ("mysql://root@127.0.0.1/test", "supports sqlite+aiosqlite"),
        ("postgresql+asyncpg://root@127.0.0.1:1/none", "cannot reach the database"),
    ],
)
def test_bad_database_url_is_one_line_and_exit_2(tmp_path: Path, url: str, needle: str):
    env = _env(tmp_path, TIPLINE_DATABASE_URL=url, TIPLINE_VAULT_KEY=_key())
    assert_clean_failure(tipline("run", env=env), needle)
    assert_clean_failure(tipline("db", "check", env=env), needle)


@pytest.mark.parametrize(
    ("name", "value", "needle"),
    [
        ("TIPLINE_FORM_LIMITS_ADDRESS", "0/1m", "count must be 1 to 100,000"),
        ("TIPLINE_FORM_LIMITS_SESSION", "lots", "is not a rate"),
        ("TIPLINE_FORM_LIMITS_OVERALL", "10/0s", "window 1 s to 1 day"),
        ("TIPLINE_FORM_LIMITS_OVERALL", "99999999/1m", "is not a rate"),
        ("TIPLINE_CHAT_LIMITS_OVERALL", "600 a minute", "is not a rate"),
        ("TIPLINE_CHAT_LIMITS_OVERALL", "0/1m", "count must be 1 to 100,000"),
        ("TIPLINE_TRUSTED_PROXIES", "10.0.0.0/8,proxy.local", "is not an address or network"),
    ],
)
def test_nonsense_limits_are_one_line_and_exit_2(tmp_path: Path, name: str, value: str, needle):
    env = _env(tmp_path, **{name: value})
    assert_clean_failure(
        tipline("run", env=env, timeout=30), name.removeprefix("TIPLINE_").lower(), needle
    )


_WHATSAPP = {
    "TIPLINE_WHATSAPP_TOKEN": "EAAG-test-token",
    "TIPLINE_WHATSAPP_APP_SECRET": "app-secret-for-tests",
    "TIPLINE_WHATSAPP_VERIFY_TOKEN": "verify-token-of-16+chars",
    "TIPLINE_WHATSAPP_PHONE_NUMBER_ID": "106540352242922",
}


@pytest.mark.parametrize(
    ("changes", "needle"),
    [
        ({"TIPLINE_WHATSAPP_PHONE_NUMBER_ID": "+44 7700 900123"}, "Meta's numeric id"),
        ({"TIPLINE_WHATSAPP_API_BASE": "graph.facebook.com"}, "is not an http(s) URL"),
        ({"TIPLINE_WHATSAPP_VERIFY_TOKEN": "short"}, "at least 16 characters"),
        ({"TIPLINE_WHATSAPP_APP_SECRET": ""}, "set all of TIPLINE_WHATSAPP_TOKEN"),
        ({"TIPLINE_WHATSAPP_DISPLAY_NUMBER": "07700 900123"}, "not an international phone"),
        (
            {**dict.fromkeys(_WHATSAPP, ""), "TIPLINE_WHATSAPP_DISPLAY_NUMBER": "+447700900123"},
            "needs the four WhatsApp settings",
        ),
    ],
)
def test_nonsense_whatsapp_settings_are_one_line_and_exit_2(tmp_path: Path, changes, needle):
    env = _env(tmp_path, **{**_WHATSAPP, **changes})
    assert_clean_failure(tipline("run", env=env, timeout=30), "invalid configuration", needle)


_SMS = {
    "TIPLINE_SMS_ACCOUNT_SID": "AC" + "0123456789abcdef" * 2,
    "TIPLINE_SMS_AUTH_TOKEN": "sms-auth-token-for-tests",
    "TIPLINE_SMS_FROM": "+15005550006",
    "TIPLINE_PUBLIC_URL": "https://tips.example.org",
}


@pytest.mark.parametrize(
    ("changes", "needle"),
    [
        ({"TIPLINE_SMS_FROM": "+1 500 555 0006"}, "is not an E.164 number"),
        ({"TIPLINE_SMS_FROM": "15005550006"}, "is not an E.164 number"),
        ({"TIPLINE_SMS_ACCOUNT_SID": "AC 123"}, "the SMS account SID is letters"),
        ({"TIPLINE_SMS_API_BASE": "api.twilio.com"}, "the SMS API base"),
        ({"TIPLINE_SMS_AUTH_TOKEN": ""}, "set all of TIPLINE_SMS_ACCOUNT_SID"),
        ({"TIPLINE_PUBLIC_URL": ""}, "TIPLINE_PUBLIC_URL must be the http(s) address"),
    ],
)
def test_nonsense_sms_settings_are_one_line_and_exit_2(tmp_path: Path, changes, needle):
    env = _env(tmp_path, **{**_SMS, **changes})
    assert_clean_failure(tipline("run", env=env, timeout=30), "invalid configuration", needle)


def test_postgres_is_never_migrated_implicitly(tmp_path: Path):
    with fresh_database("postgresql", tmp_path) as url:
        env = _env(tmp_path, TIPLINE_DATABASE_URL=url, TIPLINE_VAULT_KEY=_key())
        assert_clean_failure(tipline("run", env=env), "tipline db upgrade")
        assert tipline("db", "upgrade", env=env).returncode == 0
        check = tipline("db", "check", env=env)
        assert check.returncode == 0, check.stderr
        assert "schema matches" in check.stdout


def test_user_invite_prints_a_one_time_link_and_refuses_bad_input(tmp_path: Path):
    env = _env(tmp_path, TIPLINE_PUBLIC_URL="https://tips.example.org")
    assert tipline("db", "upgrade", env=env).returncode == 0
    ok = tipline("user", "invite", "--role", "moderator", "--email", "A@example.org", env=env)
    assert ok.returncode == 0, ok.stderr
    assert "invitation for a@example.org as moderator, valid for 72 hours" in ok.stdout
    link = ok.stdout.strip().splitlines()[-1]
    assert link.startswith("https://tips.example.org/setup/") and len(link) > 60
    assert_clean_failure(
        tipline("user", "invite", "--role", "king", "--email", "b@example.org", env=env),
        "unknown staff role",
    )
    assert_clean_failure(
        tipline("user", "invite", "--role", "admin", "--email", "a@example.org", env=env),
        "already has a pending invitation",
    )
    assert_clean_failure(
        tipline("user", "invite", "--role", "admin", "--email", "nope", env=env),
        "not an e-mail address",
    )
    assert_clean_failure(
        tipline(
            "user", "invite", "--role", "admin", "--email", "c@example.org", "--hours", "0", env=env
        ),
        "between 1 and 336 hours",
    )
    # No command makes an account without a second factor.
    assert (
        tipline("user", "add", "--role", "admin", "--email", "d@example.org", env=env).returncode
        != 0
    )


def test_invalid_vault_key_is_refused(tmp_path: Path):
    env = _env(tmp_path, TIPLINE_VAULT_KEY="not-a-key")
    assert_clean_failure(tipline("run", env=env), "TIPLINE_VAULT_KEY")


def _key() -> str:
    from core.identity.vault import Vault

    return Vault.new_key()
