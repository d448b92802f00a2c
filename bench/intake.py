"""Intake through the webhook endpoint against the fake Bot API, in one run:

(a) a bare aiogram echo bot (aiogram's own webhook handler and HTTP session): the baseline;
    the same bot on Tipline's cheaper HTTP session is printed for information;
(b) Tipline's durable admission alone (commit to the inbox, then 200), SQLite and PostgreSQL,
    for Telegram updates and for signed WhatsApp and SMS webhooks (signature checked, sender
    keyed and sealed; bench/intake_signed.py);
(c) `tipline run` in webhook mode doing the whole text-tip conversation.

(a) and (c) are measured in BENCH_ROUNDS alternating pairs, each server warmed up first: on this
shared 2-core machine the same echo bot measured 580-910 updates/s in back-to-back runs, so one
pair could make the ratio anything from 0.35 to 0.55. The median of the pairs' ratios is the
figure.

Prints updates/s, p50/p99 latency, ratios to (a), and peak RSS of each server process.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import common  # noqa: F401 - puts the project on sys.path
import psutil
from common import peak_rss_mib, percentile
from conversation import CONVERSATION_STEPS, run_conversation
from intake_signed import SMS, WHATSAPP, Signed

from storage import migrate
from tests.databases import fresh_database
from tests.fakes.telegram.server import FakeTelegram
from tests.processes import free_port

ROOT = Path(__file__).resolve().parent.parent
SECRET = "b" * 40
TOKEN = "123456:BENCH-token"
HEADERS = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
SENDING = {"sendMessage", "editMessageText", "sendPhoto", "editMessageReplyMarkup"}
CHATS = int(os.environ.get("BENCH_CHATS", "50"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
ECHO_MESSAGES = 24
CONVERSATIONS = 2  # per chat, one after the other (each a new tipster)
WARM_UP_CHATS = 5
ADMISSION_UPDATES = 6000
ADMISSION_CONCURRENCY = 64
OPEN_LOOP_RATE = 500
OPEN_LOOP_SECONDS = 6
WRK_SECONDS = 5
WRK_FIRST_UPDATE_ID = 10_000_000
SIGNED_BODIES = 40_000  # distinct signed webhooks (more than a wrk run posts)


class Replies:
    """Counts the bot's messages per chat on the fake server and wakes whoever waits for one."""

    def __init__(self, fake: FakeTelegram) -> None:
        self.counts: dict[int, int] = {}
        self.events: dict[int, asyncio.Event] = {}
        self.keyboards: dict[int, tuple[int, list[tuple[str, str]]]] = {}
        original = fake._record

        def record(call: Any) -> None:
            original(call)
            if call.method in SENDING and call.ok:
                chat = int(str(call.params.get("chat_id")))
                self._remember_keyboard(chat, call)
                self.counts[chat] = self.counts.get(chat, 0) + 1
                if chat in self.events:
                    self.events[chat].set()

        fake._record = record  # type: ignore[method-assign]

    def _remember_keyboard(self, chat: int, call: Any) -> None:
        markup = call.params.get("reply_markup")
        if isinstance(markup, str):
            markup = json.loads(markup)
        if not markup or "inline_keyboard" not in markup:
            return
        message_id = call.params.get("message_id") or (call.result or {}).get("message_id")
        buttons = [
            (b["text"], b.get("callback_data", "")) for r in markup["inline_keyboard"] for b in r
        ]
        self.keyboards[chat] = (int(message_id), buttons)

    def keyboard(self, chat: int) -> tuple[int, list[tuple[str, str]]]:
        """The latest inline keyboard the bot showed in a chat."""
        return self.keyboards[chat]

    async def wait(self, chat: int, count: int) -> None:
        """Wait (up to 30 s) until the bot has sent `count` messages to chat."""
        deadline = time.monotonic() + 30
        while self.counts.get(chat, 0) < count:
            event = self.events[chat] = asyncio.Event()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"chat {chat}: no reply")
            await asyncio.wait_for(event.wait(), remaining)


