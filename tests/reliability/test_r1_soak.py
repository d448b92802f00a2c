"""R1: a soak on PostgreSQL, text updates over the Telegram webhook and photo tips over the web
form at once. Pass: 0 lost, 0 duplicated, admission p99 < 50 ms, RSS growth < 10% after warm-up.

Short tier: 20 s at a fifth of the rate. Full: 10 minutes at 50 text + 5 photo tips a second.
The full tier runs as production runs on PostgreSQL, a process per role (web, bot, worker) sharing
Redis, so admission has the web process's loop to itself; the short tier runs one `tipline run`.
R1_ROLES chooses: `all` (one process) or roles such as `web,bot,worker`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import time
from pathlib import Path

import httpx
import psutil
import pytest
import uvloop

from tests.reliability.harness import (
    FULL,
    OPEN_LIMITS,
    Deployment,
    deployment,
    jpeg,
    report,
    text_update,
    tier,
    until,
    web_report,
)

pytestmark = pytest.mark.reliability

# The full tier runs as production runs on PostgreSQL; R1_ROLES=all runs it in one process.
_LAYOUT = os.environ.get("R1_ROLES") or ("web,bot,worker" if FULL else "all")
ROLES = () if _LAYOUT == "all" else tuple(_LAYOUT.split(","))
SECONDS = tier(20, 600)
TEXT_RATE = tier(10, 50)
PHOTO_RATE = tier(1, 5)


async def _paced(
    rate: float, seconds: float, send, pending: set[asyncio.Task], late: list[float]
) -> None:
    """Start send(n) `rate` times a second on a fixed schedule (open loop: a slow answer does
    not slow the sender); `late` gets how far behind its slot each send started (ms)."""
    started = time.monotonic()
    for n in itertools.count():
        due = started + n / rate
        # Stop on the clock: a driver that falls behind its rate must not run on past the soak.
        if due - started >= seconds or time.monotonic() - started >= seconds:
            return
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        late.append((time.monotonic() - due) * 1000)
        task = asyncio.create_task(send(n))
        pending.add(task)
        task.add_done_callback(pending.discard)


async def _rss_sampler(
    processes: list[psutil.Process], samples: list[list[float]], stop: asyncio.Event, progress
) -> None:
    """Every 2 s, each server process's RSS (MiB), one list per process."""
    while not stop.is_set():
        for process, kept in zip(processes, samples, strict=True):
            kept.append(process.memory_info().rss / 2**20)
        if len(samples[0]) % 15 == 0:
            rss = " + ".join(f"{kept[-1]:.0f}" for kept in samples)
            print(f"  R1 {len(samples[0]) * 2} s: {progress()}, rss {rss} MiB", flush=True)
        await asyncio.sleep(2)


async def _soak(app: Deployment) -> dict[str, object]:
    latencies: list[float] = []
    sent: list[int] = []
    refs: list[str] = []
    failures: list[int] = []
    # Pooled connections, and one transport for every browser on the web form: a new client
    # per tip would build an SSL context and a connection each time, the driver's CPU.
    limits = httpx.Limits(max_connections=256, max_keepalive_connections=64)
    async with (
        httpx.AsyncClient(base_url=app.url, timeout=30, limits=limits) as hook,
        httpx.AsyncHTTPTransport(limits=limits) as shared,
    ):

        async def send_text(n: int) -> None:
            sent.append(n)
            update = text_update(1_000_000 + n, 50_000 + n % 500, f"sighting {n}: boy in a red cap")
            started = time.perf_counter()
            try:
                status = await app.post_update(hook, update)
            except httpx.TransportError:
                status = 0  # no answer: Telegram would redeliver; counted as a failure
            latencies.append((time.perf_counter() - started) * 1000)
            if status != 200:
                failures.append(status)

        async def send_photo(n: int) -> None:
            # Its own cookies (the form's CSRF cookie), the shared pool underneath; not closed
            # here, which would close the shared transport.
            browser = httpx.AsyncClient(base_url=app.url, timeout=60, transport=shared)
            try:
                status, ref = await web_report(browser, f"photo {n}", photo=jpeg(n))
            except httpx.TransportError:
                status, ref = 0, None
            if ref:
                refs.append(ref)
            else:
                failures.append(status)

        pending: set[asyncio.Task] = set()
        servers = [psutil.Process(each.proc.pid) for each in app.processes]
        samples: list[list[float]] = [[] for _ in servers]
        stop = asyncio.Event()

        def progress() -> str:
            return (
                f"sent {len(sent)}, answered {len(latencies)}, web tips {len(refs)}, "
                f"failed {len(failures)}, in flight {len(pending)}"
            )

        cpu_before = sum(map(_cpu_seconds, servers))
        sampler = asyncio.create_task(_rss_sampler(servers, samples, stop, progress))
        late: list[float] = []
        await asyncio.gather(
            _paced(TEXT_RATE, SECONDS, send_text, pending, late),
            _paced(PHOTO_RATE, SECONDS, send_photo, pending, late),
        )
        offered = len(late) / SECONDS
        await asyncio.gather(*list(pending))
        cpu = sum(map(_cpu_seconds, servers)) - cpu_before
        stop.set()
        await sampler
    return {
        "latencies": latencies,
        "refs": refs,
        "failures": failures,
        "rss": samples,
        "sent": len(sent),
        "late": late,
        "offered": offered,
        "cpu": cpu,
    }


