"""A fake Telegram Bot API server: a real aiohttp server on 127.0.0.1 that the real aiogram Bot
talks to. It enforces Telegram's limits, can inject failures, records every call and delivers
updates by getUpdates or webhook. See docs/testing-telegram.md.

In-process:   async with FakeTelegram() as fake: bot = fake.bot()
As a process: python -m tests.fakes.telegram.server --port 8081 [--no-rate-limit]
"""

import argparse
import asyncio
import contextlib
import json
import signal
import time
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from tests.fakes.telegram.builders import UpdateBuilders
from tests.fakes.telegram.control import add_control_routes
from tests.fakes.telegram.faults import ANY_METHOD, Failure, FaultPlan
from tests.fakes.telegram.limits import UPLOAD_LIMIT, ApiError, RateLimiter, RateLimits
from tests.fakes.telegram.methods import METHODS
from tests.fakes.telegram.params import read_params
from tests.fakes.telegram.state import Call, FakeState, Upload, UploadedFile, WebhookConfig
from tests.fakes.telegram.webhook import RetryPolicy, WebhookSender

if TYPE_CHECKING:
    from aiogram import Bot

DEFAULT_TOKEN = "123456789:AAFakeTelegramTokenForTiplineTests00"


def _answer(status: int, body: dict[str, Any]) -> web.Response:
    return web.Response(status=status, text=json.dumps(body), content_type="application/json")


def _too_large() -> web.Response:
    return _answer(413, ApiError(413, "Request Entity Too Large").payload())