class Server:
    """A server process, its URL, and its peak RSS sampled while it works."""

    def __init__(
        self,
        args: list[str],
        port: int,
        env: dict[str, str] | None = None,
        root: Path = ROOT,
        path: str = "/telegram/webhook",
    ) -> None:
        self.args, self.port, self.env, self.root = args, port, env, root
        self.url = f"http://127.0.0.1:{port}{path}"
        self.peak_rss = 0.0

    async def __aenter__(self) -> Server:
        log = open(tempfile.mktemp(suffix=".log"), "w")  # noqa: SIM115, ASYNC230
        self.proc = await asyncio.create_subprocess_exec(
            *self.args, cwd=self.root, env=self.env, stdout=log, stderr=log
        )
        self._sampler = asyncio.create_task(self._sample())
        # Ready means answering HTTP: `tipline run` binds its port before it finishes starting,
        # and a bare TCP connect would start the clock (and the first posts) too early.
        async with aiohttp.ClientSession() as http:
            for _ in range(600):
                try:
                    async with http.get(f"http://127.0.0.1:{self.port}/healthz"):
                        return self
                except (aiohttp.ClientError, OSError):
                    await asyncio.sleep(0.1)
        raise RuntimeError(f"server did not start: {self.args} (log {log.name})")

    async def _sample(self) -> None:
        while True:
            try:
                proc = psutil.Process(self.proc.pid)
                rss = sum(p.memory_info().rss for p in [proc, *proc.children(recursive=True)])
                self.peak_rss = max(self.peak_rss, rss / 2**20)
            except psutil.Error:
                pass
            await asyncio.sleep(0.2)

    def cpu_seconds(self) -> float:
        """CPU time used so far by the server and its children (user + system)."""
        proc = psutil.Process(self.proc.pid)
        total = 0.0
        for p in [proc, *proc.children(recursive=True)]:
            times = p.cpu_times()
            total += times.user + times.system
        return total

    async def __aexit__(self, *exc: object) -> None:
        self._sampler.cancel()
        self.proc.terminate()
        await self.proc.wait()


async def post(
    http: aiohttp.ClientSession, url: str, update: dict[str, Any], fake: FakeTelegram
) -> float:
    """POST an update; return the latency to a 200.

    A Bot API method in the 200's body (Tipline answers private button presses there) is run on
    the fake, as Telegram would: the work moved into the response is still counted as a call.
    """
    start = time.perf_counter()
    async with http.post(url, json=update, headers=HEADERS) as response:
        body = await response.read()
        if response.status != 200:
            raise RuntimeError(f"webhook answered {response.status}")
    latency = time.perf_counter() - start
    await fake.run_webhook_reply(body)
    return latency


def report(name: str, count: int, elapsed: float, latencies: list[float], rss: float) -> float:
    rate = count / elapsed
    print(
        f"{name:44s} {rate:8.0f} updates/s  p50 {percentile(latencies, 50) * 1000:6.1f} ms  "
        f"p99 {percentile(latencies, 99) * 1000:6.1f} ms  server RSS {rss:5.0f} MiB"
    )
    return rate


async def echo_baseline(
    fake: FakeTelegram, replies: Replies, *, tipline_session: bool = False
) -> float:
    port = free_port()
    args = [
        sys.executable,
        "bench/intake_servers.py",
        "echo",
        "--port",
        str(port),
        "--api",
        fake.base_url,
    ]
    if tipline_session:
        args.append("--tipline-session")
    async with Server(args, port) as server, aiohttp.ClientSession() as http:
        latencies: list[float] = []

        async def chat(chat_id: int, messages: int = ECHO_MESSAGES) -> None:
            for i in range(messages):
                before = replies.counts.get(chat_id, 0)
                start = time.perf_counter()
                await post(http, server.url, fake.text_message(chat_id, f"echo {i}"), fake)
                await replies.wait(chat_id, before + 1)
                latencies.append(time.perf_counter() - start)

        await asyncio.gather(*(chat(9_000 + c, 4) for c in range(WARM_UP_CHATS)))
        latencies.clear()
        start = time.perf_counter()
        await asyncio.gather(*(chat(10_000 + c) for c in range(CHATS)))
        elapsed = time.perf_counter() - start
        name = "(a) bare aiogram echo bot"
        if tipline_session:
            name = "    same, Bot on Tipline's HTTP session"
        return report(name, CHATS * ECHO_MESSAGES, elapsed, latencies, server.peak_rss)