def _cpu_seconds(process: psutil.Process) -> float:
    """CPU time used by the server and the photo decoders below it (finished ones included):
    unlike latency, a figure the machine's other load hardly moves."""
    total = 0.0
    for each in [process, *process.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess):  # a decoder that just finished
            times = each.cpu_times()
            total += times.user + times.system + times.children_user + times.children_system
    return total


def _growth(rss: list[float]) -> tuple[float, float]:
    """RSS after warm-up (the first fifth of the run) and its growth after it (%)."""
    warm = rss[len(rss) // 5] if rss else 0.0
    return warm, (max(rss[len(rss) // 5 :]) / warm - 1) * 100 if warm else 0.0


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def test_r1_soak_loses_nothing_and_keeps_admission_fast(tmp_path: Path):
    with deployment(tmp_path, roles=ROLES, **OPEN_LIMITS) as app:
        # uvloop: less of the driver's own overhead per request (the server runs on it too).
        result = uvloop.run(_soak(app))

        async def settled() -> bool:
            rows = await app.sql("SELECT count(*) FROM inbox_updates WHERE status = 'pending'")
            return rows[0][0] == 0

        # Replies go out at Telegram's 30 messages a second at most (shared through Redis by
        # the roles): at 50 text updates a second the processor finishes after the soak.
        asyncio.run(until(settled, timeout=300 + result["sent"] / 30))
        inbox = asyncio.run(app.sql("SELECT update_id, status FROM inbox_updates"))
        tips = asyncio.run(app.sql("SELECT ref FROM tips WHERE channel = 'web'"))
    latencies = result["latencies"]
    refs = result["refs"]
    stored = {row[0] for row in inbox}
    tip_refs = [row[0] for row in tips]
    grown = [_growth(rss) for rss in result["rss"]]
    lost = len(app.acked - stored) + len(set(refs) - set(tip_refs))
    duplicated = len(tip_refs) - len(set(tip_refs)) + len(refs) - len(set(refs))
    statuses = {s: sum(1 for row in inbox if row[1] == s) for s in {row[1] for row in inbox}}
    report(
        "R1 soak",
        layout=",".join(ROLES) or "all",
        seconds=SECONDS,
        offered_per_s=result["offered"],
        send_late_p99_ms=_percentile(result["late"], 99),
        webhook_sent=result["sent"],
        webhook_acked=len(app.acked),
        web_tips=len(refs),
        refused=len(result["failures"]),
        lost=lost,
        duplicated=duplicated,
        admission_p50_ms=_percentile(latencies, 50),
        admission_p99_ms=_percentile(latencies, 99),
        server_cpu_s=result["cpu"],
        server_cpu_ms_per_tip=result["cpu"] * 1000 / max(1, result["sent"] + len(refs)),
        rss_warm_mib=" + ".join(f"{warm:.1f}" for warm, _ in grown),
        rss_growth_pct=max(growth for _, growth in grown),
        inbox=statuses,
    )
    assert lost == 0 and duplicated == 0
    assert result["failures"] == []
    assert statuses.get("pending", 0) == 0
