"""Sign-in under a password-guessing flood: 20 concurrent wrong-password sign-ins while a probe
hits /healthz, with argon2 on the event loop (the baseline, as before core/identity/passwords.py)
and off it (Tipline now). Prints the probe's p50/p99, sign-ins per second, the ratio, and peak RSS.

Each guess is for another e-mail from another address (through a trusted proxy), so neither the
per-account back-off nor the per-address throttle answers before argon2 runs: every one is hashed.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import common  # noqa: F401 - puts the project on sys.path
import httpx
import psutil
from common import percentile

from tests.processes import free_port

ROOT = Path(__file__).resolve().parent.parent
CONCURRENT = 20
SIGN_INS = int(os.environ.get("BENCH_SIGNINS", "200"))
PROBE_EVERY = 0.02


async def _guesser(client: httpx.AsyncClient, token: str, numbers: list[int]) -> int:
    """Sign in wrongly until the numbers run out; how many answers were not a plain 401."""
    errors = 0
    while numbers:
        n = numbers.pop()
        headers = {"X-Forwarded-For": f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}"}
        form = {"csrf": token, "email": f"guess{n}@example.org", "password": f"wrong {n}"}
        try:
            response = await client.post("/login", data=form, headers=headers)
        except httpx.TransportError:
            errors += 1  # the server dropped the connection
            continue
        errors += response.status_code != 401
    return errors


async def _probe(base: str, stop: asyncio.Event) -> list[float]:
    latencies = []
    async with httpx.AsyncClient(base_url=base, timeout=30) as probe:
        while not stop.is_set():
            started = time.perf_counter()
            try:
                ok = (await probe.get("/healthz")).status_code == 200
            except httpx.TransportError:
                ok = False
            # A failed probe counts as the slowest kind of answer: it is in the latencies.
            latencies.append((time.perf_counter() - started) * 1000 if ok else 30_000.0)
            await asyncio.sleep(PROBE_EVERY)
    return latencies


async def _flood(base: str) -> tuple[list[float], float, list[float], int]:
    async with httpx.AsyncClient(base_url=base, timeout=120) as client:
        page = await client.get("/login")
        token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
        idle = await _probe_for(base, seconds=2)
        stop = asyncio.Event()
        probe = asyncio.create_task(_probe(base, stop))
        numbers = list(range(SIGN_INS))
        started = time.perf_counter()
        errors = await asyncio.gather(
            *(_guesser(client, token, numbers) for _ in range(CONCURRENT))
        )
        elapsed = time.perf_counter() - started
        stop.set()
        return await probe, SIGN_INS / elapsed, idle, sum(errors)


async def _probe_for(base: str, *, seconds: float) -> list[float]:
    stop = asyncio.Event()
    task = asyncio.create_task(_probe(base, stop))
    await asyncio.sleep(seconds)
    stop.set()
    return await task


def _run(mode: str) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="bench-signin-") as tmp:
        port = free_port()
        server = subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "bench" / "signin_server.py"),
                "--port",
                str(port),
                "--dir",
                tmp,
                "--mode",
                mode,
            ],
            cwd=ROOT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            _wait(base, server)
            watch = psutil.Process(server.pid)
            latencies, rate, idle, errors = asyncio.run(_flood(base))
            rss = watch.memory_info().rss / 2**20
            peak = _peak_rss(server.pid) or rss
        finally:
            server.terminate()
            server.wait(timeout=30)
    return {
        "idle_p99": percentile(idle, 99),
        "p50": percentile(latencies, 50),
        "p99": percentile(latencies, 99),
        "max": max(latencies),
        "rate": rate,
        "peak_rss": peak,
        "errors": errors,
    }


def _peak_rss(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _wait(base: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit("the sign-in server exited")
        try:
            if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise SystemExit("the sign-in server did not start")


def main() -> None:
    load = os.getloadavg()[0]
    print(
        f"sign-in flood: {CONCURRENT} concurrent wrong-password sign-ins, {SIGN_INS} in all; "
        f"load average {load:.1f} on {os.cpu_count()} cores"
    )
    modes = os.environ.get("BENCH_MODES", "on-loop,off-loop").split(",")
    results = {mode: _run(mode) for mode in modes}
    for mode, r in results.items():
        label = "baseline: argon2 on the loop" if mode == "on-loop" else "tipline: off the loop"
        print(
            f"  {label:30} /healthz idle p99 {r['idle_p99']:6.1f} ms | under flood p50 "
            f"{r['p50']:6.1f} ms p99 {r['p99']:7.1f} ms max {r['max']:7.1f} ms | "
            f"{r['rate']:5.1f} sign-ins/s, {r['errors']:.0f} not 401 | "
            f"server peak RSS {r['peak_rss']:.0f} MiB"
        )
    if len(results) < 2:
        return
    ratio = results["off-loop"]["p99"] / results["on-loop"]["p99"]
    verdict = "below" if results["off-loop"]["p99"] < 250 else "ABOVE"
    print(f"  probe p99 ratio tipline/baseline: {ratio:.2f}; tipline's p99 is {verdict} 250 ms")


if __name__ == "__main__":
    main()