async def admission_alone(
    fake: FakeTelegram,
    backend: str,
    tmp: Path,
    root: Path = ROOT,
    *,
    signed: Signed | None = None,
) -> tuple[float, float]:
    """(b) on a fresh database: Telegram updates, or a signed channel's webhooks (no open
    loop)."""
    database = fresh_database(backend, tmp)
    url = await asyncio.to_thread(database.__enter__)
    try:
        await asyncio.to_thread(migrate.upgrade, url)
        if signed is not None:
            return await _signed_admission(signed, backend, url, tmp, root), math.nan
        return await _admission(fake, backend, url, root)
    finally:
        await asyncio.to_thread(database.__exit__, None, None, None)


async def _signed_admission(
    channel: Signed, backend: str, url: str, tmp: Path, root: Path
) -> float:
    port = free_port()
    args = [sys.executable, "bench/intake_servers.py", channel.server, "--port", str(port)]
    args += ["--database-url", url]
    webhook = f"http://127.0.0.1:{port}{channel.path}"
    bodies = [channel.sign(i, webhook) for i in range(SIGNED_BODIES)]
    async with Server(args, port, root=root, path=channel.path) as server:
        name = f"(b) {channel.name} admission, {backend}, closed loop"
        if shutil.which("wrk"):
            lines = tmp / f"{channel.server}-{backend}.txt"
            text = "".join(f"{sig}\t{body.decode()}\n" for sig, body in bodies)
            await asyncio.to_thread(lines.write_text, text)
            script_args = [lines, channel.header, channel.content_type]
            return await closed_loop_wrk(
                name, server, script="intake_signed_wrk.lua", args=script_args
            )
        return await _signed_python(name, server, channel, bodies)


async def _signed_python(
    name: str, server: Server, channel: Signed, bodies: list[tuple[str, bytes]]
) -> float:
    queue = iter(bodies[:ADMISSION_UPDATES])
    latencies: list[float] = []

    async def worker(http: aiohttp.ClientSession) -> None:
        for signature, body in queue:
            start = time.perf_counter()
            headers = {channel.header: signature, "Content-Type": channel.content_type}
            async with http.post(server.url, data=body, headers=headers) as response:
                await response.read()
                if response.status != 200:
                    raise RuntimeError(f"webhook answered {response.status}")
            latencies.append(time.perf_counter() - start)

    async with aiohttp.ClientSession() as http:
        start = time.perf_counter()
        await asyncio.gather(*(worker(http) for _ in range(ADMISSION_CONCURRENCY)))
        elapsed = time.perf_counter() - start
    return report(name + " (Python)", len(latencies), elapsed, latencies, server.peak_rss)


async def _admission(
    fake: FakeTelegram, backend: str, url: str, root: Path = ROOT
) -> tuple[float, float]:
    port = free_port()
    args = [
        sys.executable,
        "bench/intake_servers.py",
        "admission",
        "--port",
        str(port),
        "--database-url",
        url,
    ]
    async with Server(args, port, root=root) as server, aiohttp.ClientSession() as http:
        name = f"(b) durable admission, {backend}, closed loop"
        if shutil.which("wrk"):
            rate = await closed_loop_wrk(name, server)
        else:
            rate = await closed_loop_python(name, fake, http, server)
        p99 = await open_loop(fake, http, server)
    return rate, p99


