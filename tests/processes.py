"""Real processes for end-to-end tests: the fake Telegram server and `tipline run`."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "123456:TEST-token"


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(check: Any, *, timeout: float = 60, interval: float = 0.1, what: str = "") -> Any:
    """Poll check() until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what or check}")


class FakeTelegramProcess:
    """The fake Bot API server in its own process, driven through its control API."""

    def __init__(self, proc: subprocess.Popen[str], base_url: str) -> None:
        self.proc = proc
        self.base_url = base_url
        self.http = httpx.Client(base_url=base_url, timeout=30)

    def control(self, path: str, body: dict[str, Any] | None = None) -> Any:
        """GET (no body) or POST (with body) a control endpoint."""
        url = f"/_control/{path}"
        response = self.http.post(url, json=body) if body is not None else self.http.get(url)
        response.raise_for_status()
        return response.json()

    def build(self, builder: str, **kwargs: Any) -> dict[str, Any]:
        """Build an update and push it (to getUpdates, or to the webhook when one is set)."""
        return self.control(f"build/{builder}", kwargs)  # type: ignore[no-any-return]

    def keyboard(self, chat_id: int) -> tuple[int, list[tuple[str, str]]]:
        """(message_id, [(label, callback data)]) of the bot's latest inline keyboard in a chat."""
        calls = self.control(f"calls?chat_id={chat_id}")["calls"]
        for call in reversed(calls):
            markup = call["params"].get("reply_markup")
            if isinstance(markup, str):
                markup = json.loads(markup)
            if call.get("result") and markup and "inline_keyboard" in markup:
                buttons = [
                    (b["text"], b.get("callback_data", ""))
                    for row in markup["inline_keyboard"]
                    for b in row
                ]
                return int(call["result"]["message_id"]), buttons
        raise AssertionError(f"no keyboard in chat {chat_id}")

    def press(self, chat_id: int, label: str) -> None:
        """Press the button whose label contains `label` on the latest keyboard."""
        message_id, buttons = self.keyboard(chat_id)
        data = next((d for text, d in buttons if label.lower() in text.lower()), None)
        if data is None:
            raise AssertionError(f"no button {label!r} in {buttons}")
        self.build("callback_query", chat_id=chat_id, message_id=message_id, data=data)

    def sent_texts(self, chat_id: int) -> list[str]:
        """Texts the bot sent to a chat."""
        return list(self.control(f"sent_texts?chat_id={chat_id}"))


@contextmanager
def fake_telegram(*extra: str) -> Iterator[FakeTelegramProcess]:
    """Start `python -m tests.fakes.telegram.server` and yield a handle on it."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.fakes.telegram.server",
            "--port",
            "0",
            "--token",
            TOKEN,
            *extra,
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    first = proc.stdout.readline()
    if not first:
        raise AssertionError(
            f"fake Telegram did not start: {proc.stderr.read() if proc.stderr else ''}"
        )
    handle = FakeTelegramProcess(proc, json.loads(first)["base_url"])
    try:
        yield handle
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def tipline_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """Environment for a `tipline` process on its own SQLite file and port."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIPLINE_")}
    env.update(
        TIPLINE_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'tipline.db'}",
        TIPLINE_VAR_DIR=str(tmp_path),
        TIPLINE_MEDIA_DIR=str(tmp_path / "media"),
        TIPLINE_WEB_PORT=str(free_port()),
        TIPLINE_LOG_LEVEL="WARNING",
    )
    env.update(extra)
    return env


class TiplineProcess:
    """A running `tipline run`."""

    def __init__(self, env: dict[str, str], *args: str, start_timeout: float = 180) -> None:
        self.env = env
        self.log = Path(env["TIPLINE_VAR_DIR"]) / f"run-{time.monotonic_ns()}.log"
        handle = self.log.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tipline", "run", *args],
            env=env,
            cwd=ROOT,
            stdout=handle,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.url = f"http://127.0.0.1:{env['TIPLINE_WEB_PORT']}"
        what = f"tipline run to answer /healthz ({self.log})"
        wait_until(self._healthy, timeout=start_timeout, what=what)

    def _healthy(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"tipline run exited: {self.log.read_text()}")
        try:
            return httpx.get(self.url + "/healthz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    def kill(self) -> None:
        """SIGKILL: no clean-up, no goodbye."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        """SIGTERM and wait."""
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)


def start_roles(env: dict[str, str], roles: Sequence[str]) -> list[TiplineProcess]:
    """`tipline run --role R` for each role, started side by side: the first on the env's port,
    each other on a port of its own."""
    envs = [env] + [{**env, "TIPLINE_WEB_PORT": str(free_port())} for _ in roles[1:]]
    with ThreadPoolExecutor(len(roles)) as pool:
        started = pool.map(
            lambda pair: TiplineProcess(pair[0], "--role", pair[1], start_timeout=600),
            zip(envs, roles, strict=True),
        )
        return list(started)
