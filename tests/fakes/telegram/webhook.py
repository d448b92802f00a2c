"""Webhook delivery as Telegram does it: POST the update JSON with the secret header, retry on
anything but 2xx, run a Bot API method found in a 2xx answer, and report the last error in
getWebhookInfo."""

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import aiohttp

from tests.fakes.telegram.state import FakeState, WebhookConfig

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


@dataclass(frozen=True)
class RetryPolicy:
    """How queued updates are retried when the webhook fails (exponential backoff)."""

    initial_delay: float = 0.1
    max_delay: float = 2.0
    factor: float = 2.0
    max_attempts: int | None = None  # None: retry until it works (Telegram keeps updates ~24 h)
    timeout: float = 10.0


@dataclass
class WebhookAttempt:
    """One POST to the webhook: which update, the HTTP status (0 = no answer), the error text."""

    update_id: int
    status: int
    error: str | None
    time: float


def _reason(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)


class WebhookSender:
    """Posts updates to the configured webhook; optionally drains the update queue in a loop."""

    def __init__(
        self,
        state: FakeState,
        policy: RetryPolicy,
        run_reply: Callable[[bytes], Awaitable[Any]] | None = None,
    ) -> None:
        self.state = state
        self.policy = policy
        self.run_reply = run_reply  # runs a method the webhook answered with
        self.attempts: list[WebhookAttempt] = []
        self.given_up = 0
        self._session: aiohttp.ClientSession | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self, *, autodeliver: bool) -> None:
        """Open the HTTP client; with autodeliver, queued updates go to the webhook when set."""
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.policy.timeout),
            json_serialize=json.dumps,
        )
        if autodeliver:
            self._task = asyncio.create_task(self._drain(), name="fake-telegram-webhook")

    async def close(self) -> None:
        """Stop the loop and the HTTP client."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def deliver(self, update: dict[str, Any]) -> int:
        """POST one update to the webhook now; return the HTTP status (0 when no answer)."""
        hook = self.state.webhook
        if hook is None:
            raise RuntimeError("no webhook is set: call setWebhook first")
        if "update_id" not in update:
            update["update_id"] = self.state.updates.new_id()
        status, _ = await self._post(hook, update)
        return status

    async def _post(self, hook: WebhookConfig, update: dict[str, Any]) -> tuple[int, str | None]:
        assert self._session is not None, "FakeTelegram is not started"
        headers = {SECRET_HEADER: hook.secret_token} if hook.secret_token else {}
        status, error, body = 0, None, b""
        try:
            async with self._session.post(hook.url, json=update, headers=headers) as response:
                body = await response.read()
                status = response.status
        except TimeoutError:
            error = "Read timeout expired"
        except aiohttp.ClientConnectorError:
            error = "Connection refused"
        except aiohttp.ClientError as exc:
            error = f"Connection error: {type(exc).__name__}"
        if error is None and not 200 <= status < 300:
            error = f"Wrong response from the webhook: {_reason(status)}"
        if error is not None:
            hook.last_error_date = int(time.time())
            hook.last_error_message = error
        self.attempts.append(WebhookAttempt(int(update["update_id"]), status, error, time.time()))
        if error is None and self.run_reply is not None:
            await self.run_reply(body)
        return status, error

    async def _drain(self) -> None:
        delay = self.policy.initial_delay
        failures: dict[int, int] = {}
        queue = self.state.updates
        while not self.state.closing:
            hook = self.state.webhook
            batch = queue.peek(hook.max_connections) if hook is not None else []
            if hook is None or not batch:
                await queue.wait(1.0)
                continue
            results = await asyncio.gather(*(self._post(hook, update) for update in batch))
            done = {u["update_id"] for u, (_, error) in zip(batch, results) if error is None}
            failed = [u["update_id"] for u in batch if u["update_id"] not in done]
            done |= self._give_up(failed, failures)
            queue.remove(done)
            if failed:
                await asyncio.sleep(delay)
                delay = min(delay * self.policy.factor, self.policy.max_delay)
            else:
                delay = self.policy.initial_delay

    def _give_up(self, failed: list[int], failures: dict[int, int]) -> set[int]:
        """Updates that used up their attempts are dropped, as Telegram eventually does."""
        dropped = set()
        for update_id in failed:
            failures[update_id] = failures.get(update_id, 0) + 1
            limit = self.policy.max_attempts
            if limit is not None and failures[update_id] >= limit:
                dropped.add(update_id)
                self.given_up += 1
        return dropped