async def closed_loop_wrk(
    name: str,
    server: Server,
    *,
    script: str = "intake_wrk.lua",
    args: list[Any] | None = None,
) -> float:
    """ADMISSION_CONCURRENCY connections posting distinct updates, driven by wrk (C, so the
    driver takes little of the 2 cores the server needs)."""
    script_args = [SECRET, WRK_FIRST_UPDATE_ID] if args is None else args
    args = ["-t1", f"-c{ADMISSION_CONCURRENCY}", f"-d{WRK_SECONDS}s", "-s", script]
    args += [server.url, "--", *map(str, script_args)]
    wrk = await asyncio.create_subprocess_exec(
        "wrk", *args, cwd=ROOT / "bench", stdout=asyncio.subprocess.PIPE
    )
    out, _ = await wrk.communicate()
    result = json.loads(out.decode().strip().splitlines()[-1])
    if result["errors"] or result["non_2xx"]:
        raise RuntimeError(f"webhook failed under wrk: {result}")
    rate = result["requests"] / (result["duration_us"] / 1e6)
    print(
        f"{name + ' (wrk)':44s} {rate:8.0f} updates/s  p50 {result['p50_us'] / 1000:6.1f} ms  "
        f"p99 {result['p99_us'] / 1000:6.1f} ms  server RSS {server.peak_rss:5.0f} MiB"
    )
    return float(rate)


async def closed_loop_python(
    name: str, fake: FakeTelegram, http: aiohttp.ClientSession, server: Server
) -> float:
    """The same load from Python (when wrk is not installed: `apt-get install wrk`)."""
    updates = [fake.text_message(20_000 + i % 1000, "x") for i in range(ADMISSION_UPDATES)]
    queue = iter(updates)
    latencies: list[float] = []

    async def worker() -> None:
        for update in queue:
            latencies.append(await post(http, server.url, update, fake))

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(ADMISSION_CONCURRENCY)))
    elapsed = time.perf_counter() - start
    return report(name + " (Python)", len(updates), elapsed, latencies, server.peak_rss)


async def open_loop(fake: FakeTelegram, http: aiohttp.ClientSession, server: Server) -> float:
    total = OPEN_LOOP_RATE * OPEN_LOOP_SECONDS
    updates = [fake.text_message(30_000 + i % 1000, "y") for i in range(total)]
    latencies: list[float] = []
    start = time.perf_counter()
    tasks = []
    for i, update in enumerate(updates):
        delay = start + i / OPEN_LOOP_RATE - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(post(http, server.url, update, fake)))
    latencies = list(await asyncio.gather(*tasks))
    p99 = percentile(latencies, 99)
    print(
        f"    open loop at {OPEN_LOOP_RATE}/s for {OPEN_LOOP_SECONDS}s: "
        f"p50 {percentile(latencies, 50) * 1000:.1f} ms  p99 {p99 * 1000:.1f} ms"
    )
    return p99