class FakeTelegram(UpdateBuilders):
    """The fake Bot API server; start it with `async with` or start()/close()."""

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        rate_limits: RateLimits | None = RateLimits(),
        record_calls: bool = True,
        webhook_autodeliver: bool = True,
        webhook_retry: RetryPolicy = RetryPolicy(),
        bot_username: str = "tipline_test_bot",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.token = token
        self.host = host
        self.port = port
        self.record_calls = record_calls
        self.webhook_autodeliver = webhook_autodeliver
        self.limiter = RateLimiter(rate_limits or RateLimits(), clock)
        self.limiter.enabled = rate_limits is not None
        bot_user = {
            "id": int(token.split(":", 1)[0]),
            "is_bot": True,
            "first_name": "Tipline Test Bot",
            "username": bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }
        self.state = FakeState(bot_user, self.limiter)
        self.webhook_sender = WebhookSender(self.state, webhook_retry, self.run_webhook_reply)
        self._calls: list[Call] = []
        self.faults = FaultPlan()
        self._counts: Counter[str] = Counter()
        self._recorded = asyncio.Event()
        self._closing = asyncio.Event()
        self._runner: web.AppRunner | None = None

    # --- lifecycle -------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """http://127.0.0.1:PORT, for TelegramAPIServer.from_base()."""
        return f"http://{self.host}:{self.port}"

    def bot(self, **kwargs: Any) -> "Bot":
        """A real aiogram Bot wired to this server (close it with `await bot.session.close()`)."""
        from aiogram import Bot
        from aiogram.client.session.aiohttp import AiohttpSession
        from aiogram.client.telegram import TelegramAPIServer

        session = AiohttpSession(api=TelegramAPIServer.from_base(self.base_url))
        return Bot(self.token, session=session, **kwargs)

    def make_app(self) -> web.Application:
        """The aiohttp application (Bot API, file downloads, /_control)."""
        app = web.Application(client_max_size=UPLOAD_LIMIT)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        add_control_routes(app, self)
        return app

    async def start(self) -> None:
        """Bind (port 0 picks a free one; self.port is then the bound port)."""
        self.state.closing = False
        self._closing.clear()
        self._runner = web.AppRunner(
            self.make_app(), access_log=None, handle_signals=False, shutdown_timeout=0.5
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        await self.webhook_sender.start(autodeliver=self.webhook_autodeliver)

    async def close(self) -> None:
        """Wake long polls and hung calls, stop webhook delivery, stop the server."""
        self.state.closing = True
        self._closing.set()
        self.state.updates.wake()
        await self.webhook_sender.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> "FakeTelegram":
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # --- HTTP handlers ---------------------------------------------------------------------

    async def _handle_api(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return _answer(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
        if (request.content_length or 0) > UPLOAD_LIMIT:
            return _too_large()
        method = request.match_info["method"]
        try:
            params, files = await read_params(request)
        except web.HTTPRequestEntityTooLarge:  # chunked multipart: only known once read
            return _too_large()
        call, error = await self._call(method, params, files)
        if error is None:
            return _answer(200, {"ok": True, "result": call.result})
        if error.body is not None:
            return web.Response(status=error.status, text=error.body, content_type="text/html")
        return _answer(error.status, error.payload())

    async def _call(
        self, method: str, params: dict[str, Any], files: dict[str, UploadedFile]
    ) -> tuple[Call, ApiError | None]:
        """Run one Bot API method and record it; the error, if Telegram would have answered one."""
        call = Call(method, params, files, time.time())
        try:
            call.result = await self._run(method.lower(), params, files)
        except ApiError as error:
            call.status, call.error = error.status, error.description
            self._record(call)
            return call, error
        self._record(call)
        return call, None

    async def run_webhook_reply(self, body: bytes) -> Call | None:
        """Run the method a webhook put in its 2xx answer, as Telegram does (no result goes back).

        The body is JSON with the method name in `method` and its parameters beside it; an empty
        or other body is no call. The call is recorded like any other.
        """
        try:
            reply = json.loads(body) if body.strip() else None
        except ValueError:
            return None
        if not isinstance(reply, dict) or not isinstance(reply.get("method"), str):
            return None
        params = {key: value for key, value in reply.items() if key != "method"}
        call, _ = await self._call(reply["method"], params, {})
        return call

    async def _run(self, key: str, params: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        fault = self.faults.take(key)
        if isinstance(fault, Failure):
            self._counts["injected_faults"] += 1
            raise ApiError(
                fault.status, fault.description, retry_after=fault.retry_after, body=fault.body
            )
        handler = METHODS.get(key)
        if handler is None:
            raise ApiError(404, "Not Found")
        if fault is None:
            return await handler(self.state, params, files)
        self._counts["injected_timeouts"] += 1
        if fault.delivered:  # it happened, but the answer is lost
            result = await handler(self.state, params, files)
            await self._hang(fault.seconds)
            return result
        await self._hang(fault.seconds)
        raise ApiError(502, "Bad Gateway")

    async def _hang(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), seconds)

    def _record(self, call: Call) -> None:
        self._counts["calls"] += 1
        self._counts[f"method:{call.method}"] += 1
        self._counts[f"status:{call.status}"] += 1
        if self.record_calls:
            self._calls.append(call)
        self._recorded.set()
        self._recorded = asyncio.Event()

    async def _handle_file(self, request: web.Request) -> web.Response:
        stored = self.state.files.by_path(request.match_info["path"])
        if request.match_info["token"] != self.token or stored is None:
            return _answer(404, {"ok": False, "error_code": 404, "description": "Not Found"})
        return web.Response(body=stored.data, content_type="application/octet-stream")

    # --- fault injection -------------------------------------------------------------------

    def fail_next(
        self,
        method: str = ANY_METHOD,
        *,
        status: int = 500,
        description: str | None = None,
        count: int = 1,
        retry_after: int | None = None,
        body: str | None = None,
    ) -> None:
        """The next `count` calls of method ("*" = any) fail with this status (JSON error body,
        or `body` verbatim as HTML, like Telegram's nginx 502 page)."""
        self.faults.fail(
            method,
            status=status,
            description=description,
            count=count,
            retry_after=retry_after,
            body=body,
        )

    def timeout_next(
        self, method: str, seconds: float, *, count: int = 1, delivered: bool = False
    ) -> None:
        """The next `count` calls hang `seconds` (set it above the client timeout). delivered=True:
        the call takes effect first and only the answer is lost (the duplicate-send case)."""
        self.faults.hang(method, seconds=seconds, count=count, delivered=delivered)

    def block_chat(self, chat_id: int) -> None:
        """Every call addressing chat_id gets 403 (the user blocked the bot / kicked it)."""
        self.state.chats.blocked.add(chat_id)

    def unblock_chat(self, chat_id: int) -> None:
        """Undo block_chat."""
        self.state.chats.blocked.discard(chat_id)

    def delete_chat(self, chat_id: int) -> None:
        """Every call addressing chat_id gets 400 "Bad Request: chat not found"."""
        self.state.chats.deleted.add(chat_id)

    def register_chat(self, chat_id: int, **details: Any) -> dict[str, Any]:
        """Declare a chat's type/title/username (type=channel for channels)."""
        return self.state.chats.register(chat_id, **details)

    @property
    def rate_limit_enabled(self) -> bool:
        """Whether flood limits are enforced (switchable at run time)."""
        return self.limiter.enabled

    @rate_limit_enabled.setter
    def rate_limit_enabled(self, enabled: bool) -> None:
        self.limiter.enabled = enabled

    # --- updates ---------------------------------------------------------------------------

    def push_update(self, update: dict[str, Any]) -> int:
        """Queue an update for getUpdates (or webhook delivery); returns its update_id."""
        self._counts["updates_pushed"] += 1
        return self.state.updates.push(update)

    async def deliver(self, update: dict[str, Any]) -> int:
        """POST one update to the webhook now, with the secret header; returns the HTTP status."""
        return await self.webhook_sender.deliver(update)

    @property
    def webhook(self) -> WebhookConfig | None:
        """The webhook setWebhook stored, secret_token included."""
        return self.state.webhook

    # --- what the bot did ------------------------------------------------------------------

    def calls(self, method: str | None = None, chat_id: int | str | None = None) -> list[Call]:
        """Recorded calls, oldest first, optionally of one method (any case) and/or chat."""
        wanted = method.lower() if method else None
        return [
            call
            for call in self._calls
            if (wanted is None or call.method.lower() == wanted)
            and (chat_id is None or str(call.params.get("chat_id")) == str(chat_id))
        ]

    def sent_texts(self, chat_id: int | str) -> list[str]:
        """Texts of accepted sendMessage calls to chat_id, exactly as the bot sent them."""
        return [call.params["text"] for call in self.calls("sendMessage", chat_id) if call.ok]

    def sent_messages(self, chat_id: int | None = None) -> list[dict[str, Any]]:
        """Messages the bot sent (as returned to it), optionally to one chat."""
        sent = self.state.sent
        return [m for m in sent if chat_id is None or m["chat"]["id"] == chat_id]

    def uploads(self, chat_id: int | None = None) -> list[Upload]:
        """Files the bot uploaded, with their exact bytes."""
        return [u for u in self.state.uploads if chat_id is None or u.chat_id == chat_id]

    async def wait_for_calls(
        self,
        method: str | None = None,
        *,
        chat_id: int | str | None = None,
        count: int = 1,
        within: float = 5.0,
    ) -> list[Call]:
        """Wait up to `within` seconds for `count` matching calls; TimeoutError otherwise."""
        async with asyncio.timeout(within):
            while len(found := self.calls(method, chat_id)) < count:
                await self._recorded.wait()
        return found

    def stats(self) -> dict[str, Any]:
        """Counters for benchmarks: calls by method/status, 429s, faults, queue, webhook."""
        counts = self._counts
        attempts = self.webhook_sender.attempts
        return {
            "calls": counts["calls"],
            "by_method": _prefixed(counts, "method:"),
            "by_status": _prefixed(counts, "status:"),
            "status_429": counts["status:429"],
            "rate_limited": sum(self.limiter.rejected.values()),
            "rate_limited_by": dict(self.limiter.rejected),
            "injected_faults": counts["injected_faults"],
            "injected_timeouts": counts["injected_timeouts"],
            "updates_pushed": counts["updates_pushed"],
            "updates_dropped": self.state.updates.dropped,
            "pending_updates": len(self.state.updates),
            "messages_sent": len(self.state.sent),
            "uploads": len(self.state.uploads),
            "webhook_attempts": len(attempts),
            "webhook_failures": sum(1 for a in attempts if a.error is not None),
            "webhook_given_up": self.webhook_sender.given_up,
        }

    def reset(self) -> None:
        """Back to a fresh fake (same port and token; update and message ids keep counting)."""
        self._calls.clear()
        self.faults.clear()
        self._counts.clear()
        self.limiter.reset()
        self.state.reset()
        self.state.updates.dropped = 0
        self.webhook_sender.attempts.clear()
        self.webhook_sender.given_up = 0


def _prefixed(counts: Counter[str], prefix: str) -> dict[str, int]:
    return {key[len(prefix) :]: n for key, n in counts.items() if key.startswith(prefix)}


async def _serve(args: argparse.Namespace) -> None:
    fake = FakeTelegram(
        args.token,
        host=args.host,
        port=args.port,
        rate_limits=None if args.no_rate_limit else RateLimits(),
        record_calls=not args.no_record,
    )
    await fake.start()
    print(json.dumps({"base_url": fake.base_url, "port": fake.port}), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await fake.close()


def main(argv: list[str] | None = None) -> None:
    """Run the fake as a process; prints {"base_url": ..., "port": ...} once listening."""
    parser = argparse.ArgumentParser(prog="python -m tests.fakes.telegram.server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (printed)")
    parser.add_argument("--token", default=DEFAULT_TOKEN)
    parser.add_argument("--no-rate-limit", action="store_true")
    parser.add_argument("--no-record", action="store_true", help="count calls, keep no log")
    asyncio.run(_serve(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