async def whole_conversation(
    fake: FakeTelegram,
    replies: Replies,
    tmp: Path,
    root: Path = ROOT,
    cpu: list[float] | None = None,
) -> float:
    """Updates/s of `tipline run` (from the tree at `root`); its CPU seconds per update are
    appended to `cpu` when given."""
    await asyncio.to_thread(tmp.mkdir)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIPLINE_")}
    env.update(
        TIPLINE_DATABASE_URL=f"sqlite+aiosqlite:///{tmp / 'conversation.db'}",
        TIPLINE_VAR_DIR=str(tmp),
        TIPLINE_MEDIA_DIR=str(tmp / "media"),
        TIPLINE_WEB_PORT=str(port),
        TIPLINE_BOT_TOKEN=TOKEN,
        TIPLINE_LOG_LEVEL="WARNING",
        TIPLINE_TELEGRAM_API_BASE=fake.base_url,
        TIPLINE_WEBHOOK_SECRET=SECRET,
        TIPLINE_WEBHOOK_URL=f"http://127.0.0.1:{port}/telegram/webhook",
        TIPLINE_CHAT_LIMITS_OVERALL="100000/1m",  # capacity is measured, not the limit
    )
    args = [sys.executable, "-m", "tipline", "run"]
    async with Server(args, port, env, root) as server, aiohttp.ClientSession() as http:
        latencies: list[float] = []

        async def send(chat_id: int, update: dict[str, Any]) -> None:
            before = replies.counts.get(chat_id, 0)
            start = time.perf_counter()
            await post(http, server.url, update, fake)
            await replies.wait(chat_id, before + 1)
            latencies.append(time.perf_counter() - start)

        async def chat(lane: int) -> None:
            for n in range(CONVERSATIONS):
                await run_conversation(fake, 40_000 + lane + n * 1_000, send, replies.keyboard)

        warm_up = (run_conversation(fake, 39_000 + c, send, replies.keyboard) for c in range(5))
        await asyncio.gather(*warm_up)
        latencies.clear()
        used = server.cpu_seconds()
        start = time.perf_counter()
        await asyncio.gather(*(chat(c) for c in range(CHATS)))
        elapsed = time.perf_counter() - start
        if cpu is not None:
            cpu.append((server.cpu_seconds() - used) / (CHATS * CONVERSATIONS * CONVERSATION_STEPS))
        return report(
            "(c) tipline run, whole text-tip conversation",
            CHATS * CONVERSATIONS * CONVERSATION_STEPS,
            elapsed,
            latencies,
            server.peak_rss,
        )


async def main() -> None:
    print(f"intake through the webhook; {CHATS} chats; machine: {os.cpu_count()} cores")
    async with FakeTelegram(token=TOKEN, rate_limits=None, record_calls=False) as fake:
        replies = Replies(fake)
        with tempfile.TemporaryDirectory() as tmp:
            pairs = []
            for n in range(ROUNDS):
                bare = await echo_baseline(fake, replies)
                whole = await whole_conversation(fake, replies, Path(tmp) / f"round{n}")
                print(f"    pair {n + 1}: whole conversation / echo = {whole / bare:.2f}")
                pairs.append((whole / bare, bare, whole))
            if ROUNDS:
                await echo_baseline(fake, replies, tipline_session=True)
            sqlite_rate, sqlite_p99 = await admission_alone(fake, "sqlite", Path(tmp))
            pg_rate, _ = await admission_alone(fake, "postgresql", Path(tmp))
            wa_sqlite, _ = await admission_alone(fake, "sqlite", Path(tmp), signed=WHATSAPP)
            wa_pg, _ = await admission_alone(fake, "postgresql", Path(tmp), signed=WHATSAPP)
            sms_sqlite, _ = await admission_alone(fake, "sqlite", Path(tmp), signed=SMS)
            sms_pg, _ = await admission_alone(fake, "postgresql", Path(tmp), signed=SMS)
    print(
        f"aims: admission >= 2000/s on SQLite: Telegram {sqlite_rate:.0f}, WhatsApp "
        f"{wa_sqlite:.0f}, SMS {sms_sqlite:.0f} (PostgreSQL: Telegram {pg_rate:.0f}, "
        f"WhatsApp {wa_pg:.0f}, SMS {sms_pg:.0f})"
    )
    if not pairs:  # BENCH_ROUNDS=0: admission only
        return
    ratio, bare, whole = sorted(pairs)[len(pairs) // 2]
    print(
        f"ratios to (a) (the median pair: {bare:.0f} echo, {whole:.0f} conversation): admission "
        f"sqlite {sqlite_rate / bare:.2f}, admission postgresql {pg_rate / bare:.2f}, "
        f"whole conversation {ratio:.2f}"
    )
    print(
        f"aims: admission >= 2000/s on SQLite ({sqlite_rate:.0f}), conversation >= 0.5 of (a) "
        f"({ratio:.2f}), p99 < 50 ms at 500/s ({sqlite_p99 * 1000:.1f} ms)"
    )
    print(f"driver peak RSS {peak_rss_mib():.0f} MiB")


if __name__ == "__main__":
    asyncio.run(main())
